"""Operations endpoints: liveness, readiness and Prometheus metrics, plus request accounting
and the limits every request meets before any route sees it (body size, JSON limits, reads,
a peer envelope's signature before its body)."""

import re
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping
from functools import partial

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import PlainTextResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.auth import refusal_before_body
from api.problems import Problem, problem_response
from api.routers import peers
from contracts.tx import MAX_TX_DEPTH, MAX_TX_ITEMS
from node import logstore, p2p
from node.ratelimit import RateLimiter, retry_after
from node.service import Node
from signing import bounded_json
from signing.bounded_json import JsonRefused

router = APIRouter(tags=["operations"])
MAX_BODY_BYTES = 1024 * 1024
MAX_JSON_DEPTH = MAX_TX_DEPTH
"""A transaction's bound (its envelope included): what passes here passes admission."""
MAX_JSON_ITEMS = 4 * MAX_TX_ITEMS
"""Counted as commas and opening brackets, a little more than a transaction's items."""
CLIENT_JSON = bounded_json.Limits(MAX_BODY_BYTES, MAX_JSON_DEPTH, MAX_JSON_ITEMS)
JSON_PATHS = frozenset({"/v1/tx"})
"""Endpoints whose body is JSON whatever Content-Type says: the limits apply to every body
sent there (a body labelled ``text/plain`` reaches the same parser in the end)."""
JSON_VALUE = "shanhe.json"
"""Scope key of the request body's decoded JSON, decoded once here for the routes."""
PEER_PATH = p2p.PATH
"""Peer envelopes are signed by validators and may be large (a proposal): their JSON is
decoded, with limits of its own, only once the signature over the body holds."""
PEER_MAX_BODY_BYTES = p2p.MAX_ENVELOPE_BYTES
PeerCheck = Callable[[Mapping[str, str]], str | None]
"""Why a peer envelope is refused on its headers alone (checked before its body is read)."""
SignedCheck = Callable[[str, str, str, Mapping[str, str]], Problem | None]
"""Why a signed request (method, path, query, headers) is refused on its headers alone."""
BODY_BUDGET = 64 * 1024 * 1024
"""Bytes the client bodies of all requests in progress may hold together, counted as they
arrive (an announced length costs nothing until its bytes come: once 64 idle connections
announcing 1 MiB each refused every client's submission): past it, 503."""
ADDRESS_SHARE = BODY_BUDGET // 8
"""What the bodies in progress from one client address may hold of the budget."""
ENVELOPES_IN_PROGRESS = 2
"""Envelopes one validator may have being read at once (its sender posts one at a time):
they are outside the client budget, read once their signature holds, and 16 MiB each."""


def is_json(content_type: bytes) -> bool:
    """A JSON media type (``application/json``, ``application/*+json``), matched as RFC 9110
    says: case-insensitively, whatever its parameters."""
    media = content_type.partition(b";")[0].strip().lower()
    return media == b"application/json" or (
        media.startswith(b"application/") and media.endswith(b"+json")
    )


LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class RequestStats:
    def __init__(self) -> None:
        self.buckets: Counter[tuple[str, float]] = Counter()
        self.count: Counter[str] = Counter()
        self.total: defaultdict[str, float] = defaultdict(float)
        self.rejected: Counter[tuple[int, str]] = Counter()

    def observe(self, route: str, seconds: float, status: int, problem: str | None) -> None:
        self.count[route] += 1
        self.total[route] += seconds
        for bound in LATENCY_BUCKETS:
            if seconds <= bound:
                self.buckets[(route, bound)] += 1
        if status >= 400:
            self.rejected[(status, problem or "")] += 1


def _too_large(limit: int) -> Response:
    return problem_response(
        413, "body-too-large", "Request body too large", f"at most {limit} bytes"
    )


def _closing(response: Response) -> Response:
    """The response, with the connection closed after it: the body it refuses is left unread
    (kept alive, the server would read it all only to throw it away)."""
    response.headers["connection"] = "close"
    return response


