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

from contracts.rules import Rejected
from tests.contract_world import World, pseudonym_of, seeded

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
