"""Red team 5, issue #11 item 1: erasure is final, and re-keying is open to any counter that
never set a key of the resident. A hostile counter that never keyed her "re-keys" her (it
says she was present and verified) under a key it made, and at once erases her: as the
agency that last set her key, or signing ``resident.erase`` as her with the key it made.
Before the fix nothing stood between the two steps, so she lost her identity for good before
her access log's ``assisted_rekey`` entry could reach her, and no counter could give it back.

Fix: no erasure of a resident (by anyone) until ``REKEY_ERASE_HOLD_MS`` after an assisted
re-key: the time she has to see it and be re-keyed at another counter, after which the
hostile counter neither holds her key nor is her last key setter."""

import pytest

from contracts.erasure import REKEY_ERASE_HOLD_MS
from contracts.rules import Applied, Rejected
from tests.contract_world import DAY_MS, World, pseudonym_of
from tests.test_redteam3_enrollment import rekey

VICTIM = pseudonym_of(77)
HONEST, HOSTILE, RESCUER = "ssb-330825", "hosp-330802", "ssb-330802"


@pytest.mark.parametrize("as_resident", [False, True])
def test_a_counter_that_rekeyed_a_resident_cannot_erase_her_at_once(as_resident: bool) -> None:
    w = World()
    w.enroll(VICTIM, by=HONEST)
    made = w.resident_key(VICTIM, 9)  # the hostile counter's key
    assert isinstance(rekey(w, HOSTILE, made.verifier().encode()), Applied)
    me = f"resident:{VICTIM}"
    if as_resident:
        w.keys[me] = made
        out = w.submit(me, {"type": "resident.erase"})
    else:
        out = w.submit(HOSTILE, {"type": "resident.erase", "pseudonym": VICTIM})
    assert isinstance(out, Rejected) and out.code == "erasure_held", out
    assert w.get(f"resident/{VICTIM}")["status"] == "active"
    # she sees the re-key in her access log and is re-keyed at another counter: the hostile
    # one holds no key of hers any more and is not her last key setter
    w.advance(1)
    mine = w.resident_key(VICTIM, 1)
    assert isinstance(rekey(w, RESCUER, mine.verifier().encode()), Applied)
    w.advance(REKEY_ERASE_HOLD_MS / DAY_MS)
    out = w.submit(HOSTILE, {"type": "resident.erase", "pseudonym": VICTIM})
    assert isinstance(out, Rejected) and out.code == "wrong_signer", out
    out = w.submit(me, {"type": "resident.erase"}, key=made)
    assert isinstance(out, Rejected) and out.code == "revoked_key", out
    assert w.get(f"resident/{VICTIM}")["status"] == "active"


def test_after_the_hold_the_rekeyed_resident_is_erased_on_request() -> None:
    """The honest case: a lost phone, then erasure: held, then done."""
    w = World()
    w.enroll(VICTIM, by=HONEST)
    assert isinstance(rekey(w, RESCUER, w.resident_key(VICTIM, 1).verifier().encode()), Applied)
    w.advance(REKEY_ERASE_HOLD_MS / DAY_MS - 1)
    out = w.submit(RESCUER, {"type": "resident.erase", "pseudonym": VICTIM})
    assert isinstance(out, Rejected) and out.code == "erasure_held", out
    assert str(int(REKEY_ERASE_HOLD_MS / DAY_MS)) in out.message
    w.advance(1)
    out = w.submit(RESCUER, {"type": "resident.erase", "pseudonym": VICTIM})
    assert isinstance(out, Applied), out
    assert w.get(f"resident/{VICTIM}")["status"] == "erased"


def test_a_resident_never_rekeyed_is_erased_at_once() -> None:
    w = World()
    w.enroll(VICTIM, by=HONEST)
    assert isinstance(w.submit(f"resident:{VICTIM}", {"type": "resident.erase"}), Applied)