async def _read_body(receive: Receive, limit: int, take: Callable[[int], bool]) -> bytes | str:
    """The whole body, or why not: ``"too-large"`` past the limit (a chunked body has no
    Content-Length to trust), ``"busy"`` when ``take`` refuses a chunk's bytes from the
    budget, ``"gone"`` if the client went away before sending it all."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return "gone"
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return "too-large"
        if not take(len(chunk)):
            return "busy"
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


class Accounting:
    """Pure ASGI middleware (Starlette's ``@app.middleware`` costs too much on the hot path):
    enforces the limits, and times every request by route and problem type.

    Nothing a stranger sends is read before it is known to be wanted: a GET or HEAD with a
    body is refused unread, a signed request's signature is checked on its headers before
    its body (the Content-Digest it announces is signed), a peer's envelope likewise, and the
    bodies of all requests in progress together may hold at most ``BODY_BUDGET`` bytes.
    """

    def __init__(
        self,
        app: ASGIApp,
        stats: RequestStats,
        reads: RateLimiter,
        peers: PeerCheck,
        signed: SignedCheck,
    ) -> None:
        self.app, self.stats, self.reads, self.peers = app, stats, reads, peers
        self.signed = signed
        self.buffered = 0
        """Bytes of client bodies read and held by requests in progress."""
        self.by_address: Counter[str] = Counter()
        """The same, by client address."""
        self.envelopes: Counter[str] = Counter()
        """Envelopes being read, by the validator that signed them."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        held = Held(self)
        try:
            refusal, receive = await self._limits(scope, receive, held)
            if refusal is not None:
                await refusal(scope, receive, send)
                return
            start = time.perf_counter()
            status, problem = 500, None

            async def watch(message: Message) -> None:
                nonlocal status, problem
                if message["type"] == "http.response.start":
                    status = message["status"]
                    problem = (
                        dict(message.get("headers", [])).get(b"x-problem-type", b"").decode()
                        or None
                    )
                await send(message)

            await self.app(scope, receive, watch)
            path = getattr(scope.get("route"), "path", "unmatched")
            self.stats.observe(path, time.perf_counter() - start, status, problem)
        finally:
            held.release()

    async def _limits(
        self, scope: Scope, receive: Receive, held: "Held"
    ) -> tuple[Response | None, Receive]:
        """A refusal, or None and the receive channel for the app (replaying a read body);
        what the body holds of the budgets is charged to ``held`` as it arrives."""
        headers = dict(scope["headers"])
        length = headers.get(b"content-length")
        if scope["method"] in ("GET", "HEAD"):
            if b"transfer-encoding" in headers or (length is not None and length != b"0"):
                return _closing(problem_response(
                    400, "body-not-allowed", "A GET or HEAD request has no body",
                )), receive  # fmt: skip
            client = scope.get("client") or ("unknown", 0)
            if wait := self.reads.take(str(client[0]), time.monotonic()):
                return problem_response(
                    429, "rate-limited", "Too many requests", "reads from this address",
                    retry_after=retry_after(wait),
                ), receive  # fmt: skip
            return None, receive
        peer = scope["path"] == PEER_PATH
        if peer and (why := self.peers(_text(headers))):
            problem = peers.refused(why)
            return _closing(problem_response(problem.status, problem.kind, problem.title)), receive
        if not peer and (b"signature-input" in headers or b"signature" in headers):
            query = scope.get("query_string", b"").decode("latin-1")
            if refused := self.signed(scope["method"], scope["path"], query, _text(headers)):
                response = problem_response(
                    refused.status, refused.kind, refused.title, refused.detail
                )
                return _closing(response), receive
        limit = PEER_MAX_BODY_BYTES if peer else MAX_BODY_BYTES
        if length is not None and (not length.isdigit() or int(length) > limit):
            return _closing(_too_large(limit)), receive
        if peer and not held.envelope(_keyid(headers)):
            return _closing(problem_response(
                503, "busy", "Envelopes in progress", retry_after=1,
            )), receive  # fmt: skip
        client = scope.get("client") or ("unknown", 0)
        take = (lambda n: True) if peer else partial(held.take, str(client[0]))
        body = await _read_body(receive, limit, take)
        if body == "busy":
            return _closing(problem_response(
                503, "busy", "Too many requests in progress", retry_after=1,
            )), receive  # fmt: skip
        if not isinstance(body, bytes):
            return _closing(_too_large(limit)), receive
        if not peer and (scope["path"] in JSON_PATHS or is_json(headers.get(b"content-type", b""))):
            value = bounded_json.decode(body, CLIENT_JSON)
            if isinstance(value, JsonRefused):
                return problem_response(400, value.kind, "JSON refused", value.message), receive
            scope[JSON_VALUE] = value
        return None, replay_body(body, receive)


class Held:
    """What one request holds of the middleware's budgets, given back when it ends."""

    def __init__(self, owner: Accounting) -> None:
        self.owner, self.address, self.bytes, self.sender = owner, "", 0, ""

    def take(self, address: str, n: int) -> bool:
        o = self.owner
        if o.buffered + n > BODY_BUDGET or o.by_address[address] + n > ADDRESS_SHARE:
            return False
        o.buffered += n
        o.by_address[address] += n
        self.address, self.bytes = address, self.bytes + n
        return True

    def envelope(self, sender: str) -> bool:
        if self.owner.envelopes[sender] >= ENVELOPES_IN_PROGRESS:
            return False
        self.owner.envelopes[sender] += 1
        self.sender = sender
        return True

    def release(self) -> None:
        o = self.owner
        if self.bytes:
            o.buffered -= self.bytes
            o.by_address[self.address] -= self.bytes
            if o.by_address[self.address] <= 0:
                del o.by_address[self.address]
        if self.sender:
            o.envelopes[self.sender] -= 1
            if o.envelopes[self.sender] <= 0:
                del o.envelopes[self.sender]
        self.bytes, self.sender = 0, ""


_KEYID = re.compile(rb'keyid="([^"]{1,200})"')


def _keyid(headers: dict[bytes, bytes]) -> str:
    """The key id of a signature already checked (``self.peers``)."""
    found = _KEYID.search(headers.get(b"signature-input", b""))
    return found.group(1).decode("latin-1") if found else ""


def _text(headers: dict[bytes, bytes]) -> dict[str, str]:
    return {k.decode("latin-1"): v.decode("latin-1") for k, v in headers.items()}


def replay_body(body: bytes, receive: Receive) -> Receive:
    """A receive channel that hands on a body already read, then the client's own messages."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if sent:
            return await receive()  # the disconnect, when it comes
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay


def signed_check(node: Node) -> SignedCheck:
    """The node's check of a signed request on its headers alone."""

    def check(method: str, path: str, query: str, headers: Mapping[str, str]) -> Problem | None:
        return refusal_before_body(method, path, query, headers, node.key_of, node.authorities)

    return check


def install(app: FastAPI, reads_per_client: float, peers: PeerCheck, signed: SignedCheck) -> None:
    stats = RequestStats()
    app.state.request_stats = stats
    reads = RateLimiter.per_second(reads_per_client)
    app.add_middleware(Accounting, stats=stats, reads=reads, peers=peers, signed=signed)
    app.include_router(router)


def _node(request: Request) -> Node:
    node: Node = request.app.state.node
    return node


@router.get(
    "/healthz", responses={200: {"content": {"application/json": {"example": {"status": "ok"}}}}}
)
def healthz() -> dict[str, str]:
    """The process answers."""
    return {"status": "ok"}


@router.get(
    "/readyz",
    response_class=PlainTextResponse,
    responses={
        200: {"content": {"text/plain": {"example": "ready"}}, "description": "ready"},
        503: {"description": "not ready"},
    },
)
def readyz(request: Request) -> Response:
    """Ready when the database answers and the consensus driver runs."""
    node = _node(request)
    try:
        with node.engine.connect() as conn:
            logstore.tree_size(conn)
    except Exception:  # any database failure means not ready
        return problem_response(503, "not-ready", "Database unavailable")
    if node.failed is not None:
        return problem_response(503, "not-ready", "Stopped after a failure", node.failed)
    if not node.started:
        return problem_response(503, "not-ready", "Consensus not running yet")
    return PlainTextResponse("ready\n")


@router.get(
    "/metrics",
    response_class=PlainTextResponse,
    responses={
        200: {
            "description": "Prometheus text exposition format 0.0.4",
            "content": {"text/plain": {"example": "shanhe_committed_height 42\n"}},
        }
    },
)
def metrics(request: Request) -> PlainTextResponse:
    """Prometheus text exposition."""
    node = _node(request)
    stats: RequestStats = request.app.state.request_stats
    lines = [
        "# TYPE shanhe_committed_height gauge",
        f"shanhe_committed_height {node.tip.height}",
        "# TYPE shanhe_mempool_transactions gauge",
        f"shanhe_mempool_transactions {len(node.mempool)}",
        "# TYPE shanhe_peers gauge",
        f"shanhe_peers {len(node.peers)}",
        "# TYPE shanhe_node_events_total counter",
    ]
    lines += [
        f'shanhe_node_events_total{{event="{k}"}} {v}' for k, v in sorted(node.counters.items())
    ]
    lines.append("# TYPE shanhe_request_duration_seconds histogram")
    for route in sorted(stats.count):
        for bound in LATENCY_BUCKETS:
            lines.append(
                f'shanhe_request_duration_seconds_bucket{{route="{route}",le="{bound}"}} {stats.buckets[(route, bound)]}'
            )
        lines.append(
            f'shanhe_request_duration_seconds_bucket{{route="{route}",le="+Inf"}} {stats.count[route]}'
        )
        lines.append(
            f'shanhe_request_duration_seconds_sum{{route="{route}"}} {stats.total[route]:.6f}'
        )
        lines.append(
            f'shanhe_request_duration_seconds_count{{route="{route}"}} {stats.count[route]}'
        )
    lines.append("# TYPE shanhe_rejected_requests_total counter")
    for (status, problem), n in sorted(stats.rejected.items()):
        lines.append(f'shanhe_rejected_requests_total{{status="{status}",type="{problem}"}} {n}')
    return PlainTextResponse("\n".join(lines) + "\n", media_type="text/plain; version=0.0.4")
