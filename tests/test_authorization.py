"""The authorization matrix, end to end: every role x every non-public endpoint x own/other
data, on a real node; every refused read of a resident's data lands in that resident's access
log; the vault's deposit and delivery; and the pure decision table on its own."""

import base64
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
from api.authz import MATRIX, Action, Caller, Parties, Role, decide
from contracts.tx import sign_transaction
from node.genesis import NodeConfig
from node.keys import read_signer
from node.network_init import init_network
from node.service import Node
from node.vault import commitment, open_delivery
from tests.tx_examples import NOTICE
from tlog.note import Signer

CHAIN = "shanhe-quzhou-dev"
ME = hashlib.sha256(b"matrix resident").hexdigest()
OTHER = hashlib.sha256(b"matrix other").hexdigest()
DOCUMENT = "检验报告 matrix".encode()


class World:
    def __init__(self, client: TestClient, net: Path) -> None:
        self.client, self.net = client, net
        self.node: Node = client.app.state.node  # type: ignore[attr-defined]
        self.keys: dict[str, Signer] = {
            name: read_signer(net / "agencies" / f"{name}.key")
            for name in (
                "ssb-330825",
                "ssb-330802",
                "ssb-330803",
                "hosp-330881",
                "hosp-330824",
                "audit-330800",
            )
        }
        self.keys[f"resident:{ME}"] = Signer.generate("me")
        self.keys[f"resident:{OTHER}"] = Signer.generate("other")
        self.keys[f"node:{self.node.signer.name}"] = self.node.signer
        self.n = itertools.count()
        self.released = False

    def tx(self, signer: str, body: dict[str, Any]) -> dict[str, Any]:
        full = {"chain_id": CHAIN, "signer": signer, "nonce": f"m{next(self.n)}", **body}
        tx = sign_transaction(full, self.keys[signer])
        assert self.client.post("/v1/tx", json=tx.to_json()).status_code == 202
        return self.wait(tx.hash.hex())

    def wait(self, tx_hash: str) -> dict[str, Any]:
        for _ in range(200):
            status: dict[str, Any] = self.client.get(f"/v1/tx/{tx_hash}").json()
            if status.get("status") in ("committed", "rejected"):
                return status
            time.sleep(0.02)
        raise AssertionError("not committed")

    def call(self, caller: str | None, method: str, path: str, body: bytes = b"") -> Any:
        headers = {}
        if caller is not None:
            headers = sign_request(
                self.keys[caller], caller, method, path, "", body, authority="127.0.0.1:8700"
            )
        return self.client.request(method, path, headers=headers, content=body)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    net = tmp_path_factory.mktemp("authz") / "net"
    [config_path] = init_network(net, 1)
    config = json.loads(config_path.read_text())
    config_path.write_text(json.dumps({**config, "reads_per_client": 100_000}))
    app = create_app(Node(NodeConfig.load(config_path)))
    with TestClient(app, base_url="http://127.0.0.1:8700") as client:  # the node's own name
        w = World(client, net)
        for p in (ME, OTHER):
            key = w.keys[f"resident:{p}"].verifier().encode()
            w.tx(
                "ssb-330825",
                {"type": "resident.enroll", "pseudonym": p, "key": key, "age_class": "adult"},
            )
        now = int(time.time() * 1000)
        assert w.tx(f"resident:{ME}", {
            "type": "consent.grant", "consent_id": "mc-1", "grantor": {"type": "self"},
            "basis": {"type": "consent"}, "notice": NOTICE, "separate": True, "purpose": "TREAT", "data_classes": ["test_result"],
            "source": "hosp-330824", "recipient": "hosp-330881",
            "valid_from_ms": now - 1000, "valid_until_ms": now + 86_400_000,
        })["status"] == "committed"  # fmt: skip
        w.tx("hosp-330881", {"type": "health.request", "case_id": "ms-1", "resident": ME,
                             "source": "hosp-330824", "data_class": "test_result",
                             "purpose": "TREAT"})  # fmt: skip
        w.tx(
            f"resident:{ME}", {"type": "health.authorize", "case_id": "ms-1", "consent_id": "mc-1"}
        )
        w.tx("ssb-330825", {"type": "pension.apply", "kind": "inter_area", "case_id": "mp-1", "resident": ME,
                            "from_agency": "ssb-330825", "to_agency": "ssb-330802"})  # fmt: skip
        yield w


def test_the_vault_takes_the_document_from_the_source_and_delivers_it_to_the_recipient(
    world: World,
) -> None:
    _vault_flow(world)


