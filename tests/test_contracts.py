"""Every transition allowed, and every forbidden one refused with its stable reason."""

from typing import Any

import pytest

from contracts.calendar import cst_date, working_deadline
from contracts.health import case_status
from contracts.locator import derive
from contracts.pension import is_overdue
from tests.contract_world import DAY_MS, T0, World, access_log, h, ok, pseudonym_of, refused, seeded
from tests.tx_examples import NOTICE

P1, P2 = pseudonym_of(1), pseudonym_of(2)


@pytest.fixture
def w() -> World:
    world = World()
    world.enroll(P1)
    world.enroll(P2)
    return world


def consent_body(**change: Any) -> dict[str, Any]:
    body = {
        "type": "consent.grant",
        "consent_id": "c-1",
        "grantor": {"type": "self"},
        "basis": {"type": "consent"},
        "notice": NOTICE,
        "separate": True,
        "purpose": "COC",
        "data_classes": ["test_result"],
        "source": "hosp-330824",
        "recipient": "hosp-330881",
        "valid_from_ms": T0,
        "valid_until_ms": T0 + 30 * DAY_MS,
    }
    return {**body, **change}


ASSISTED = {
    "channel": "counter",
    "operator_id": "op-0042",
    "verification_method": "id_card_reader",
    "verification_result": "verified",
    "form_hash": h("signed paper form"),
}


# -------------------------------------------------------------- residents
def test_enrollment_rules(w: World) -> None:
    key = w.resident_key(pseudonym_of(3))
    body = {
        "type": "resident.enroll",
        "pseudonym": pseudonym_of(3),
        "key": key.verifier().encode(),
        "age_class": "adult",
    }
    refused(w.submit("audit-330800", body), "wrong_signer")
    refused(w.submit("ssb-330825", {**body, "pseudonym": "330825199001011234"}), "bad_field")
    refused(w.submit("ssb-330825", {**body, "key": "not a key"}), "bad_field")
    refused(w.submit("ssb-330825", {**body, "name": "张三"}), "bad_field")
    # enrolling is a step taken for the resident at a counter (real-name check in person)
    refused(w.submit("hosp-330881", body), "wrong_signer")  # a hospital without a counter
    ok(w.submit("hosp-330824", body))
    refused(w.submit("ssb-330825", body), "already_enrolled")
    assert w.get(f"resident/{pseudonym_of(3)}")["enrolled_by"] == "hosp-330824"


def test_key_rotation_revokes_the_old_key(w: World) -> None:
    old = w.keys[f"resident:{P1}"]
    new = w.resident_key(P1, 1)
    ok(w.submit(f"resident:{P1}", {"type": "resident.rotate_key", "key": new.verifier().encode()}))
    refused(w.submit(f"resident:{P1}", consent_body(), key=old), "revoked_key")
    ok(w.submit(f"resident:{P1}", consent_body(), key=new))
    refused(
        w.submit(
            f"resident:{P1}",
            {"type": "resident.rotate_key", "key": new.verifier().encode()},
            key=new,
        ),
        "bad_field",
    )


def test_erasure(w: World) -> None:
    refused(w.submit("hosp-330881", {"type": "resident.erase", "pseudonym": P1}), "wrong_signer")
    ok(w.submit(f"resident:{P1}", {"type": "resident.erase"}))
    assert w.get(f"resident/{P1}")["status"] == "erased"
    refused(w.submit("ssb-330825", {"type": "resident.erase", "pseudonym": P1}), "resident_erased")
    refused(w.submit(f"resident:{P1}", consent_body()), "resident_erased")  # its key is revoked


def test_common_rejections(w: World) -> None:
    refused(
        w.submit("nobody", {"type": "anchor", "sha256": h("x")}, key=seeded("nobody")),
        "unknown_signer",
    )
    refused(
        w.submit("ssb-330825", {"type": "anchor", "sha256": h("x")}, key=seeded("mallory")),
        "bad_signature",
    )
    refused(w.submit("ssb-330825", {"type": "no.such.type"}), "unknown_type")
    tx_body = {
        "chain_id": "test-chain",
        "signer": "ssb-330825",
        "nonce": "fixed",
        "type": "anchor",
        "sha256": h("y"),
    }
    from contracts.tx import sign_transaction

    ok(w.submit_tx(sign_transaction(tx_body, w.keys["ssb-330825"])))
    again = {**tx_body, "sha256": h("z")}
    refused(w.submit_tx(sign_transaction(again, w.keys["ssb-330825"])), "replayed_nonce")


