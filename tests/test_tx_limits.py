"""A transaction's shape and limits are decided by ``Transaction.from_json`` alone, the same
function at admission and in block validation, and its answer cannot depend on how deep the
caller's stack is (a 950-level body once passed admission and raised RecursionError in every
validator's block validation)."""

import sys
from collections.abc import Callable
from typing import Any

import pytest

from contracts.tx import (
    MAX_TX_DEPTH,
    MAX_TX_ITEMS,
    MalformedTransaction,
    Transaction,
    sign_transaction,
)
from tlog.note import Signer

SIGNER = Signer.generate("resident:" + "ab" * 32)


def _envelope(extra: Any) -> dict[str, Any]:
    body = {"type": "anchor", "chain_id": "c", "signer": SIGNER.name, "nonce": "n", "x": extra}
    return {"body": body, "signature": "00" * 64}


def _nested(levels: int) -> Any:
    value: Any = "leaf"
    for _ in range(levels):
        value = {"k": value}
    return value


def _at_stack_depth(frames_left: int, call: Callable[[], Any]) -> Any:
    """``call()`` run with only ``frames_left`` frames to spare before the recursion limit,
    as in a validator's block validation (deeper than admission's)."""

    def descend(n: int) -> Any:
        return call() if n <= 0 else descend(n - 1)

    here = len(__import__("inspect").stack(0))
    return descend(sys.getrecursionlimit() - here - frames_left)


@pytest.mark.parametrize("frames_left", [900, 120])
def test_a_950_level_body_is_malformed_however_deep_the_stack(frames_left: int) -> None:
    deep = _envelope(_nested(950))
    with pytest.raises(MalformedTransaction, match="nested deeper than"):
        _at_stack_depth(frames_left, lambda: Transaction.from_json(deep))


def test_the_depth_limit_counts_the_envelope() -> None:
    # envelope (1) + body (2) + MAX_TX_DEPTH - 2 more levels: exactly at the limit
    assert Transaction.from_json(_envelope(_nested(MAX_TX_DEPTH - 2)))
    with pytest.raises(MalformedTransaction, match="nested deeper than"):
        Transaction.from_json(_envelope(_nested(MAX_TX_DEPTH - 1)))


def test_items_are_bounded() -> None:
    fits = MAX_TX_ITEMS - 5  # the body's own five members count
    assert Transaction.from_json(_envelope(list(range(fits))))
    with pytest.raises(MalformedTransaction, match="items"):
        Transaction.from_json(_envelope(list(range(fits + 1))))


def test_a_body_past_the_limits_cannot_even_be_signed() -> None:
    body = {"type": "anchor", "chain_id": "c", "signer": "a", "nonce": "n", "x": _nested(40)}
    with pytest.raises(ValueError, match="nested deeper than"):
        sign_transaction(body, SIGNER)


@pytest.mark.parametrize(
    ("where", "value"),
    [("value", "a\x00b"), ("value", "line\nbreak"), ("value", "\x1f"), ("key", "x\x00")],
)
def test_control_characters_are_malformed_anywhere(where: str, value: str) -> None:
    """A field named ``x\\u0000`` in a transaction the rules refused once stopped every
    PostgreSQL validator (its text columns hold no NUL): control characters never enter."""
    raw = _envelope({value: 1} if where == "key" else value)
    with pytest.raises(MalformedTransaction, match="control characters"):
        Transaction.from_json(raw)


@pytest.mark.parametrize("value", ["back\\slash", "\\n as two characters", "\x7f", "中文 ok"])
def test_look_alikes_of_control_characters_pass(value: str) -> None:
    assert Transaction.from_json(_envelope(value)).body["x"] == value
