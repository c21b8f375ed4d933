"""Pension transfer as the rules have it (#12 item 2): each kind's full path, one window per
party and step (国办发〔2009〕66号 art. 8; 人社部发〔2014〕17号 art. 7), the 信息表 as
commitments the receiving bureau must match, refusals with their reason codes, and every step
a notice in the resident's access log (社会保险经办条例 art. 16)."""

import re
from typing import Any

import pytest

from contracts.calendar import cst_date, working_deadline
from contracts.pension import FUNDS, info_commitments, receipts
from contracts.vocabulary import PENSION_KINDS, PENSION_RULES
from tests.contract_world import World, access_log, h, ok, pseudonym_of, refused

P1, P2 = pseudonym_of(1), pseudonym_of(2)
ME = f"resident:{P1}"
LONGYOU, KECHENG = "ssb-330825", "ssb-330802"
SALT = bytes(range(32))
VALUES = {"contribution_months": 187, "individual_account_fen": 4_321_000,
          "pooled_fund_fen": 9_876_500}  # fmt: skip


@pytest.fixture
def w() -> World:
    world = World()
    world.enroll(P1)
    world.enroll(P2)
    return world


def apply(w: World, case: str, kind: str, signer: str = ME, **extra: Any) -> Any:
    body = {"type": "pension.apply", "case_id": case, "kind": kind, "from_agency": LONGYOU,
            "to_agency": KECHENG, **extra}  # fmt: skip
    if not signer.startswith("resident:"):
        body["resident"] = P1
    return w.submit(signer, body)


def sent(case: str, kind: str, **change: int) -> dict[str, str]:
    """The commitments of the 信息表 of ``case``, as its kind has them."""
    values = {f: VALUES[f] for f in FUNDS[kind]} | change
    return info_commitments(SALT, case, values)


def got(case: str, kind: str, **change: int) -> dict[str, str]:
    """The receipts of the 信息表 of ``case`` the receiving bureau holds (red team 12b)."""
    values = {f: VALUES[f] for f in FUNDS[kind]} | change
    return receipts(SALT, case, values)


def transfer_out(w: World, case: str, commitments: dict[str, str]) -> Any:
    return w.submit(LONGYOU, {"type": "pension.transfer_out", "case_id": case,
                              "info_commitments": commitments})  # fmt: skip


def complete(w: World, case: str, commitments: dict[str, str]) -> Any:
    return w.submit(KECHENG, {"type": "pension.complete", "case_id": case,
                              "received_commitments": commitments})  # fmt: skip


def accept(w: World, case: str, by: str = KECHENG) -> Any:
    body = {"type": "pension.accept", "case_id": case, "letter_commitment": h("联系函")}
    return w.submit(by, body)


def statuses(w: World, case: str) -> list[str]:
    return [s["status"] for s in w.get(f"pension/{case}")["history"]]


# ------------------------------------------------------------------ each kind's full path
def test_between_pooling_areas_the_funds_move_in_three_windows(w: World) -> None:
    ok(apply(w, "p-1", "inter_area"))
    case = w.get("pension/p-1")
    assert case["kind"] == "inter_area" and case["basis"] == {
        "type": "statutory",
        "citation": "PIPL art. 13(3)",
        "rules": ["sil_art19", "sia_art12", "sia_art16", "gbf_2009_66_art8"],
    }
    ok(accept(w, "p-1"))
    ok(transfer_out(w, "p-1", sent("p-1", "inter_area")))
    ok(complete(w, "p-1", got("p-1", "inter_area")))
    record = w.get("pension/p-1")
    assert record["status"] == "COMPLETED" and record["deadline_ms"] is None
    assert record["window"] is None and record["window_agency"] is None
    # the receiving bureau has one window after the funds arrive: no separate confirmation
    assert statuses(w, "p-1") == ["APPLIED", "ACCEPTED", "TRANSFERRED_OUT", "COMPLETED"]
    assert set(record["info_commitments"]) == set(VALUES)


