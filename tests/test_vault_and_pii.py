"""The vault keeps documents off the log; erasure shreds them; no personal data reaches the log."""

import hashlib
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from contracts.formats import COMMON
from contracts.tx import sign_transaction
from node.audit import audit_log
from node.genesis import NodeConfig
from node.identity import check_digit, pseudonym, valid_id_number
from node.keys import read_signer
from node.network_init import init_network
from node.service import Node
from node.vault import CaseRef, Unreadable, commitment, open_delivery
from tests.log_reads import AUTHORITY, log_get
from tests.tx_examples import EXAMPLES, ME, NOTICE, RESIDENT, full_body, replaced, string_paths
from tlog.note import Signer

# synthetic residents: well-formed ID numbers (GB 11643 check digits), Quzhou region codes
PEOPLE = [
    ("王秀英", "330825" + "19480312" + "041", "2型糖尿病 type 2 diabetes", "HbA1c 8.1%"),
    ("李建国", "330824" + "19391105" + "027", "慢性阻塞性肺病 COPD", "FEV1 52%"),
    ("陈美华", "330802" + "19750620" + "186", "高血压 hypertension", "BP 162/98"),
]
PEOPLE = [(n, i + check_digit(i), d, r) for n, i, d, r in PEOPLE]


def test_id_numbers_and_pseudonyms() -> None:
    assert all(valid_id_number(i) for _, i, _, _ in PEOPLE)
    assert check_digit("11010519491231002") == "X"  # the standard's own example
    assert not valid_id_number(
        PEOPLE[0][1][:17] + "0" if PEOPLE[0][1][17] != "0" else PEOPLE[0][1][:17] + "1"
    )
    secret = b"s" * 32
    assert pseudonym(secret, PEOPLE[0][1]) != pseudonym(b"t" * 32, PEOPLE[0][1])
    assert pseudonym(secret, PEOPLE[0][1]) != hashlib.sha256(PEOPLE[0][1].encode()).hexdigest()
    with pytest.raises(ValueError):
        pseudonym(secret, "330825194803120410")
    assert pseudonym(secret, "11010519491231002x") == pseudonym(secret, "11010519491231002X")


@pytest.fixture
def node_client(tmp_path: Path) -> Iterator[tuple[TestClient, Node, Path]]:
    [config_path] = init_network(tmp_path / "net", 1)
    node = Node(NodeConfig.load(config_path))
    with TestClient(create_app(node), base_url=f"http://{AUTHORITY}") as client:
        yield client, node, tmp_path / "net"