def _vault_flow(world: World) -> None:
    """Deposit, release, record the read, deliver: once per module (the matrix needs it)."""
    if world.released:
        return
    world.released = True
    path = "/v1/health/cases/ms-1/payload"
    assert world.call("hosp-330881", "PUT", path, DOCUMENT).status_code == 403  # not the source
    r = world.call("hosp-330824", "PUT", path, DOCUMENT)
    assert r.status_code == 201, r.text
    deposited = r.json()
    assert deposited["held_by"] == world.node.signer.name
    assert world.call("hosp-330881", "GET", path).json()["detail"] == "not_released"
    release = {"type": "health.release", "case_id": "ms-1", **{k: deposited[k] for k in ("commitment", "locator")}}  # fmt: skip
    assert world.tx("hosp-330824", release)["status"] == "committed"
    assert world.call("hosp-330824", "PUT", path, DOCUMENT).status_code == 409  # released now
    # the read must be on the log first
    assert world.call("hosp-330881", "GET", path).json()["detail"] == "read_not_recorded"
    world.tx("hosp-330881", {"type": "health.access", "case_id": "ms-1"})
    r = world.call("hosp-330881", "GET", path)
    assert r.status_code == 200, r.text
    payload, salt = open_delivery(base64.b64decode(r.json()["sealed"]), world.keys["hosp-330881"])
    assert payload == DOCUMENT and commitment(salt, payload) == deposited["commitment"]


# (endpoint, caller) -> status, for ME's records. Written out by hand, independently of
# api/authz.py's MATRIX: "own" is ME, "other" is another resident, the agencies are party or not.
CALLERS = {
    "own resident": f"resident:{ME}",
    "other resident": f"resident:{OTHER}",
    "requesting hospital": "hosp-330881",
    "source hospital": "hosp-330824",
    "transferring bureau": "ssb-330825",
    "receiving bureau": "ssb-330802",
    "unrelated bureau": "ssb-330803",
    "auditor": "audit-330800",
    "node operator": "admin",
    "anonymous": None,
}
LOG_READERS = {who: 200 for who in CALLERS if who not in ("own resident", "other resident")}
"""The log's content (#11 item 5): every agency, auditors included, and validators (here the
node's own key); residents 403, the public 401."""
EXPECTED: dict[str, dict[str, int]] = {
    f"/v1/residents/{ME}/access": {"own resident": 200, "anonymous": 401},
    f"/v1/residents/{ME}/consents": {"own resident": 200, "anonymous": 401},
    f"/v1/residents/{ME}/bases": {"own resident": 200, "anonymous": 401},
    "/v1/audit/emergencies": {"auditor": 200, "anonymous": 401},  # or a governance agency
    "/v1/health/cases/ms-1": {
        "own resident": 200,
        "requesting hospital": 200,
        "source hospital": 200,
        "anonymous": 401,
    },
    "/v1/pension/cases/mp-1": {
        "own resident": 200,
        "transferring bureau": 200,
        "receiving bureau": 200,
        "anonymous": 401,
    },
    "/v1/health/cases/ms-1/payload": {"requesting hospital": 200, "anonymous": 401},
    "/v1/pension/overdue": {
        "requesting hospital": 200,
        "source hospital": 200,
        "transferring bureau": 200,
        "receiving bureau": 200,
        "unrelated bureau": 200,
        "auditor": 200,  # an agency: its own cases (none)
        "anonymous": 401,
    },
    "/v1/admin": {"node operator": 200, "anonymous": 401},
    "/v1/entries/0": {**LOG_READERS, "anonymous": 401},
    "/v1/blocks/1": {**LOG_READERS, "anonymous": 401},
}
RESIDENT_DATA = {
    p for p in EXPECTED if p.startswith(("/v1/residents/", "/v1/health/", "/v1/pension/cases/"))
}


def _access_log(world: World) -> list[dict[str, Any]]:
    r = world.call(f"resident:{ME}", "GET", f"/v1/residents/{ME}/access")
    entries: list[dict[str, Any]] = r.json()["entries"]
    return entries


