"""Red team 12b: an erased resident's pension application, withdrawn by the erasure, still read
as awaiting the receiving bureau's review (``window`` review, ``window_agency`` set), where a
closed case has no window (api/schemas.py ``PensionCase``): a bureau listing the cases whose
step is its own would keep a case about an erased resident that it may no longer touch."""

from tests.contract_world import World, h, ok, pseudonym_of

P1 = pseudonym_of(1)
LONGYOU, KECHENG = "ssb-330825", "ssb-330802"


def test_a_case_the_erasure_withdrew_has_no_window() -> None:
    w = World()
    w.enroll(P1)
    me = f"resident:{P1}"
    for case in ("p-applied", "p-accepted"):
        ok(w.submit(me, {"type": "pension.apply", "case_id": case, "kind": "inter_area",
                         "from_agency": LONGYOU, "to_agency": KECHENG}))  # fmt: skip
    ok(w.submit(KECHENG, {"type": "pension.accept", "case_id": "p-accepted",
                          "letter_commitment": h("联系函")}))  # fmt: skip
    ok(w.submit(me, {"type": "resident.erase"}))
    for case in ("p-applied", "p-accepted"):
        record = w.state.get(f"pension/{case}")
        assert isinstance(record, dict) and record["status"] == "WITHDRAWN"
        assert record["window"] is None and record["window_agency"] is None, record["window"]
        assert record["deadline_ms"] is None
