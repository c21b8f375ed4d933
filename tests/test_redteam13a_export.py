"""Red team 13a: the copy export (PIPL art. 45) against a Byzantine validator and the block's
own step. A resident whose age class changed (begin_block wrote her record and her access log,
no transaction did) must still get a copy that verifies; her guardian too (told in his log);
and ``check_export`` answers ``Invalid`` for anything a hostile validator signs, never raises."""

import copy
from typing import Any

import pytest

from contracts.export import sign
from tests.contract_world import DAY_MS, T0, World, access_log, h, ok, pseudonym_of
from tests.test_rights import ME, P1, VALIDATORS, export_of, verify
from tlog.errors import Invalid

MOTHER = pseudonym_of(71)
ASSISTED = {"channel": "counter", "operator_id": "op-7", "verification_method": "household_register",
            "verification_result": "verified", "form_hash": h("form")}  # fmt: skip


def teen_turning_18() -> World:
    """P1 is 17 (18 on 2026-06-10), her mother her guardian; a copy asked after the birthday."""
    w = World()
    w.enroll(P1, age_class="14_17", class_ends="2026-06-10")
    w.enroll(MOTHER)
    ok(w.submit("ssb-330825", {"type": "guardian.record", "guardianship_id": "g-1",
                               "resident": P1, "guardian": MOTHER, "basis": "parent",
                               "document": {"kind": "household_register", "hash": h("户口簿")},
                               "valid_until_ms": T0 + 365 * DAY_MS,
                               "assisted": ASSISTED}))  # fmt: skip
    w.advance(20)  # 2026-06-17: the block's own step ended her class and the guardianship
    ok(w.submit(ME, {"type": "rights.copy_request", "request_id": "copy-1"}))
    return w


def test_a_copy_after_her_18th_birthday_verifies() -> None:
    w = teen_turning_18()
    assert any(e["agent"] == "ledger" for e in access_log(w, P1))
    checked = verify(export_of(w), resident=P1)
    assert not isinstance(checked, Invalid), checked
    items = export_of(w)["export"]["items"]
    told = next(i for i in items if i["kind"] == "access" and i["value"]["agent"] == "ledger")
    assert told["entries"] and told["value"]["reason"] == "age_class_adult"


def test_the_guardian_is_told_and_the_notice_derives_from_the_guardianship() -> None:
    from contracts.provenance import derivations

    w = teen_turning_18()
    [notice] = [e for e in access_log(w, MOTHER) if e["agent"] == "ledger"]
    assert notice["reason"] == "ward_age_class_adult"
    key = f"access/{MOTHER}/{notice['seq']:012d}"
    recorded = next(tx for tx, _ in w.outcomes if tx.type == "guardian.record")
    assert derivations(w.state, MOTHER)[key] == [recorded.hash.hex()]


@pytest.mark.parametrize(
    "entries",
    [[[1]], [{"i": 1}], [True], ["0"], [None]],
    ids=["list", "dict", "bool", "str", "null"],
)
def test_check_export_never_raises_on_odd_entry_indexes(entries: list[Any]) -> None:
    w = World()
    w.enroll(P1)
    ok(w.submit(ME, {"type": "rights.copy_request", "request_id": "copy-1"}))
    signed = export_of(w)
    export = copy.deepcopy(signed["export"])
    export["items"][0]["entries"] = entries
    checked = verify(sign(export, VALIDATORS[1]))
    assert isinstance(checked, Invalid) and checked.code == "malformed_export", checked


@pytest.mark.parametrize("by", [[1], {"x": 1}, 7])
def test_check_export_never_raises_on_an_odd_request(by: Any) -> None:
    w = World()
    w.enroll(P1)
    ok(w.submit(ME, {"type": "rights.copy_request", "request_id": "copy-1"}))
    export = copy.deepcopy(export_of(w)["export"])
    export["request"]["by"] = by
    checked = verify(sign(export, VALIDATORS[1]))
    assert isinstance(checked, Invalid) and checked.code in ("malformed_export", "no_request")
    export["request"] = {"request_id": ["copy-1"], "index": export["request"]["index"]}
    checked = verify(sign(export, VALIDATORS[1]))
    assert isinstance(checked, Invalid), checked


def test_an_export_names_who_asked_as_the_log_has_it() -> None:
    """A hostile node cannot say another resident asked for her copy when she asked herself."""
    w = World()
    w.enroll(P1)
    ok(w.submit(ME, {"type": "rights.copy_request", "request_id": "copy-1"}))
    export = copy.deepcopy(export_of(w)["export"])
    export["request"]["by"] = MOTHER
    checked = verify(sign(export, VALIDATORS[1]))
    assert isinstance(checked, Invalid) and checked.code == "no_request", checked


def test_a_copy_asked_by_her_delegate_verifies() -> None:
    from contracts.vocabulary import DATA_CLASSES

    w = World()
    w.enroll(P1)
    w.enroll(MOTHER)
    ok(w.submit(ME, {"type": "delegation.grant", "delegation_id": "d-1", "delegate": MOTHER,
                     "actions": ["rights.copy_request"], "data_classes": sorted(DATA_CLASSES),
                     "valid_until_ms": T0 + 30 * DAY_MS}))  # fmt: skip
    ok(w.submit(f"resident:{MOTHER}", {"type": "rights.copy_request", "request_id": "copy-1",
                                       "on_behalf_of": P1}))  # fmt: skip
    signed = export_of(w)
    assert signed["export"]["request"]["by"] == MOTHER
    checked = verify(signed, resident=P1)
    assert not isinstance(checked, Invalid), checked