def test_every_role_on_every_endpoint_for_own_and_other_data(world: World) -> None:
    _vault_flow(world)
    world.tx("hosp-330881", {"type": "health.access", "case_id": "ms-1"})  # one fetch, one read
    before = len(_access_log(world))
    refused_on_resident_data = 0
    for (path, expected), (who, signer) in itertools.product(EXPECTED.items(), CALLERS.items()):
        keyid = f"node:{world.node.signer.name}" if signer == "admin" else signer
        r = world.call(keyid, "GET", path)
        want = expected.get(who, 403)
        assert r.status_code == want, (path, who, r.status_code, r.text[:200])
        if want >= 400:
            assert r.headers["content-type"] == "application/problem+json"
        if want == 403 and path in RESIDENT_DATA:
            refused_on_resident_data += 1
    # another resident's records: the owner of OTHER's log is OTHER, not ME
    assert world.call(f"resident:{ME}", "GET", f"/v1/residents/{OTHER}/access").status_code == 403
    assert (
        world.call(f"resident:{OTHER}", "GET", f"/v1/residents/{OTHER}/access").status_code == 200
    )

    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        recorded = [e for e in _access_log(world)[before:] if e["purpose"].startswith("api ")]
        refused = [e for e in recorded if e["outcome"] == "refused"]
        granted = [e for e in recorded if e["outcome"] == "granted"]
        if len(refused) >= refused_on_resident_data and len(granted) >= 4:
            break
        time.sleep(0.05)
    assert len(refused) == refused_on_resident_data
    # the agencies' granted case-file reads are recorded too, the resident's own are not
    assert sorted((e["agent"], e["entity"]) for e in granted) == [
        ("hosp-330824", "ms-1"), ("hosp-330881", "ms-1"), ("ssb-330802", "mp-1"),
        ("ssb-330825", "mp-1"),
    ]  # fmt: skip
    agents = {e["agent"] for e in refused}
    assert f"resident:{OTHER}" in agents and "ssb-330803" in agents
    assert f"node:{world.node.signer.name}" in agents  # the operator is refused too


def _decisions() -> Iterator[tuple[Action, Role, str]]:
    yield from itertools.product(Action, Role, ["own", "party", "recipient", "source", "none"])


@pytest.mark.parametrize(("action", "role", "relation"), list(_decisions()))
def test_the_pure_decision_table(action: Action, role: Role, relation: str) -> None:
    ids = {Role.RESIDENT: "resident:" + "aa" * 32, Role.AGENCY: "hosp-1", Role.ADMIN: "node:me",
           Role.PEER: "node:other", Role.CANDIDATE: "node:joining"}  # fmt: skip
    caller = Caller(role, ids[role])
    me = caller.id.removeprefix("resident:") if role is Role.RESIDENT else "bb" * 32
    parties = {
        "own": Parties(resident=me),
        "party": Parties(resident="cc" * 32, agencies=frozenset({caller.id})),
        "recipient": Parties(resident="cc" * 32, recipient=caller.id),
        "source": Parties(resident="cc" * 32, source=caller.id),
        "none": Parties(resident="cc" * 32, agencies=frozenset({"x"}), recipient="x", source="x"),
    }[relation]
    roles, _ = MATRIX[action]
    allowed = decide(action, caller, parties) is None
    if action is Action.LOG_READ:  # the log's content: any role but a resident's
        assert allowed == (role is not Role.RESIDENT)
    elif role not in roles:
        assert not allowed  # no role outside its row, whatever the relation
    elif relation == "none" and action not in (
        Action.PENSION_OVERDUE, Action.CORRECTION_OVERDUE, Action.ADMIN
    ):  # fmt: skip
        assert not allowed  # every row needs some relation, but lists filtered per caller
    elif action in (Action.ACCESS_LOG, Action.CONSENTS, Action.BASES, Action.REPRESENTATION,
                    Action.COPY):  # fmt: skip
        assert allowed == (relation == "own" and role is Role.RESIDENT)
    elif action is Action.PAYLOAD_READ:
        assert allowed == (relation == "recipient")
    elif action in (Action.PAYLOAD_WRITE, Action.PROOF_WRITE):
        assert allowed == (relation == "source")
    elif action is Action.PROOF_READ:
        assert allowed == (relation == "own" and role is Role.RESIDENT)


def test_a_refusal_for_a_pseudonym_nobody_holds_is_answered_but_not_logged(world: World) -> None:
    recorded = world.node.counters["refusals_recorded"]
    r = world.call(f"resident:{ME}", "GET", "/v1/residents/" + "00" * 32 + "/access")
    assert r.status_code == 403 and r.json()["detail"] == "not_own_data"
    assert world.node.counters["refusals_recorded"] == recorded
    world.call(f"resident:{OTHER}", "GET", f"/v1/residents/{ME}/access")  # a real one is
    assert world.node.counters["refusals_recorded"] == recorded + 1


