"""POST /v1/tx's fast path: what it answers itself, and that it hands everything else on."""

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from starlette.types import Message, Receive, Scope, Send

from api.app import create_app
from api.submit_path import SUBMIT_PATH, SubmitFastPath, submit_route
from contracts.tx import sign_transaction
from node.genesis import NodeConfig
from node.keys import read_signer
from node.mempool import MempoolFull
from node.network_init import init_network
from node.service import Node, RateLimited, Submitted, TxRejected


class StubNode:
    def __init__(self, outcome: Exception | None = None) -> None:
        self.outcome = outcome
        self.submitted: list[Any] = []

    def submit(self, raw: Any) -> Submitted:
        self.submitted.append(raw)
        if self.outcome is not None:
            raise self.outcome
        return Submitted("ab" * 32, "pending")


def call(
    node: StubNode, body: bytes, content_type: bytes = b"application/json", path: str = SUBMIT_PATH
) -> tuple[list[bytes] | None, int, dict[bytes, bytes], bytes, Scope]:
    """(body the next app received or None, status, headers, response body, scope)."""
    passed: list[bytes] = []

    async def downstream(scope: Scope, receive: Receive, send: Send) -> None:
        received = b""
        while True:
            message = await receive()
            received += message["body"]
            if not message["more_body"]:
                break
        passed.append(received)
        await send({"type": "http.response.start", "status": 299, "headers": []})
        await send({"type": "http.response.body", "body": b"route"})

    chunks = [body[:3], body[3:]]

    async def receive() -> Message:
        chunk = chunks.pop(0) if chunks else b""
        return {"type": "http.request", "body": chunk, "more_body": bool(chunks)}

    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    scope: Scope = {
        "type": "http",
        "method": "POST",
        "path": path,
        "headers": [(b"content-type", content_type)],
    }
    app = SubmitFastPath(downstream, node, submit_route())  # type: ignore[arg-type]
    asyncio.run(app(scope, receive, send))
    headers = dict(sent[0].get("headers", []))
    return passed or None, sent[0]["status"], headers, sent[1]["body"], scope


TX = {"body": {"type": "anchor"}, "signature": "00"}


@pytest.mark.parametrize(
    "content_type",
    [b"application/json; charset=utf-8", b"Application/JSON", b"application/problem+json"],
)
def test_a_well_formed_submission_is_answered_here_with_the_route_label(
    content_type: bytes,
) -> None:
    node = StubNode()
    passed, status, headers, body, scope = call(node, json.dumps(TX).encode(), content_type)
    assert passed is None and node.submitted == [TX]
    assert status == 202 and headers[b"content-type"] == b"application/json"
    assert json.loads(body) == {"tx_hash": "ab" * 32, "status": "pending"}
    assert scope["route"].path == "/v1/tx"


@pytest.mark.parametrize(
    ("outcome", "status", "kind"),
    [
        (TxRejected("bad_signature", "no"), 400, b"bad-signature"),
        (RateLimited(0.3), 429, b"rate-limited"),
        (MempoolFull("full"), 503, b"mempool-full"),
    ],
)
def test_refusals_are_the_routes_problems(outcome: Exception, status: int, kind: bytes) -> None:
    passed, got, headers, body, _ = call(StubNode(outcome), json.dumps(TX).encode())
    assert passed is None and got == status
    assert headers[b"content-type"] == b"application/problem+json"
    assert headers[b"x-problem-type"] == kind
    assert json.loads(body)["type"].endswith(kind.decode())
    if status != 400:
        assert b"retry-after" in headers


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        (b"text/plain", json.dumps(TX).encode()),
        (b"application/json", b"{not json"),
        (b"application/json", b"[]"),
        (b"application/json", json.dumps({**TX, "extra": 1}).encode()),
        (b"application/json", json.dumps({"body": TX["body"]}).encode()),
        (b"application/json", json.dumps({"body": [], "signature": "00"}).encode()),
        (b"application/json", json.dumps({"body": {}, "signature": 0}).encode()),
        (b"application/json", b"[" * 100_000),
    ],
)
def test_anything_else_goes_on_to_the_route_with_its_body(content_type: bytes, body: bytes) -> None:
    node = StubNode()
    passed, status, _, answer, _ = call(node, body, content_type)
    assert passed == [body] and status == 299 and answer == b"route"
    assert node.submitted == []


def test_other_paths_are_not_touched() -> None:
    passed, status, _, _, _ = call(StubNode(), json.dumps(TX).encode(), path="/v1/tx/ab")
    assert passed is not None and status == 299


def test_on_a_node_submissions_are_counted_under_the_route(tmp_path: Path) -> None:
    [config_path] = init_network(tmp_path / "net", 1)
    node = Node(NodeConfig.load(config_path))
    signer = read_signer(tmp_path / "net" / "agencies" / "hosp-330881.key")
    body = {"type": "anchor", "chain_id": node.chain_id, "signer": signer.name,
            "nonce": "n1", "sha256": "ab" * 32}  # fmt: skip
    tx = sign_transaction(body, signer).to_json()
    with TestClient(create_app(node)) as client:
        first = client.post("/v1/tx", json=tx)
        again = client.post("/v1/tx", json=tx)
        refused = client.post("/v1/tx", json={**tx, "signature": "00" * 64})
        metrics = client.get("/metrics").text
    assert first.status_code == again.status_code == 202
    assert first.json()["tx_hash"] == again.json()["tx_hash"]
    assert refused.status_code == 400 and refused.json()["type"].endswith("bad-signature")
    assert 'shanhe_request_duration_seconds_count{route="/v1/tx"} 3' in metrics
