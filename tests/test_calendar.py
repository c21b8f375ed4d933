"""The working-day calendar as governed ledger data (#12 item 1): the genesis carries 2026 as
the State Council's notice of 2025-11-04 has it; governance sets later years by the quorum; a
deadline that reaches into a year not set yet is provisional, and is recomputed in the block
that sets the year."""

import datetime as dt
import json
import time
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st

from api.app import create_app
from contracts.calendar import (
    ARRANGEMENT_2026,
    CST,
    GENESIS_CALENDAR,
    check_arrangement,
    cst_date,
    genesis_calendar,
    working_deadline,
)
from contracts.formats import BadField
from contracts.pension import is_overdue
from contracts.rules import Applied
from contracts.state import DictState
from contracts.tx import sign_transaction
from node.genesis import Genesis, NodeConfig
from node.keys import read_signer
from node.network_init import init_network
from node.service import Node
from tests.contract_world import World, ok, pseudonym_of, refused, seeded
from tests.tx_examples import CALENDAR_2027

MEMBERS = ["ssb-330825", "ssb-330802", "ssb-330803", "ssb-330822"]  # quorum 3 of 4
P1 = pseudonym_of(1)
NOTICE_2027 = {"issuer": "state_council_general_office", "date": "2026-11-04"}


def at(day: str, hour: int = 10) -> int:
    """Milliseconds at ``hour`` o'clock CST of ``day``."""
    moment = dt.datetime.combine(dt.date.fromisoformat(day), dt.time(hour), CST)
    return int(moment.timestamp() * 1000)


def last_day(deadline_ms: int) -> str:
    """The working day a deadline (24:00 CST) ends."""
    return cst_date(deadline_ms - 1).isoformat()


def days(first: str, last: str) -> list[str]:
    start, end = dt.date.fromisoformat(first), dt.date.fromisoformat(last)
    return [(start + dt.timedelta(days=i)).isoformat() for i in range((end - start).days + 1)]


def arrangement(year: int = 2027, **change: Any) -> dict[str, Any]:
    """A made-up arrangement (the 2027 notice is not out yet): 元旦 1-1..1-3 off, a make-up
    Saturday 2-20."""
    base = {
        "year": year,
        "holidays": [f"{year}-01-01", f"{year}-01-02", f"{year}-01-03"],
        "workdays": [],
        "notice": {**NOTICE_2027, "date": f"{year - 1}-11-04"},
    }
    return {**base, **change}


@pytest.fixture
def w() -> World:
    world = World()
    world.enroll(P1)
    world.time_ms = at("2026-11-05")  # the (made-up) 2027 notice is out
    return world


def apply_case(w: World, case_id: str, when_ms: int) -> dict[str, Any]:
    w.time_ms = when_ms
    ok(
        w.submit(
            f"resident:{P1}",
            {"type": "pension.apply", "kind": "inter_area", "case_id": case_id, "from_agency": "ssb-330825",
             "to_agency": "ssb-330802"},
        )
    )  # fmt: skip
    case: dict[str, Any] = w.get(f"pension/{case_id}")
    return case


def propose(w: World, pid: str, calendar: Any, by: str = MEMBERS[0]) -> Any:
    body = {"type": "governance.propose", "proposal_id": pid, "action": "set_calendar",
            "calendar": calendar}  # fmt: skip
    return w.submit(by, body)


def approve(w: World, pid: str, by: str) -> Any:
    return w.submit(by, {"type": "governance.approve", "proposal_id": pid})


def set_by_quorum(w: World, pid: str, calendar: dict[str, Any]) -> Applied:
    w.time_ms = max(w.time_ms, at(calendar["notice"]["date"]))
    ok(propose(w, pid, calendar))
    ok(approve(w, pid, MEMBERS[1]))
    return ok(approve(w, pid, MEMBERS[2]))


