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

import hashlib
from typing import Any

from contracts.health import case_status
from contracts.locator import derive
from contracts.rules import Applied, Rejected
from tests.contract_world import DAY_MS, World, access_log, pseudonym_of, seeded
from tests.tx_examples import NOTICE

VICTIM = pseudonym_of(77)
HOSTILE, SOURCE = "hosp-330881", "hosp-330824"  # the hostile one holds no counter role


def test_a_hospital_without_a_counter_cannot_enroll_a_resident_under_its_own_key() -> None:
    """Enrolling is a step taken for the resident at a counter: no counter role, no enrollment;
    the resident then enrolls at a counter as usual."""
    w = World()
    stolen = seeded("resident")  # made by the hospital
    out = w.submit(
        HOSTILE,
        {
            "type": "resident.enroll",
            "pseudonym": VICTIM,
            "key": stolen.verifier().encode(),
            "age_class": "adult",
        },
    )
    assert isinstance(out, Rejected) and out.code == "wrong_signer", out
    assert "with the counter role" in out.message
    assert w.get(f"resident/{VICTIM}") is None
    w.enroll(VICTIM, by=SOURCE)


COUNTER = "hosp-330802"  # a hospital with a counter: it may enroll, and may be hostile


def hijack(w: World, counter: str = COUNTER) -> None:
    """A counter enrolls the victim under a key it made, then signs as her: a consent to
    itself and the authorization of its own request."""
    stolen = seeded("resident")
    out = w.submit(
        counter,
        {
            "type": "resident.enroll",
            "pseudonym": VICTIM,
            "key": stolen.verifier().encode(),
            "age_class": "adult",
        },
    )
    assert isinstance(out, Applied), out
    me = f"resident:{VICTIM}"
    w.keys[me] = stolen
    consent = {"type": "consent.grant", "consent_id": "c-hijack", "grantor": {"type": "self"},
               "basis": {"type": "consent"}, "notice": NOTICE, "separate": True, "purpose": "TREAT", "data_classes": ["test_result"],
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
               "basis": {"type": "consent"}, "notice": NOTICE, "separate": True, "purpose": "TREAT", "data_classes": ["test_result"],
               "source": SOURCE, "recipient": HOSTILE, "valid_from_ms": w.time_ms,
               "valid_until_ms": w.time_ms + 365 * DAY_MS}  # fmt: skip
    assert isinstance(w.submit(me, consent), Applied)
    assert w.get("consent/c-fine")["enroller_is_recipient"] is False
    assert access_log(w, VICTIM) == []


def rekey(w: World, counter: str, key: str, **details: str) -> Any:
    assisted = {"channel": "counter", "operator_id": "op-0042",
                "verification_method": "id_card_reader", "verification_result": "verified",
                "form_hash": hashlib.sha256(b"signed re-key form").hexdigest(), **details}  # fmt: skip
    return w.submit(counter, {"type": "resident.rotate_key", "pseudonym": VICTIM, "key": key,
                              "assisted": assisted})  # fmt: skip


