"""Red team 12b: the receiving bureau confirms a 信息表 it never received.

``pension.complete`` compared the receiving bureau's ``received_commitments`` with the
sending bureau's ``info_commitments``; but those are on the log (and in the case record any
party reads), so a receiving bureau could copy them and have the case COMPLETED, the person
told it was finished, without holding the values or the salt. What it states now is the
receipt of each value (a salted hash only the holder of the 信息表 can compute), and the log
carries only the hash of each receipt: copying what is on the log proves nothing."""

from typing import Any

from contracts.pension import FUNDS, info_commitments
from tests.contract_world import World, h, ok, pseudonym_of

P1 = pseudonym_of(1)
LONGYOU, KECHENG = "ssb-330825", "ssb-330802"
SALT = bytes(range(32))
VALUES = {"contribution_months": 187, "individual_account_fen": 4_321_000,
          "pooled_fund_fen": 9_876_500}  # fmt: skip


def _moved(w: World) -> dict[str, str]:
    ok(w.submit(f"resident:{P1}", {"type": "pension.apply", "case_id": "p-1",
                                   "kind": "inter_area", "from_agency": LONGYOU,
                                   "to_agency": KECHENG}))  # fmt: skip
    ok(w.submit(KECHENG, {"type": "pension.accept", "case_id": "p-1",
                          "letter_commitment": h("联系函")}))  # fmt: skip
    values = {f: VALUES[f] for f in FUNDS["inter_area"]}
    ok(w.submit(LONGYOU, {"type": "pension.transfer_out", "case_id": "p-1",
                          "info_commitments": info_commitments(SALT, "p-1", values)}))  # fmt: skip
    case = w.state.get("pension/p-1")
    assert isinstance(case, dict)
    return dict(case["info_commitments"])


def _complete(w: World, stated: dict[str, str]) -> Any:
    return w.submit(KECHENG, {"type": "pension.complete", "case_id": "p-1",
                              "received_commitments": stated})  # fmt: skip


def test_commitments_copied_from_the_log_do_not_complete_the_case() -> None:
    w = World()
    w.enroll(P1)
    copied = _moved(w)  # what any party reads in the case record
    ok(_complete(w, copied))
    case = w.state.get("pension/p-1")
    assert isinstance(case, dict)
    assert case["status"] == "DISPUTED", "a copy of the log is no receipt of the 信息表"


def test_the_receipts_of_the_values_received_complete_it() -> None:
    w = World()
    w.enroll(P1)
    from contracts.pension import receipts

    _moved(w)
    ok(_complete(w, receipts(SALT, "p-1", {f: VALUES[f] for f in FUNDS["inter_area"]})))
    case = w.state.get("pension/p-1")
    assert isinstance(case, dict) and case["status"] == "COMPLETED"
