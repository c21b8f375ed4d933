"""Working days in China Standard Time, for the 15-working-day limits of 国办发〔2009〕66号.

Weekends are non-working. ``HOLIDAYS`` and ``WORKDAYS`` are data: the statutory festival days
of 2026 below, to be completed each year from the State Council's notice on holiday
arrangements (observed days, and the weekend days made working days). Changing them changes
deadlines, so they are versioned with the contracts.
"""

import datetime as dt

CST = dt.timezone(dt.timedelta(hours=8))

HOLIDAYS: frozenset[dt.date] = frozenset(
    dt.date.fromisoformat(d)
    for d in [
        "2026-01-01",  # 元旦
        "2026-02-16", "2026-02-17", "2026-02-18", "2026-02-19",  # 春节 (除夕 and 初一 to 初三)
        "2026-04-05",  # 清明节
        "2026-05-01", "2026-05-02",  # 劳动节
        "2026-06-19",  # 端午节
        "2026-09-25",  # 中秋节
        "2026-10-01", "2026-10-02", "2026-10-03",  # 国庆节
    ]
)  # fmt: skip
WORKDAYS: frozenset[dt.date] = frozenset()
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