def test_checkpoints_proofs_and_hashes_stay_public_the_logs_content_does_not(world: World) -> None:
    """#11 item 5: pseudonymized data is still personal information, so the public gets
    checkpoints, proofs, tree heads and hashes, not entries or blocks."""
    size = world.client.get("/v1/status").json()["tree_size"]
    assert size >= 2
    for path in ("/v1/checkpoint", "/v1/network", "/v1/status", "/v1/evidence",
                 f"/v1/proof/inclusion?leaf_index=0&tree_size={size}",
                 f"/v1/proof/consistency?first=1&second={size}"):  # fmt: skip
        assert world.client.get(path).status_code == 200, path
    for path in ("/v1/entries/0", "/v1/blocks/1"):
        r = world.client.get(path)
        assert r.status_code == 401 and r.json()["type"].endswith("/signature-required")
        assert r.headers["content-type"] == "application/problem+json"
        r = world.call(f"resident:{ME}", "GET", path)  # a resident has no role that reads it
        assert r.status_code == 403 and r.json()["detail"] == "role_not_allowed"
        assert world.call("audit-330800", "GET", path).status_code == 200
        # a stranger's key under an agency's name or a validator's is no key on the ledger
        stranger = Signer.generate("audit-330800")
        headers = sign_request(stranger, "audit-330800", "GET", path, authority="127.0.0.1:8700")
        assert world.client.get(path, headers=headers).json()["type"].endswith("/signature-invalid")
        headers = sign_request(stranger, "node:node-9", "GET", path, authority="127.0.0.1:8700")
        assert world.client.get(path, headers=headers).json()["type"].endswith("/unknown-key")


def test_a_test_result_shared_on_its_statute_reaches_the_requester_and_her_log(
    world: World,
) -> None:
    """#12 item 4 on a node: the designated source authorizes on 浙江省医疗保障条例 art. 40,
    deposits and releases; the designated requester reads and fetches it; every step is in
    the resident's access log with the citation, and no consent was asked."""
    third = hashlib.sha256(b"statutory resident").hexdigest()
    world.keys[f"resident:{third}"] = Signer.generate("third")
    key = world.keys[f"resident:{third}"].verifier().encode()
    world.tx(
        "ssb-330825",
        {"type": "resident.enroll", "pseudonym": third, "key": key, "age_class": "adult"},
    )
    world.tx("hosp-330881", {"type": "health.request", "case_id": "stat-1", "resident": third,
                             "source": "hosp-330824", "data_class": "test_result",
                             "purpose": "TREAT"})  # fmt: skip
    basis = {"type": "statutory", "citation": "浙江省医疗保障条例 art. 40"}
    mine = world.tx("hosp-330881", {"type": "health.authorize", "case_id": "stat-1",
                                    "basis": basis})  # fmt: skip
    assert mine["status"] == "rejected" and mine["reason"] == "wrong_signer"  # not its own
    authorized = world.tx("hosp-330824", {"type": "health.authorize", "case_id": "stat-1",
                                          "basis": basis})  # fmt: skip
    assert authorized.get("outcome") == "applied", authorized
    path = "/v1/health/cases/stat-1/payload"
    deposited = world.call("hosp-330824", "PUT", path, DOCUMENT).json()
    release = {"type": "health.release", "case_id": "stat-1",
               **{k: deposited[k] for k in ("commitment", "locator")}}  # fmt: skip
    assert world.tx("hosp-330824", release).get("outcome") == "applied"
    assert world.tx("hosp-330881", {"type": "health.access", "case_id": "stat-1"}).get(
        "outcome") == "applied"  # fmt: skip
    r = world.call("hosp-330881", "GET", path)
    assert r.status_code == 200, r.text
    payload, _ = open_delivery(base64.b64decode(r.json()["sealed"]), world.keys["hosp-330881"])
    assert payload == DOCUMENT
    case = world.call(f"resident:{third}", "GET", "/v1/health/cases/stat-1").json()
    assert case["basis"] == basis and case["consent_id"] is None and case["status"] == "RELEASED"
    assert world.call("hosp-330881", "GET", "/v1/health/cases/stat-1").status_code == 200
    deadline = time.monotonic() + 10
    while True:  # the node's record of the hospital's case-file read takes a block
        log = world.call(f"resident:{third}", "GET", f"/v1/residents/{third}/access").json()
        seen = [(e["action"], e["agent"], e["outcome"], e.get("basis")) for e in log["entries"]]
        if len(seen) >= 3 or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert seen[:2] == [
        ("E", "hosp-330824", "granted", basis["citation"]),
        ("R", "hosp-330881", "granted", basis["citation"]),
    ]
    assert seen[2:] == [("R", "hosp-330881", "granted", basis["citation"])]  # the case file
