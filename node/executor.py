"""Executing a block's transactions against committed state, without writing anything.

Pure given the state view and the log frontier: the proposer runs it to fill in the block's
tree head and state root, validators run it to check them, and the node stores its result.
"""

import base64
from dataclasses import dataclass

from contracts.registry import begin_block
from contracts.rules import Applied, BlockContext, Rejected, Rule, apply_transaction
from contracts.state import JSON, Overlay, StateView, next_state_root
from contracts.tx import MalformedTransaction, Transaction
from tlog import layout
from tlog.hashing import EMPTY_ROOT, leaf_hash


@dataclass(frozen=True)
class TxResult:
    tx_hash: bytes
    leaf_index: int | None
    code: str | None
    """None when applied as asked; else the contract's reason code: rejected when
    ``leaf_index`` is None (nothing changed), refused when it is set (applied and on the log,
    what it asked for refused, e.g. a read outside a consent, recorded as such)."""
    message: str = ""


@dataclass(frozen=True)
class Execution:
    results: tuple[TxResult, ...]
    leaves: tuple[bytes, ...]
    writes: dict[str, JSON]
    tree_size: int
    tree_root: str
    state_root: bytes
    events: tuple[dict[str, object], ...] = ()
    invalid: str | None = None
    """Why an honest validator must refuse the block (a transaction not validly signed)."""
    invalid_txs: tuple[bytes, ...] = ()
    """The transactions that make it so (evicted from mempools: poison-pill eviction)."""


def execute(
    base: StateView,
    frontier: layout.Frontier,
    state_root: bytes,
    txs: list[dict[str, object]],
    ctx: BlockContext,
    rules: dict[str, Rule],
) -> Execution:
    state = Overlay(base)
    frontier = layout.Frontier(frontier.size, list(frontier.subtrees))
    results: list[TxResult] = []
    leaves: list[bytes] = []
    events: list[dict[str, object]] = []
    invalid = None
    invalid_txs: list[bytes] = []
    begin_block(state, ctx)  # part of the contracts: a minor's class end, before any transaction
    for raw in txs:
        try:
            tx = Transaction.from_json(raw)
        except MalformedTransaction as exc:
            invalid = invalid or f"malformed transaction: {exc}"
            continue
        outcome = apply_transaction(state, tx, ctx, rules)
        if isinstance(outcome, Applied):
            results.append(TxResult(tx.hash, frontier.size, outcome.refused))
            leaves.append(outcome.leaf)
            events.extend(outcome.events)
            frontier.append(leaf_hash(outcome.leaf))
        else:
            assert isinstance(outcome, Rejected)
            if outcome.invalidates_block:
                invalid = invalid or f"transaction {tx.hash.hex()}: {outcome.code}"
                invalid_txs.append(tx.hash)
            results.append(TxResult(tx.hash, None, outcome.code, outcome.message))
    root = frontier.root() if frontier.size else EMPTY_ROOT
    return Execution(
        results=tuple(results),
        leaves=tuple(leaves),
        writes=state.writes,
        tree_size=frontier.size,
        tree_root=base64.b64encode(root).decode(),
        state_root=next_state_root(state_root, ctx.height, state.writes),
        events=tuple(events),
        invalid=invalid,
        invalid_txs=tuple(invalid_txs),
    )