# ---------------------------------------------------------------- consent
def test_consent_grant_and_its_refusals(w: World) -> None:
    me = f"resident:{P1}"
    refused(
        w.submit(me, consent_body(basis={"type": "statutory", "citation": "PIPL art. 13(3)"})),
        "statutory_basis_not_allowed",
    )
    refused(
        w.submit(me, consent_body(grantor={"type": "proxy", "authorization_hash": h("letter")})),
        "bad_field",
    )
    refused(w.submit(me, consent_body(data_classes=["dna"])), "bad_field")
    refused(w.submit(me, consent_body(recipient="hosp-999999")), "unknown_agency")
    refused(w.submit(me, consent_body(valid_until_ms=T0)), "bad_field")
    refused(w.submit("hosp-330881", consent_body()), "wrong_signer")
    ok(w.submit(me, consent_body()))
    refused(w.submit(me, consent_body()), "duplicate_id")
    pension = consent_body(consent_id="c-p", data_classes=["pension_account"], basis={"type": "statutory", "citation": "PIPL art. 13(3)"},
                           source="ssb-330825", recipient="ssb-330802")  # fmt: skip
    refused(w.submit(me, pension), "statutory_basis_not_allowed")  # a statute: basis.record
    record = w.get("consent/c-1")
    assert record["status"] == "active" and record["assisted"] is False and record["resident"] == P1


def test_assisted_consent_is_marked_and_checked(w: World) -> None:
    body = consent_body(type="consent.grant_assisted", consent_id="c-a", resident=P2, assisted=ASSISTED,
                        grantor={"type": "guardian", "authorization_hash": h("guardianship")})  # fmt: skip
    refused(
        w.submit(
            "hosp-330824", {**body, "assisted": {**ASSISTED, "verification_result": "failed"}}
        ),
        "identity_not_verified",
    )
    refused(
        w.submit("hosp-330824", {**body, "assisted": {**ASSISTED, "face_template": "AAAA"}}),
        "bad_field",
    )
    refused(w.submit("hosp-330824", {**body, "resident": pseudonym_of(99)}), "unknown_resident")
    ok(w.submit("hosp-330824", body))
    record = w.get("consent/c-a")
    assert record["assisted"] is True and record["assisted_details"]["channel"] == "counter"
    assert record["grantor"]["type"] == "guardian"


def test_withdrawal(w: World) -> None:
    ok(w.submit(f"resident:{P1}", consent_body()))
    refused(
        w.submit(f"resident:{P2}", {"type": "consent.withdraw", "consent_id": "c-1"}),
        "wrong_signer",
    )
    refused(
        w.submit(f"resident:{P1}", {"type": "consent.withdraw", "consent_id": "nope"}),
        "unknown_consent",
    )
    ok(w.submit(f"resident:{P1}", {"type": "consent.withdraw", "consent_id": "c-1"}))
    refused(
        w.submit(f"resident:{P1}", {"type": "consent.withdraw", "consent_id": "c-1"}), "wrong_state"
    )
    assert w.get("consent/c-1")["status"] == "withdrawn"


# ----------------------------------------------------------------- health
def share_until_release(w: World, case: str = "s-1", consent: str = "c-1") -> None:
    ok(w.submit(f"resident:{P1}", consent_body(consent_id=consent)))
    ok(w.submit("hosp-330881", {"type": "health.request", "case_id": case, "resident": P1, "source": "hosp-330824",
                                "data_class": "test_result", "purpose": "COC"}))  # fmt: skip
    ok(
        w.submit(
            f"resident:{P1}", {"type": "health.authorize", "case_id": case, "consent_id": consent}
        )
    )
    ok(
        w.submit(
            "hosp-330824",
            {
                "type": "health.release",
                "case_id": case,
                "commitment": h("payload"),
                "locator": derive(case, P1, "hosp-330824", h("payload")),
            },
        )
    )


