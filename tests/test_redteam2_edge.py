"""Red team, round 2: strangers at the HTTP edge of real node processes (no key needed).

Each attack uses only what anyone who can reach a node's port has: TCP connections and bytes.
"""

import selectors
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.cluster import Cluster

pytestmark = pytest.mark.timeout(300)
MiB = 1024 * 1024


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    c = Cluster(tmp_path_factory.mktemp("redteam2-edge") / "net").start_all()
    yield c
    c.stop()


def _rss(c: Cluster, i: int) -> int:
    proc = c.procs[i]
    assert proc is not None
    for line in Path(f"/proc/{proc.pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def _address(c: Cluster, i: int) -> tuple[str, int]:
    host, port = c.urls[i].removeprefix("http://").split(":")
    return host, int(port)


class Holder:
    """Keeps ``count`` connections to each target, each with a complete request head and no
    body, reopening each one the moment the node closes it (after its 15 s body timeout)."""

    def __init__(self, targets: list[tuple[str, int]], count: int, head: bytes) -> None:
        self.targets, self.count, self.head = targets, count, head
        self.stop = threading.Event()
        self.opened = 0
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _open(self, sel: selectors.BaseSelector, target: tuple[str, int]) -> None:
        try:
            s = socket.create_connection(target, timeout=2)
            s.sendall(self.head)
            s.setblocking(False)
        except OSError:
            time.sleep(0.01)
            return self._open(sel, target) if not self.stop.is_set() else None
        self.opened += 1
        sel.register(s, selectors.EVENT_READ, target)

    def _run(self) -> None:
        sel = selectors.DefaultSelector()
        for target in self.targets:
            for _ in range(self.count):
                self._open(sel, target)
        while not self.stop.is_set():
            for key, _ in sel.select(0.1):
                s = key.fileobj
                assert isinstance(s, socket.socket)
                try:
                    data = s.recv(65536)
                except OSError:
                    data = b""
                if data:  # an answer (408, 503, ...): the node will close; we reopen now
                    pass
                sel.unregister(s)
                s.close()
                self._open(sel, key.data)
        for key in list(sel.get_map().values()):
            key.fileobj.close()  # type: ignore[union-attr]

    def __enter__(self) -> "Holder":
        self.thread.start()
        time.sleep(1.0)  # all connections open and their heads in
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(10)


def _head(c: Cluster, i: int, length: int) -> bytes:
    host, port = _address(c, i)
    return (
        f"POST /v1/tx HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {length}\r\n\r\n"
    ).encode()


def test_trailers_of_a_chunked_body_are_bounded_like_a_head(cluster: Cluster) -> None:
    """The guard bounds the request head to 64 KiB, but once the head is in it stops
    counting. A chunked body ends with a trailer section, which httptools parses as header
    fields and uvicorn appends to the request's header list: a stranger's POST with a
    one-byte body and 200 MiB of trailers is held whole (the app waits for the end of the
    message; the body timeout is 15 s, enough for gigabytes on a LAN)."""
    c = cluster
    host, port = _address(c, 0)
    before = _rss(c, 0)
    line = b"x-t: " + b"a" * 8000 + b"\r\n"
    sent = 0
    with socket.create_connection((host, port), timeout=10) as s:
        s.sendall(
            f"POST /v1/tx HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
            "Transfer-Encoding: chunked\r\n\r\n1\r\n{\r\n0\r\n".encode()
        )
        try:
            while sent < 200 * MiB:
                s.sendall(line * 128)
                sent += len(line) * 128
        except OSError:  # the node closed the connection: what should happen
            pass
        peak = _rss(c, 0)
    grown = (peak - before) / MiB
    assert httpx.get(f"{c.urls[0]}/healthz", timeout=5).status_code == 200
    assert sent < 20 * MiB, f"the node read {sent / MiB:.0f} MiB of trailers (RSS +{grown:.0f} MiB)"
    assert grown < 50, f"RSS grew by {grown:.0f} MiB"


def test_a_stranger_cannot_spend_the_body_budget_of_every_client(cluster: Cluster) -> None:
    """``operations.Accounting`` charges each request in progress its announced
    Content-Length (1 MiB at most) against a budget of 64 MiB shared by all clients, before
    a byte of the body has come. A stranger opens 64 connections to a node, each announcing
    a 1 MiB body to POST /v1/tx and sending none, and reopens each when the node times it
    out after 15 s: while it does, every honest submission to that node is refused 503
    busy. 64 connections per node (256 for the network) keep every agency and resident from
    submitting anything."""
    c = cluster
    tx = c.anchor("honest submission during the budget attack")
    with Holder([_address(c, 0)], 64, _head(c, 0, MiB)):
        answers = []
        for _ in range(4):  # across the node's 15 s body timeout, the attacker reopening
            answers.append(c.submit(0, tx).status_code)
            time.sleep(6)
    assert answers.count(202) + answers.count(200) >= 3, answers


def test_a_strangers_connections_cannot_cut_the_validators_off(cluster: Cluster) -> None:
    """The guard caps a node at 512 connections; past the cap it closes the one that has
    waited longest for a request head, or, if every connection is busy with a request, the
    newcomer. A connection whose head is in and whose body never comes counts as busy for
    15 s. Peers share the node's one port (POST /v1/p2p), and their kept-alive connections
    wait for a head between envelopes, so the stranger's connections evict them, and every
    new one is closed on arrival. A stranger holding 520 such connections at nodes 1-3
    (reopened as each times out) leaves node 0 alone with the client: the transaction it
    acknowledged 202 does not commit while the connections are held."""
    c = cluster
    targets = [_address(c, i) for i in (1, 2, 3)]
    with Holder(targets, 520, _head(c, 1, 10)):
        tx = c.anchor("acknowledged while strangers hold the validators' connections")
        assert c.submit(0, tx).status_code == 202
        deadline = time.monotonic() + 30
        status = None
        while time.monotonic() < deadline:
            status = c.get(0, f"/v1/tx/{tx.hash.hex()}").json().get("status")
            if status == "committed":
                break
            time.sleep(0.5)
    assert status == "committed", f"not committed within 30 s of its 202 ({status})"


def test_a_byzantine_validators_envelopes_in_progress_are_bounded(cluster: Cluster) -> None:
    """``operations.Accounting`` leaves peer envelopes out of the 64 MiB body budget: they
    are read once their signature over the announced Content-Digest holds. A Byzantine
    validator's signature holds. It opens 24 connections to node 0, each a signed POST
    /v1/p2p announcing a 16 MiB body (the envelope limit), sends all of it but the last byte
    and waits: the node holds every body (24 x 16 MiB) until the 15 s body timeout, and the
    attacker may start again at once, with as many connections as the cap allows (512)."""
    from node.keys import read_signer
    from signing.http_signatures import sign_request

    c = cluster
    byzantine = read_signer(c.dir / "node-4" / "node.key")
    host, port = _address(c, 0)
    body = b" " * (16 * MiB - 2) + b"{}"
    before = _rss(c, 0)
    conns = []
    refused = 0
    try:
        for _ in range(24):
            signed = sign_request(
                byzantine, f"node:{byzantine.name}", "POST", f"{host}:{port}", "/v1/p2p", "",
                body, time.time(),
            )  # fmt: skip
            head = f"POST /v1/p2p HTTP/1.1\r\nHost: {host}:{port}\r\n"
            head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
            head += "".join(f"{k}: {v}\r\n" for k, v in signed.items()) + "\r\n"
            s = socket.create_connection((host, port), timeout=10)
            conns.append(s)
            try:
                s.sendall(head.encode() + body[:-1])
            except OSError:  # refused and closed (envelopes in progress are bounded)
                refused += 1
        time.sleep(1)
        peak = _rss(c, 0)
    finally:
        for s in conns:
            s.close()
    grown = (peak - before) / MiB
    assert grown < 100, f"RSS grew by {grown:.0f} MiB with 24 envelopes in progress"
    assert refused >= 20  # two in progress per validator at most