def test_within_one_pooling_area_only_the_relation_and_file_move(w: World) -> None:
    ok(apply(w, "p-1", "intra_area"))
    assert "zj_pension_art28" in w.get("pension/p-1")["basis"]["rules"]
    ok(accept(w, "p-1"))
    # no pooled fund moves within one pooling area (浙江省职工基本养老保险条例 art. 28)
    refused(transfer_out(w, "p-1", sent("p-1", "inter_area")), "wrong_kind")
    ok(transfer_out(w, "p-1", sent("p-1", "intra_area")))
    refused(complete(w, "p-1", got("p-1", "inter_area")), "wrong_kind")
    ok(complete(w, "p-1", got("p-1", "intra_area")))
    record = w.get("pension/p-1")
    assert record["status"] == "COMPLETED"
    assert set(record["info_commitments"]) == {"contribution_months", "individual_account_fen"}


def test_a_scheme_link_has_its_direction_its_rules_and_the_account_only(w: World) -> None:
    link = {"direction": "resident_to_employee"}
    refused(apply(w, "p-1", "scheme_link"), "bad_field")  # a link without its direction
    refused(apply(w, "p-1", "inter_area", **link), "bad_field")  # a direction on another kind
    refused(apply(w, "p-1", "scheme_link", direction="sideways"), "bad_field")
    # applied for at the bureau where benefits will be drawn (17号 art. 7(1)), not the other
    refused(apply(w, "p-1", "scheme_link", LONGYOU, **link), "wrong_signer")
    ok(apply(w, "p-1", "scheme_link", KECHENG, **link))
    case = w.get("pension/p-1")
    assert case["direction"] == "resident_to_employee"
    assert case["basis"]["rules"] == list(PENSION_KINDS["scheme_link"][2])
    assert "rsbf_2014_17" in case["basis"]["rules"] and "sil_art19" not in case["basis"]["rules"]
    ok(accept(w, "p-1"))
    refused(transfer_out(w, "p-1", sent("p-1", "inter_area")), "wrong_kind")
    ok(transfer_out(w, "p-1", sent("p-1", "scheme_link")))
    ok(complete(w, "p-1", got("p-1", "scheme_link")))
    assert w.get("pension/p-1")["status"] == "COMPLETED"


def test_one_bureau_running_both_schemes_links_them_itself(w: World) -> None:
    """A county's bureau often runs both schemes: a link may name it on both sides; a transfer
    between areas may not."""
    both = {"from_agency": KECHENG, "to_agency": KECHENG}
    refused(apply(w, "p-1", "inter_area", **both), "bad_field")
    refused(apply(w, "p-1", "intra_area", **both), "bad_field")
    ok(apply(w, "p-1", "scheme_link", KECHENG, direction="employee_to_resident", **both))
    ok(accept(w, "p-1"))
    ok(w.submit(KECHENG, {"type": "pension.transfer_out", "case_id": "p-1",
                          "info_commitments": sent("p-1", "scheme_link")}))  # fmt: skip
    ok(complete(w, "p-1", got("p-1", "scheme_link")))
    assert w.get("pension/p-1")["status"] == "COMPLETED"


def test_every_rule_a_kind_cites_has_a_citation() -> None:
    for _zh, _en, rules in PENSION_KINDS.values():
        assert rules and set(rules) <= set(PENSION_RULES)
    assert {r for k in PENSION_KINDS.values() for r in k[2]} == set(PENSION_RULES)


# ------------------------------------------------------------------------ the windows
def test_each_party_has_one_window_of_fifteen_working_days_per_step(w: World) -> None:
    """Applied Thursday 2026-05-28: the receiving bureau's review ends 2026-06-18. Accepted on
    Friday 5-29, the sender's window skips 端午节 (6-19) and ends Monday 6-22. Transferred out
    on Tuesday 6-02, the receiver's window to finish ends Wednesday 6-24, and a dispute the
    same day gives the sender the same to correct."""
    ok(apply(w, "p-1", "inter_area"))

    def window() -> tuple[str, str, str]:
        case = w.get("pension/p-1")
        assert (
            case["deadline_ms"] == working_deadline(w.state, case["stage_started_ms"], 15).ms
            and not case["deadline_provisional"]
        )
        day = cst_date(case["deadline_ms"] - 1).isoformat()
        return case["window"], case["window_agency"], day

    assert window() == ("review", KECHENG, "2026-06-18")
    w.advance(1)
    ok(accept(w, "p-1"))
    assert window() == ("transfer", LONGYOU, "2026-06-22")
    w.advance(4)  # Tuesday 6-02
    ok(transfer_out(w, "p-1", sent("p-1", "inter_area")))
    assert window() == ("finish", KECHENG, "2026-06-24")
    ok(complete(w, "p-1", got("p-1", "inter_area", pooled_fund_fen=1)))
    assert window() == ("correct", LONGYOU, "2026-06-24")


