"""Red team 13a: erasure of the one who acts ends what she acts under (PIPL art. 47; 民法典
arts. 173(4), 39(3)), as erasure of the one acted for does.

Guardianships and delegations were indexed only under the ward or the principal, so the
erasure of a guardian or a delegate left them ``active``: the ward's guardian still counted
(``MAX_GUARDIANS``, a court-declared ward's capacity), and at the ward's class end the block's
own step wrote a notice in the erased guardian's access log: processing her after erasure."""

from tests.contract_world import DAY_MS, T0, World, access_log, h, ok, pseudonym_of

WARD, GUARDIAN, PRINCIPAL = pseudonym_of(101), pseudonym_of(102), pseudonym_of(103)
ASSISTED = {"channel": "counter", "operator_id": "op-7", "verification_method": "household_register",
            "verification_result": "verified", "form_hash": h("form")}  # fmt: skip


def test_an_erased_guardians_guardianship_ends_and_she_is_told_nothing_more() -> None:
    w = World()
    w.enroll(WARD, age_class="14_17", class_ends="2026-06-10")
    w.enroll(GUARDIAN)
    ok(w.submit("ssb-330825", {"type": "guardian.record", "guardianship_id": "g-1",
                               "resident": WARD, "guardian": GUARDIAN, "basis": "parent",
                               "document": {"kind": "household_register", "hash": h("户口簿")},
                               "valid_until_ms": T0 + 365 * DAY_MS,
                               "assisted": ASSISTED}))  # fmt: skip
    ok(w.submit(f"resident:{GUARDIAN}", {"type": "resident.erase"}))
    assert w.get("guardianship/g-1")["status"] == "erased"
    told = len(access_log(w, GUARDIAN))
    w.advance(20)  # the ward turns 18
    w.enroll(pseudonym_of(104))
    assert w.get(f"resident/{WARD}")["age_class"] == "adult"
    assert len(access_log(w, GUARDIAN)) == told


def test_an_erased_delegates_delegation_ends() -> None:
    w = World()
    w.enroll(PRINCIPAL)
    w.enroll(GUARDIAN)
    ok(w.submit(f"resident:{PRINCIPAL}", {"type": "delegation.grant", "delegation_id": "d-1",
                                          "delegate": GUARDIAN, "actions": ["consent.grant"],
                                          "data_classes": ["test_result"],
                                          "valid_until_ms": T0 + 30 * DAY_MS}))  # fmt: skip
    ok(w.submit(f"resident:{GUARDIAN}", {"type": "resident.erase"}))
    assert w.get("delegation/d-1")["status"] == "erased"