# ------------------------------------------------------------------ the 2026 arrangement
def test_the_genesis_carries_2026_as_the_notice_has_it() -> None:
    w = World()
    stored = w.get("calendar/2026")
    assert stored == check_arrangement(ARRANGEMENT_2026) == GENESIS_CALENDAR[0]
    spans = [("01-01", "01-03"), ("02-15", "02-23"), ("04-04", "04-06"), ("05-01", "05-05"),
             ("06-19", "06-21"), ("09-25", "09-27"), ("10-01", "10-07")]  # fmt: skip
    assert stored["holidays"] == [d for a, b in spans for d in days(f"2026-{a}", f"2026-{b}")]
    assert len(stored["holidays"]) == 3 + 9 + 3 + 5 + 3 + 3 + 7
    made_up = ["2026-01-04", "2026-02-14", "2026-02-28", "2026-05-09", "2026-09-20", "2026-10-10"]
    assert stored["workdays"] == made_up
    # as the notice says: 1-4 and 9-20 are Sundays, the others Saturdays
    weekdays = [dt.date.fromisoformat(d).strftime("%a") for d in made_up]
    assert weekdays == ["Sun", "Sat", "Sat", "Sat", "Sun", "Sat"]
    assert stored["notice"] == {"issuer": "state_council_general_office", "date": "2025-11-04"}
    assert w.get("calendar/2027") is None


def test_deadlines_across_spring_festival_2026(w: World) -> None:
    """Applied Friday 2-13: the make-up Saturdays 2-14 and 2-28 count, 2-15..2-23 do not, so
    the 15th working day is Thursday 3-12 (weekends and festival days only: 3-16)."""
    case = apply_case(w, "p-sf", at("2026-02-13"))
    assert last_day(case["deadline_ms"]) == "2026-03-12"
    assert case["deadline_provisional"] is False and case["deadline_awaits"] is None
    assert not is_overdue(case, at("2026-03-12", 23)) and is_overdue(case, at("2026-03-13", 0) + 1)
    # one working day after 2-13 is the make-up Saturday; after it, Tuesday 2-24
    assert last_day(working_deadline(w.state, at("2026-02-13"), 1).ms) == "2026-02-14"
    assert last_day(working_deadline(w.state, at("2026-02-14"), 1).ms) == "2026-02-24"
    assert last_day(working_deadline(w.state, at("2026-02-27"), 1).ms) == "2026-02-28"
    # National Day: 9-20 (a Sunday) and 10-10 (a Saturday) are worked, 10-1..10-7 are not
    assert last_day(working_deadline(w.state, at("2026-09-18"), 1).ms) == "2026-09-20"
    assert last_day(working_deadline(w.state, at("2026-09-30"), 1).ms) == "2026-10-08"
    assert last_day(working_deadline(w.state, at("2026-10-09"), 1).ms) == "2026-10-10"


# ------------------------------------------------------------------ New Year 2027
def test_new_year_2027_before_and_after_the_arrangement_is_set(w: World) -> None:
    """Applied Monday 2026-12-21: with 2027 not set, its 1-1 (a Friday) counts and the deadline
    is 2027-01-11, provisional; the block that sets 2027 (1-1..1-3 off) moves it to 1-12."""
    case = apply_case(w, "p-ny", at("2026-12-21"))
    assert last_day(case["deadline_ms"]) == "2027-01-11"
    assert case["deadline_provisional"] is True and case["deadline_awaits"] == 2027
    assert w.get("calendar/provisional/2027") == 1
    # a case that closes before the year is set is left alone
    closed = apply_case(w, "p-closed", at("2026-12-22"))
    assert closed["deadline_awaits"] == 2027
    ok(w.submit(f"resident:{P1}", {"type": "pension.withdraw", "case_id": "p-closed"}))
    # a case moved on keeps one listing: the accept's stage still awaits 2027
    apply_case(w, "p-moved", at("2026-12-23"))
    ok(w.submit("ssb-330802", {"type": "pension.accept", "case_id": "p-moved",
                               "letter_commitment": "ab" * 32}))  # fmt: skip
    assert w.get("calendar/provisional/2027") == 3
    before = w.get("pension/p-moved")

    ok(propose(w, "cal-2027", arrangement()))
    ok(approve(w, "cal-2027", MEMBERS[1]))
    assert w.get("pension/p-ny") == case  # two approvals of four: not yet
    w.time_ms = at("2027-01-05")  # a late notice: the block time does not matter
    applied = ok(approve(w, "cal-2027", MEMBERS[2]))
    assert applied.events == (
        {"type": "governance_applied", "proposal_id": "cal-2027", "deadlines_recomputed": 2},
    )
    assert w.get("calendar/2027") == check_arrangement(arrangement())
    after = w.get("pension/p-ny")
    assert last_day(after["deadline_ms"]) == "2027-01-12"
    assert after["deadline_provisional"] is False and after["deadline_awaits"] is None
    assert after["stage_started_ms"] == case["stage_started_ms"]
    assert after["history"] == case["history"]  # the stage is the same; its deadline moved
    moved = w.get("pension/p-moved")
    assert moved["deadline_ms"] > before["deadline_ms"] and moved["deadline_awaits"] is None
    withdrawn = w.get("pension/p-closed")
    assert withdrawn["deadline_ms"] is None and withdrawn["deadline_provisional"] is False
    # a stage begun now counts by 2027's arrangement, final at once
    later = apply_case(w, "p-later", at("2027-01-05"))
    assert later["deadline_provisional"] is False
    assert w.get("calendar/provisional/2027") == 3


