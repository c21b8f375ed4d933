"""Minors and guardians (#13 item 2): an age class from the ID at enrollment, never a birth date;
under 14 only a registered guardian consents or acts (PIPL art. 31); at 14 and at 18 the
authority changes by block time, and the resident and her guardians are told. The attacks
first: a child's own consent, a counter recording a guardianship unverified, a guardian after
the child turned 18."""

from typing import Any

import pytest

from contracts.rules import Applied
from tests.contract_world import DAY_MS, T0, World, access_log, h, ok, pseudonym_of, refused
from tests.tx_examples import NOTICE

MOTHER, CHILD, TEEN, GRANNY = (pseudonym_of(n) for n in (21, 22, 23, 24))
"""T0 is 2026-05-28: the child turns 14 on 2030-02-01, the teen 18 on 2026-06-10."""
ASSISTED = {"channel": "counter", "operator_id": "op-7", "verification_method": "household_register",
            "verification_result": "verified", "form_hash": h("form")}  # fmt: skip


@pytest.fixture
def w() -> World:
    world = World()
    world.enroll(MOTHER)
    world.enroll(GRANNY)
    world.enroll(CHILD, age_class="under_14", class_ends="2030-02-01")
    world.enroll(TEEN, age_class="14_17", class_ends="2026-06-10")
    return world


def guardianship(ward: str = CHILD, gid: str = "g-1", **change: Any) -> dict[str, Any]:
    body = {"type": "guardian.record", "guardianship_id": gid, "resident": ward,
            "guardian": MOTHER, "basis": "parent",
            "document": {"kind": "birth_certificate", "hash": h("出生医学证明")},
            "valid_until_ms": T0 + 20 * 365 * DAY_MS, "assisted": ASSISTED}  # fmt: skip
    return {**body, **change}


def consent(cid: str = "c-1", **change: Any) -> dict[str, Any]:
    body = {"type": "consent.grant", "consent_id": cid, "grantor": {"type": "self"},
            "basis": {"type": "consent"}, "notice": NOTICE, "separate": True, "purpose": "COC",
            "data_classes": ["test_result"], "source": "hosp-330824", "recipient": "hosp-330881",
            "valid_from_ms": T0, "valid_until_ms": T0 + 30 * DAY_MS}  # fmt: skip
    return {**body, **change}


def for_ward(ward: str, cid: str = "c-g", **change: Any) -> dict[str, Any]:
    return consent(cid, **{"on_behalf_of": ward, "grantor": {"type": "guardian"}, **change})


def reasons(w: World, who: str) -> list[str]:
    return [e["reason"] for e in access_log(w, who)]


# ------------------------------------------------------------------------------- attacks
def test_a_child_under_14_cannot_consent_herself(w: World) -> None:
    child = f"resident:{CHILD}"
    refused(w.submit(child, consent()), "guardian_required")
    apply = {"type": "pension.apply", "case_id": "p-1", "kind": "inter_area",
             "from_agency": "ssb-330825", "to_agency": "ssb-330802"}  # fmt: skip
    refused(w.submit(child, apply), "guardian_required")
    refused(w.submit(child, {"type": "resident.erase"}), "guardian_required")
    grant = {"type": "delegation.grant", "delegation_id": "d-1", "delegate": GRANNY,
             "actions": ["consent.grant"], "data_classes": ["test_result"],
             "valid_until_ms": T0 + DAY_MS}  # fmt: skip
    refused(w.submit(child, grant), "capacity_required")
    assert w.get("consent/c-1") is None


def test_a_guardian_consents_for_a_child_and_she_sees_it(w: World) -> None:
    ok(w.submit("hosp-330824", guardianship()))
    mother = f"resident:{MOTHER}"
    refused(w.submit(mother, for_ward(CHILD, grantor={"type": "proxy"})), "grantor_mismatch")
    ok(w.submit(mother, for_ward(CHILD)))
    record = w.get("consent/c-g")
    assert record["resident"] == CHILD and record["granted_by"] == mother
    [told, acted] = access_log(w, CHILD)
    assert told["reason"] == "guardian_recorded" and told["agent"] == "hosp-330824"
    assert (acted["agent"], acted["acting_as"], acted["entity"]) == (mother, "guardian", "c-g")
    ok(w.submit(mother, {"type": "consent.withdraw", "consent_id": "c-g", "on_behalf_of": CHILD}))
    assert w.get("consent/c-g")["status"] == "withdrawn"
    assert access_log(w, CHILD)[-1]["acting_as"] == "guardian"
    # a stranger to the child is nobody's guardian
    refused(w.submit(f"resident:{GRANNY}", for_ward(CHILD, "c-x")), "not_acting_for")


