"""Who may do what (#11 item 1): the hostile agencies' attacks of the issue, replayed with only
their own keys, must fail."""

from typing import Any

import pytest

from contracts.rules import Applied, Rejected
from tests.contract_world import DAY_MS, T0, World, h, pseudonym_of

P1, P2 = pseudonym_of(1), pseudonym_of(2)
YEAR_MS = 365 * DAY_MS

ASSISTED = {
    "channel": "counter",
    "operator_id": "op-0042",
    "verification_method": "id_card_reader",
    "verification_result": "verified",
    "form_hash": h("signed paper form"),
}


def ok(outcome: Any) -> Applied:
    assert isinstance(outcome, Applied), outcome
    return outcome


def refused(outcome: Any, code: str) -> Rejected:
    assert isinstance(outcome, Rejected), outcome
    assert outcome.code == code, outcome
    return outcome


@pytest.fixture
def w() -> World:
    world = World()
    world.enroll(P1)
    world.enroll(P2)
    return world


def consent(**change: Any) -> dict[str, Any]:
    body = {
        "type": "consent.grant",
        "consent_id": "c-1",
        "grantor": {"type": "self"},
        "basis": {"type": "consent"},
        "purpose": "COC",
        "data_classes": ["test_result"],
        "source": "hosp-330824",
        "recipient": "hosp-330881",
        "valid_from_ms": T0,
        "valid_until_ms": T0 + 30 * DAY_MS,
    }
    return {**body, **change}


def assisted(**change: Any) -> dict[str, Any]:
    return consent(type="consent.grant_assisted", resident=P1, assisted=ASSISTED, **change)


def request(case: str = "s-1", by: str = "hosp-330881", **change: Any) -> dict[str, Any]:
    return {"type": "health.request", "case_id": case, "resident": P1, "source": "hosp-330824",
            "data_class": "test_result", "purpose": "COC", **change}  # fmt: skip


def access_log(w: World, pseudonym: str = P1) -> list[dict[str, Any]]:
    count = w.get(f"access_count/{pseudonym}") or 0
    return [w.get(f"access/{pseudonym}/{i:012d}") for i in range(count)]


def test_an_auditor_cannot_withdraw_a_residents_consent(w: World) -> None:
    """The issue: an auditor agency withdrew a resident's consent."""
    ok(w.submit(f"resident:{P1}", consent()))
    withdraw = {"type": "consent.withdraw", "consent_id": "c-1", "assisted": ASSISTED}
    refused(w.submit("audit-330800", withdraw), "wrong_signer")
    refused(w.submit("audit-330881", withdraw), "wrong_signer")  # a counter role changes nothing
    assert w.get("consent/c-1")["status"] == "active"


def test_a_pension_bureau_cannot_record_a_health_consent(w: World) -> None:
    """The issue: a pension bureau recorded a health consent. A counter records consents only
    for the data classes its kind keeps, and withdraws only those too."""
    refused(w.submit("ssb-330825", assisted()), "wrong_signer")
    refused(w.submit("ssb-330825", assisted(data_classes=["health_file_summary"])), "wrong_signer")
    assert w.get("consent/c-1") is None
    # nor does a hospital counter record a pension consent
    pension = {"data_classes": ["pension_account"], "source": "ssb-330825",
               "recipient": "ssb-330802", "consent_id": "c-p"}  # fmt: skip
    refused(w.submit("hosp-330824", assisted(**pension)), "wrong_signer")
    ok(w.submit("ssb-330825", assisted(**pension)))  # its own kind: fine
    # and a bureau cannot withdraw the resident's health consent it never recorded
    ok(w.submit(f"resident:{P1}", consent()))
    withdraw = {"type": "consent.withdraw", "consent_id": "c-1", "assisted": ASSISTED}
    refused(w.submit("ssb-330825", withdraw), "wrong_signer")
    ok(w.submit("hosp-330802", withdraw))  # a hospital counter may: health classes
    assert w.get("consent/c-1")["status"] == "withdrawn"


def test_a_requesting_hospital_cannot_consent_for_itself_and_authorize_its_own_request(
    w: World,
) -> None:
    """The issue: a requesting hospital granted itself a ten-year assisted consent and
    authorized its own request."""
    ten_years = assisted(consent_id="c-x", valid_until_ms=T0 + 10 * YEAR_MS)
    refused(w.submit("hosp-330881", ten_years), "wrong_signer")  # no counter
    refused(w.submit("hosp-330881", {**ten_years, "valid_until_ms": T0 + DAY_MS}), "wrong_signer")
    ok(w.submit("hosp-330881", request()))
    # with a self-granted consent of the resident, still only she may authorize
    ok(w.submit(f"resident:{P1}", consent()))
    authorize = {"type": "health.authorize", "case_id": "s-1", "consent_id": "c-1"}
    refused(w.submit("hosp-330881", authorize), "wrong_signer")
    refused(w.submit("hosp-330824", authorize), "wrong_signer")  # the source did not record it
    ok(w.submit(f"resident:{P1}", authorize))