def test_scenario_leaves_no_personal_data_outside_the_vault(
    node_client: tuple[TestClient, Node, Path],
) -> None:
    client, node, net = node_client
    secret = (net / "agencies" / "network-secret").read_bytes()
    hospital_b = read_signer(net / "agencies" / "hosp-330824.key")  # holds the record
    hospital_a = read_signer(net / "agencies" / "hosp-330881.key")  # asks for it
    ssb = read_signer(net / "agencies" / "ssb-330825.key")
    nonces = iter(range(10_000))

    def send(signer: Signer, name: str, body: dict[str, Any]) -> dict[str, Any]:
        tx = sign_transaction(
            {"chain_id": "shanhe-quzhou-dev", "signer": name, "nonce": f"n{next(nonces)}", **body},
            signer,
        )
        assert client.post("/v1/tx", json=tx.to_json()).status_code == 202
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            status: dict[str, Any] = client.get(f"/v1/tx/{tx.hash.hex()}").json()
            if status["status"] != "pending":
                assert status["status"] == "committed", status
                return status
            time.sleep(0.02)
        raise TimeoutError

    now = int(time.time() * 1000)
    stored = {}
    for n, (name, id_number, diagnosis, result) in enumerate(PEOPLE):
        # what an agency system does: real-name check, then only the keyed pseudonym leaves it
        p = pseudonym(secret, id_number)
        me = Signer.generate(f"resident-{n}")
        send(
            ssb,
            ssb.name,
            {
                "type": "resident.enroll",
                "pseudonym": p,
                "key": me.verifier().encode(),
                "age_class": "adult",
            },
        )
        send(me, f"resident:{p}", {
            "type": "consent.grant", "consent_id": f"c{n}", "grantor": {"type": "self"}, "basis": {"type": "consent"}, "notice": NOTICE, "separate": True,
            "purpose": "COC", "data_classes": ["test_result"], "source": hospital_b.name,
            "recipient": hospital_a.name, "valid_from_ms": now - 1000, "valid_until_ms": now + 86_400_000,
        })  # fmt: skip
        send(hospital_a, hospital_a.name, {"type": "health.request", "case_id": f"s{n}", "resident": p,
                                           "source": hospital_b.name, "data_class": "test_result", "purpose": "COC"})  # fmt: skip
        send(
            me,
            f"resident:{p}",
            {"type": "health.authorize", "case_id": f"s{n}", "consent_id": f"c{n}"},
        )
        document = json.dumps(
            {"name": name, "id_number": id_number, "diagnosis": diagnosis, "result": result},
            ensure_ascii=False,
        ).encode()
        item = node.vault.store(CaseRef(f"s{n}", p, hospital_b.name), document)
        stored[p] = (item, document)
        send(
            hospital_b,
            hospital_b.name,
            {
                "type": "health.release",
                "case_id": f"s{n}",
                "commitment": item.commitment,
                "locator": item.locator,
            },
        )
        send(hospital_a, hospital_a.name, {"type": "health.access", "case_id": f"s{n}"})
        send(
            ssb,
            ssb.name,
            {
                "type": "pension.apply",
                "kind": "inter_area",
                "case_id": f"p{n}",
                "resident": p,
                "from_agency": "ssb-330825",
                "to_agency": "ssb-330802",
            },
        )

    # the recipient opens its delivery and checks it against the commitment on the log
    p0 = pseudonym(secret, PEOPLE[0][1])
    item, document = stored[p0]
    case = CaseRef("s0", p0, hospital_b.name)
    payload, salt = open_delivery(
        node.vault.deliver(case, item.commitment, item.locator, hospital_a.verifier()), hospital_a
    )
    assert payload == document and commitment(salt, payload) == item.commitment

    # every byte of the node's database files (log, blocks, state), none of the vault's
    node_dir = net / "node-1"
    haystack = b"".join(p.read_bytes() for p in node_dir.iterdir() if p.name.startswith("node.db"))
    entries = [
        log_get(client, net, f"/v1/entries/{i}")
        for i in range(client.get("/v1/status").json()["tree_size"])
    ]
    assert {r.status_code for r in entries} == {200}
    haystack += b"".join(r.content for r in entries)
    assert len(haystack) > 10_000
    for name, id_number, diagnosis, result in PEOPLE:
        for secret_text in (name, id_number, id_number[6:14], diagnosis, result):
            for encoding in ("utf-8", "utf-16-le"):
                assert secret_text.encode(encoding) not in haystack, secret_text
    vault_bytes = b"".join(
        p.read_bytes() for p in node_dir.iterdir() if p.name.startswith("vault.db")
    )
    assert PEOPLE[0][0].encode() not in vault_bytes  # the vault holds ciphertext only

    # erasure: the resident asks, the enrolling agency files it; the vault forgets, the log verifies
    send(ssb, ssb.name, {"type": "resident.erase", "pseudonym": p0})
    deadline = time.monotonic() + 10  # the vault shreds off the event loop, just after commit
    while not node.counters["residents_shredded"] and time.monotonic() < deadline:
        time.sleep(0.02)
    with pytest.raises(Unreadable):
        node.vault.read(item.locator)
    assert client.get("/v1/status").json()["counters"]["vault_payloads_erased"] == 1
    with node.engine.connect() as conn:
        report = audit_log(conn)
    assert report.ok, report.message
    other = pseudonym(secret, PEOPLE[1][1])
    assert node.vault.read(stored[other][0].locator)[0] == stored[other][1]  # others untouched