def test_a_counter_records_a_guardianship_only_verified_and_only_a_counter(w: World) -> None:
    failed = {**ASSISTED, "verification_result": "failed"}
    refused(w.submit("ssb-330825", guardianship(assisted=failed)), "identity_not_verified")
    refused(w.submit("hosp-330881", guardianship()), "wrong_signer")  # no counter role
    refused(w.submit("audit-330881", guardianship()), "wrong_signer")  # an auditor, whatever roles
    refused(w.submit(f"resident:{MOTHER}", guardianship()), "wrong_signer")  # not by herself
    refused(w.submit("ssb-330825", guardianship(guardian=CHILD)), "bad_field")  # her own
    refused(w.submit("ssb-330825", guardianship(guardian=TEEN)), "guardian_not_capable")
    assert w.get("guardianship/g-1") is None
    ok(w.submit("ssb-330825", guardianship()))
    refused(w.submit("ssb-330802", guardianship(gid="g-2")), "already_guardian")
    # the counter set the guardian's key (it enrolled her): it may hold it; marked, and told
    assert w.get("guardianship/g-1")["counter_keyed_guardian"] is True
    assert access_log(w, CHILD)[-1]["reason"] == "counter_keyed_guardian"


def test_an_adults_guardian_needs_a_courts_declaration(w: World) -> None:
    """民法典 art. 24: only a court declares an adult without (or with limited) capacity."""
    refused(w.submit("ssb-330825", guardianship(GRANNY)), "basis_not_for_ward")
    incapacity = guardianship(GRANNY, basis="adult_incapacity", capacity="none")
    refused(w.submit("ssb-330825", incapacity), "court_declaration_required")
    refused(w.submit("ssb-330825", guardianship(basis="adult_incapacity")), "basis_not_for_ward")
    refused(
        w.submit("ssb-330825", guardianship(capacity="none")), "bad_field"
    )  # a minor's is her age's
    judged = {**incapacity, "document": {"kind": "court_judgment", "hash": h("判决书")}}
    ok(w.submit("ssb-330825", judged))
    refused(w.submit(f"resident:{GRANNY}", consent()), "guardian_required")
    ok(w.submit(f"resident:{MOTHER}", for_ward(GRANNY)))
    # a ward cannot act for anyone either, nor be made a guardian
    refused(
        w.submit("ssb-330825", guardianship(gid="g-9", guardian=GRANNY)), "guardian_not_capable"
    )


def test_a_guardian_after_the_child_turned_18_is_refused(w: World) -> None:
    """The issue's attack: at 18 the guardian's authority ends by itself, by block time."""
    ok(w.submit("ssb-330825", guardianship(TEEN)))
    mother = f"resident:{MOTHER}"
    ok(w.submit(mother, for_ward(TEEN, "c-before")))  # 14-17: her guardian may act too
    ok(w.submit(f"resident:{TEEN}", consent("c-own")))  # and she herself
    w.time_ms = T0 + 12 * DAY_MS + 14 * 3_600_000  # 2026-06-10 00:00 CST: her 18th birthday
    refused(w.submit(mother, for_ward(TEEN, "c-after")), "guardianship_ended")
    refused(w.submit(mother, {"type": "consent.withdraw", "consent_id": "c-before",
                              "on_behalf_of": TEEN}), "guardianship_ended")  # fmt: skip
    assert w.get("guardianship/g-1")["status"] == "ended"
    assert w.get("guardianship/g-1")["ended_reason"] == "ward_of_age"
    assert w.get(f"resident/{TEEN}")["age_class"] == "adult"
    assert "class_ends" not in w.get(f"resident/{TEEN}")  # an adult records no day
    assert reasons(w, TEEN)[-1] == "age_class_adult"  # she is told
    assert reasons(w, MOTHER)[-1] == "ward_age_class_adult"  # so is her guardian
    ok(w.submit(f"resident:{TEEN}", {"type": "consent.withdraw", "consent_id": "c-before"}))


def test_the_day_before_the_18th_birthday_the_guardian_still_acts(w: World) -> None:
    ok(w.submit("ssb-330825", guardianship(TEEN)))
    w.time_ms = T0 + 12 * DAY_MS + 14 * 3_600_000 - 1  # 2026-06-09 23:59:59.999 CST
    ok(w.submit(f"resident:{MOTHER}", for_ward(TEEN)))
    assert w.get(f"resident/{TEEN}")["age_class"] == "14_17"


