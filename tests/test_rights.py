"""A resident's copy and correction (#13 item 1; PIPL arts. 45, 46, 50): the attacks first
(another resident, a forging agency, an agency deciding another's correction, a refusal without
reason, a second decision, an erased resident, personal data in a body), then the deadline in
working days and the export's offline check against tampering."""

import base64
import copy
import json
from typing import Any

import pytest

from contracts.export import build, check_export, items, sign
from contracts.provenance import derivations
from contracts.rights import is_overdue
from contracts.rules import Applied
from contracts.tx import Transaction
from tests.contract_world import (
    DAY_MS,
    T0,
    World,
    access_log,
    h,
    ok,
    pseudonym_of,
    refused,
    seeded,
)
from tests.memtree import MemTree
from tests.tx_examples import NOTICE
from tlog.checkpoint import Checkpoint
from tlog.errors import Invalid
from tlog.note import sign_note

P1, P2 = pseudonym_of(1), pseudonym_of(2)
ME, OTHER = f"resident:{P1}", f"resident:{P2}"
ORIGIN = "shanhe.test/test-chain"
VALIDATORS = [seeded(f"node-{i}") for i in range(4)]
KEYS = [v.verifier() for v in VALIDATORS]


@pytest.fixture
def w() -> World:
    world = World()
    world.enroll(P1)
    world.enroll(P2)
    return world


def consent() -> dict[str, Any]:
    return {"type": "consent.grant", "consent_id": "c-1", "grantor": {"type": "self"},
            "basis": {"type": "consent"}, "notice": NOTICE, "separate": True, "purpose": "COC",
            "data_classes": ["test_result"], "source": "hosp-330824", "recipient": "hosp-330881",
            "valid_from_ms": T0, "valid_until_ms": T0 + 30 * DAY_MS}  # fmt: skip


def with_case(w: World) -> None:
    ok(w.submit(ME, consent()))
    ok(w.submit("hosp-330881", {"type": "health.request", "case_id": "s-1", "resident": P1,
                                "source": "hosp-330824", "data_class": "test_result",
                                "purpose": "COC"}))  # fmt: skip


def correction(**change: Any) -> dict[str, Any]:
    return {"type": "rights.correct_request", "request_id": "r-1", "agency": "hosp-330824",
            "record": {"type": "health_case", "id": "s-1"}, "ground": "inaccurate",
            "content_commitment": h("the corrected result, with the lab's letter"),
            **change}  # fmt: skip


def decide(**change: Any) -> dict[str, Any]:
    return {"type": "rights.correct_decide", "request_id": "r-1", "decision": "refused",
            "reason": "record_accurate", **change}  # fmt: skip


# ------------------------------------------------------------------------------ attacks
def test_an_agency_cannot_forge_a_copy_or_correction_request(w: World) -> None:
    """Only the resident signs her requests: an agency signing one is wrong_signer, and one
    signed in her name with the agency's key does not verify (a block carrying it is invalid)."""
    for agency in ("ssb-330825", "hosp-330824", "audit-330800"):
        refused(w.submit(agency, {"type": "rights.copy_request", "request_id": "x"}),
                "wrong_signer")  # fmt: skip
    with_case(w)
    refused(w.submit("hosp-330824", correction()), "wrong_signer")
    forged = w.submit(ME, {"type": "rights.copy_request", "request_id": "x"},
                      key=w.keys["ssb-330825"])  # fmt: skip
    assert refused(forged, "bad_signature").invalidates_block
    assert w.get("rights/copy/x") is None and w.get("rights/correction/r-1") is None


def test_another_resident_cannot_ask_for_her_copy_or_correct_her_record(w: World) -> None:
    with_case(w)
    body = {"type": "rights.copy_request", "request_id": "x", "on_behalf_of": P1}
    refused(w.submit(OTHER, body), "not_acting_for")  # no delegation recorded
    refused(w.submit(OTHER, correction()), "unknown_record")  # her case: not P2's
    refused(w.submit(OTHER, correction(record={"type": "consent", "id": "c-1"})),
            "unknown_record")  # fmt: skip
    assert w.get("rights/copy/x") is None


