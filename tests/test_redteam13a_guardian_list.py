"""Red team 13a: a hostile counter cannot make every step of a resident cost more and more.

``guardians/<ward>`` lists the guardianships ``of_ward`` reads, and ``capacity`` reads it for
every resident-signed step of hers (``acting.principal``), her own too. A guardianship that
expired stays ``active`` in its record; a counter that records short ones again and again (a
new one is allowed once the last expired) grew the list by one each time, each step of hers
then reading every record, each new one rewriting the whole list. The list keeps only the
guardianships in force (and the new one): at most ``MAX_GUARDIANS``."""

from typing import Any

from contracts import guardians
from contracts.guardians import MAX_GUARDIANS
from tests.contract_world import DAY_MS, World, h, ok, pseudonym_of

WARD, GUARDIAN = pseudonym_of(91), pseudonym_of(92)
ASSISTED = {"channel": "counter", "operator_id": "op-7", "verification_method": "household_register",
            "verification_result": "verified", "form_hash": h("form")}  # fmt: skip


class Counting:
    def __init__(self, base: Any) -> None:
        self.base, self.reads = base, 0

    def get(self, key: str) -> Any:
        self.reads += 1
        return self.base.get(key)


def test_expired_guardianships_do_not_pile_up_in_the_wards_list() -> None:
    w = World()
    w.enroll(WARD, age_class="under_14", class_ends="2035-01-01")
    w.enroll(GUARDIAN)
    for i in range(60):
        ok(w.submit("ssb-330825", {"type": "guardian.record", "guardianship_id": f"g-{i}",
                                   "resident": WARD, "guardian": GUARDIAN, "basis": "parent",
                                   "document": {"kind": "birth_certificate", "hash": h("b")},
                                   "valid_until_ms": w.time_ms + 60_000,
                                   "assisted": ASSISTED}))  # fmt: skip
        w.advance(120_000 / DAY_MS)  # expired two minutes later
    assert len(w.get(f"guardians/{WARD}")) <= MAX_GUARDIANS
    counting = Counting(w.state)
    assert guardians.capacity(counting, WARD, w.time_ms) == "none"
    assert counting.reads <= 2 + MAX_GUARDIANS
