"""Which log entries each of a resident's records derives from, so that a copy of what the
network holds about her (PIPL art. 45, ``contracts/rights.py``) names, for every item, the
entries on the log that made it what it is, and each entry can be proven (RFC 9162 inclusion)
against a checkpoint.

Every applied transaction that writes a record of a resident (her enrollment
``resident/<p>``, an access-log entry ``access/<p>/<seq>``, or a record whose ``resident``
field names her: a consent, a sharing or pension case, a proof of insurance, a request of
hers) is listed under her: ``entries/<p>/<n>`` = {tx, height, keys}, in block order.
``indexed`` wraps every rule (``contracts/registry.py``); it runs the rule on a scratch
overlay, so it sees exactly the writes of that one transaction. Pure.
"""

from collections.abc import Iterator
from typing import Any

from contracts.rules import Applied, BlockContext, Outcome, Rule
from contracts.state import Overlay, StateView
from contracts.tx import Transaction

RECORD_PREFIXES = ("consent/", "share/", "pension/", "proof/", "rights/copy/",
                   "rights/correction/", "emergency/", "basis/")  # fmt: skip
"""Records that name their resident in a ``resident`` field."""


def owner(key: str, value: Any) -> str | None:
    """The resident a written record is about, or None (bookkeeping, agencies, validators)."""
    if key.startswith("resident/"):
        return key.removeprefix("resident/")
    if key.startswith("access/"):
        return key.split("/")[1]
    if key.startswith(RECORD_PREFIXES) and isinstance(value, dict):
        who = value.get("resident")
        return who if isinstance(who, str) else None
    return None


def indexed(rule: Rule) -> Rule:
    """``rule``, with the entry it adds to the log listed under every resident whose records
    it wrote (refused reads included: their access-log entry is a record)."""

    def run(state: Overlay, tx: Transaction, ctx: BlockContext) -> Outcome:
        scratch = Overlay(state)
        outcome = rule(scratch, tx, ctx)
        if not isinstance(outcome, Applied):
            return outcome  # nothing written: a rejection changes nothing
        touched: dict[str, list[str]] = {}
        for key, value in scratch.writes.items():
            state.put(key, value)
            who = owner(key, value)
            if who is not None:
                touched.setdefault(who, []).append(key)
        for who, keys in sorted(touched.items()):
            _append(state, who, tx.hash.hex(), ctx.height, keys)
        return outcome

    return run


def _append(state: Overlay, who: str, tx_hex: str, height: int, keys: list[str]) -> None:
    count = state.get(f"entries_count/{who}") or 0
    assert isinstance(count, int)
    state.put(f"entries/{who}/{count:012d}", {"tx": tx_hex, "height": height, "keys": sorted(keys)})
    state.put(f"entries_count/{who}", count + 1)


def entries(state: StateView, pseudonym: str) -> list[dict[str, Any]]:
    """The resident's entries, oldest first: each {tx, height, keys}."""
    return list(_entries(state, pseudonym))


def _entries(state: StateView, pseudonym: str) -> Iterator[dict[str, Any]]:
    count = state.get(f"entries_count/{pseudonym}") or 0
    assert isinstance(count, int)
    found = (state.get(f"entries/{pseudonym}/{i:012d}") for i in range(count))
    return (e for e in found if isinstance(e, dict))


def derivations(state: StateView, pseudonym: str) -> dict[str, list[str]]:
    """Record key -> the hashes (hex) of the transactions that wrote it, oldest first."""
    by_key: dict[str, list[str]] = {}
    for entry in entries(state, pseudonym):
        for key in entry["keys"]:
            by_key.setdefault(key, []).append(entry["tx"])
    return by_key


def derived(state: Overlay, pseudonym: str, tx_hex: str | None, height: int,
            keys: list[str]) -> None:  # fmt: skip
    """List ``keys``, written by a block's own step (``begin_block``: a class end, no
    transaction), under the resident as derived from the entry ``tx_hex`` (her enrollment,
    which set the day; a guardianship, whose guardian is told): so that each item of her copy
    names an entry it derives from (red team 13a). Nothing when no such entry is known."""
    if tx_hex is not None and keys:
        _append(state, pseudonym, tx_hex, height, keys)


def enrollment_tx(state: StateView, pseudonym: str) -> str | None:
    """The entry that enrolled her: her first that wrote ``resident/<p>`` (her first entry:
    read lazily, so a class end reads one entry, not her whole list)."""
    key = f"resident/{pseudonym}"
    for entry in _entries(state, pseudonym):
        if key in entry["keys"]:
            return str(entry["tx"])
    return None