def test_a_deadline_awaits_each_unset_year_in_turn(w: World) -> None:
    """A stage begun 2027-12-20 with neither 2027 nor 2028 set awaits 2027 first; once 2027
    is set it still reaches into 2028, so it is listed there, and is final once 2028 is set."""
    case = apply_case(w, "p-1", at("2027-12-20"))
    assert case["deadline_awaits"] == 2027
    set_by_quorum(w, "cal-2027", arrangement(2027))
    case = w.get("pension/p-1")
    assert case["deadline_provisional"] is True and case["deadline_awaits"] == 2028
    assert w.get("calendar/provisional/2028") == 1
    assert last_day(case["deadline_ms"]) == "2028-01-10"  # 2028-01-01, a Saturday, not worked
    set_by_quorum(w, "cal-2028", arrangement(2028, holidays=["2028-01-01", "2028-01-03"]))
    case = w.get("pension/p-1")
    assert case["deadline_awaits"] is None and last_day(case["deadline_ms"]) == "2028-01-11"


@settings(max_examples=25, deadline=None)
@given(
    st.dates(dt.date(2026, 12, 1), dt.date(2026, 12, 31)),
    st.sets(st.dates(dt.date(2027, 1, 1), dt.date(2027, 2, 28)), min_size=1, max_size=20),
    st.sets(st.dates(dt.date(2027, 1, 1), dt.date(2027, 2, 28)), max_size=6),
)
def test_a_recomputed_deadline_is_the_one_the_year_would_have_given(
    start: dt.date, off: set[dt.date], worked: set[dt.date]
) -> None:
    """Whatever 2027 turns out to be: the deadline recomputed when it is set is the one a
    stage begun at the same time gets in a world where 2027 was set before."""
    worked = {d for d in worked - off if d.weekday() >= 5}
    year = arrangement(holidays=sorted(d.isoformat() for d in off),
                       workdays=sorted(d.isoformat() for d in worked))  # fmt: skip
    late, early = World(), World()
    late.enroll(P1)
    early.enroll(P1)
    early.time_ms = at("2026-11-05")
    set_by_quorum(early, "cal", year)
    apply_case(late, "p-1", at(start.isoformat()))
    set_by_quorum(late, "cal", year)
    apply_case(early, "p-1", at(start.isoformat()))
    assert late.get("pension/p-1")["deadline_ms"] == early.get("pension/p-1")["deadline_ms"]
    assert late.get("pension/p-1")["deadline_provisional"] is False


@settings(max_examples=200, deadline=None)
@given(st.dates(dt.date(2026, 1, 1), dt.date(2027, 12, 31)), st.integers(1, 40))
def test_the_deadline_is_the_nth_working_day(start: dt.date, n: int) -> None:
    """Against a plain reading of the 2026 notice: the deadline's day is a working day, and
    exactly ``n`` working days lie after the start up to it; beyond 2026, Monday to Friday,
    and provisional."""
    state = DictState(World().state.data)
    off = set(ARRANGEMENT_2026["holidays"])
    worked = set(ARRANGEMENT_2026["workdays"])

    def working(day: dt.date) -> bool:
        if day.year != 2026:
            return day.weekday() < 5
        return day.isoformat() in worked or (day.weekday() < 5 and day.isoformat() not in off)

    deadline = working_deadline(state, at(start.isoformat()), n)
    end = dt.date.fromisoformat(last_day(deadline.ms))
    span = [start + dt.timedelta(days=i) for i in range(1, (end - start).days + 1)]
    assert working(end) and sum(map(working, span)) == n
    assert deadline.awaits == next((d.year for d in span if d.year > 2026), None)
    assert deadline.provisional == (end.year > 2026)


