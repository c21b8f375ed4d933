"""uvicorn's HTTP/1.1 protocol (httptools) with bounds on what a stranger can hold.

uvicorn accepts a request head of any size (a 100 MiB header was read whole, +160 MiB), waits
for a slow client as long as it likes (1,000 requests that never finished their headers were
held for 30 s and more) and keeps as many connections as clients open. Here:

- a request head (request line and headers) larger than ``MAX_HEAD_BYTES`` is answered 431
  and the connection closed, before the parser has buffered more than that;
- the head must arrive within ``HEAD_SECONDS`` of its first byte (or of the connection) and
  the body within ``BODY_SECONDS`` of the head, else 408 and close (a body the application
  is not reading does not count against the client);
- a chunked body may carry no trailers (httptools would parse them as headers, and
  uvicorn keep them: 200 MiB of them were held) and at most ``MAX_CHUNKED_BYTES``;
- at most ``MAX_CONNECTIONS`` connections: past it, those whose body has stalled (no byte
  for ``STALL_SECONDS``) are closed first, then the ones that have waited longest for a
  request head (an idle keep-alive one, or a stranger's unfinished head), so neither a flood
  of idle connections nor one of heads without bodies can lock out the next real request or
  a validator's envelope (if every connection is busy with a request that makes progress,
  the newcomer is closed instead).

Idle keep-alive connections are closed by uvicorn itself after ``timeout_keep_alive`` (5 s).
Per request the guard costs a search for the end of the head and two deadlines set; one sweep
of all connections twice a second enforces them.
"""

import asyncio
import itertools
import json
from typing import Any, ClassVar

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

MAX_HEAD_BYTES = 64 * 1024
HEAD_SECONDS = 5.0
BODY_SECONDS = 15.0
"""Time for a body once its head is in: a 4 MiB proposal (16 MiB envelope at most) at a few
megabytes a second."""
MAX_CONNECTIONS = 512
MAX_CHUNKED_BYTES = 16 * 1024 * 1024 + 64 * 1024
"""A chunked body's bytes on the wire, framing included: the largest body any route takes."""
STALL_SECONDS = 1.0
"""A body with no byte for this long may be closed to make room past the connection cap."""
SWEEP_SECONDS = 0.5
"""How often deadlines are checked: a timeout fires up to this much late."""

_END_OF_HEAD = b"\r\n\r\n"
_ORDER = itertools.count()


def _problem(status: int, phrase: str, kind: str, detail: str) -> bytes:
    """A complete RFC 9457 answer that closes the connection, written without the app."""
    body = json.dumps(
        {
            "type": f"https://shanhe.example/problems/{kind}",
            "title": phrase,
            "status": status,
            "detail": detail,
        }
    ).encode()
    head = (
        f"HTTP/1.1 {status} {phrase}\r\ncontent-type: application/problem+json\r\n"
        f"x-problem-type: {kind}\r\ncontent-length: {len(body)}\r\nconnection: close\r\n\r\n"
    )
    return head.encode() + body


