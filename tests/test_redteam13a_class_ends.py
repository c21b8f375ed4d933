"""Red team 13a: a block's own step (``begin_block``) does bounded work.

A hostile counter enrolls many minors (or many are simply born the same day) whose class ends
on one day: the first block of that day would process every one of them before its
transactions, however many, and a proposer's block time budget with it. The work is spread:
at most ``MAX_CLASS_ENDS_PER_BLOCK`` class ends a block, the rest in the next blocks, in the
same order on every node. The authority never lags (every check computes the class from the
block's time); only the record and the notices may, by a few blocks."""

import pytest

from contracts import guardians
from contracts.rules import BlockContext
from contracts.state import Overlay
from contracts.tx import check_signature
from tests.contract_world import CHAIN, World, access_log, pseudonym_of

MINORS = [pseudonym_of(1000 + i) for i in range(40)]


def crowd() -> World:
    w = World()
    for p in MINORS:
        w.enroll(p, age_class="14_17", class_ends="2026-06-10")
    w.advance(20)  # past all their 18th birthdays
    return w


def transitioned(overlay: Overlay) -> int:
    return sum(1 for k in overlay.writes if k.startswith("resident/"))


def test_one_block_processes_a_bounded_number_of_class_ends(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(guardians, "MAX_CLASS_ENDS_PER_BLOCK", 16, raising=False)
    w = crowd()
    overlay = Overlay(w.state)
    guardians.begin_block(overlay, BlockContext(CHAIN, w.height + 1, w.time_ms, check_signature))
    assert transitioned(overlay) <= 16


def test_the_rest_follow_in_the_next_blocks_the_same_on_every_node(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(guardians, "MAX_CLASS_ENDS_PER_BLOCK", 16, raising=False)
    w = crowd()
    for i in range(3):  # three blocks: 16 + 16 + 8
        w.enroll(pseudonym_of(2000 + i))
    assert all(w.get(f"resident/{p}")["age_class"] == "adult" for p in MINORS)
    assert all(access_log(w, p)[-1]["reason"] == "age_class_adult" for p in MINORS)
    assert w.replay().root == w.root
