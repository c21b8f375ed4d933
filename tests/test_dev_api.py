"""The single development node's HTTP log API, end to end through its proofs."""

import base64
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_dev_app
from node.devnode import DevNode
from node.keys import read_verifiers
from tlog.checkpoint import verify_checkpoint
from tlog.hashing import leaf_hash
from tlog.verify import verify_consistency, verify_inclusion


@pytest.fixture
def client(tmp_path: Path) -> TestClient:
    return TestClient(create_dev_app(DevNode.open(tmp_path, "test/dev-log")))


def _append(client: TestClient, data: bytes) -> int:
    r = client.post("/v1/entries", json={"data": base64.b64encode(data).decode()})
    assert r.status_code == 201, r.text
    index: int = r.json()["leaf_index"]
    return index


def test_entries_proofs_and_checkpoints_verify(client: TestClient, tmp_path: Path) -> None:
    assert client.get("/v1/checkpoint").status_code == 404
    for i in range(11):
        assert _append(client, f"doc-{i}".encode()) == i
    verifiers = read_verifiers(tmp_path / "verifier-keys.txt")
    r = client.get("/v1/checkpoint")
    assert r.headers["content-type"].startswith("text/plain")
    result = verify_checkpoint(r.text, verifiers, 1)
    assert isinstance(result, tuple)
    checkpoint = result[0]
    assert checkpoint.size == 11

    old = verify_checkpoint(
        client.get("/v1/checkpoint", params={"tree_size": 4}).text, verifiers, 1
    )
    assert isinstance(old, tuple)

    proof = client.get("/v1/proof/inclusion", params={"leaf_index": 7, "tree_size": 11}).json()
    entry = client.get("/v1/entries/7").json()
    leaf = leaf_hash(base64.b64decode(entry["data"]))
    hashes = [base64.b64decode(h) for h in proof["hashes"]]
    assert verify_inclusion(7, 11, leaf, hashes, checkpoint.root) is None

    cons = client.get("/v1/proof/consistency", params={"first": 4, "second": 11}).json()
    hashes = [base64.b64decode(h) for h in cons["hashes"]]
    assert verify_consistency(4, 11, old[0].root, checkpoint.root, hashes) is None


@pytest.mark.parametrize(
    ("method", "url", "body", "status", "kind"),
    [
        ("get", "/v1/proof/inclusion?leaf_index=5&tree_size=3", None, 400, "bad-tree-size"),
        ("get", "/v1/proof/inclusion?leaf_index=0&tree_size=99", None, 400, "bad-tree-size"),
        ("get", "/v1/proof/inclusion?leaf_index=-1&tree_size=2", None, 422, "invalid-request"),
        ("get", "/v1/proof/inclusion?leaf_index=abc&tree_size=2", None, 422, "invalid-request"),
        ("get", "/v1/proof/consistency?first=0&second=2", None, 400, "bad-tree-size"),
        (
            "get",
            "/v1/proof/consistency?first=9999999999999999999999&second=2",
            None,
            422,
            "invalid-request",
        ),
        ("get", "/v1/entries/99", None, 404, "no-entry"),
        ("get", "/v1/entries/-3", None, 404, "no-entry"),
        ("get", "/v1/checkpoint?tree_size=7", None, 404, "no-checkpoint"),
        ("get", "/nowhere", None, 404, "not-found"),
        ("post", "/v1/entries", {"data": "!!"}, 400, "bad-base64"),
        ("post", "/v1/entries", {"data": ""}, 400, "bad-entry-size"),
        ("post", "/v1/entries", {"nothing": 1}, 422, "invalid-request"),
        ("post", "/v1/entries", "not json", 422, "invalid-request"),
    ],
)
def test_bad_requests_get_problem_json(
    client: TestClient, method: str, url: str, body: object, status: int, kind: str
) -> None:
    _append(client, b"a")
    _append(client, b"b")
    if isinstance(body, str):
        r = client.post(url, content=body, headers={"content-type": "application/json"})
    else:
        r = client.request(method, url, json=body)
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["type"].endswith("/" + kind)