def test_at_14_the_child_acts_herself_and_her_guardian_still_may(w: World) -> None:
    ok(w.submit("ssb-330825", guardianship()))
    w.time_ms = T0 + 1345 * DAY_MS  # 2030-02-01 10:00 CST: her 14th birthday
    ok(w.submit(f"resident:{CHILD}", consent("c-own", valid_from_ms=w.time_ms,
                                              valid_until_ms=w.time_ms + DAY_MS)))  # fmt: skip
    record = w.get(f"resident/{CHILD}")
    assert record["age_class"] == "14_17" and record["class_ends"] == "2034-02-01"
    assert reasons(w, CHILD)[-1] == "age_class_14_17"
    assert reasons(w, MOTHER)[-1] == "ward_age_class_14_17"
    ok(w.submit(f"resident:{MOTHER}", for_ward(CHILD, valid_from_ms=w.time_ms,
                                               valid_until_ms=w.time_ms + DAY_MS)))  # fmt: skip
    w.time_ms = T0 + 2806 * DAY_MS  # 2034-02-01: 18
    refused(w.submit(f"resident:{MOTHER}", for_ward(CHILD, "c-18")), "guardianship_ended")
    assert reasons(w, CHILD)[-1] == "age_class_adult"


def test_a_revoked_guardianship_is_over(w: World) -> None:
    ok(w.submit("ssb-330825", guardianship()))
    revoke = {"type": "guardian.revoke", "guardianship_id": "g-1", "reason": "court_ended",
              "assisted": ASSISTED}  # fmt: skip
    refused(w.submit("audit-330800", revoke), "wrong_signer")
    refused(w.submit(f"resident:{MOTHER}", revoke), "wrong_signer")
    ok(w.submit("hosp-330824", revoke))  # any counter, the parties present
    refused(w.submit(f"resident:{MOTHER}", for_ward(CHILD)), "guardianship_revoked")
    assert reasons(w, CHILD)[-1] == "guardian_revoked" == reasons(w, MOTHER)[-1]
    ok(w.submit("ssb-330825", guardianship(gid="g-2")))  # recorded again, in force again
    ok(w.submit(f"resident:{MOTHER}", for_ward(CHILD)))


# ----------------------------------------------------------------------------- enrollment
def test_enrollment_records_an_age_class_never_a_birth_date(w: World) -> None:
    body = {"type": "resident.enroll", "pseudonym": pseudonym_of(30),
            "key": w.resident_key(pseudonym_of(30)).verifier().encode()}  # fmt: skip
    refused(w.submit("ssb-330825", body), "bad_field")  # the class is required
    refused(w.submit("ssb-330825", {**body, "age_class": "child"}), "bad_field")
    refused(w.submit("ssb-330825", {**body, "age_class": "under_14"}), "bad_field")  # its end
    refused(w.submit("ssb-330825", {**body, "age_class": "adult", "class_ends": "2030-01-01"}),
            "bad_field")  # fmt: skip
    for cls, day in (("under_14", "2026-05-28"), ("under_14", "2040-06-01"),
                     ("14_17", "2030-06-01"), ("14_17", "2026-13-01")):  # fmt: skip
        out = w.submit("ssb-330825", {**body, "age_class": cls, "class_ends": day})
        assert out.code in ("bad_class_end", "bad_field"), (cls, day, out)  # type: ignore[union-attr]
    refused(w.submit("ssb-330825", {**body, "age_class": "adult", "birth_date": "1950-01-01"}),
            "bad_field")  # fmt: skip
    ok(w.submit("ssb-330825", {**body, "age_class": "adult"}))
    assert set(w.get(f"resident/{pseudonym_of(30)}")) == {
        "key",
        "status",
        "enrolled_by",
        "keyed_by",
        "height",
        "previous_keys",
        "age_class",
    }
    assert w.get(f"resident/{CHILD}")["class_ends"] == "2030-02-01"


def test_class_ends_are_replayed_the_same_and_an_erased_minor_is_not_told(w: World) -> None:
    ok(w.submit("ssb-330825", guardianship(TEEN)))
    ok(w.submit(f"resident:{TEEN}", {"type": "resident.erase"}))
    before = len(access_log(w, TEEN))
    w.advance(30)
    ok(w.submit("hosp-330881", {"type": "anchor", "sha256": h("a block after her birthday")}))
    assert len(access_log(w, TEEN)) == before
    assert w.get(f"resident/{TEEN}")["status"] == "erased"
    again = w.replay()
    assert again.root == w.root and isinstance(again.outcomes[-1][1], Applied)