def test_only_the_named_agency_decides_and_only_once(w: World) -> None:
    with_case(w)
    ok(w.submit(ME, correction()))
    for other in ("hosp-330881", "hosp-330802", "ssb-330825", "audit-330800"):
        refused(w.submit(other, decide()), "wrong_signer")
    refused(w.submit(ME, decide()), "wrong_signer")  # nor she for the agency
    ok(w.submit("hosp-330824", decide()))
    again = decide(decision="accepted", new_commitment=h("x"))
    del again["reason"]
    refused(w.submit("hosp-330824", again), "wrong_state")
    assert w.get("rights/correction/r-1")["status"] == "REFUSED"


def test_a_refusal_always_carries_a_reason(w: World) -> None:
    with_case(w)
    ok(w.submit(ME, correction()))
    bare = decide()
    del bare["reason"]
    refused(w.submit("hosp-330824", bare), "bad_field")
    refused(w.submit("hosp-330824", {**bare, "decision": "partial"}), "bad_field")
    refused(w.submit("hosp-330824", decide(reason="because we say so")), "bad_field")
    refused(w.submit("hosp-330824", decide(reason="other")), "bad_field")  # other: a note hash
    refused(w.submit("hosp-330824", decide(new_commitment=h("x"))), "bad_field")  # refused: none
    assert w.get("rights/correction/r-1")["status"] == "REQUESTED"
    ok(w.submit("hosp-330824", decide(reason="other", note_hash=h("the agency's letter"))))
    record = w.get("rights/correction/r-1")
    assert (record["status"], record["reason"], record["late"]) == ("REFUSED", "other", False)


def test_a_correction_names_the_agency_that_holds_the_record(w: World) -> None:
    with_case(w)
    refused(w.submit(ME, correction(agency="hosp-330802")), "not_holder")
    refused(w.submit(ME, correction(agency="audit-330800")), "unknown_agency")
    refused(w.submit(ME, correction(record={"type": "health_case", "id": "s-9"})),
            "unknown_record")  # fmt: skip
    # her enrollment data lies with the counter that enrolled her
    refused(w.submit(ME, correction(agency="hosp-330824", record={"type": "enrollment"})),
            "not_holder")  # fmt: skip
    ok(w.submit(ME, correction(request_id="r-e", agency="ssb-330825",
                               record={"type": "enrollment"})))  # fmt: skip
    ok(w.submit(ME, correction(request_id="r-c", agency="hosp-330881",
                               record={"type": "consent", "id": "c-1"})))  # fmt: skip
    refused(w.submit(ME, correction(request_id="r-c")), "duplicate_id")


def test_no_personal_data_in_a_correction(w: World) -> None:
    """The correction's text stays off the log: a commitment, codes; the shape guard refuses
    an ID or phone number anywhere, and free text where a code belongs."""
    with_case(w)
    phone = correction(record={"type": "health_case", "id": "13800138000"})
    refused(w.submit(ME, phone), "personal_data")
    refused(w.submit(ME, correction(content_commitment="my name is 张三")), "bad_field")
    refused(w.submit(ME, correction(ground="the result is wrong, call me")), "bad_field")
    refused(w.submit(ME, correction(text="张三 born 1950")), "bad_field")
    refused(w.submit(ME, {"type": "rights.copy_request", "request_id": "x", "why": "curious"}),
            "bad_field")  # fmt: skip


def test_an_erased_resident_asks_for_nothing_and_her_open_requests_close(w: World) -> None:
    with_case(w)
    ok(w.submit(ME, correction()))
    ok(w.submit(ME, {"type": "resident.erase"}))
    assert w.get("rights/correction/r-1")["status"] == "ERASED"
    body = {"type": "rights.copy_request", "request_id": "late"}
    refused(w.submit(ME, body), "resident_erased")
    refused(w.submit("hosp-330824", decide()), "resident_erased")


