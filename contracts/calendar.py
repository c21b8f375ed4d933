"""Working days in China Standard Time, for the 15-working-day limits of 国办发〔2009〕66号.

Weekends are non-working. Holidays and make-up working days are the data file
``contracts/data/holidays.json`` (today the statutory festival days of 2026; complete it each year
from the State Council's notice on holiday arrangements). It ships inside the package and is
read once at import, so every node computes the same deadlines; changing it changes deadlines,
so it is versioned with the contracts.
"""

import datetime as dt
import json
from importlib import resources

CST = dt.timezone(dt.timedelta(hours=8))

_DATA = json.loads(
    resources.files("contracts").joinpath("data/holidays.json").read_text(encoding="utf-8")
)
HOLIDAYS: frozenset[dt.date] = frozenset(dt.date.fromisoformat(d) for d in _DATA["holidays"])
WORKDAYS: frozenset[dt.date] = frozenset(dt.date.fromisoformat(d) for d in _DATA["workdays"])
"""Weekend days declared working days (调休)."""


def cst_date(time_ms: int) -> dt.date:
    return dt.datetime.fromtimestamp(time_ms / 1000, CST).date()


def is_working_day(day: dt.date) -> bool:
    if day in WORKDAYS:
        return True
    return day.weekday() < 5 and day not in HOLIDAYS


def working_deadline(start_ms: int, days: int) -> int:
    """End (24:00 CST) of the ``days``-th working day after the day of ``start_ms``."""
    day = cst_date(start_ms)
    counted = 0
    while counted < days:
        day += dt.timedelta(days=1)
        counted += is_working_day(day)
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), CST)
    return int(end.timestamp() * 1000)