def test_a_window_into_an_unset_year_is_provisional(w: World) -> None:
    """The existing provisional handling per window: a stage begun in late December 2026
    reaches into 2027, not set yet."""
    w.time_ms = 1_798_164_000_000  # 2026-12-25 10:00 CST
    ok(apply(w, "p-1", "inter_area"))
    case = w.get("pension/p-1")
    assert case["deadline_provisional"] and case["deadline_awaits"] == 2027
    assert case["window"] == "review"


# ------------------------------------------------------------------ the commitments check
def test_a_mismatch_names_the_fields_and_goes_back_to_the_sender(w: World) -> None:
    ok(apply(w, "p-1", "inter_area"))
    ok(accept(w, "p-1"))
    ok(transfer_out(w, "p-1", sent("p-1", "inter_area")))
    refused(w.submit(ME, {"type": "pension.withdraw", "case_id": "p-1"}), "wrong_state")
    # less arrived in the pooled fund than the 信息表 says
    out = ok(complete(w, "p-1", got("p-1", "inter_area", pooled_fund_fen=9_876_000)))
    assert out.events[0]["reason"] == "commitment_mismatch"
    case = w.get("pension/p-1")
    assert case["status"] == "DISPUTED" and case["mismatched"] == ["pooled_fund_fen"]
    refused(complete(w, "p-1", got("p-1", "inter_area")), "wrong_state")
    ok(transfer_out(w, "p-1", sent("p-1", "inter_area")))  # the sender corrects
    assert w.get("pension/p-1")["mismatched"] == []
    ok(complete(w, "p-1", got("p-1", "inter_area")))
    assert statuses(w, "p-1") == [
        "APPLIED", "ACCEPTED", "TRANSFERRED_OUT", "DISPUTED", "TRANSFERRED_OUT", "COMPLETED"
    ]  # fmt: skip


def test_a_commitment_is_bound_to_its_case_field_and_salt() -> None:
    base = sent("p-1", "inter_area")
    assert sent("p-2", "inter_area") != base  # another case
    assert info_commitments(bytes(32), "p-1", VALUES) != base  # another salt
    # the same value under another field is another commitment
    same_value = info_commitments(SALT, "p-1", {"individual_account_fen": 187})
    assert same_value["individual_account_fen"] != base["contribution_months"]


def test_no_value_of_the_info_table_reaches_the_log(w: World) -> None:
    ok(apply(w, "p-1", "inter_area"))
    ok(accept(w, "p-1"))
    ok(transfer_out(w, "p-1", sent("p-1", "inter_area")))
    ok(complete(w, "p-1", got("p-1", "inter_area")))
    for leaf in w.log:  # no value as a number, nor as a string (hex digits may hold "187")
        found = set(re.findall(rb"(?<![0-9a-f])[0-9]+(?![0-9a-f])", leaf))
        for value in VALUES.values():
            assert str(value).encode() not in found
    case = w.get("pension/p-1")
    assert not set(VALUES) & set(case)
    # and a value in clear is not a commitment: refused before the log
    clear = {**sent("p-1", "inter_area"), "pooled_fund_fen": 9_876_500}
    refused(transfer_out(w, "p-1", clear), "bad_field")  # type: ignore[arg-type]


# ------------------------------------------------------------------ refusals with reasons
@pytest.mark.parametrize(
    "reason", ["not_retirement_age", "contribution_years", "wrong_case_kind", "duplicate_insurance"]
)
def test_a_refusal_states_its_reason(w: World, reason: str) -> None:
    ok(apply(w, "p-1", "scheme_link", KECHENG, direction="resident_to_employee"))
    out = ok(w.submit(KECHENG, {"type": "pension.reject", "case_id": "p-1", "reason": reason}))
    assert out.events[0] == {"type": "pension_rejected", "case_id": "p-1", "reason": reason}
    case = w.get("pension/p-1")
    assert case["status"] == "REJECTED" and case["reason"] == reason
    assert case["deadline_ms"] is None and case["window"] is None
    assert access_log(w)[-1]["reason"] == reason