# ----------------------------------------------------------------- deadline and the log
def test_requests_and_decisions_are_in_her_access_log(w: World) -> None:
    with_case(w)
    ok(w.submit(ME, {"type": "rights.copy_request", "request_id": "copy-1"}))
    ok(w.submit(ME, correction()))
    ok(w.submit("hosp-330824", decide(reason="evidence_insufficient")))
    log = [(e["action"], e["agent"], e["entity"], e["outcome"], e["reason"]) for e in access_log(w)]
    assert log[-3:] == [
        ("R", ME, "copy-1", "granted", "copy_requested"),
        ("C", ME, "r-1", "granted", "correction_requested"),
        ("U", "hosp-330824", "r-1", "refused", "evidence_insufficient"),
    ]
    assert all(e["purpose"] == "PATRQT" for e in access_log(w)[-3:])


def test_the_deadline_counts_working_days_and_a_late_decision_is_marked(w: World) -> None:
    """Thursday 2026-05-28: 15 working days (the genesis policy) skip three weekends and end
    on Thursday 6-18; decided after, it is taken and stays marked late."""
    with_case(w)
    ok(w.submit(ME, correction()))
    record = w.get("rights/correction/r-1")
    assert record["working_days"] == 15 and record["deadline_provisional"] is False
    assert record["deadline_ms"] == 1_781_798_400_000  # 2026-06-19 00:00 CST: end of 6-18
    assert not is_overdue(record, record["deadline_ms"])
    assert is_overdue(record, record["deadline_ms"] + 1)
    w.time_ms = record["deadline_ms"] + 1
    ok(w.submit("hosp-330824", decide(decision="partial", reason="statutory_record",
                                      new_commitment=h("what was corrected"))))  # fmt: skip
    decided = w.get("rights/correction/r-1")
    assert decided["status"] == "PARTIAL" and decided["late"] is True
    assert is_overdue(decided, decided["deadline_ms"] + 10 * DAY_MS)  # stays on record
    assert access_log(w)[-1]["outcome"] == "granted"  # partly corrected


def test_the_working_days_are_a_genesis_parameter(w: World) -> None:
    assert w.get("policy/rights") == {"correction_working_days": 15}


# ------------------------------------------------------------------------------ the export
def export_of(w: World, request_id: str = "copy-1", size: int | None = None,
              signers: int = 3) -> dict[str, Any]:  # fmt: skip
    """What a node would serve: the world's state, its log as a tree, a checkpoint cosigned by
    ``signers`` validators, signed by node-0."""
    tree = MemTree(list(w.log))
    size = len(w.log) if size is None else size
    index: dict[str, int] = {}
    for tx, outcome in w.outcomes:
        if isinstance(outcome, Applied):
            index[tx.hash.hex()] = len(index)
    body = Checkpoint(ORIGIN, size, tree.root(size)).body()
    note = sign_note(body, VALIDATORS[:signers])
    request = w.get(f"rights/copy/{request_id}")
    found = items(w.state, P1, derivations(w.state, P1))
    export = build(origin=ORIGIN, resident=P1, request=request, found=found,
                   leaf_index=index.get, leaf=lambda i: w.log[i],
                   inclusion=lambda i: tree.inclusion(i, size), checkpoint=note,
                   height=w.height, generated_ms=w.time_ms)  # fmt: skip
    return sign(export, VALIDATORS[0])


@pytest.fixture
def exported(w: World) -> dict[str, Any]:
    with_case(w)
    ok(w.submit(ME, {"type": "health.authorize", "case_id": "s-1", "consent_id": "c-1"}))
    ok(w.submit(ME, correction()))
    ok(w.submit("hosp-330824", decide()))
    ok(w.submit("ssb-330825", {"type": "proof.issue", "proof_id": "pf-1", "resident": P1,
                               "scheme": "employee_pension", "expires_ms": T0 + 90 * DAY_MS,
                               "commitment": h("proof")}))  # fmt: skip
    ok(w.submit(ME, {"type": "rights.copy_request", "request_id": "copy-1"}))
    return export_of(w)


def verify(signed: Any, **kw: Any) -> Any:
    return check_export(signed, KEYS, 3, origin=ORIGIN, **kw)


