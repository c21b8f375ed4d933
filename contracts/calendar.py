"""Working days in China Standard Time, for the 15-working-day limits of 国办发〔2009〕66号 art. 8.

Weekends do not count, nor the days off of the year's arrangement; its make-up working days
(调休: a Saturday or Sunday worked) do. The State Council publishes each year's arrangement in
November (国务院办公厅关于<year>年部分节假日安排的通知), so it is ledger state, not code:
``calendar/<year>``, which the genesis writes for its first year(s) and governance sets for the
next (``set_calendar``, by the quorum), so a running network learns it without a release.

A deadline that reaches into a year with no arrangement yet counts that year's weekends only
and is provisional: it names the year it awaits, and the record is listed under that year
(``calendar/provisional/<year>``), so that the block that sets the year recomputes exactly
those deadlines. A year once set is not replaced.

Pure functions of the state: every node computes the same deadlines from the same state.
"""

import datetime as dt
import itertools
import re
from dataclasses import dataclass
from typing import Any

from contracts.formats import BadField, choice, integer, members, obj, require
from contracts.state import Overlay, StateView
from contracts.vocabulary import CALENDAR_ISSUERS

CST = dt.timezone(dt.timedelta(hours=8))
ONE_DAY = dt.timedelta(days=1)
FIRST_YEAR, LAST_YEAR = 2000, 2100
MAX_HOLIDAYS = 60
MAX_WORKDAYS = 30
DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
DOCUMENT = re.compile(r"^[\u4e00-\u9fff]{2,16}〔[0-9]{4}〕[0-9]{1,4}号$")
"""A document number as the State Council writes it: 国办发明电〔2024〕12号."""


def _key(year: int) -> str:
    return f"calendar/{year}"


@dataclass(frozen=True)
class Arrangement:
    """One year's days off and make-up working days."""

    year: int
    holidays: frozenset[dt.date]
    workdays: frozenset[dt.date]

    def is_working_day(self, day: dt.date) -> bool:
        if day in self.workdays:
            return True
        return day.weekday() < 5 and day not in self.holidays


def _date(value: Any, name: str) -> dt.date:
    if not isinstance(value, str) or not DATE.fullmatch(value):
        raise BadField("bad_field", f"{name} must be dates YYYY-MM-DD")
    try:
        return dt.date.fromisoformat(value)
    except ValueError as exc:
        raise BadField("bad_field", f"{name}: {value} is no date") from exc


def _dates(raw: dict[str, Any], name: str, year: int, limit: int) -> list[dt.date]:
    values = raw.get(name)
    require(
        isinstance(values, list) and len(values) <= limit,
        "bad_field",
        f"{name} must be a list of at most {limit} dates",
    )
    assert isinstance(values, list)
    days = [_date(v, name) for v in values]
    require(all(d.year == year for d in days), "bad_field", f"{name}: every date is in {year}")
    require(
        all(a < b for a, b in itertools.pairwise(days)),
        "bad_field",
        f"{name}: dates in ascending order, each once",
    )
    return days


def check_arrangement(raw: Any) -> dict[str, Any]:
    """The arrangement as stored, or ``BadField``: a year, its days off (ascending, at least
    one), its make-up working days (ascending, each a Saturday or Sunday, none a day off)
    and the notice it comes from (issuer, date, maybe its document number). Pure: the shape
    check of ``set_calendar``, the re-check when it applies, and the genesis's check."""
    require(isinstance(raw, dict), "bad_field", "calendar must be an object")
    assert isinstance(raw, dict)
    members(raw, "calendar", "year", "holidays", "workdays", "notice")
    year = integer(raw, "year", FIRST_YEAR)
    require(year <= LAST_YEAR, "bad_field", f"year must be {FIRST_YEAR}-{LAST_YEAR}")
    holidays = _dates(raw, "holidays", year, MAX_HOLIDAYS)
    workdays = _dates(raw, "workdays", year, MAX_WORKDAYS)
    require(bool(holidays), "bad_field", "holidays: an arrangement has days off")
    require(
        all(d.weekday() >= 5 for d in workdays),
        "bad_field",
        "workdays: a make-up working day (调休) is a Saturday or Sunday",
    )
    both = sorted(set(holidays) & set(workdays))
    require(not both, "bad_field", f"{', '.join(map(str, both))}: both a day off and a working day")
    notice = obj(raw, "notice")
    optional = ("document",) if "document" in notice else ()
    members(notice, "notice", "issuer", "date", *optional)
    choice(notice, "issuer", CALENDAR_ISSUERS)
    published = _date(notice.get("date"), "notice date")
    require(
        year - 1 <= published.year <= year,
        "bad_field",
        f"notice date: the arrangement for {year} is published in {year - 1} or {year}",
    )
    if optional:
        document = notice.get("document")
        require(
            isinstance(document, str) and DOCUMENT.fullmatch(document) is not None,
            "bad_field",
            "notice document: a document number such as 国办发明电〔2024〕12号",
        )
    return {
        "year": year,
        "holidays": [d.isoformat() for d in holidays],
        "workdays": [d.isoformat() for d in workdays],
        "notice": {k: notice[k] for k in ("issuer", "date", *optional)},
    }


