"""One validator in-process on each database engine: the transaction lifecycle and bad input."""

import base64
import dataclasses
import hashlib
import itertools
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.auth import sign_request
from contracts.locator import derive
from contracts.tx import Transaction, sign_transaction
from node.blocks import Block
from node.genesis import NodeConfig
from node.keys import read_signer
from node.mempool import Mempool, MempoolFull
from node.network_init import init_network
from node.service import Node
from tests.log_reads import log_get
from tests.tx_examples import NOTICE
from tlog.note import Signer

AUTHORITY = "127.0.0.1:8700"
"""A one-node network's node (``init_network``'s default port): what signatures name."""
BASE_URL = f"http://{AUTHORITY}"


@pytest.fixture
def single(tmp_path: Path, db_url: str) -> Iterator[tuple[TestClient, Path]]:
    app = create_app(_one_node(tmp_path, db_url=db_url))
    with TestClient(app, base_url=BASE_URL) as client:
        yield client, tmp_path / "net"


def _one_node(tmp_path: Path, **config: Any) -> Node:
    """A one-validator network in ``tmp_path/net`` with these node config values."""
    [config_path] = init_network(tmp_path / "net", 1)
    config_path.write_text(json.dumps({**json.loads(config_path.read_text()), **config}))
    return Node(NodeConfig.load(config_path))


def _anchor(net: Path, nonce: str, text: str = "doc", **override: Any) -> Transaction:
    signer = read_signer(net / "agencies" / "hosp-330881.key")
    body = {
        "type": "anchor",
        "chain_id": "shanhe-quzhou-dev",
        "signer": signer.name,
        "nonce": nonce,
        "sha256": hashlib.sha256(text.encode()).hexdigest(),
        **override,
    }
    return sign_transaction(body, signer)


def _wait_status(client: TestClient, tx_hash: str, timeout: float = 15) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body: dict[str, Any] = client.get(f"/v1/tx/{tx_hash}").json()
        if body.get("status") in ("committed", "rejected"):
            return body
        time.sleep(0.05)
    raise TimeoutError(tx_hash)


