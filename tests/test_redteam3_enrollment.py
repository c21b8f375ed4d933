"""Red team, issue #11 item 1: a hostile hospital with only its own key, and no ``counter``
role, enrolls a resident who has not enrolled yet (it can compute her pseudonym: agencies
hold the network secret and her ID number) under a key it made itself. From then on it signs
as her: a "self" consent to itself for 365 days (not an assisted one: no 30-day limit, no
``counter_is_recipient`` mark, nothing in her access log), the authorization of its own
request, and it alone (her enroller) may erase her. When she comes to a counter, her
enrollment is refused as ``already_enrolled`` and no one can give her her identity back.

Left open (design): enrollment is an agency's attestation. Closing it needs at least that
only counters enroll (an enrollment is an assisted step, for the resident) and that a
consent whose recipient enrolled the resident is marked as the counter's own consents are
(``enroller_is_recipient``, in the record and the access log); a resident's recourse
against a key she never held (re-keying at another counter, with her present) is a new
transaction type."""

from typing import Any

from contracts.rules import Applied, Rejected
from tests.contract_world import DAY_MS, World, pseudonym_of, seeded

VICTIM = pseudonym_of(77)
HOSTILE, SOURCE = "hosp-330881", "hosp-330824"  # the hostile one holds no counter role


def test_a_hospital_without_a_counter_cannot_enroll_a_resident_under_its_own_key() -> None:
    """Enrolling is a step taken for the resident at a counter: no counter role, no enrollment;
    the resident then enrolls at a counter as usual."""
    w = World()
    stolen = seeded("resident")  # made by the hospital
    out = w.submit(
        HOSTILE,
        {"type": "resident.enroll", "pseudonym": VICTIM, "key": stolen.verifier().encode()},
    )
    assert isinstance(out, Rejected) and out.code == "wrong_signer", out
    assert "with the counter role" in out.message
    assert w.get(f"resident/{VICTIM}") is None
    w.enroll(VICTIM, by=SOURCE)


COUNTER = "hosp-330802"  # a hospital with a counter: it may enroll, and may be hostile


def access_log(w: World, pseudonym: str) -> list[dict[str, Any]]:
    count = w.get(f"access_count/{pseudonym}") or 0
    return [w.get(f"access/{pseudonym}/{i:012d}") for i in range(count)]


def hijack(w: World, counter: str = COUNTER) -> None:
    """A counter enrolls the victim under a key it made, then signs as her: a consent to
    itself and the authorization of its own request."""
    stolen = seeded("resident")
    out = w.submit(
        counter, {"type": "resident.enroll", "pseudonym": VICTIM, "key": stolen.verifier().encode()}
    )
    assert isinstance(out, Applied), out
    me = f"resident:{VICTIM}"
    w.keys[me] = stolen
    consent = {"type": "consent.grant", "consent_id": "c-hijack", "grantor": {"type": "self"},
               "basis": {"type": "consent"}, "purpose": "TREAT", "data_classes": ["test_result"],
               "source": SOURCE, "recipient": counter, "valid_from_ms": w.time_ms,
               "valid_until_ms": w.time_ms + 365 * DAY_MS}  # fmt: skip
    out = w.submit(me, consent)
    assert isinstance(out, Rejected) and out.code == "validity_exceeds_policy", out
    assert isinstance(w.submit(me, {**consent, "valid_until_ms": w.time_ms + 30 * DAY_MS + 1}),
                      Rejected)  # fmt: skip
    assert isinstance(w.submit(me, {**consent, "valid_until_ms": w.time_ms + 30 * DAY_MS}), Applied)
    assert isinstance(w.submit(counter, {"type": "health.request", "case_id": "s-hijack",
                                         "resident": VICTIM, "source": SOURCE,
                                         "data_class": "test_result", "purpose": "TREAT"}),
                      Applied)  # fmt: skip
    authorize = {"type": "health.authorize", "case_id": "s-hijack", "consent_id": "c-hijack"}
    assert isinstance(w.submit(me, authorize), Applied)


def test_a_counter_that_enrolled_a_resident_is_limited_and_marked_as_her_recipient() -> None:
    """The enroller may hold the key it registered: a consent to it signed with that key is
    bounded as a counter's consent to itself (30 days, not 365) and marked, in the record and
    in her access log; so is the authorization of its own request."""
    w = World()
    hijack(w)
    consent = w.get("consent/c-hijack")
    assert consent["enroller_is_recipient"] is True and consent["counter_is_recipient"] is False
    case = w.get("share/s-hijack")
    assert case["status"] == "AUTHORIZED" and case["enroller_is_requester"] is True
    marks = [(e["action"], e["entity"], e["reason"]) for e in access_log(w, VICTIM)]
    assert marks == [("C", "c-hijack", "enroller_is_recipient"),
                     ("U", "s-hijack", "enroller_is_requester")]  # fmt: skip


def test_a_consent_to_another_agency_is_not_marked() -> None:
    w = World()
    w.enroll(VICTIM, by=COUNTER)
    me = f"resident:{VICTIM}"
    consent = {"type": "consent.grant", "consent_id": "c-fine", "grantor": {"type": "self"},
               "basis": {"type": "consent"}, "purpose": "TREAT", "data_classes": ["test_result"],
               "source": SOURCE, "recipient": HOSTILE, "valid_from_ms": w.time_ms,
               "valid_until_ms": w.time_ms + 365 * DAY_MS}  # fmt: skip
    assert isinstance(w.submit(me, consent), Applied)
    assert w.get("consent/c-fine")["enroller_is_recipient"] is False
    assert access_log(w, VICTIM) == []
