"""Red team 13a: design limits found, kept as strict xfails until the design changes.

A hostile counter that enrolls an adult before she enrolls herself (red team 3: agencies can
compute any pseudonym) may record her as a child (``age_class`` ``under_14``, a class end up
to 14 years away): she cannot act herself (``guardian_required``) and the counter may then
record a colluder as her guardian. Red team 3's recourse, a re-key at another counter, gives
her back her key but not her age: no transaction corrects an age class."""

import hashlib

import pytest

from tests.contract_world import World, ok, pseudonym_of, refused

ADULT = pseudonym_of(95)
ASSISTED = {"channel": "counter", "operator_id": "op-0042", "verification_method": "id_card_reader",
            "verification_result": "verified",
            "form_hash": hashlib.sha256(b"signed re-key form").hexdigest()}  # fmt: skip
CONSENT_FREE_STEP = {"type": "rights.copy_request", "request_id": "copy-95"}


@pytest.mark.xfail(
    strict=True,
    reason="design limit (red team 13a): no transaction corrects an age class a counter "
    "recorded; needs a counter step with the ID seen (e.g. resident.rotate_key assisted "
    "carrying age_class), its authority row and shape",
)
def test_an_adult_enrolled_as_a_child_gets_her_class_corrected_at_another_counter() -> None:
    w = World()
    w.enroll(ADULT, by="ssb-330825", age_class="under_14", class_ends="2039-01-01")  # a lie
    me = f"resident:{ADULT}"
    refused(w.submit(me, CONSENT_FREE_STEP), "guardian_required")
    new = w.resident_key(ADULT, 1)
    ok(w.submit("ssb-330802", {"type": "resident.rotate_key", "pseudonym": ADULT,
                               "key": new.verifier().encode(), "age_class": "adult",
                               "assisted": ASSISTED}))  # fmt: skip
    assert w.get(f"resident/{ADULT}")["age_class"] == "adult"
    ok(w.submit(me, CONSENT_FREE_STEP, key=new))
