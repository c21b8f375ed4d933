"""Age classes (#13 item 2): what a resident may sign herself turns on her age, and the law
changes it on her 14th and 18th birthdays (PIPL art. 31; 民法典 arts. 17-19).

The counter decides the class from the ID at enrollment (``resident.enroll``: ``age_class``)
and, for a minor, the day it ends (``class_ends``, a CST date: her 14th or 18th birthday).
That day is all the ledger keeps of her age; for a minor it reveals her birthday to whoever
reads state (docs/threat-model.md); an adult records none. A Feb 29 birthday counts from Mar 1
in a common year (the counter writes that day).

Where a class is checked it is computed from the block's time (``effective_class``): the
record may lag, the authority never does. The resident (and her guardians) are told in their
access logs by ``contracts.guardians.begin_block``, a step of every block before its
transactions (``node/executor.py``), over the days listed here (``register``).
"""

import datetime as dt
import re
from typing import Any

from contracts.calendar import CST, cst_date
from contracts.formats import BadField
from contracts.state import Overlay, StateView

UNDER_14, MINOR_14_17, ADULT = "under_14", "14_17", "adult"
MINORS = (UNDER_14, MINOR_14_17)
DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
"""A calendar day, as ``class_ends`` has it: never an ISO week date (``2027-W01-1``), which
Python reads from 3.11 on only (red team 13a: a validator's interpreter must not decide)."""
THROUGH = "ages/through"
"""The last CST day whose class ends were processed (absent until a minor is enrolled: a
network without minors writes nothing)."""


def day_start_ms(day: dt.date) -> int:
    """00:00 CST of ``day``, in ms."""
    return int(dt.datetime.combine(day, dt.time(), CST).timestamp() * 1000)


def plus_years(day: dt.date, years: int) -> dt.date:
    """The same date ``years`` later; Feb 29 in a common year is Mar 1."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return dt.date(day.year + years, 3, 1)


def parse_day(value: Any) -> dt.date:
    """A ``YYYY-MM-DD`` date; raises ``BadField`` otherwise."""
    try:
        if isinstance(value, str) and len(value) == 10 and DAY.fullmatch(value):
            return dt.date.fromisoformat(value)
    except ValueError:
        pass
    raise BadField("bad_field", "class_ends: a date YYYY-MM-DD")


def effective_class(record: dict[str, Any], now_ms: int) -> str:
    """The resident's class at ``now_ms``, from her record's class and its end: an
    ``under_14`` whose 14th birthday passed is ``14_17`` until four years later."""
    cls = record.get("age_class", ADULT)
    if cls not in MINORS or not isinstance(record.get("class_ends"), str):
        return ADULT
    ends = dt.date.fromisoformat(record["class_ends"])
    if now_ms < day_start_ms(ends):
        return str(cls)
    if cls == UNDER_14 and now_ms < day_start_ms(plus_years(ends, 4)):
        return MINOR_14_17
    return ADULT


def adult_on(record: dict[str, Any]) -> dt.date | None:
    """The minor's 18th birthday (None for an adult)."""
    if record.get("age_class") not in MINORS or not isinstance(record.get("class_ends"), str):
        return None
    ends = dt.date.fromisoformat(record["class_ends"])
    return plus_years(ends, 4) if record["age_class"] == UNDER_14 else ends


def check_enrollment(age_class: str, class_ends: Any, now_ms: int) -> None:
    """A minor's class ends after today and within the span the class has (14 years for an
    under-14, 4 for a 14-17); an adult records no day."""
    if age_class == ADULT:
        return
    ends = parse_day(class_ends)
    today = cst_date(now_ms)
    span = 14 if age_class == UNDER_14 else 4
    if not today < ends <= plus_years(today, span):
        raise BadField(
            "bad_class_end",
            f"class_ends is the {14 if age_class == UNDER_14 else 18}th birthday: after today "
            f"and within {span} years (else the resident is in another class)",
        )


def due_key(day: dt.date) -> str:
    return f"ages/due/{day.isoformat()}"


def register(state: Overlay, pseudonym: str, day: dt.date, now_ms: int) -> None:
    """List the resident under ``day`` (a class of hers ends then); start the day index."""
    if state.get(THROUGH) is None:
        state.put(THROUGH, cst_date(now_ms).isoformat())
    count = state.get(due_key(day)) or 0
    assert isinstance(count, int)
    state.put(f"{due_key(day)}/{count:06d}", pseudonym)
    state.put(due_key(day), count + 1)


def age_class(state: StateView, pseudonym: str, now_ms: int) -> str | None:
    """The resident's class now (None: not enrolled)."""
    record = state.get(f"resident/{pseudonym}")
    return effective_class(record, now_ms) if isinstance(record, dict) else None