def test_health_sharing_and_access_log(w: World) -> None:
    share_until_release(w)
    read = {"type": "health.access", "case_id": "s-1"}
    granted = ok(w.submit("hosp-330881", read))
    assert granted.events[0]["outcome"] == "granted" and granted.refused is None
    # a refused read is applied (on the log, in the access log) and says it was refused
    stranger = ok(w.submit("hosp-330802", read))
    assert stranger.events[0]["reason"] == stranger.refused == "not_recipient"
    w.advance(31)
    late = ok(w.submit("hosp-330881", read))
    assert late.events[0]["reason"] == late.refused == "consent_expired"
    assert case_status(w.get("share/s-1"), w.get("consent/c-1"), w.time_ms) == "EXPIRED"
    log = access_log(w)
    assert [(e["action"], e["agent"], e["outcome"], e["reason"]) for e in log] == [
        ("E", "hosp-330824", "granted", None),
        ("R", "hosp-330881", "granted", None),
        ("R", "hosp-330802", "refused", "not_recipient"),
        ("R", "hosp-330881", "refused", "consent_expired"),
    ]
    assert all(e["consent_id"] == "c-1" and e["on_behalf_of"] == P1 for e in log)
    assert w.get("share/s-1")["reads"] == 1


def test_only_a_hospital_may_try_a_read_so_no_one_else_writes_refusals_or_probes_ids(
    w: World,
) -> None:
    """A resident or an auditor signing ``health.access`` used to add a refusal to another
    resident's access log, and learned from unknown_case which case ids exist: now the table
    refuses them before the case is looked up, and nothing is recorded. A hospital that is
    not the requester still tries a real read: it is recorded as refused."""
    share_until_release(w)
    before = access_log(w)
    for signer in (f"resident:{P2}", f"resident:{P1}", "audit-330800", "audit-330881",
                   "hc-330800", "ssb-330825"):  # fmt: skip
        for case in ("s-1", "s-none"):
            out = refused(w.submit(signer, {"type": "health.access", "case_id": case}),
                          "wrong_signer")  # fmt: skip
            assert "hospital" in out.message
    assert access_log(w) == before and access_log(w, P2) == []
    refused(w.submit("hosp-330802", {"type": "health.access", "case_id": "s-none"}),
            "unknown_case")  # fmt: skip
    read = ok(w.submit("hosp-330802", {"type": "health.access", "case_id": "s-1"}))
    assert read.events[0]["reason"] == "not_recipient" and len(access_log(w)) == len(before) + 1


def test_withdrawn_consent_stops_later_reads(w: World) -> None:
    share_until_release(w)
    read = {"type": "health.access", "case_id": "s-1"}
    ok(w.submit("hosp-330881", read))
    ok(w.submit(f"resident:{P1}", {"type": "consent.withdraw", "consent_id": "c-1"}))
    assert ok(w.submit("hosp-330881", read)).refused == "consent_withdrawn"
    assert case_status(w.get("share/s-1"), w.get("consent/c-1"), w.time_ms) == "REVOKED"
    assert [e["outcome"] for e in access_log(w)] == ["granted", "granted", "refused"]  # past stays


def test_health_refusals(w: World) -> None:
    ok(w.submit(f"resident:{P1}", consent_body(data_classes=["health_file_summary"])))
    req = {
        "type": "health.request",
        "case_id": "s-2",
        "resident": P1,
        "source": "hosp-330824",
        "data_class": "test_result",
        "purpose": "TREAT",
    }
    refused(w.submit("ssb-330825", req), "wrong_signer")
    refused(w.submit("hosp-330881", {**req, "data_class": "pension_account"}), "bad_field")
    refused(w.submit("hosp-330881", {**req, "resident": pseudonym_of(9)}), "unknown_resident")
    ok(w.submit("hosp-330881", req))
    refused(
        w.submit(
            f"resident:{P2}", {"type": "health.authorize", "case_id": "s-2", "consent_id": "c-1"}
        ),
        "wrong_signer",
    )
    refused(
        w.submit(
            f"resident:{P1}", {"type": "health.authorize", "case_id": "s-2", "consent_id": "c-1"}
        ),
        "out_of_scope",
    )
    refused(
        w.submit(
            "hosp-330824",
            {"type": "health.release", "case_id": "s-2", "commitment": h("p"), "locator": "v"},
        ),
        "wrong_state",
    )
    assert (
        ok(w.submit("hosp-330881", {"type": "health.access", "case_id": "s-2"})).events[0]["reason"]
        == "not_released"
    )