def test_the_resident_locked_out_by_a_key_she_never_held_is_rekeyed_at_another_counter() -> None:
    """Her recourse: at a counter that never set a key of hers, with her present, a new key
    (operator, verification and form hash on the log; an entry in her access log). The key the
    hijacker made is revoked; she withdraws its consent with hers, and the hijacker can neither
    put a key back nor erase her."""
    w = World()
    hijack(w)
    me = f"resident:{VICTIM}"
    stolen = w.keys[me]
    enroll = {"type": "resident.enroll", "pseudonym": VICTIM, "age_class": "adult",
              "key": w.resident_key(VICTIM).verifier().encode()}  # fmt: skip
    out = w.submit(SOURCE, enroll)
    assert isinstance(out, Rejected) and out.code == "already_enrolled", out
    mine = w.resident_key(VICTIM, 1)
    new = mine.verifier().encode()
    # the hijacker cannot re-key her (it set her key); nor an agency without a counter
    for agency in (COUNTER, HOSTILE, "audit-330881"):
        out = rekey(w, agency, new)
        assert isinstance(out, Rejected) and out.code == "wrong_signer", (agency, out)
    out = rekey(w, SOURCE, new, verification_result="failed")
    assert isinstance(out, Rejected) and out.code == "identity_not_verified", out
    assert isinstance(rekey(w, SOURCE, new), Applied)
    record = w.get(f"resident/{VICTIM}")
    assert record["key"] == new and record["keyed_by"] == [COUNTER, SOURCE]
    assert record["rekeys"][0]["assisted"]["operator_id"] == "op-0042"
    last = access_log(w, VICTIM)[-1]
    assert (last["action"], last["agent"], last["reason"]) == ("U", SOURCE, "assisted_rekey")
    # the hijacker's key is revoked; she withdraws its consent, and its case reads REVOKED
    out = w.submit(me, {"type": "consent.withdraw", "consent_id": "c-hijack"}, key=stolen)
    assert isinstance(out, Rejected) and out.code == "revoked_key", out
    w.keys[me] = mine
    assert isinstance(w.submit(me, {"type": "consent.withdraw", "consent_id": "c-hijack"}), Applied)
    case = w.get("share/s-hijack")
    assert case_status(case, w.get("consent/c-hijack"), w.time_ms) == "REVOKED"
    locator = derive("s-hijack", case["resident"], SOURCE, "ab" * 32)
    out = w.submit(SOURCE, {"type": "health.release", "case_id": "s-hijack",
                            "commitment": "ab" * 32, "locator": locator})  # fmt: skip
    assert isinstance(out, Rejected) and out.code == "consent_withdrawn", out
    # nor can the hijacker put a key back or erase her; a counter that re-keyed her cannot
    # re-key her again either (a third one can)
    assert isinstance(rekey(w, COUNTER, stolen.verifier().encode()), Rejected)
    assert isinstance(rekey(w, SOURCE, w.resident_key(VICTIM, 2).verifier().encode()), Rejected)
    out = w.submit(COUNTER, {"type": "resident.erase", "pseudonym": VICTIM})
    assert isinstance(out, Rejected) and out.code == "wrong_signer", out
    assert w.get(f"resident/{VICTIM}")["status"] == "active"
    # a consent to the counter that re-keyed her is marked too: it set a key of hers
    consent = {"type": "consent.grant", "consent_id": "c-after", "grantor": {"type": "self"},
               "basis": {"type": "consent"}, "notice": NOTICE, "separate": True, "purpose": "TREAT", "data_classes": ["test_result"],
               "source": "hosp-330802", "recipient": SOURCE, "valid_from_ms": w.time_ms,
               "valid_until_ms": w.time_ms + 30 * DAY_MS}  # fmt: skip
    assert isinstance(w.submit(me, consent), Applied)
    assert w.get("consent/c-after")["enroller_is_recipient"] is True


def test_a_resident_who_lost_her_key_is_rekeyed_at_a_counter_that_did_not_enroll_her() -> None:
    """The honest case: a lost phone. Her enroller may not re-key her, any other counter may."""
    w = World()
    w.enroll(VICTIM, by="ssb-330825")
    new = w.resident_key(VICTIM, 1).verifier().encode()
    assert isinstance(rekey(w, "ssb-330825", new), Rejected)
    assert isinstance(rekey(w, "ssb-330802", new), Applied)
    assert w.get(f"resident/{VICTIM}")["keyed_by"] == ["ssb-330825", "ssb-330802"]
    # the erasure she may ask at a counter is now the re-keying counter's to record
    out = w.submit("ssb-330825", {"type": "resident.erase", "pseudonym": VICTIM})
    assert isinstance(out, Rejected) and out.code == "wrong_signer", out
    w.advance(15)  # held after a re-key (red team 5: tests/test_redteam5_rekey_erase.py)
    assert isinstance(w.submit("ssb-330802", {"type": "resident.erase", "pseudonym": VICTIM}),
                      Applied)  # fmt: skip
    out = rekey(w, "ssb-330803", w.resident_key(VICTIM, 2).verifier().encode())
    assert isinstance(out, Rejected) and out.code == "resident_erased", out