def test_an_id_number_in_any_field_of_any_type_is_refused_at_admission_and_in_no_block(
    tmp_path: Path,
) -> None:
    """The mistakes a user makes (#11): an ID number pasted into any string of any type, or
    typed as a field's name, whole or inside other text, full-width or not, properly signed:
    every node answers 400 personal-data, keeps nothing in its mempool, and no block, entry or
    database file of the node ever holds the number."""
    [config_path] = init_network(tmp_path / "net", 1)
    config = json.loads(config_path.read_text())
    config_path.write_text(json.dumps({**config, "reads_per_client": 1_000_000}))
    net = tmp_path / "net"
    node = Node(NodeConfig.load(config_path))
    resident_key = Signer.generate("example-resident")
    keys = {name: read_signer(path) for name, path in
            ((p.stem, p) for p in (net / "agencies").glob("*.key"))}  # fmt: skip
    keys[ME] = resident_key
    keys[f"node:{node.signer.name}"] = node.signer
    id_number = PEOPLE[0][1]
    fullwidth = id_number.translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    with TestClient(create_app(node), base_url="http://127.0.0.1:8700") as client:
        enroll = sign_transaction({"type": "resident.enroll", "chain_id": "shanhe-quzhou-dev",
                                   "signer": "ssb-330825", "nonce": "e-1", "pseudonym": RESIDENT, "age_class": "adult",
                                   "key": resident_key.verifier().encode()}, keys["ssb-330825"])  # fmt: skip
        assert client.post("/v1/tx", json=enroll.to_json()).status_code == 202
        tried = 0
        for tx_type, examples in EXAMPLES.items():
            for signer, fields in examples:
                signer = f"node:{node.signer.name}" if signer.startswith("node:") else signer
                body = full_body(tx_type, signer, fields, "shanhe-quzhou-dev")
                for path, where in string_paths(body):
                    for number in (id_number, f"身份证{id_number}", f"id:{fullwidth}"):
                        mistake = replaced(body, path, where, number)
                        # a resident of the examples who is not enrolled here (a delegate)
                        key = keys.get(mistake.get("signer", ""), keys.get(signer, resident_key))
                        tx = sign_transaction(mistake, key)
                        r = client.post("/v1/tx", json=tx.to_json())
                        assert r.status_code == 400, (tx_type, path, where, r.text)
                        # renaming type, chain_id, signer or nonce leaves no transaction at all
                        envelope = where == "key" and len(path) == 1 and path[0] in COMMON
                        kind = "malformed-transaction" if envelope else "personal-data"
                        assert r.json()["type"].endswith(f"/{kind}"), (tx_type, path, r.text)
                        assert id_number not in r.text
                        assert tx.hash not in node.mempool
                        tried += 1
        assert tried > 1000
        anchor = sign_transaction({"type": "anchor", "chain_id": "shanhe-quzhou-dev",
                                   "signer": "hosp-330881", "nonce": "after",
                                   "sha256": "ab" * 32}, keys["hosp-330881"])  # fmt: skip
        assert client.post("/v1/tx", json=anchor.to_json()).status_code == 202
        deadline = time.monotonic() + 10
        while client.get(f"/v1/tx/{anchor.hash.hex()}").json().get("status") != "committed":
            assert time.monotonic() < deadline
            time.sleep(0.02)
        height = client.get(f"/v1/tx/{anchor.hash.hex()}").json()["height"]
        read = [log_get(client, net, f"/v1/blocks/{h}") for h in range(1, height + 1)]
        read += [log_get(client, net, f"/v1/entries/{i}") for i in range(2)]
        assert {r.status_code for r in read} == {200}
        seen = b"".join(r.content for r in read)
    seen += b"".join(
        p.read_bytes() for p in (net / "node-1").iterdir() if p.name.startswith("node.db")
    )
    assert b"resident.enroll" in seen or b"cmVzaWRlbnQuZW5yb2xs" in seen  # the blocks were read
    for form in (id_number, fullwidth, id_number[6:14] + id_number[14:]):
        assert form.encode() not in seen and form.encode("utf-16-le") not in seen