def test_a_refusal_in_words_is_not_a_reason(w: World) -> None:
    ok(apply(w, "p-1", "inter_area"))
    reject = {"type": "pension.reject", "case_id": "p-1"}
    refused(w.submit(KECHENG, {**reject, "reason": "too old"}), "bad_field")
    refused(w.submit(KECHENG, {**reject, "reason": "other"}), "bad_field")  # needs its note
    refused(w.submit(LONGYOU, {**reject, "reason": "not_transferable"}), "wrong_signer")
    ok(w.submit(KECHENG, {**reject, "reason": "other", "note_hash": h("附注")}))
    assert w.get("pension/p-1")["note_hash"] == h("附注")


# ------------------------------------------------------------------ the resident is told
def test_every_step_is_a_notice_in_the_residents_access_log(w: World) -> None:
    before = len(access_log(w))
    ok(apply(w, "p-1", "inter_area", LONGYOU))  # assisted, at the sender's counter
    ok(accept(w, "p-1"))
    ok(transfer_out(w, "p-1", sent("p-1", "inter_area")))
    ok(complete(w, "p-1", got("p-1", "inter_area", contribution_months=1)))
    ok(transfer_out(w, "p-1", sent("p-1", "inter_area")))
    ok(complete(w, "p-1", got("p-1", "inter_area")))
    ok(apply(w, "p-2", "intra_area"))
    ok(w.submit(ME, {"type": "pension.withdraw", "case_id": "p-2"}))
    notices = access_log(w)[before:]
    assert [(n["action"], n["agent"], n["entity"], n["reason"]) for n in notices] == [
        ("C", LONGYOU, "p-1", "pension_applied"),
        ("U", KECHENG, "p-1", "pension_accepted"),
        ("U", LONGYOU, "p-1", "pension_transferred_out"),
        ("U", KECHENG, "p-1", "commitment_mismatch"),
        ("U", LONGYOU, "p-1", "pension_transferred_out"),
        ("U", KECHENG, "p-1", "pension_completed"),
        ("C", ME, "p-2", "pension_applied"),
        ("U", ME, "p-2", "pension_withdrawn"),
    ]
    assert all(
        n["on_behalf_of"] == P1 and n["data_class"] == "pension_account"
        and n["purpose"] == "MEMADMIN" and n["outcome"] == "granted" and n["consent_id"] is None
        for n in notices
    )  # fmt: skip
    assert not [n for n in access_log(w, P2) if n["entity"] in {"p-1", "p-2"}]


def test_a_refused_step_is_no_notice(w: World) -> None:
    ok(apply(w, "p-1", "inter_area"))
    count = len(access_log(w))
    refused(accept(w, "p-1", LONGYOU), "wrong_signer")
    refused(transfer_out(w, "p-1", sent("p-1", "inter_area")), "wrong_state")
    assert len(access_log(w)) == count


def test_a_transfer_finishing_after_erasure_tells_nobody(w: World) -> None:
    """Erasure's one exception (the account left the sending bureau) finishes the transfer;
    nothing new enters the erased resident's log."""
    ok(apply(w, "p-1", "intra_area"))
    ok(accept(w, "p-1"))
    ok(transfer_out(w, "p-1", sent("p-1", "intra_area")))
    w.advance(1)
    ok(w.submit(ME, {"type": "resident.erase"}))
    count = len(access_log(w))
    ok(complete(w, "p-1", got("p-1", "intra_area")))
    assert w.get("pension/p-1")["status"] == "COMPLETED" and len(access_log(w)) == count


def test_the_same_steps_replay_to_the_same_state(w: World) -> None:
    ok(apply(w, "p-1", "inter_area"))
    w.advance(3)
    ok(accept(w, "p-1"))
    w.advance(1)
    ok(transfer_out(w, "p-1", sent("p-1", "inter_area")))
    assert w.replay().root == w.root