def test_assisted_consent_authorizes_through_the_counter(w: World) -> None:
    body = consent_body(
        type="consent.grant_assisted", consent_id="c-a", resident=P2, assisted=ASSISTED
    )
    ok(w.submit("hosp-330824", body))
    ok(w.submit("hosp-330881", {"type": "health.request", "case_id": "s-a", "resident": P2, "source": "hosp-330824",
                                "data_class": "test_result", "purpose": "COC"}))  # fmt: skip
    refused(
        w.submit(
            "hosp-330881", {"type": "health.authorize", "case_id": "s-a", "consent_id": "c-a"}
        ),
        "wrong_signer",
    )
    ok(w.submit("hosp-330824", {"type": "health.authorize", "case_id": "s-a", "consent_id": "c-a"}))


# ---------------------------------------------------------------- pension
# each kind's path, refusals, notices and commitments: tests/test_pension.py
def pension_apply(w: World, case: str = "p-1") -> None:
    ok(
        w.submit(
            f"resident:{P1}",
            {
                "type": "pension.apply",
                "case_id": case,
                "kind": "inter_area",
                "from_agency": "ssb-330825",
                "to_agency": "ssb-330802",
            },
        )
    )


def test_fifteen_working_days_and_overdue(w: World) -> None:
    pension_apply(w)
    case = w.get("pension/p-1")
    # applied Thursday 2026-05-28: 15 working days later is Thursday 2026-06-18 ... but the 19th
    # (端午节, a Friday) does not count either way; the deadline is the end of 2026-06-18
    assert cst_date(case["deadline_ms"] - 1).isoformat() == "2026-06-18"
    assert not is_overdue(case, case["deadline_ms"])
    assert is_overdue(case, case["deadline_ms"] + 1)
    # a start on 除夕 skips the rest of the nine days off (2-15..2-23; tests/test_calendar.py)
    start = 1_771_171_200_000  # 2026-02-16 00:00 CST (除夕)
    assert cst_date(working_deadline(w.state, start, 1).ms - 1).isoformat() == "2026-02-24"
    assert cst_date(working_deadline(w.state, T0, 1).ms - 1).isoformat() == "2026-05-29"
    assert case["deadline_provisional"] is False


# ------------------------------------------------------------- governance
def test_governance_needs_a_quorum_of_governance_agencies(w: World) -> None:
    new_key = seeded("hosp-330822").verifier().encode()
    add: dict[str, Any] = {"type": "governance.propose", "proposal_id": "g-1", "action": "add_agency",
           "agency": {"id": "hosp-330822", "name": "常山县人民医院", "division": "330822", "kind": "hospital", "roles": [], "key": new_key}}  # fmt: skip
    refused(w.submit("hosp-330881", add), "wrong_signer")
    refused(
        w.submit("ssb-330825", {**add, "agency": {**add["agency"], "roles": ["governance"]}}),
        "bad_field",
    )
    ok(w.submit("ssb-330825", add))  # 1 of 4 members; quorum is 3
    assert w.get("agency/hosp-330822") is None
    refused(
        w.submit("ssb-330825", {"type": "governance.approve", "proposal_id": "g-1"}),
        "already_approved",
    )
    ok(w.submit("ssb-330802", {"type": "governance.approve", "proposal_id": "g-1"}))
    assert w.get("proposal/g-1")["status"] == "open" and w.get("agency/hosp-330822") is None
    ok(w.submit("ssb-330803", {"type": "governance.approve", "proposal_id": "g-1"}))
    assert (
        w.get("proposal/g-1")["status"] == "applied"
        and w.get("agency/hosp-330822")["status"] == "active"
    )
    refused(
        w.submit("ssb-330822", {"type": "governance.approve", "proposal_id": "g-1"}), "wrong_state"
    )
    w.keys["hosp-330822"] = seeded("hosp-330822")
    ok(w.submit("hosp-330822", {"type": "anchor", "sha256": h("first act of the new agency")}))