def _wait_for(condition: Any, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met")
        time.sleep(0.01)


def test_transaction_lifecycle(single: tuple[TestClient, Path]) -> None:
    client, net = single
    tx = _anchor(net, "n-1")
    r = client.post("/v1/tx", json=tx.to_json())
    assert r.status_code == 202 and r.json()["tx_hash"] == tx.hash.hex()
    status = _wait_status(client, tx.hash.hex())
    assert status["status"] == "committed" and status["leaf_index"] == 0 and status["height"] == 1

    entry = log_get(client, net, "/v1/entries/0").json()  # the log's content: signed reads
    assert json.loads(base64.b64decode(entry["data"])) == tx.to_json()
    assert client.get("/v1/entries/0").status_code == 401
    again = client.post("/v1/tx", json=tx.to_json())
    assert again.status_code == 202 and again.json()["status"] == "committed"

    replay = _anchor(net, "n-1", "another document")  # same nonce, different content
    client.post("/v1/tx", json=replay.to_json())
    status = _wait_status(client, replay.hash.hex())
    assert status["status"] == "rejected" and status["reason"] == "replayed_nonce"

    block = log_get(client, net, "/v1/blocks/1").json()
    assert block["tx_hashes"] == [tx.hash.hex()] and block["header"]["tree_size"] == 1
    net_info = client.get("/v1/network").json()
    assert net_info["quorum"] == 1 and len(net_info["validators"]) == 1
    assert client.get("/v1/checkpoint").text.startswith("shanhe.example/shanhe-quzhou-dev\n")


@pytest.mark.parametrize(
    ("mutate", "status", "kind"),
    [
        (lambda t: {"body": t["body"]}, 422, "invalid-request"),
        (lambda t: {**t, "signature": "00" * 64}, 400, "bad-signature"),
        (lambda t: {**t, "signature": "zz"}, 400, "malformed-transaction"),
        (lambda t: {**t, "body": {**t["body"], "chain_id": "other"}}, 400, "wrong-chain"),
        (lambda t: {**t, "body": {**t["body"], "signer": "nobody"}}, 400, "unknown-signer"),
        (lambda t: {**t, "body": {**t["body"], "amount": 1.5}}, 400, "malformed-transaction"),
        (lambda t: {**t, "body": {**t["body"], "pad": "x" * 20000}}, 400, "malformed-transaction"),
        (lambda t: {**t, "body": {**t["body"], "nonce": 7}}, 400, "malformed-transaction"),
    ],
)
def test_bad_transactions_get_problem_json(
    single: tuple[TestClient, Path], mutate: Any, status: int, kind: str
) -> None:
    client, net = single
    r = client.post("/v1/tx", json=mutate(_anchor(net, "bad").to_json()))
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["type"].endswith("/" + kind)


@pytest.mark.parametrize(
    ("method", "url", "status", "kind"),
    [
        ("get", "/v1/tx/abc", 400, "bad-tx-hash"),
        ("get", "/v1/tx/" + "00" * 32, 404, "no-tx"),
        ("get", "/v1/blocks/0", 422, "invalid-request"),
        ("get", "/v1/blocks/99", 404, "no-block"),
        ("get", f"/v1/blocks/{2**64}", 422, "invalid-request"),
        ("get", f"/v1/entries/{2**64}", 422, "invalid-request"),
        ("get", "/v1/entries/-1", 422, "invalid-request"),
        ("get", "/v1/checkpoint?tree_size=5", 404, "no-checkpoint"),
        ("get", "/v1/proof/inclusion?leaf_index=0&tree_size=1", 400, "bad-tree-size"),
        ("post", "/v1/p2p", 400, "peer-malformed"),
    ],
)
def test_bad_reads_get_problem_json(
    single: tuple[TestClient, Path], method: str, url: str, status: int, kind: str
) -> None:
    client, net = single
    if url.startswith(("/v1/blocks/", "/v1/entries/")):  # the log's content: signed reads
        r = log_get(client, net, url)
    else:
        r = client.request(method, url, json={"nothing": True} if method == "post" else None)
    assert r.status_code == status, r.text
    assert r.json()["type"].endswith("/" + kind)


def test_contract_rejections_are_recorded_and_bad_fields_never_admitted(
    single: tuple[TestClient, Path],
) -> None:
    client, net = single
    bad = _anchor(net, "f-1", sha256="NOT-HEX")  # stateless: refused at admission (#11)
    r = client.post("/v1/tx", json=bad.to_json())
    assert r.status_code == 400 and r.json()["type"].endswith("/malformed-transaction")
    assert client.get(f"/v1/tx/{bad.hash.hex()}").status_code == 404
    signer = read_signer(net / "agencies" / "hosp-330881.key")
    body = {"type": "health.request", "chain_id": "shanhe-quzhou-dev", "signer": signer.name,
            "nonce": "f-2", "case_id": "s-1", "resident": "ab" * 32, "source": "hosp-330824",
            "data_class": "test_result", "purpose": "TREAT"}  # fmt: skip
    tx = sign_transaction(body, signer)  # well formed, refused by the rules: nobody enrolled
    assert client.post("/v1/tx", json=tx.to_json()).status_code == 202
    status = _wait_status(client, tx.hash.hex())
    assert status["status"] == "rejected" and status["reason"] == "unknown_resident"


def test_mempool_is_bounded_and_deduplicated() -> None:
    signer = Signer.generate("a")
    pool = Mempool(2)
    txs = [
        sign_transaction(
            {"type": "anchor", "chain_id": "c", "signer": "a", "nonce": str(i)}, signer
        )
        for i in range(3)
    ]
    assert pool.add(txs[0]) and not pool.add(txs[0])
    assert pool.add(txs[1])
    with pytest.raises(MempoolFull):
        pool.add(txs[2])
    assert pool.take(5) == txs[:2]
    pool.remove([txs[0].hash])
    assert pool.take(5) == [txs[1]] and len(pool) == 1


def test_mempool_refuses_recently_committed_transactions_for_a_while() -> None:
    signer = Signer.generate("a")
    txs = [
        sign_transaction(
            {"type": "anchor", "chain_id": "c", "signer": "a", "nonce": str(i)}, signer
        )
        for i in range(4)
    ]
    pool = Mempool(10, remember=2)
    pool.add(txs[0])
    pool.committed([txs[0].hash, txs[1].hash])
    assert len(pool) == 0
    assert not pool.add(txs[0]) and not pool.add(txs[1])  # late gossip of committed work
    pool.committed([txs[2].hash, txs[3].hash])  # the oldest memories make room
    assert pool.add(txs[0]) and not pool.add(txs[3])


def test_honest_validation_refuses_bad_blocks(single: tuple[TestClient, Path]) -> None:
    client, net = single
    node: Node = client.app.state.node  # type: ignore[attr-defined]
    good_tx = _anchor(net, "v-1")
    height = node.tip.height + 1
    node.mempool.add(good_tx)
    data = node.propose(height)
    assert data is not None and node.validate(height, data)
    block = Block.decode(data)

    def variant(**change: Any) -> bytes:
        return dataclasses.replace(block, **change).encode()

    forged = {**good_tx.to_json(), "signature": "00" * 64}
    stranger = sign_transaction(good_tx.body, Signer.generate(good_tx.signer)).to_json()
    bad = {
        "wrong parent": variant(prev_hash="11" * 32),
        "wrong height": variant(height=height + 1),
        "wrong state root": variant(state_root="22" * 32),
        "wrong tree root": variant(tree_root=base64.b64encode(b"\x03" * 32).decode()),
        "invalid signature": variant(txs=(forged,)),
        "signed by another key": variant(txs=(stranger,)),
        "time in the past": variant(time_ms=0),
        "not a validator": variant(proposer="mallory"),
        "not canonical": data.replace(b'{"chain_id"', b'{ "chain_id"'),
    }
    for why, candidate in bad.items():
        assert not node.validate(height, candidate), why
    node.mempool.remove([good_tx.hash])


def test_a_resident_lists_who_accessed_their_records(single: tuple[TestClient, Path]) -> None:
    client, net = single
    keys = {
        a: read_signer(net / "agencies" / f"{a}.key")
        for a in ("ssb-330825", "hosp-330881", "hosp-330824", "hosp-330802")
    }
    me = Signer.generate("resident-demo")
    pseudonym = hashlib.sha256(b"not a real id").hexdigest()
    counter = iter(range(1000))

    def send(signer: Signer, name: str, body: dict[str, Any]) -> dict[str, Any]:
        full = {
            "chain_id": "shanhe-quzhou-dev",
            "signer": name,
            "nonce": f"r{next(counter)}",
            **body,
        }
        tx = sign_transaction(full, signer)
        assert client.post("/v1/tx", json=tx.to_json()).status_code == 202
        return _wait_status(client, tx.hash.hex())

    ssb, hosp_a, hosp_b = keys["ssb-330825"], keys["hosp-330881"], keys["hosp-330824"]
    assert (
        send(
            ssb,
            ssb.name,
            {
                "type": "resident.enroll",
                "pseudonym": pseudonym,
                "key": me.verifier().encode(),
                "age_class": "adult",
            },
        )["status"]
        == "committed"
    )
    now = int(time.time() * 1000)
    send(me, f"resident:{pseudonym}", {
        "type": "consent.grant", "consent_id": "c-1", "grantor": {"type": "self"}, "basis": {"type": "consent"}, "notice": NOTICE, "separate": True,
        "purpose": "TREAT", "data_classes": ["test_result"], "source": hosp_b.name, "recipient": hosp_a.name,
        "valid_from_ms": now - 1000, "valid_until_ms": now + 86_400_000,
    })  # fmt: skip
    send(hosp_a, hosp_a.name, {"type": "health.request", "case_id": "s-1", "resident": pseudonym, "source": hosp_b.name,
                               "data_class": "test_result", "purpose": "TREAT"})  # fmt: skip
    send(
        me,
        f"resident:{pseudonym}",
        {"type": "health.authorize", "case_id": "s-1", "consent_id": "c-1"},
    )
    send(
        hosp_b,
        hosp_b.name,
        {
            "type": "health.release",
            "case_id": "s-1",
            "commitment": "ab" * 32,
            "locator": derive("s-1", pseudonym, hosp_b.name, "ab" * 32),
        },
    )
    granted = send(hosp_a, hosp_a.name, {"type": "health.access", "case_id": "s-1"})
    assert (granted["status"], granted["outcome"]) == ("committed", "applied")
    hosp_c = keys["hosp-330802"]
    refused = send(hosp_c, hosp_c.name, {"type": "health.access", "case_id": "s-1"})
    # a hospital, not the recipient: on the log, recorded, and its outcome says refused (on both engines)
    assert refused["status"] == "committed" and refused["leaf_index"] == granted["leaf_index"] + 1
    assert (refused["outcome"], refused["reason"]) == ("refused", "not_recipient")

    def signed_get(
        path: str, query: str = "", signer: Signer = me, keyid: str = f"resident:{pseudonym}"
    ) -> Any:
        headers = sign_request(signer, keyid, "GET", path, query, authority=AUTHORITY)
        return client.get(path + (f"?{query}" if query else ""), headers=headers)

    mine = f"/v1/residents/{pseudonym}/access"
    page = signed_get(mine).json()
    assert [(e["action"], e["agent"], e["outcome"]) for e in page["entries"]] == [
        ("E", hosp_b.name, "granted"), ("R", hosp_a.name, "granted"), ("R", hosp_c.name, "refused")
    ]  # fmt: skip
    first = signed_get(mine, "limit=2").json()
    rest = signed_get(mine, f"cursor={first['next_cursor']}").json()
    assert first["entries"] + rest["entries"] == page["entries"] and rest["next_cursor"] is None

    # only the resident, with a fresh signature by the key on the ledger, sees it
    def problem(r: Any) -> str:
        return str(r.json()["type"]).rsplit("/", 1)[-1]

    assert problem(client.get(mine)) == "signature-required"
    assert problem(signed_get(mine, signer=Signer.generate("x"))) == "signature-invalid"
    assert problem(signed_get(mine, signer=hosp_a, keyid=hosp_a.name)) == "forbidden"
    assert problem(signed_get(mine, keyid="resident:" + "11" * 32)) == "unknown-key"
    headers = sign_request(me, f"resident:{pseudonym}", "GET", mine, "limit=2", authority=AUTHORITY)
    assert client.get(mine + "?limit=2", headers=headers).status_code == 200
    assert problem(client.get(mine + "?limit=2", headers=headers)) == "signature-replayed"
    headers = sign_request(me, f"resident:{pseudonym}", "GET", mine, "limit=2", authority=AUTHORITY)
    assert problem(client.get(mine + "?limit=3", headers=headers)) == "signature-invalid"
    assert problem(signed_get("/v1/residents/" + "00" * 32 + "/access")) == "forbidden"
    assert client.get("/v1/residents/nope/access").status_code == 400


def test_overdue_pension_cases_are_listed(
    single: tuple[TestClient, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    client, net = single
    ssb = read_signer(net / "agencies" / "ssb-330825.key")
    me = Signer.generate("resident-late")
    p = hashlib.sha256(b"late case").hexdigest()
    for n, body in enumerate([
        {"type": "resident.enroll", "pseudonym": p, "key": me.verifier().encode(), "age_class": "adult"},
        {"type": "pension.apply", "kind": "inter_area", "case_id": "late-1", "resident": p, "from_agency": "ssb-330825", "to_agency": "ssb-330802"},
    ]):  # fmt: skip
        tx = sign_transaction(
            {"chain_id": "shanhe-quzhou-dev", "signer": ssb.name, "nonce": f"o{n}", **body}, ssb
        )
        client.post("/v1/tx", json=tx.to_json())
        assert _wait_status(client, tx.hash.hex())["status"] == "committed"

    def overdue(agency: str) -> Any:
        signer = read_signer(net / "agencies" / f"{agency}.key")
        headers = sign_request(signer, agency, "GET", "/v1/pension/overdue", authority=AUTHORITY)
        return client.get("/v1/pension/overdue", headers=headers).json()

    assert overdue("ssb-330825")["cases"] == []
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() + 40 * 86_400)  # six weeks on, nobody acted
    [case] = overdue("ssb-330825")["cases"]
    assert case["case_id"] == "late-1" and case["status"] == "APPLIED"
    assert overdue("ssb-330802")["cases"] == [case]  # the receiving side sees it too
    assert overdue("ssb-330803")["cases"] == []  # an agency not party to it does not
    assert client.get("/v1/pension/overdue").status_code == 401


@pytest.mark.parametrize("path", ["/v1/tx", "/v1/p2p"])
def test_hostile_bodies_get_problem_json_not_500(
    single: tuple[TestClient, Path], path: str
) -> None:
    client, _ = single
    deep = '{"body":' + '{"a":' * 100_000 + "1" + "}" * 100_000 + ',"signature":"00"}'
    for body in (deep, "[" * 50_000, '{"body": {"type": "x"', "\ud800", "null"):
        r = client.post(
            path,
            content=body.encode("utf-8", "surrogatepass"),
            headers={"content-type": "application/json"},
        )
        assert 400 <= r.status_code < 500, (body[:20], r.status_code, r.text[:200])
        assert r.headers["content-type"] == "application/problem+json"


def test_json_nested_past_the_limit_is_refused_as_such(single: tuple[TestClient, Path]) -> None:
    from api.operations import MAX_JSON_DEPTH

    client, net = single
    tx = _anchor(net, "deep").to_json()
    nested: Any = "x"
    for _ in range(MAX_JSON_DEPTH):
        nested = [nested]
    tx["body"]["extra"] = nested  # 2 + 32 levels
    r = client.post("/v1/tx", json=tx)
    assert r.status_code == 400 and r.json()["type"].endswith("/json-too-deep")
    ssb = read_signer(net / "agencies" / "ssb-330800.key")  # a name is the one text field
    brackets_in_strings = sign_transaction({"type": "governance.propose", "chain_id": "shanhe-quzhou-dev",
        "signer": ssb.name, "nonce": "shallow", "proposal_id": "g-1", "action": "add_agency",
        "agency": {"id": "hosp-9", "name": "[" * 100, "division": "330822", "kind": "hospital",
                   "roles": [], "key": Signer.generate("hosp-9").verifier().encode()}}, ssb)  # fmt: skip
    assert client.post("/v1/tx", json=brackets_in_strings.to_json()).status_code == 202


def _enrolled_resident(client: TestClient, net: Path, name: str) -> tuple[Signer, str]:
    """A resident enrolled on the ledger: (their key, their signer name)."""
    ssb = read_signer(net / "agencies" / "ssb-330825.key")
    me = Signer.generate(name)
    pseudonym = hashlib.sha256(name.encode()).hexdigest()
    body = {"type": "resident.enroll", "chain_id": "shanhe-quzhou-dev", "signer": ssb.name,
            "nonce": f"enroll-{name}", "pseudonym": pseudonym, "age_class": "adult", "key": me.verifier().encode()}  # fmt: skip
    tx = sign_transaction(body, ssb)
    client.post("/v1/tx", json=tx.to_json())
    assert _wait_status(client, tx.hash.hex())["status"] == "committed"
    return me, f"resident:{pseudonym}"


@pytest.mark.parametrize(
    "content_type",
    [
        "application/JSON",
        "Application/Json; charset=utf-8",
        "text/plain",
        "application/x-www-form-urlencoded",
        None,
    ],
)
def test_a_resident_signed_950_level_transaction_is_refused_whatever_its_content_type(
    single: tuple[TestClient, Path], content_type: str | None
) -> None:
    """Issue 10's attack: accepted with 202 under ``application/JSON`` (the depth limit
    matched only lower-case ``json``), then every validator raised RecursionError in block
    validation and no height committed again."""
    client, net = single
    me, signer = _enrolled_resident(client, net, "resident-deep")
    deep: Any = "x"
    for _ in range(950):
        deep = {"a": deep}
    body = {"type": "consent.grant", "chain_id": "shanhe-quzhou-dev", "signer": signer,
            "nonce": "deep-1", "consent_id": "c-deep", "extra": deep}  # fmt: skip
    tx = Transaction(body, b"")  # the limits also refuse to sign it: sign by hand
    data = json.dumps({"body": body, "signature": me.sign(b"shanhe-tx-v1\n" + json.dumps(
        body, sort_keys=True, separators=(",", ":")).encode()).hex()}).encode()  # fmt: skip
    headers = {} if content_type is None else {"content-type": content_type}
    r = client.post("/v1/tx", content=data, headers=headers)
    assert r.status_code == 400, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["type"].endswith("/json-too-deep")
    assert len(client.app.state.node.mempool) == 0  # type: ignore[attr-defined]
    del tx


def test_a_body_of_escaped_quotes_is_refused_in_milliseconds(
    single: tuple[TestClient, Path],
) -> None:
    """The old depth scan was a regex, quadratic on an unterminated string of escaped
    quotes: 8,000 took 2.9 s, a 1 MiB body would have held the event loop for hours."""
    client, _ = single
    start = time.monotonic()
    r = client.post(
        "/v1/tx", content=b'"' + b'\\"' * 300_000, headers={"content-type": "application/json"}
    )
    assert r.status_code == 400 and r.json()["type"].endswith("/json-malformed")
    assert time.monotonic() - start < 2


def test_a_chunked_body_past_the_limit_is_refused(single: tuple[TestClient, Path]) -> None:
    from api.operations import MAX_BODY_BYTES

    client, _ = single

    def chunks() -> Iterator[bytes]:  # no Content-Length: transfer-encoding chunked
        for _ in range(MAX_BODY_BYTES // 65_536 + 2):
            yield b" " * 65_536

    r = client.post("/v1/tx", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413 and r.json()["type"].endswith("/body-too-large")


def test_reads_are_rate_limited_per_client(tmp_path: Path) -> None:
    [config_path] = init_network(tmp_path / "net", 1)
    data = json.loads(config_path.read_text())
    config_path.write_text(json.dumps({**data, "reads_per_client": 1.0}))  # burst of 2
    with TestClient(create_app(Node(NodeConfig.load(config_path)))) as client:
        codes = [client.get("/v1/network") for _ in range(3)]
        assert [r.status_code for r in codes] == [200, 200, 429]
        assert codes[2].headers["retry-after"] == "1"
        assert codes[2].json()["type"].endswith("/rate-limited")


def test_signed_reads_are_rate_limited_per_key(tmp_path: Path) -> None:
    [config_path] = init_network(tmp_path / "net", 1)
    data = json.loads(config_path.read_text())
    config_path.write_text(json.dumps({**data, "reads_per_key": 1.0}))  # burst of 2
    with TestClient(create_app(Node(NodeConfig.load(config_path))), base_url=BASE_URL) as client:

        def overdue(agency: str) -> Any:
            signer = read_signer(tmp_path / "net" / "agencies" / f"{agency}.key")
            headers = sign_request(
                signer, agency, "GET", "/v1/pension/overdue", authority=AUTHORITY
            )
            return client.get("/v1/pension/overdue", headers=headers)

        codes = [overdue("ssb-330825") for _ in range(3)]
        assert [r.status_code for r in codes] == [200, 200, 429]
        assert codes[2].headers["retry-after"] == "1"
        assert overdue("ssb-330802").status_code == 200  # another key has its own bucket


def test_governance_adds_a_validator_and_the_node_follows(single: tuple[TestClient, Path]) -> None:
    client, net = single
    ssb = read_signer(
        net / "agencies" / "ssb-330800.key"
    )  # the one governance agency of a 1-node network
    newcomer = Signer.generate("node-330802")
    body = {"type": "governance.propose", "proposal_id": "v-1", "action": "add_validator",
            "validator": {"name": newcomer.name, "key": newcomer.verifier().encode(), "url": "http://127.0.0.1:1"}}  # fmt: skip
    tx = sign_transaction(
        {"chain_id": "shanhe-quzhou-dev", "signer": ssb.name, "nonce": "v1", **body}, ssb
    )
    client.post("/v1/tx", json=tx.to_json())
    assert _wait_status(client, tx.hash.hex())["status"] == "committed"
    network = client.get("/v1/network").json()
    assert [v["name"] for v in network["validators"]] == ["node-330800", "node-330802"]
    assert network["quorum"] == 2
    # with two validators and only one running, nothing more commits: the change took effect
    later = _anchor(net, "after")
    client.post("/v1/tx", json=later.to_json())
    time.sleep(2)
    assert client.get(f"/v1/tx/{later.hash.hex()}").json()["status"] == "pending"


def test_operations_endpoints(single: tuple[TestClient, Path]) -> None:
    client, net = single
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").text == "ready\n"
    tx = _anchor(net, "m-1")
    client.post("/v1/tx", json=tx.to_json())
    _wait_status(client, tx.hash.hex())
    client.get("/v1/tx/zz")  # a refused request, counted by its problem type
    text = client.get("/metrics").text
    assert "shanhe_committed_height 1" in text and "shanhe_mempool_transactions 0" in text
    assert 'shanhe_request_duration_seconds_count{route="/v1/tx"} 1' in text
    assert 'shanhe_rejected_requests_total{status="400",type="bad-tx-hash"} 1' in text
    big = client.post(
        "/v1/tx", content=b"x" * (1024 * 1024 + 1), headers={"content-type": "application/json"}
    )
    assert big.status_code == 413 and big.json()["type"].endswith("/body-too-large")


def test_per_signer_rate_limit(tmp_path: Path) -> None:
    [config_path] = init_network(tmp_path / "net", 1)
    data = json.loads(config_path.read_text())
    config_path.write_text(json.dumps({**data, "rate_per_signer": 1.0}))  # burst of 2
    node = Node(NodeConfig.load(config_path))
    with TestClient(create_app(node)) as client:
        codes = [
            client.post("/v1/tx", json=_anchor(tmp_path / "net", f"rl-{i}").to_json())
            for i in range(3)
        ]
        assert [r.status_code for r in codes] == [202, 202, 429]
        assert codes[2].headers["retry-after"] == "1" and codes[2].json()["type"].endswith(
            "/rate-limited"
        )
        other = read_signer(
            tmp_path / "net" / "agencies" / "ssb-330825.key"
        )  # another key is not limited
        body = {
            "type": "anchor",
            "chain_id": "shanhe-quzhou-dev",
            "signer": other.name,
            "nonce": "x",
            "sha256": "ab" * 32,
        }
        assert (
            client.post("/v1/tx", json=sign_transaction(body, other).to_json()).status_code == 202
        )


def test_token_bucket_refills() -> None:
    from node.ratelimit import RateLimiter

    limiter = RateLimiter(rate=2.0, burst=2)
    assert limiter.take("a", 0.0) == 0 and limiter.take("a", 0.0) == 0
    assert limiter.take("a", 0.0) == pytest.approx(0.5)
    assert limiter.take("a", 0.5) == 0  # one token back after half a second
    assert limiter.take("b", 0.5) == 0


def test_peer_envelopes_are_rfc9421_signed_fresh_and_used_once(
    single: tuple[TestClient, Path],
) -> None:
    from node.p2p import seal

    client, _ = single
    node: Node = client.app.state.node  # type: ignore[attr-defined]
    body, headers = seal(node.signer, node.chain_id, [], AUTHORITY)
    assert client.post("/v1/p2p", content=body, headers=headers).status_code == 204
    again = client.post("/v1/p2p", content=body, headers=headers)  # replayed
    assert again.status_code == 401 and again.json()["type"].endswith("/peer-replayed")
    body, headers = seal(node.signer, node.chain_id, [], AUTHORITY)
    tampered = body.replace(b'"items":[]', b'"items":[{}]')
    r = client.post("/v1/p2p", content=tampered, headers=headers)
    assert r.status_code == 400 and r.json()["type"].endswith("/peer-malformed")  # digest
    body, headers = seal(node.signer, "another-chain", [], AUTHORITY)
    assert client.post("/v1/p2p", content=body, headers=headers).status_code == 400
    stale = {
        **headers,
        "signature-input": headers["signature-input"].replace("created=", "created=1"),
    }
    assert client.post("/v1/p2p", content=body, headers=stale).status_code == 401
    assert node.counters["dropped_envelope:replayed"] == 1


@dataclasses.dataclass
class Limited:
    """What one request did through the limits middleware alone."""

    status: int
    reads: int
    """How many times the body was asked for."""
    heard: list[bytes]
    """The bodies the app behind it received."""
    headers: dict[bytes, bytes]


def _through_limits(
    node: Node,
    method: str,
    path: str,
    headers: dict[str, str],
    body: bytes,
    limits: Any = None,
) -> Limited:
    import asyncio

    from api.operations import Accounting, RequestStats, signed_check
    from node.ratelimit import RateLimiter

    reads: list[int] = []
    heard: list[bytes] = []

    async def receive() -> dict[str, Any]:
        reads.append(1)
        return {"type": "http.request", "body": body, "more_body": False}

    async def app(scope: Any, receive: Any, send: Any) -> None:
        heard.append((await receive())["body"])
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    if limits is None:
        limits = Accounting(
            app, RequestStats(), RateLimiter.per_second(10), node.check_envelope_headers,
            signed_check(node),
        )  # fmt: skip
    else:
        limits.app = app
    path, _, query = path.partition("?")
    scope = {"type": "http", "method": method, "path": path, "query_string": query.encode(),
             "headers": [(b"host", AUTHORITY.encode())]
             + [(k.encode(), v.encode()) for k, v in headers.items()]}  # fmt: skip
    asyncio.run(limits(scope, receive, send))
    return Limited(sent[0]["status"], len(reads), heard, dict(sent[0]["headers"]))


def test_a_strangers_envelope_is_refused_before_its_body_is_read(
    single: tuple[TestClient, Path],
) -> None:
    from node.p2p import seal

    client, _ = single
    node: Node = client.app.state.node  # type: ignore[attr-defined]
    stranger = Signer.generate(node.signer.name)  # a validator's name, not its key

    def call(headers: dict[str, str], body: bytes) -> tuple[int, int, list[bytes]]:
        done = _through_limits(node, "POST", "/v1/p2p", headers, body)
        return done.status, done.reads, done.heard

    body, headers = seal(stranger, node.chain_id, [], AUTHORITY)
    assert call(headers, body) == (401, 0, [])  # its bytes never read
    assert node.counters["dropped_envelope:bad_signature"] == 1
    no_digest = {k: v for k, v in headers.items() if k != "content-digest"}
    assert call(no_digest, body)[:2] == (400, 0)
    body, headers = seal(node.signer, node.chain_id, [], AUTHORITY)
    assert call(headers, body) == (204, 1, [body])  # a validator's: read and handed on


@pytest.mark.parametrize(
    "framing", [{"content-length": str(300 * 1024 * 1024)}, {"transfer-encoding": "chunked"}]
)
@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_a_get_with_a_body_is_refused_unread(
    single: tuple[TestClient, Path], method: str, framing: dict[str, str]
) -> None:
    """Issue 10 item 7: a GET carrying 300 MiB was read whole (GETs skipped the body limit)."""
    client, net = single
    node: Node = client.app.state.node  # type: ignore[attr-defined]
    agency = read_signer(net / "agencies" / "ssb-330825.key")
    path = "/v1/pension/overdue"
    signed = sign_request(agency, agency.name, method, path, authority=AUTHORITY)
    done = _through_limits(node, method, path, {**signed, **framing}, b"x" * 1024)
    assert (done.status, done.reads, done.heard) == (400, 0, [])
    assert done.headers[b"connection"] == b"close"  # the rest is never read either
    assert done.headers[b"x-problem-type"] == b"body-not-allowed"
    assert _through_limits(node, method, path, signed, b"").status == 204


def test_a_signed_request_is_refused_before_its_body_is_read(
    single: tuple[TestClient, Path],
) -> None:
    """The signed routes read the caller's body, then checked the signature."""
    client, net = single
    node: Node = client.app.state.node  # type: ignore[attr-defined]
    hospital = read_signer(net / "agencies" / "hosp-330824.key")
    path, document = "/v1/health/cases/c-1/payload", b"x" * 900_000
    for signer, authority, why in [
        (Signer.generate(hospital.name), AUTHORITY, b"signature-invalid"),  # not its key
        (hospital, "127.0.0.1:8701", b"signature-wrong-authority"),  # for another node
    ]:
        headers = sign_request(
            signer, hospital.name, "PUT", path, "", document, authority=authority
        )
        if why == b"signature-wrong-authority":
            headers["host"] = authority
        done = _through_limits(node, "PUT", path, headers, document)
        assert (done.status, done.reads, done.heard) == (401, 0, [])
        assert done.headers[b"x-problem-type"] == why
        assert done.headers[b"connection"] == b"close"
    good = sign_request(hospital, hospital.name, "PUT", path, "", document, authority=AUTHORITY)
    done = _through_limits(node, "PUT", path, good, document)
    assert (done.status, done.reads, done.heard) == (204, 1, [document])
    r = client.put(path, content=document, headers=good)  # and at the route, the nonce is fresh
    assert r.status_code == 403 and r.json()["type"].endswith("/forbidden")  # no such case
    again = client.put(path, content=document, headers=good)
    assert again.status_code == 401 and again.json()["type"].endswith("/signature-replayed")
    other = client.put(path, content=b"another document", headers=good)
    assert other.status_code == 401  # the digest it announced, and signed, is not this body's


def test_bodies_in_progress_share_a_budget(single: tuple[TestClient, Path]) -> None:
    """Many slow uploads at once must not add up to more memory than one budget, nor one
    address take all of it; bytes are charged as they come, not as announced (64 idle
    connections announcing 1 MiB each once refused every client 503)."""
    from api.operations import (
        ADDRESS_SHARE,
        BODY_BUDGET,
        MAX_BODY_BYTES,
        Accounting,
        RequestStats,
        signed_check,
    )
    from node.ratelimit import RateLimiter

    client, _ = single
    node: Node = client.app.state.node  # type: ignore[attr-defined]
    accounting = Accounting(
        client.app, RequestStats(), RateLimiter.per_second(10),
        node.check_envelope_headers, signed_check(node),
    )  # fmt: skip
    accounting.buffered = BODY_BUDGET - MAX_BODY_BYTES  # others' uploads in progress
    headers = {"content-type": "application/octet-stream"}
    announced = {**headers, "content-length": str(MAX_BODY_BYTES)}
    one = _through_limits(node, "POST", "/v1/other", announced, b"x" * 1000, accounting)
    assert one.status == 204 and accounting.buffered == BODY_BUDGET - MAX_BODY_BYTES
    accounting.buffered = BODY_BUDGET - 999
    busy = _through_limits(
        node, "POST", "/v1/other", {**headers, "content-length": "1000"}, b"x" * 1000, accounting
    )
    assert busy.status == 503 and busy.headers[b"retry-after"] == b"1" and not busy.heard
    small = _through_limits(node, "POST", "/v1/other", headers, b"x", accounting)
    assert small.status == 204  # what has come fits: an announced length costs nothing
    assert accounting.buffered == BODY_BUDGET - 999 and not accounting.by_address
    accounting.buffered = 0
    accounting.by_address["unknown"] = ADDRESS_SHARE - 999  # this (scope-less) address
    mine = _through_limits(node, "POST", "/v1/other", headers, b"x" * 1000, accounting)
    assert mine.status == 503


def test_blocks_are_capped_in_bytes_and_peer_envelopes_may_carry_them(
    single: tuple[TestClient, Path],
) -> None:
    from api.operations import MAX_BODY_BYTES
    from node.p2p import seal

    client, net = single
    node: Node = client.app.state.node  # type: ignore[attr-defined]
    txs = [_anchor(net, f"big-{i}") for i in range(12)]  # no field is free text to pad (#11)
    three = sum(len(tx.encode()) + 1 for tx in txs[:3])
    node.params = dataclasses.replace(node.params, max_block_bytes=64 * 1024 + three)
    for tx in txs:
        node.mempool.add(tx)
    height = node.tip.height + 1
    data = node.propose(height)
    assert data is not None and len(Block.decode(data).txs) == 3  # the rest waits
    assert node.validate(height, data)
    node.params = dataclasses.replace(node.params, max_block_bytes=len(data) - 1)
    node.exec_cache.clear()
    assert not node.validate(height, data)
    assert node.counters["invalid_block:block too large"] == 1
    node.mempool.remove([tx.hash for tx in txs])
    # a peer envelope (a proposal, a gossip batch) may exceed a client's body limit
    body, headers = seal(
        node.signer, node.chain_id, [{"kind": "noise", "pad": "x" * MAX_BODY_BYTES}], AUTHORITY
    )
    assert client.post("/v1/p2p", content=body, headers=headers).status_code == 204


def test_a_full_mempool_does_not_swallow_the_rest_of_a_peer_envelope(
    single: tuple[TestClient, Path],
) -> None:
    from node.p2p import seal, tx_item

    client, net = single
    node: Node = client.app.state.node  # type: ignore[attr-defined]
    node.mempool = Mempool(0)
    items: list[dict[str, Any] | bytes] = [tx_item(_anchor(net, f"full-{i}")) for i in range(2)]
    items.append({"kind": "cosig", "tree_size": "not a number", "line": "x"})
    body, headers = seal(node.signer, node.chain_id, items, AUTHORITY)
    assert client.post("/v1/p2p", content=body, headers=headers).status_code == 204
    assert node.counters["dropped:mempool_full"] == 2
    assert node.counters["dropped:malformed_item"] == 1  # the item after the overflow was read


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("text/plain", b'{"body": {}, "signature": ""}'),
        ("application/x-www-form-urlencoded", b"body=1&signature=2"),
        ("application/xml", b"<tx/>"),
        ("application/json", b"\xff\xfe{}"),  # not UTF-8
        ("application/json", '{"body": {"type": "\u202e\u0000"}, "signature": "x"}'.encode()),
        ("application/json", '{"body": {"\U0001f600": 1}, "signature": "00"}'.encode()),
        ("application/json", b""),
    ],
)
def test_wrong_content_types_and_unicode_edges_get_problem_json(
    single: tuple[TestClient, Path], content_type: str, body: bytes
) -> None:
    client, _ = single
    r = client.post("/v1/tx", content=body, headers={"content-type": content_type})
    assert 400 <= r.status_code < 500, (content_type, body[:30], r.status_code, r.text[:200])
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["status"] == r.status_code


@pytest.mark.parametrize("interval", [0.0, 0.4])
def test_heights_start_no_sooner_than_the_block_interval(tmp_path: Path, interval: float) -> None:
    node = _one_node(tmp_path, block_interval=interval)
    committed: list[float] = []
    started: list[float] = []  # when consensus moved to the next height
    commit, advance = node._commit, node.sm.advance

    def timed_commit(decision: Any) -> Any:
        committed.append(time.monotonic())
        return commit(decision)

    def timed_advance(changed: Any = None) -> Any:
        started.append(time.monotonic())
        return advance(changed)

    node._commit = timed_commit  # type: ignore[method-assign]
    node.sm.advance = timed_advance  # type: ignore[method-assign,assignment]
    with TestClient(create_app(node)) as client:
        for n in range(3):  # each as soon as the one before is committed
            tx = _anchor(tmp_path / "net", f"pace-{n}")
            client.post("/v1/tx", json=tx.to_json())
            _wait_status(client, tx.hash.hex())
        _wait_for(lambda: len(started) == 3)
    gaps = [b - a for a, b in itertools.pairwise(started)]
    if interval:
        assert min(gaps) >= interval - 0.001  # the timer's resolution, nothing more
    else:  # no waiting: each height starts as its block is stored
        # (a loaded machine may delay the event loop; a paced start would wait 0.4 s)
        assert max(s - c for c, s in zip(committed, started, strict=True)) < 0.25


@pytest.mark.parametrize(
    "evidence",
    [
        {"first": [], "second": 1},
        {"first": {"kind": "vote"}, "second": {"kind": "vote", "height": "1"}},
        {"offender": "node-330800"},
        {"first": {"kind": "proposal", "block": 7}, "second": None},
    ],
)
def test_malformed_evidence_makes_a_block_invalid_not_an_error(
    single: tuple[TestClient, Path], evidence: dict[str, Any]
) -> None:
    """Once an AttributeError escaped validation here (HTTP 500 at three nodes' peer route)."""
    client, _ = single
    node: Node = client.app.state.node  # type: ignore[attr-defined]
    height = node.tip.height + 1
    block = Block(node.chain_id, height, node.tip.hash, node.signer.name, node.tip.time_ms + 1,
                  (), (evidence,), 0, "", node.tip.state_root.hex())  # fmt: skip
    assert node.validate(height, block.encode()) is False
    assert node.counters["invalid_block:evidence"] == 1


def test_block_sync_survives_any_answer_from_a_peer(tmp_path: Path) -> None:
    """A peer's answers during block sync are decoded with limits and any failure is
    counted: a 100,000-deep JSON answer used to raise RecursionError in ``r.json()`` and
    end the node's sync task for good."""
    import asyncio

    import httpx

    configs = init_network(tmp_path / "net", 2)
    node = Node(NodeConfig.load(configs[0]))
    answers = iter(
        [
            b"[" * 100_000 + b"]" * 100_000,  # /v1/status
            b'{"height": 5}',
            b"[" * 100_000 + b"]" * 100_000,  # /v1/blocks/1
            b'{"height": 5}',
            b"{not json",
            b'{"height": "five"}',
            b'{"height": 5}',
            b'{"block": 7, "certificate": []}',
            b"x" * (20 * 1024 * 1024),  # larger than any answer may be
        ]
    )
    served: list[str] = []

    def peer(request: httpx.Request) -> httpx.Response:
        served.append(request.url.path)
        body = next(answers, b'{"height": 0}')
        return httpx.Response(200, content=body, headers={"content-type": "application/json"})

    async def run() -> None:
        [p] = node.peers
        await p.client.aclose()
        p.client = httpx.AsyncClient(transport=httpx.MockTransport(peer))
        task = asyncio.create_task(node._sync_loop())
        try:
            for _ in range(12):
                node.sync_now.set()
                await asyncio.sleep(0.02)
            assert not task.done(), task  # still syncing
        finally:
            task.cancel()
            await p.client.aclose()

    try:
        asyncio.run(run())
    finally:
        node.wal.close()
        node.engine.dispose()
        node.vault.engine.dispose()
    assert len(served) >= 10
    assert node.counters["sync_errors"] >= 6