# ------------------------------------------------------------------ governance
def test_a_calendar_takes_the_quorum(w: World) -> None:
    ok(propose(w, "c", CALENDAR_2027))
    ok(approve(w, "c", MEMBERS[1]))
    assert w.get("calendar/2027") is None and w.get("proposal/c")["status"] == "open"
    refused(approve(w, "c", MEMBERS[1]), "already_approved")
    # no agency outside governance proposes or approves: a single bureau cannot move deadlines
    refused(approve(w, "c", "hosp-330824"), "wrong_signer")
    refused(propose(w, "d", arrangement(), by="hosp-330824"), "wrong_signer")
    refused(propose(w, "d", arrangement(), by="audit-330800"), "wrong_signer")
    assert w.get("calendar/2027") is None
    ok(approve(w, "c", MEMBERS[3]))
    assert w.get("proposal/c")["status"] == "applied"
    assert w.get("calendar/2027") == check_arrangement(CALENDAR_2027)
    assert w.get("calendar/2027")["notice"]["document"] == "国办发明电〔2026〕9号"


def test_a_set_year_is_not_replaced(w: World) -> None:
    refused(propose(w, "again", arrangement(2026)), "duplicate_id")
    # two proposals for one year, each fine alone: the second is closed as refused
    ok(propose(w, "a", arrangement()))
    ok(propose(w, "b", arrangement(holidays=["2027-01-01"])))
    ok(approve(w, "a", MEMBERS[1]))
    ok(approve(w, "b", MEMBERS[1]))
    ok(approve(w, "a", MEMBERS[2]))
    closed = ok(approve(w, "b", MEMBERS[2]))
    assert closed.refused == "duplicate_id"
    assert w.get("proposal/b")["status"] == "refused"
    assert w.get("calendar/2027")["holidays"] == arrangement()["holidays"]


BAD_CALENDARS: list[tuple[str, dict[str, Any]]] = [
    ("a date of another year", arrangement(holidays=["2027-01-01", "2028-01-03"])),
    ("not ascending", arrangement(holidays=["2027-01-02", "2027-01-01"])),
    ("a date twice", arrangement(holidays=["2027-01-01", "2027-01-01"])),
    ("no days off", arrangement(holidays=[])),
    ("not a date", arrangement(holidays=["2027-02-30"])),
    ("not ISO", arrangement(holidays=["2027/01/01"])),
    ("not ISO, short", arrangement(holidays=["20270101"])),
    ("a make-up day on a weekday", arrangement(workdays=["2027-01-04"])),
    ("both off and worked", arrangement(holidays=["2027-01-02"], workdays=["2027-01-02"])),
    ("a year out of range", arrangement(1999)),
    ("a year as text", {**arrangement(), "year": "2027"}),
    ("an extra field", {**arrangement(), "comment": "per the notice"}),
    ("no notice", {k: v for k, v in arrangement().items() if k != "notice"}),
    ("an unknown issuer", arrangement(notice={**NOTICE_2027, "issuer": "国务院办公厅"})),
    ("a notice two years early", arrangement(notice={**NOTICE_2027, "date": "2025-11-04"})),
    ("a notice after the year", arrangement(notice={**NOTICE_2027, "date": "2028-01-02"})),
    ("a document in words", arrangement(notice={**NOTICE_2027, "document": "the 2027 notice"})),
    ("free text in the notice", arrangement(notice={**NOTICE_2027, "title": "放假安排"})),
    ("too many days", arrangement(holidays=days("2027-01-01", "2027-03-31"))),
]


@pytest.mark.parametrize(("why", "calendar"), BAD_CALENDARS, ids=[b[0] for b in BAD_CALENDARS])
def test_a_malformed_calendar_is_refused(w: World, why: str, calendar: dict[str, Any]) -> None:
    refused(propose(w, "bad", calendar), "bad_field")
    assert w.get("proposal/bad") is None
    with pytest.raises(BadField):
        check_arrangement(calendar)