TOO_LARGE = _problem(
    431, "Request Header Fields Too Large", "header-too-large",
    f"the request line and headers may hold at most {MAX_HEAD_BYTES} bytes",
)  # fmt: skip
TOO_LONG = _problem(
    413, "Content Too Large", "body-too-large",
    f"a chunked body may hold at most {MAX_CHUNKED_BYTES} bytes, and no trailers",
)  # fmt: skip
TOO_SLOW = _problem(
    408, "Request Timeout", "request-timeout",
    f"a request's headers must arrive within {HEAD_SECONDS:g} s, its body within "
    f"{BODY_SECONDS:g} s",
)  # fmt: skip


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    sweeping: ClassVar[asyncio.AbstractEventLoop | None] = None
    """The loop whose sweep closes connections past their deadline, twice a second: a timer
    per request would cost more than all the rest of this guard."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.head_bytes: int | None = 0
        """Bytes of the current request head so far; None from its end to the message's."""
        self.tail = b""
        self.deadline: float | None = None
        """Loop time by which the head or the body under way must be in."""
        self.waiting_since = next(_ORDER)
        """When the connection began waiting for a request head, as a sequence number."""
        self.last_data = 0.0
        """Loop time of the last bytes received."""
        self.chunked_bytes: int | None = None
        """Bytes of the chunked body under way, or None if the body is not chunked."""
        self.in_body = False
        """Between a request's head and the end of its message (where trailers would be)."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        now = self.loop.time()
        if GuardedHttpToolsProtocol.sweeping is not self.loop:
            GuardedHttpToolsProtocol.sweeping = self.loop
            self.loop.call_later(SWEEP_SECONDS, _sweep, self.loop, self.connections)
        self.deadline, self.waiting_since = now + HEAD_SECONDS, next(_ORDER)
        if len(self.connections) > MAX_CONNECTIONS:
            _evict(self.connections)
            if len(self.connections) > MAX_CONNECTIONS:  # all busy: the newcomer waits outside
                self._close(None)

    def connection_lost(self, exc: Exception | None) -> None:
        self.deadline = None
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        self.last_data = self.loop.time()
        if self.chunked_bytes is not None:
            self.chunked_bytes += len(data)
            if self.chunked_bytes > MAX_CHUNKED_BYTES:
                self._close(TOO_LONG)
                return
        if self.head_bytes is not None:
            if self.deadline is None:  # the next request on a kept-alive connection
                self.deadline = self.loop.time() + HEAD_SECONDS
            across = (self.tail + data[:3]).find(_END_OF_HEAD) if self.tail else -1
            if across >= 0:  # the end of the head spans the two reads
                end = across + len(_END_OF_HEAD) - len(self.tail)
            elif (end := data.find(_END_OF_HEAD)) >= 0:
                end += len(_END_OF_HEAD)
            self.head_bytes += len(data) if end < 0 else end
            if self.head_bytes > MAX_HEAD_BYTES:
                self._close(TOO_LARGE)
                return
            self.tail = data[-3:]
        HttpToolsProtocol.data_received(self, data)
        # the message is in (uvicorn has it all): the next head starts from nothing
        if self.head_bytes is None and not self.cycle.more_body:
            self.head_bytes, self.tail, self.deadline = 0, b"", None
            self.chunked_bytes = None
            self.waiting_since = next(_ORDER)

    def on_header(self, name: bytes, value: bytes) -> None:
        if self.in_body:  # a header after the head, before the message ends: a trailer
            self._close(TOO_LONG)
            return
        HttpToolsProtocol.on_header(self, name, value)

    def on_message_complete(self) -> None:
        self.in_body = False
        HttpToolsProtocol.on_message_complete(self)

    def on_headers_complete(self) -> None:
        self.head_bytes = None
        self.deadline = self.loop.time() + BODY_SECONDS
        chunked = any(name.lower() == b"transfer-encoding" for name, _ in self.headers)
        self.chunked_bytes = 0 if chunked else None
        self.in_body = True
        HttpToolsProtocol.on_headers_complete(self)

    def too_slow(self) -> None:
        """Called by the sweep once the deadline has passed."""
        if self.transport.is_closing():
            self.deadline = None
            return
        if self.head_bytes is None and self.flow.read_paused:
            self.deadline = self.loop.time() + BODY_SECONDS  # the app is not reading the body:
            return  # not the client's fault
        idle = self.head_bytes == 0 and (self.cycle is None or self.cycle.response_complete)
        self._close(None if idle else TOO_SLOW)

    def _close(self, answer: bytes | None) -> None:
        """Answer (unless a response is under way on this connection) and close; it stops
        counting against ``MAX_CONNECTIONS`` at once."""
        self.connections.discard(self)
        self.deadline = None
        if self.transport.is_closing():
            return
        cycle = self.cycle
        answering = cycle is not None and cycle.response_started and not cycle.response_complete
        if answer is not None and not answering:
            self.transport.write(answer)
        self.transport.close()


def _sweep(loop: asyncio.AbstractEventLoop, connections: set[Any]) -> None:
    now = loop.time()
    for conn in list(connections):
        deadline = getattr(conn, "deadline", None)
        if deadline is not None and deadline <= now:
            conn.too_slow()
    loop.call_later(SWEEP_SECONDS, _sweep, loop, connections)


def _evict(connections: set[Any]) -> None:
    """Past ``MAX_CONNECTIONS`` (a new connection just came): close the connections whose
    body has stalled, longest first, then those that have waited longest for a request head
    (idle kept-alive ones, strangers' unfinished heads); never one whose request is being
    read with progress, or answered. Runs only past the cap: a scan of all connections then
    is cheaper than keeping them in order on every request."""
    now = asyncio.get_running_loop().time()
    stalled = sorted(
        (c for c in connections if getattr(c, "head_bytes", 0) is None
         and c.cycle is not None and not c.cycle.response_started
         and not c.flow.read_paused and now - c.last_data >= STALL_SECONDS),
        key=lambda c: c.last_data,
    )  # fmt: skip
    waiting = sorted(
        (c for c in connections if getattr(c, "head_bytes", None) is not None
         and (c.cycle is None or c.cycle.response_complete)),
        key=lambda c: c.waiting_since,
    )  # fmt: skip
    for conn in [*stalled, *waiting][: len(connections) - MAX_CONNECTIONS]:
        conn._close(None)
