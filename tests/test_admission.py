"""Nothing personal ever enters a block (#11 item 5): field formats and limits are checked at
admission, by the function block validation uses, so a transaction that fails them is refused
with a 400 and reaches neither the mempool nor a block."""

import hashlib
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from contracts.registry import RULES
from contracts.rules import BlockContext, genesis_writes
from contracts.state import GENESIS_STATE_ROOT, DictState
from contracts.tx import Transaction, check_signature, sign_transaction
from node.executor import execute
from node.genesis import NodeConfig
from node.identity import check_digit, pseudonym
from node.keys import read_signer
from node.network_init import init_network
from node.service import Node
from tests.contract_world import AGENCIES, CHAIN, T0, seeded
from tlog import layout
from tlog.note import Signer

ID_NUMBER = "33082519480312041" + check_digit("33082519480312041")
MOBILE = "13912345678"


class One:
    def __init__(self, client: TestClient, node: Node, net: Path) -> None:
        self.client, self.node, self.net = client, node, net
        self.n = 0

    def signed(self, agency: str, body: dict[str, Any], key: Signer | None = None) -> Transaction:
        self.n += 1
        signer = key or read_signer(self.net / "agencies" / f"{agency}.key")
        full = {"chain_id": "shanhe-quzhou-dev", "signer": agency, "nonce": f"a{self.n}", **body}
        return sign_transaction(full, signer)

    def post(self, tx: Transaction) -> Any:
        return self.client.post("/v1/tx", json=tx.to_json())

    def wait(self, tx: Transaction) -> dict[str, Any]:
        for _ in range(500):
            status: dict[str, Any] = self.client.get(f"/v1/tx/{tx.hash.hex()}").json()
            if status.get("status") in ("committed", "rejected"):
                return status
            time.sleep(0.02)
        raise TimeoutError

    def database_bytes(self) -> bytes:
        node_dir = self.net / "node-1"
        return b"".join(p.read_bytes() for p in node_dir.iterdir() if p.name.startswith("node.db"))


@pytest.fixture
def one(tmp_path: Path) -> Iterator[One]:
    [config_path] = init_network(tmp_path / "net", 1)
    node = Node(NodeConfig.load(config_path))
    with TestClient(create_app(node), base_url="http://127.0.0.1:8700") as c:
        yield One(c, node, tmp_path / "net")


def _problem(r: Any) -> str:
    assert r.headers["content-type"] == "application/problem+json", r.text
    return str(r.json()["type"]).rsplit("/", 1)[-1]


def test_an_id_number_pasted_as_a_pseudonym_never_reaches_a_block(one: One) -> None:
    """The issue: one wrong field (an ID number where a pseudonym belongs) was refused by the
    rules after the whole transaction, ID number included, sat in a public block."""
    secret = (one.net / "agencies" / "network-secret").read_bytes()
    me = Signer.generate("resident")
    enroll = one.signed("ssb-330825", {"type": "resident.enroll", "age_class": "adult",
                                       "pseudonym": pseudonym(secret, ID_NUMBER),
                                       "key": me.verifier().encode()})  # fmt: skip
    assert one.post(enroll).status_code == 202 and one.wait(enroll)["status"] == "committed"
    mistake = one.signed("hosp-330881", {"type": "health.request", "case_id": "s-1",
                                         "resident": ID_NUMBER, "source": "hosp-330824",
                                         "data_class": "test_result", "purpose": "COC"})  # fmt: skip
    r = one.post(mistake)
    assert r.status_code == 400 and _problem(r) == "personal-data", r.text
    assert mistake.hash not in one.node.mempool
    assert one.client.get(f"/v1/tx/{mistake.hash.hex()}").status_code == 404
    after = one.signed("hosp-330881", {"type": "anchor", "sha256": "ab" * 32})
    assert one.post(after).status_code == 202 and one.wait(after)["status"] == "committed"
    assert ID_NUMBER.encode() not in one.database_bytes()


@pytest.mark.parametrize(
    ("body", "kind"),
    [
        ({"type": "anchor", "sha256": "NOT-HEX"}, "malformed-transaction"),
        ({"type": "anchor", "sha256": "ab" * 32, "note": "x"}, "malformed-transaction"),
        ({"type": "no.such.type"}, "unknown-type"),
        ({"type": "health.request", "case_id": "s-1", "resident": "ab" * 32, "source": "hosp-330824",
          "data_class": "test_result", "purpose": "continuity of care"}, "malformed-transaction"),
        ({"type": "health.request", "case_id": "s-1", "resident": "ab" * 32, "source": "hosp-330824",
          "data_class": "test_result", "purpose": "COC", "caller": MOBILE}, "personal-data"),
        ({"type": "anchor", "sha256": "ab" * 32, f"id {ID_NUMBER}": 1}, "personal-data"),
    ],
)  # fmt: skip
def test_a_transaction_in_the_wrong_format_is_refused_at_admission(
    one: One, body: dict[str, Any], kind: str
) -> None:
    tx = one.signed("hosp-330881", body)
    r = one.post(tx)
    assert r.status_code == 400 and _problem(r) == kind, r.text
    assert tx.hash not in one.node.mempool


def test_a_block_carrying_a_malformed_transaction_is_invalid() -> None:
    """Stateless validity: what admission refuses, no proposer can put into a valid block."""
    agencies = [{"id": a, "name": a, "division": "330800", "kind": k, "roles": [],
                 "key": seeded(a).verifier().encode()} for a, k in AGENCIES.items()]  # fmt: skip
    base = DictState(genesis_writes(agencies, []))
    good = sign_transaction({"type": "anchor", "chain_id": CHAIN, "signer": "hosp-330881",
                             "nonce": "1", "sha256": "ab" * 32}, seeded("hosp-330881"))  # fmt: skip
    bad = sign_transaction({**good.body, "nonce": "2", "sha256": ID_NUMBER}, seeded("hosp-330881"))
    ctx = BlockContext(CHAIN, 1, T0, check_signature)
    ran = execute(base, layout.Frontier(0, []), GENESIS_STATE_ROOT,
                  [good.to_json(), bad.to_json()], ctx, RULES)  # fmt: skip
    assert ran.invalid is not None and ran.invalid_txs == (bad.hash,)
    assert json.dumps(ran.writes).find(ID_NUMBER) == -1
    assert hashlib.sha256(b"").digest() not in ran.invalid_txs
