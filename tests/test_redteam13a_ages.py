"""Red team 13a: a minor's class end is a calendar day ``YYYY-MM-DD`` and nothing else.

``datetime.date.fromisoformat`` reads more than that from Python 3.11 on (ISO week dates such
as ``2027-W01-1``, of exactly ten characters), and less on 3.10: a counter's enrollment with
such a ``class_ends`` would be valid on one validator and malformed on another (a split
decided by the interpreter's version), and the record would keep a day in a form nobody reads
the same. The shape refuses it, as it refuses a day that does not exist."""

import pytest

from contracts.ages import parse_day
from contracts.formats import BadField
from tests.contract_world import World, pseudonym_of, refused

CHILD = pseudonym_of(81)


@pytest.mark.parametrize(
    "day",
    [
        "2027-W01-1",
        "2027-W53-7",
        "2026-02-30",
        "2027-1-010",
        "２０２７-01-01",
        "2027-01-01T",
        "+2027-0101",
    ],
)
def test_class_ends_is_a_plain_calendar_day(day: str) -> None:
    with pytest.raises(BadField):
        parse_day(day)
    w = World()
    key = w.resident_key(CHILD)
    body = {"type": "resident.enroll", "pseudonym": CHILD, "key": key.verifier().encode(),
            "age_class": "under_14", "class_ends": day}  # fmt: skip
    refused(w.submit("ssb-330825", body), "bad_field")
    assert w.get(f"resident/{CHILD}") is None


def test_a_plain_day_is_still_taken() -> None:
    assert parse_day("2027-01-04").isoformat() == "2027-01-04"
    w = World()
    w.enroll(CHILD, age_class="under_14", class_ends="2027-01-04")
    assert w.get(f"resident/{CHILD}")["class_ends"] == "2027-01-04"