def _span(first: str, last: str) -> list[str]:
    start, end = dt.date.fromisoformat(first), dt.date.fromisoformat(last)
    return [(start + ONE_DAY * i).isoformat() for i in range((end - start).days + 1)]


ARRANGEMENT_2026: dict[str, Any] = {
    "year": 2026,
    "holidays": [
        day
        for first, last in (
            ("2026-01-01", "2026-01-03"),  # 元旦
            ("2026-02-15", "2026-02-23"),  # 春节
            ("2026-04-04", "2026-04-06"),  # 清明节
            ("2026-05-01", "2026-05-05"),  # 劳动节
            ("2026-06-19", "2026-06-21"),  # 端午节
            ("2026-09-25", "2026-09-27"),  # 中秋节
            ("2026-10-01", "2026-10-07"),  # 国庆节
        )
        for day in _span(first, last)
    ],
    "workdays": [
        "2026-01-04",
        "2026-02-14",
        "2026-02-28",
        "2026-05-09",
        "2026-09-20",
        "2026-10-10",
    ],
    "notice": {"issuer": "state_council_general_office", "date": "2025-11-04"},
}
"""国务院办公厅关于2026年部分节假日安排的通知 (2025-11-04): the genesis default."""

GENESIS_CALENDAR: tuple[dict[str, Any], ...] = (check_arrangement(ARRANGEMENT_2026),)


def genesis_calendar(arrangements: Any) -> tuple[dict[str, Any], ...]:
    """A genesis's arrangements, checked, one per year, by year; ``ValueError`` otherwise."""
    if not isinstance(arrangements, list):
        raise ValueError("calendar must be a list of arrangements, one per year")
    try:
        checked = [check_arrangement(a) for a in arrangements]
    except BadField as exc:
        raise ValueError(f"calendar: {exc}") from exc
    years = [a["year"] for a in checked]
    if len(set(years)) != len(years):
        raise ValueError("calendar: one arrangement per year")
    return tuple(sorted(checked, key=lambda a: a["year"]))


def calendar_writes(arrangements: tuple[dict[str, Any], ...]) -> dict[str, Any]:
    return {_key(a["year"]): a for a in arrangements}


def arrangement(state: StateView, year: int) -> Arrangement | None:
    """The year's arrangement in state, or None if it is not set (yet)."""
    value = state.get(_key(year))
    if not isinstance(value, dict):
        return None
    return Arrangement(
        year,
        frozenset(dt.date.fromisoformat(d) for d in value["holidays"]),
        frozenset(dt.date.fromisoformat(d) for d in value["workdays"]),
    )


def is_set(state: StateView, year: int) -> bool:
    return isinstance(state.get(_key(year)), dict)


def set_year(state: Overlay, checked: dict[str, Any]) -> None:
    """Write an arrangement ``check_arrangement`` returned, for a year not set before."""
    state.put(_key(checked["year"]), checked)


def cst_date(time_ms: int) -> dt.date:
    return dt.datetime.fromtimestamp(time_ms / 1000, CST).date()


def is_working_day(state: StateView, day: dt.date) -> bool:
    """By the year's arrangement; in a year without one, Monday to Friday."""
    found = arrangement(state, day.year)
    return found.is_working_day(day) if found is not None else day.weekday() < 5


@dataclass(frozen=True)
class Deadline:
    ms: int
    """End (24:00 CST) of the last working day."""
    awaits: int | None
    """The first year counted in that has no arrangement: the deadline is provisional until
    that year is set. None: final."""

    @property
    def provisional(self) -> bool:
        return self.awaits is not None


def working_deadline(state: StateView, start_ms: int, days: int) -> Deadline:
    """End (24:00 CST) of the ``days``-th working day after the day of ``start_ms``."""
    day = cst_date(start_ms)
    years: dict[int, Arrangement | None] = {}
    awaits: int | None = None
    counted = 0
    while counted < days:
        day += ONE_DAY
        if day.year not in years:
            years[day.year] = arrangement(state, day.year)
        found = years[day.year]
        if found is None and awaits is None:
            awaits = day.year
        counted += found.is_working_day(day) if found is not None else day.weekday() < 5
    end = dt.datetime.combine(day + ONE_DAY, dt.time(), CST)
    return Deadline(int(end.timestamp() * 1000), awaits)


# ------------------------------------------------------------------ provisional deadlines
def _pending_count(year: int) -> str:
    return f"calendar/provisional/{year}"


def await_year(state: Overlay, year: int, record_key: str) -> None:
    """List ``record_key`` (whose deadline became provisional, awaiting ``year``) under the
    year: an append, so it costs the same however many are listed."""
    count = state.get(_pending_count(year)) or 0
    state.put(f"{_pending_count(year)}/{count:012d}", record_key)
    state.put(_pending_count(year), count + 1)


def awaiting(state: StateView, year: int) -> list[str]:
    """The records listed as awaiting ``year``, in the order they were listed (the block
    order, the same on every node). A record may have moved on since: check it."""
    count = state.get(_pending_count(year)) or 0
    return [str(state.get(f"{_pending_count(year)}/{i:012d}")) for i in range(count)]