def test_governance_removes_and_rotates(w: World) -> None:
    approve = [("ssb-330802", "g-r"), ("ssb-330803", "g-r")]
    ok(w.submit("ssb-330825", {"type": "governance.propose", "proposal_id": "g-r", "action": "rotate_agency_key",
                               "agency": {"id": "hosp-330881", "key": seeded("hosp-330881-v2").verifier().encode()}}))  # fmt: skip
    for who, pid in approve:
        ok(w.submit(who, {"type": "governance.approve", "proposal_id": pid}))
    refused(w.submit("hosp-330881", {"type": "anchor", "sha256": h("old key")}), "revoked_key")
    ok(
        w.submit(
            "hosp-330881", {"type": "anchor", "sha256": h("new key")}, key=seeded("hosp-330881-v2")
        )
    )
    ok(
        w.submit(
            "ssb-330825",
            {
                "type": "governance.propose",
                "proposal_id": "g-x",
                "action": "remove_agency",
                "agency": {"id": "hosp-330824"},
            },
        )
    )
    for who in ("ssb-330802", "ssb-330803"):
        ok(w.submit(who, {"type": "governance.approve", "proposal_id": "g-x"}))
    refused(w.submit("hosp-330824", {"type": "anchor", "sha256": h("gone")}), "unknown_signer")
    refused(
        w.submit("ssb-330825", {"type": "governance.approve", "proposal_id": "nope"}),
        "unknown_proposal",
    )


def test_governance_changes_the_validator_set(w: World) -> None:
    newcomer = seeded("node-330881").verifier().encode()
    add: dict[str, Any] = {"type": "governance.propose", "proposal_id": "v-1", "action": "add_validator",
           "validator": {"name": "node-330881", "key": newcomer, "url": "http://10.0.0.7:8700"}}  # fmt: skip
    refused(w.submit("ssb-330825", {**add, "agency": add["validator"]}), "bad_field")
    refused(
        w.submit("ssb-330825", {**add, "validator": {**add["validator"], "name": "node-x"}}),
        "bad_field",
    )
    ok(w.submit("ssb-330825", add))
    for who in ("ssb-330802", "ssb-330803"):
        ok(w.submit(who, {"type": "governance.approve", "proposal_id": "v-1"}))
    assert [v["name"] for v in w.get("validators")] == [
        "node-0",
        "node-1",
        "node-2",
        "node-3",
        "node-330881",
    ]
    remove = {
        "type": "governance.propose",
        "proposal_id": "v-2",
        "action": "remove_validator",
        "validator": {"name": "node-0"},
    }
    ok(w.submit("ssb-330825", remove))
    refused(
        w.submit("ssb-330825", {**remove, "proposal_id": "v-3", "validator": {"name": "node-9"}}),
        "unknown_validator",
    )
    for who in ("ssb-330802", "ssb-330803"):
        ok(w.submit(who, {"type": "governance.approve", "proposal_id": "v-2"}))
    assert "node-0" not in [v["name"] for v in w.get("validators")]


def test_a_validator_node_records_the_reads_it_refused(w: World) -> None:
    node, node_key = "node:node-1", seeded("node-1")
    refusal = {"type": "access.refused", "resident": P1, "agent": "hosp-330881",
               "entity": "share-9", "data_class": "test_result", "purpose": "api health.case",
               "reason": "not_party"}  # fmt: skip
    ok(w.submit(node, refusal, node_key))
    [entry] = [v for k, v in w.state.data.items() if k.startswith(f"access/{P1}/")]
    assert entry["outcome"] == "refused" and entry["agent"] == "hosp-330881"
    assert entry["reason"] == "not_party" and entry["action"] == "R"
    # only validators sign it, and they sign nothing else
    refused(w.submit("hosp-330881", refusal), "wrong_signer")
    refused(w.submit(node, {"type": "anchor", "sha256": h("x")}, node_key), "wrong_signer")
    refused(w.submit("node:node-9", refusal, seeded("node-9")), "unknown_signer")
    refused(w.submit(node, {**refusal, "resident": P1[::-1]}, node_key), "unknown_resident")
    refused(w.submit(node, {**refusal, "extra": 1}, node_key), "bad_field")
