"""The guarded HTTP/1.1 protocol on a real uvicorn server (a small app, short limits): heads
are bounded, slow clients are timed out, connections are capped, and honest traffic (keep-
alive, pipelining, a slow application) is unaffected."""

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn

from node import http_guard
from node.http_guard import GuardedHttpToolsProtocol
from tests.cluster import free_base_port

pytestmark = pytest.mark.timeout(120)


async def app(scope: Any, receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    body = b""
    if scope["path"] == "/slow-reader":
        await asyncio.sleep(1.5)  # longer than BODY_SECONDS: the app, not the client, is slow
    more = True
    while more:
        message = await receive()
        if message["type"] != "http.request":
            return
        body += message.get("body", b"")
        more = message.get("more_body", False)
    answer = str(len(body)).encode()
    headers = [(b"content-type", b"text/plain"), (b"content-length", str(len(answer)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": answer})


@pytest.fixture(scope="module")
def server() -> Iterator[int]:
    port = free_base_port(1)
    patch = pytest.MonkeyPatch()
    patch.setattr(http_guard, "HEAD_SECONDS", 0.5)
    patch.setattr(http_guard, "BODY_SECONDS", 0.5)
    patch.setattr(http_guard, "MAX_CONNECTIONS", 40)
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, http=GuardedHttpToolsProtocol, lifespan="off",
        log_level="error", timeout_keep_alive=2,
    )  # fmt: skip
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not srv.started:
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.02)
    yield port
    srv.should_exit = True
    thread.join(10)
    patch.undo()


def _connect(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=5)


def _read(s: socket.socket, timeout: float = 5) -> bytes:
    """Everything until the server closes the connection (or ``timeout``)."""
    s.settimeout(timeout)
    out = b""
    try:
        while chunk := s.recv(65536):
            out += chunk
    except (TimeoutError, ConnectionResetError):
        pass
    return out


def _closed(s: socket.socket, within: float) -> bool:
    s.settimeout(within)
    try:
        while s.recv(65536):
            pass
    except TimeoutError:
        return False
    except ConnectionResetError:
        pass
    return True


def _closed_now(s: socket.socket) -> bool:
    s.setblocking(False)
    try:
        return s.recv(65536) == b""
    except BlockingIOError:
        return False
    except ConnectionResetError:
        return True


def test_a_head_past_the_limit_is_refused_431(server: int) -> None:
    filler = http_guard.MAX_HEAD_BYTES - 100
    with _connect(server) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"a" * filler + b"\r\n\r\n")
        assert _read(s).startswith(b"HTTP/1.1 200")  # just under: served
    with _connect(server) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"a" * (filler + 200))
        answer = _read(s)
    assert answer.startswith(b"HTTP/1.1 431") and b"application/problem+json" in answer
    assert b"header-too-large" in answer


def test_keep_alive_and_pipelining_are_unaffected(server: int) -> None:
    request = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
    with _connect(server) as s:
        for _ in range(3):
            s.sendall(request)
            assert s.recv(65536).startswith(b"HTTP/1.1 200")
            time.sleep(0.3)  # less than the keep-alive timeout, then a new head in time
        s.sendall(request * 3)  # pipelined
        answers = b""
        while answers.count(b"HTTP/1.1 200") < 3:
            answers += s.recv(65536)


def test_a_slow_head_or_body_is_answered_408_and_an_idle_connection_closed(server: int) -> None:
    with _connect(server) as slow_head, _connect(server) as slow_body, _connect(server) as idle:
        slow_head.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
        slow_body.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nhalf")
        started = time.monotonic()
        assert _read(slow_head).startswith(b"HTTP/1.1 408")
        assert _read(slow_body).startswith(b"HTTP/1.1 408")
        assert _read(idle) == b""  # nothing asked, nothing answered: just closed
        assert time.monotonic() - started < 3


def test_a_drip_fed_head_is_timed_from_its_first_byte(server: int) -> None:
    with _connect(server) as s:
        started = time.monotonic()
        try:
            for ch in b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaa":
                s.sendall(bytes([ch]))
                time.sleep(0.05)
        except OSError:
            pass  # closed by the server mid-way
        assert _closed(s, 3) and time.monotonic() - started < 3


def test_a_slow_application_is_not_the_clients_fault(server: int) -> None:
    body = b"x" * (1024 * 1024)  # more than uvicorn buffers before it stops reading
    with _connect(server) as s:
        s.sendall(
            b"POST /slow-reader HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(body)
        )
        s.sendall(body)
        assert _read(s, 5).startswith(b"HTTP/1.1 200")


def test_past_the_connection_cap_the_longest_waiting_is_dropped(server: int) -> None:
    idle = [_connect(server) for _ in range(http_guard.MAX_CONNECTIONS + 10)]
    time.sleep(0.2)
    with _connect(server) as s:  # the newest gets in
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert s.recv(65536).startswith(b"HTTP/1.1 200")
    dropped = [i for i, c in enumerate(idle) if _closed_now(c)]  # before their head timeout
    assert len(dropped) >= 11 and dropped[:11] == list(range(11))  # the oldest first
    for c in idle:
        c.close()
