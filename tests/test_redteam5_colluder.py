"""Red team 5, issue #11 item 1: the cap and the mark on consents "signed with the resident's
key" apply only when the recipient is an agency that set her key (``keyed_by``). A hostile
counter that enrolled her under a key it made names a colluding hospital as recipient (and
itself, or any honest hospital, as source): a "self" consent for 365 days, not marked, nothing
in her access log; the colluder requests, the counter authorizes as her, unmarked too.

Left open (design): the log cannot tell a consent the resident signed from one signed by
whoever made her key, and every key descends from one set at a counter; capping and marking
every consent signed with a counter-set key would cap every resident's consents at the
assisted maximum. Closing it needs key custody the counter never sees (the key generated on
her own device or card, with proof at enrollment) or a second, independent attestation."""

import pytest

from contracts.rules import Applied
from tests.contract_world import DAY_MS, World, access_log, pseudonym_of
from tests.tx_examples import NOTICE

VICTIM = pseudonym_of(78)
COUNTER, COLLUDER, SOURCE = "hosp-330802", "hosp-330881", "hosp-330824"


@pytest.mark.xfail(
    strict=True,
    reason="design: a consent signed with a key a counter made, to that counter's colluder, "
    "is neither capped nor marked (key custody at enrollment)",
)
def test_a_counter_that_made_her_key_consents_for_a_colluder_capped_and_marked() -> None:
    w = World()
    made = w.resident_key(VICTIM, 5)  # made by the counter
    out = w.submit(COUNTER, {"type": "resident.enroll", "pseudonym": VICTIM, "age_class": "adult",
                             "key": made.verifier().encode()})  # fmt: skip
    assert isinstance(out, Applied), out
    me = f"resident:{VICTIM}"
    w.keys[me] = made
    consent = {"type": "consent.grant", "consent_id": "c-colluder", "grantor": {"type": "self"},
               "basis": {"type": "consent"}, "notice": NOTICE, "separate": True, "purpose": "TREAT", "data_classes": ["test_result"],
               "source": SOURCE, "recipient": COLLUDER, "valid_from_ms": w.time_ms,
               "valid_until_ms": w.time_ms + 365 * DAY_MS}  # fmt: skip
    applied = isinstance(w.submit(me, consent), Applied)
    assert isinstance(w.submit(COLLUDER, {"type": "health.request", "case_id": "s-colluder",
                                          "resident": VICTIM, "source": SOURCE,
                                          "data_class": "test_result", "purpose": "TREAT"}),
                      Applied)  # fmt: skip
    if not applied:  # capped: the colluder gets at most the assisted maximum
        assert isinstance(w.submit(me, {**consent, "valid_until_ms": w.time_ms + 30 * DAY_MS}),
                          Applied)  # fmt: skip
    authorize = {"type": "health.authorize", "case_id": "s-colluder", "consent_id": "c-colluder"}
    assert isinstance(w.submit(me, authorize), Applied)
    assert not applied, "a 365-day consent to the colluder was taken with the made key"
    assert w.get("consent/c-colluder")["enroller_is_recipient"] is True
    assert [e["action"] for e in access_log(w, VICTIM)] == ["C", "U"]