def test_a_counter_that_is_the_recipient_is_limited_and_marked(w: World) -> None:
    """Two colluding agencies, one a hospital with a counter: at most the policy's validity,
    and the record and the resident's access log say that the counter was the recipient."""
    own = assisted(consent_id="c-own", recipient="hosp-330802", valid_until_ms=T0 + 10 * YEAR_MS)
    refused(w.submit("hosp-330802", own), "validity_exceeds_policy")
    refused(
        w.submit("hosp-330802", {**own, "valid_until_ms": T0 + 30 * DAY_MS + 1}),
        "validity_exceeds_policy",
    )
    ok(w.submit("hosp-330802", {**own, "valid_until_ms": T0 + 30 * DAY_MS}))
    record = w.get("consent/c-own")
    assert record["assisted"] is True and record["counter_is_recipient"] is True
    assert record["assisted_details"]["form_hash"] == ASSISTED["form_hash"]
    [entry] = access_log(w)
    assert (entry["action"], entry["agent"], entry["entity"]) == ("C", "hosp-330802", "c-own")
    assert entry["reason"] == "counter_is_recipient"
    # a consent recorded for another hospital is not marked and not in the access log
    ok(w.submit("hosp-330824", assisted(consent_id="c-other")))
    assert w.get("consent/c-other")["counter_is_recipient"] is False and len(access_log(w)) == 1


def test_only_the_counter_that_recorded_a_consent_authorizes_with_it(w: World) -> None:
    ok(w.submit("hosp-330824", assisted(consent_id="c-a")))
    ok(w.submit("hosp-330881", request()))
    authorize = {"type": "health.authorize", "case_id": "s-1", "consent_id": "c-a"}
    refused(w.submit("hosp-330802", authorize), "wrong_signer")  # another counter
    refused(w.submit("hc-330800", authorize), "wrong_signer")
    refused(w.submit("audit-330881", authorize), "wrong_signer")
    ok(w.submit("hosp-330824", authorize))
    assert w.get("share/s-1")["authorized_by"] == "hosp-330824"


def test_assisted_steps_need_the_counter_role(w: World) -> None:
    refused(w.submit("hosp-330881", assisted(recipient="hosp-330824", source="hosp-330802")),
            "wrong_signer")  # fmt: skip
    ok(w.submit("hosp-330824", assisted(consent_id="c-a")))
    withdraw = {"type": "consent.withdraw", "consent_id": "c-a", "assisted": ASSISTED}
    refused(w.submit("hosp-330881", withdraw), "wrong_signer")  # no counter
    # a pension application on a resident's behalf: a bureau party to it, with a counter
    apply = {"type": "pension.apply", "case_id": "p-1", "resident": P1,
             "from_agency": "ssb-330825", "to_agency": "ssb-330802"}  # fmt: skip
    refused(w.submit("ssb-330822", apply), "wrong_signer")  # no counter
    refused(w.submit("ssb-330803", apply), "wrong_signer")  # a counter, not a party
    ok(w.submit("ssb-330802", apply))


def test_a_self_granted_consent_lasts_at_most_a_year(w: World) -> None:
    me = f"resident:{P1}"
    refused(w.submit(me, consent(valid_until_ms=T0 + YEAR_MS + 1)), "validity_exceeds_policy")
    ok(w.submit(me, consent(valid_until_ms=T0 + YEAR_MS)))


def test_an_auditor_changes_no_case(w: World) -> None:
    ok(w.submit("hosp-330881", request()))
    ok(w.submit(f"resident:{P1}", consent()))
    for body in (
        request(case="s-2"),
        {"type": "health.authorize", "case_id": "s-1", "consent_id": "c-1"},
        {"type": "health.release", "case_id": "s-1", "commitment": h("p"), "locator": "vault:1"},
        {"type": "pension.apply", "case_id": "p-1", "resident": P1, "from_agency": "ssb-330825",
         "to_agency": "ssb-330802"},
        assisted(consent_id="c-9"),
    ):  # fmt: skip
        for auditor in ("audit-330800", "audit-330881"):
            refused(w.submit(auditor, body), "wrong_signer")
    assert w.get("share/s-1")["status"] == "REQUESTED" and w.get("share/s-2") is None