def test_an_export_holds_everything_of_hers_and_verifies_offline(
    w: World, exported: dict[str, Any]
) -> None:
    checked = verify(json.dumps(exported), resident=P1)
    assert not isinstance(checked, Invalid), checked
    kinds = {(i["kind"], i["id"]) for i in exported["export"]["items"]}
    assert {("enrollment", P1), ("consent", "c-1"), ("health_case", "s-1"), ("proof", "pf-1"),
            ("correction", "r-1"), ("copy_request", "copy-1")} <= kinds  # fmt: skip
    assert sum(k == "access" for k, _ in kinds) == len(access_log(w))
    # every item names its entries, and nothing of the other resident is in it
    assert all(i["entries"] for i in exported["export"]["items"])
    assert P2 not in json.dumps(exported)
    correction_item = next(i for i in exported["export"]["items"] if i["id"] == "r-1")
    assert len(correction_item["entries"]) == 2  # the request and the decision
    assert checked.signer == "node-0" and len(checked.cosigners) == 3


def test_a_tampered_export_fails(exported: dict[str, Any]) -> None:
    # an item changed: the node's signature no longer holds
    changed = copy.deepcopy(exported)
    item = next(i for i in changed["export"]["items"] if i["id"] == "r-1")
    item["value"]["status"] = "ACCEPTED"
    assert verify(changed).code == "bad_signature"
    # an entry dropped
    dropped = copy.deepcopy(exported)
    dropped["export"]["entries"].pop(1)
    assert verify(dropped).code == "bad_signature"
    # the same by a hostile node that signs what it changed: each is still caught
    resigned = sign(dropped["export"], VALIDATORS[1])
    assert verify(resigned).code == "missing_entry"
    proof_entry = next(e["index"] for e in exported["export"]["entries"]
                       if "proof.issue" in base64.b64decode(e["data"]).decode())  # fmt: skip
    for kind in ("enrollment", "consent", "correction"):  # an entry passed off as another's
        stranger = copy.deepcopy(exported)
        item = next(i for i in stranger["export"]["items"] if i["kind"] == kind)
        item["entries"] = [proof_entry]
        assert verify(sign(stranger["export"], VALIDATORS[1])).code == "entry_not_of_item", kind
    fake = copy.deepcopy(exported)
    entry = fake["export"]["entries"][0]
    envelope = json.loads(base64.b64decode(entry["data"]))
    envelope["body"]["nonce"] = "changed"
    entry["data"] = base64.b64encode(json.dumps(envelope).encode()).decode()
    assert verify(sign(fake["export"], VALIDATORS[1])).code == "not_included"
    unproven = copy.deepcopy(exported)
    unproven["export"]["items"][0]["entries"] = []
    assert verify(sign(unproven["export"], VALIDATORS[1])).code == "unproven_item"
    # not a validator's key
    assert verify(sign(exported["export"], seeded("node-9"))).code == "unknown_signer"
    # someone else's copy
    assert verify(exported, resident=P2).code == "wrong_resident"


def test_an_export_to_a_checkpoint_without_quorum_or_of_another_log_fails(w: World) -> None:
    with_case(w)
    ok(w.submit(ME, {"type": "rights.copy_request", "request_id": "copy-1"}))
    assert verify(export_of(w, signers=2)).code == "no_quorum"
    other_log = check_export(export_of(w), KEYS, 3, origin="staging/x")
    assert isinstance(other_log, Invalid) and other_log.code == "wrong_origin"
    assert not isinstance(verify(export_of(w)), Invalid)


def test_an_export_without_its_request_fails(w: World) -> None:
    with_case(w)
    ok(w.submit(ME, {"type": "rights.copy_request", "request_id": "copy-1"}))
    signed = export_of(w)
    export = copy.deepcopy(signed["export"])
    export["request"]["request_id"] = "another"
    assert verify(sign(export, VALIDATORS[0])).code == "no_request"
    tx = Transaction.from_json(json.loads(base64.b64decode(export["entries"][-1]["data"])))
    assert tx.type == "rights.copy_request"
