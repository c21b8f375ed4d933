"""Attacks on real node processes at the HTTP edge: a signed request replayed at the other
nodes, hostile JSON, and strangers trying to grow a node's memory or hold its connections."""

import hashlib
import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.auth import sign_request
from contracts.tx import sign_transaction
from node.keys import read_signer
from tests.cluster import Cluster
from tlog.note import Signer

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    c = Cluster(tmp_path_factory.mktemp("edge") / "net").start_all()
    yield c
    c.stop()


def _authority(url: str) -> str:
    return url.removeprefix("http://")


def test_a_signed_read_belongs_to_the_node_it_was_signed_for(cluster: Cluster) -> None:
    """Issue 10 item 6: refused as a replay at node 1, the same signed request was answered
    200 by nodes 2-4 (nonces are per node and @authority was not signed)."""
    c = cluster
    agency = read_signer(c.dir / "agencies" / "ssb-330825.key")
    path = "/v1/pension/overdue"
    headers = sign_request(agency, agency.name, "GET", path, authority=_authority(c.urls[0]))
    first = c.client.get(f"{c.urls[0]}{path}", headers=headers)
    assert first.status_code == 200, first.text
    replay = c.client.get(f"{c.urls[0]}{path}", headers=headers)
    assert replay.status_code == 401 and replay.json()["type"].endswith("/signature-replayed")
    for i in (1, 2, 3):
        elsewhere = c.client.get(f"{c.urls[i]}{path}", headers=headers)
        assert elsewhere.status_code == 401, (i, elsewhere.text)
        assert elsewhere.json()["type"].endswith("/signature-invalid")  # signed for node 1
        claimed = {**headers, "host": _authority(c.urls[0])}  # and claiming to be node 1
        posing = c.client.get(f"{c.urls[i]}{path}", headers=claimed)
        assert posing.status_code == 401, (i, posing.text)
        assert posing.json()["type"].endswith("/signature-wrong-authority")
    for i in (1, 2, 3):  # each node answers a request signed for itself
        own = sign_request(agency, agency.name, "GET", path, authority=_authority(c.urls[i]))
        assert c.client.get(f"{c.urls[i]}{path}", headers=own).status_code == 200


def _enrolled_resident(c: Cluster) -> tuple[Signer, str]:
    ssb = read_signer(c.dir / "agencies" / "ssb-330825.key")
    me = Signer.generate("resident-edge")
    pseudonym = hashlib.sha256(b"resident-edge").hexdigest()
    body = {"type": "resident.enroll", "chain_id": c.chain_id, "signer": ssb.name,
            "nonce": "enroll-edge", "pseudonym": pseudonym, "age_class": "adult", "key": me.verifier().encode()}  # fmt: skip
    tx = sign_transaction(body, ssb)
    assert c.submit(0, tx).status_code == 202
    c.wait_for(lambda: c.committed_everywhere([0, 1, 2, 3], tx.hash.hex()), what="enrolment")
    return me, f"resident:{pseudonym}"


def test_a_resident_signed_950_level_transaction_is_refused_by_every_node(
    cluster: Cluster,
) -> None:
    """Issue 10 item 2's attack, as sent: 202, then every validator halted."""
    c = cluster
    me, signer = _enrolled_resident(c)
    deep: Any = "x"
    for _ in range(950):
        deep = {"a": deep}
    body = {"type": "consent.grant", "chain_id": c.chain_id, "signer": signer,
            "nonce": "deep-1", "consent_id": "c-deep", "extra": deep}  # fmt: skip
    signed = me.sign(
        b"shanhe-tx-v1\n" + json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
    )
    data = json.dumps({"body": body, "signature": signed.hex()}).encode()
    for url in c.urls:
        r = c.client.post(
            f"{url}/v1/tx", content=data, headers={"content-type": "application/JSON"}
        )
        assert r.status_code == 400, r.text
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["type"].endswith("/json-too-deep")
    after = c.anchor("after the attack")
    assert c.submit(2, after).status_code == 202
    c.wait_for(lambda: c.committed_everywhere([0, 1, 2, 3], after.hash.hex()), what="commit")


# ------------------------------------------------- strangers and a node's memory (item 7)

MiB = 1024 * 1024


