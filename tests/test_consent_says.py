"""What a consent says (#13 item 5): the notice the resident was shown, whether it is a separate
consent, the recipient's contact; a request for another purpose is refused; a statutory basis is
not a consent and cannot be withdrawn. Each attack replayed must fail."""

from typing import Any

import pytest

from tests.contract_world import DAY_MS, T0, World, ok, pseudonym_of, refused
from tests.tx_examples import NOTICE

P1 = pseudonym_of(1)


@pytest.fixture
def w() -> World:
    world = World()
    world.enroll(P1)
    return world


def consent(**change: Any) -> dict[str, Any]:
    body = {"type": "consent.grant", "consent_id": "c-1", "grantor": {"type": "self"},
            "basis": {"type": "consent"}, "notice": NOTICE, "separate": True, "purpose": "COC",
            "data_classes": ["test_result"], "source": "hosp-330824", "recipient": "hosp-330881",
            "valid_from_ms": T0, "valid_until_ms": T0 + 30 * DAY_MS}  # fmt: skip
    return {**body, **change}


def request(**change: Any) -> dict[str, Any]:
    return {"type": "health.request", "case_id": "s-1", "resident": P1, "source": "hosp-330824",
            "data_class": "test_result", "purpose": "COC", **change}  # fmt: skip


def test_the_record_keeps_the_notice_separateness_and_the_recipients_contact(w: World) -> None:
    ok(w.submit(f"resident:{P1}", consent()))
    record = w.get("consent/c-1")
    assert record["notice"] == NOTICE and record["separate"] is True
    assert record["recipient_contact"] == "agency/hosp-330881"
    assert isinstance(w.get(record["recipient_contact"]), dict)  # the agency's own record


def test_a_health_consent_that_is_not_separate_is_refused(w: World) -> None:
    refused(w.submit(f"resident:{P1}", consent(separate=False)), "separate_consent_required")
    refused(w.submit(f"resident:{P1}", consent(separate="yes")), "bad_field")
    # a pension class need not be a separate consent (PIPL art. 29 is about sensitive data)
    ok(w.submit(f"resident:{P1}", consent(separate=False, data_classes=["pension_account"])))


@pytest.mark.parametrize(
    "notice",
    [
        None,
        {"version": "notice-2026-1"},
        {"hash": "not hex", "version": "notice-2026-1"},
        {**NOTICE, "text": "we share your results with anyone"},
        {**NOTICE, "version": "notice of 2026"},
    ],
)
def test_a_consent_without_a_well_formed_notice_is_refused(w: World, notice: Any) -> None:
    body = consent() if notice is None else consent(notice=notice)
    if notice is None:
        del body["notice"]
    refused(w.submit(f"resident:{P1}", body), "bad_field")


def test_no_free_text_contact_rides_along(w: World) -> None:
    """The contact is the agency's record, never a phone number or text in the body."""
    refused(w.submit(f"resident:{P1}", consent(recipient_contact="13800138000")), "personal_data")
    refused(w.submit(f"resident:{P1}", consent(recipient_contact="ask at desk 3")), "bad_field")
    phone = {**NOTICE, "version": "13800138000"}  # an ident, and still refused
    refused(w.submit(f"resident:{P1}", consent(notice=phone)), "personal_data")


def test_a_request_for_another_purpose_is_refused_at_authorize(w: World) -> None:
    ok(w.submit(f"resident:{P1}", consent()))
    ok(w.submit("hosp-330881", request(purpose="TREAT")))
    authorize = {"type": "health.authorize", "case_id": "s-1", "consent_id": "c-1"}
    refused(w.submit(f"resident:{P1}", authorize), "purpose_mismatch")
    assert w.get("share/s-1")["status"] == "REQUESTED"
    ok(w.submit("hosp-330881", request(case_id="s-2")))
    ok(w.submit(f"resident:{P1}", {**authorize, "case_id": "s-2"}))


def test_a_statutory_basis_cannot_be_withdrawn(w: World) -> None:
    """A statute is no consent (it is ``basis.record``'s, tests/test_statutory_bases.py): no
    consent carries one, and no withdrawal reaches one."""
    statutory = consent(consent_id="c-stat", basis={"type": "statutory", "citation": "PIPL art. 13(3)"},
                        data_classes=["pension_account"], separate=False)  # fmt: skip
    refused(w.submit(f"resident:{P1}", statutory), "statutory_basis_not_allowed")
    basis = {"type": "basis.record", "basis_id": "b-stat", "resident": P1,
             "citation": "sil_pension", "data_classes": ["pension_account"]}  # fmt: skip
    ok(w.submit("ssb-330825", basis))
    refused(w.submit(f"resident:{P1}", {"type": "consent.withdraw", "consent_id": "b-stat"}),
            "unknown_consent")  # fmt: skip
    assert w.get("basis/b-stat")["status"] == "in_force"
    # what is not a consent at all: refused with its reason too
    refused(w.submit(f"resident:{P1}", {"type": "consent.withdraw", "consent_id": "s-1"}),
            "unknown_consent")  # fmt: skip
    ok(w.submit(f"resident:{P1}", consent()))
    ok(w.submit(f"resident:{P1}", {"type": "consent.withdraw", "consent_id": "c-1"}))