def test_a_calendar_from_a_notice_not_out_yet_is_refused(w: World) -> None:
    w.time_ms = at("2026-11-03", 23)
    refused(propose(w, "early", arrangement()), "bad_field")
    w.time_ms = at("2026-11-04", 0)
    ok(propose(w, "early", arrangement()))


def test_a_calendar_with_a_personal_number_is_refused(w: World) -> None:
    notice = {**NOTICE_2027, "document": "国办发明电〔2026〕11010519491231002X号"}
    refused(propose(w, "pii", arrangement(notice=notice)), "personal_data")


# ------------------------------------------------------------------ determinism, genesis
def test_two_worlds_compute_the_same_deadlines(w: World) -> None:
    for n, day in enumerate(("2026-12-14", "2026-12-21", "2026-12-28", "2027-01-04")):
        apply_case(w, f"p-{n}", at(day))
    w.time_ms = at("2027-01-05")
    set_by_quorum(w, "cal", CALENDAR_2027)
    again = w.replay()
    assert again.root == w.root and again.state.data == w.state.data


def test_the_genesis_file_carries_its_calendar() -> None:
    node = seeded("node-0").verifier().encode()
    base = {"chain_id": "c", "origin": "o", "validators": [{"name": "node-0", "verifier_key": node}],
            "agencies": []}  # fmt: skip
    assert Genesis.from_json(base).calendar == GENESIS_CALENDAR  # an older genesis file
    both = [arrangement(), ARRANGEMENT_2026]
    genesis = Genesis.from_json({**base, "calendar": both})
    assert [a["year"] for a in genesis.calendar] == [2026, 2027]
    assert Genesis.from_json(genesis.to_json()).calendar == genesis.calendar
    bads: list[Any] = [[arrangement(), arrangement()], [arrangement(workdays=["2027-01-04"])], {}]
    for bad in bads:
        with pytest.raises(ValueError):
            genesis_calendar(bad)
    world = World()
    assert world.get("calendar/2026") is not None


# ------------------------------------------------------------------ the public read
def test_a_node_serves_each_years_calendar_as_the_ledger_holds_it(tmp_path: Path) -> None:
    """``GET /v1/calendar/{year}``: the genesis's 2026 as the notice has it; 404 for a year
    not set yet, until the governance sets it; 400 for what is not a year."""
    [config] = init_network(tmp_path / "net", 1)
    app = create_app(Node(NodeConfig.load(config)))
    with TestClient(app, base_url="http://127.0.0.1:8700") as client:
        got = client.get("/v1/calendar/2026")
        assert got.status_code == 200 and got.json() == GENESIS_CALENDAR[0]
        assert "2026-02-23" in got.json()["holidays"] and "2026-02-28" in got.json()["workdays"]
        missing = client.get("/v1/calendar/2027")
        assert missing.status_code == 404 and missing.json()["type"].endswith("/no-calendar")
        assert missing.headers["content-type"] == "application/problem+json"
        for bad in ("27", "02027", "1999", "2101", "year", "２０２７", "-2027"):
            r = client.get(f"/v1/calendar/{bad}")
            assert r.status_code == 400 and r.json()["type"].endswith("/bad-year"), bad
        # the single governance member of a one-validator network sets 2027
        member = read_signer(tmp_path / "net" / "agencies" / "ssb-330800.key")
        chain = client.get("/v1/network").json()["chain_id"]
        body = {"chain_id": chain, "signer": "ssb-330800", "nonce": "cal-2027",
                "type": "governance.propose", "proposal_id": "cal-2027",
                "action": "set_calendar", "calendar": CALENDAR_2027}  # fmt: skip
        tx = sign_transaction(body, member)
        assert client.post("/v1/tx", json=tx.to_json()).status_code == 202
        for _ in range(300):
            status = client.get(f"/v1/tx/{tx.hash.hex()}").json()
            if status["status"] != "pending":
                break
            time.sleep(0.02)
        assert status.get("outcome") == "applied", json.dumps(status)
        assert client.get("/v1/calendar/2027").json() == CALENDAR_2027