def _rss(c: Cluster, i: int) -> int:
    proc = c.procs[i]
    assert proc is not None
    for line in Path(f"/proc/{proc.pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


class Watch:
    """Polls the node's /healthz on fresh connections and its RSS, in a thread, for as long
    as an attack lasts."""

    def __init__(self, c: Cluster, i: int) -> None:
        self.c, self.i = c, i
        self.start_rss = _rss(c, i)
        self.peak_rss = self.start_rss
        self.answered, self.failed = 0, list[str]()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self.stop.is_set():
            self.peak_rss = max(self.peak_rss, _rss(self.c, self.i))
            try:
                r = httpx.get(f"{self.c.urls[self.i]}/healthz", timeout=3)
                if r.status_code == 200:
                    self.answered += 1
                else:
                    self.failed.append(str(r.status_code))
            except httpx.HTTPError as exc:
                self.failed.append(repr(exc))
            time.sleep(0.1)

    def __enter__(self) -> "Watch":
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join()
        self.peak_rss = max(self.peak_rss, _rss(self.c, self.i))
        grown = (self.peak_rss - self.start_rss) / MiB
        assert grown < 50, f"RSS grew by {grown:.0f} MiB"
        assert not self.failed and self.answered >= 1, (self.answered, self.failed[:3])
        assert httpx.get(f"{self.c.urls[self.i]}/healthz", timeout=3).status_code == 200


def _connect(c: Cluster, i: int) -> socket.socket:
    host, port = c.urls[i].removeprefix("http://").split(":")
    s = socket.create_connection((host, int(port)), timeout=10)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 256 * 1024)
    return s


def _send_until_refused(s: socket.socket, head: bytes, total: int) -> int:
    """Send ``head`` then ``total`` bytes of filler; how many were sent when the node shut
    the connection (``total`` if it never did)."""
    sent = 0
    chunk = b"a" * MiB
    try:
        s.sendall(head)
        while sent < total:
            s.sendall(chunk[: min(MiB, total - sent)])
            sent += min(MiB, total - sent)
    except OSError:  # EPIPE / ECONNRESET: the node closed it
        pass
    return sent


def _answer(s: socket.socket) -> bytes:
    try:
        s.settimeout(5)
        return s.recv(65536)
    except OSError:
        return b""


def test_a_get_with_a_300_mib_body_is_refused_before_its_body_is_read(cluster: Cluster) -> None:
    """A GET carrying 300 MiB took a node from 78 to 373 MiB before its 401: GETs skipped the
    body limit, and the signed route read the body before checking the signature."""
    c = cluster
    stranger = Signer.generate("ssb-330825")
    path = "/v1/pension/overdue"
    for framing in (f"Content-Length: {300 * MiB}", "Transfer-Encoding: chunked"):
        signed = sign_request(stranger, stranger.name, "GET", path, authority=_authority(c.urls[0]))
        head = f"GET {path} HTTP/1.1\r\nHost: {_authority(c.urls[0])}\r\n{framing}\r\n"
        head += "".join(f"{k}: {v}\r\n" for k, v in signed.items()) + "\r\n"
        with Watch(c, 0), _connect(c, 0) as s:
            sent = _send_until_refused(s, head.encode(), 300 * MiB)
            answer = _answer(s)
        assert sent < 100 * MiB, f"{framing}: the node read {sent / MiB:.0f} MiB"
        assert not answer or answer.startswith((b"HTTP/1.1 400", b"HTTP/1.1 413")), answer[:200]


def test_a_100_mib_header_is_refused_at_the_header_limit(cluster: Cluster) -> None:
    """A 100 MiB header to /healthz was accepted (+160 MiB)."""
    c = cluster
    for head in (b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ", b"GET /healthz?"):
        with Watch(c, 0), _connect(c, 0) as s:
            sent = _send_until_refused(s, head, 100 * MiB)
            answer = _answer(s)
        assert sent < 20 * MiB, f"the node read {sent / MiB:.0f} MiB of one header"
        assert not answer or answer.startswith(b"HTTP/1.1 431"), answer[:200]


def test_slow_and_incomplete_requests_are_timed_out(cluster: Cluster) -> None:
    """1,000 incomplete requests were held open for 30 s and more."""
    c = cluster
    with Watch(c, 0):
        heads = []
        for n in range(1000):
            s = _connect(c, 0)
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-N: %d\r\n" % n)  # never ends
            heads.append(s)
        body = _connect(c, 0)  # headers complete, the body never comes
        body.sendall(b"POST /v1/tx HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{")
        idle = _connect(c, 0)  # one request answered, then nothing more
        idle.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        assert _answer(idle).startswith(b"HTTP/1.1 200")
        started = time.monotonic()
        pending = [*heads, body, idle]
        while pending and time.monotonic() - started < 25:
            still = []
            for s in pending:
                s.setblocking(False)
                try:
                    if s.recv(65536) == b"":  # closed by the node
                        s.close()
                        continue
                except BlockingIOError:
                    pass
                except OSError:  # reset by the node
                    s.close()
                    continue
                still.append(s)
            pending = still
            time.sleep(0.2)
        held = len(pending)
        for s in pending:
            s.close()
    assert held == 0, f"{held} connections still held after 25 s"
    assert time.monotonic() - started < 20
