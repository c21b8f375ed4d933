"""What consensus asks of a node (``consensus.machine.Application``): blocks to propose, a
verdict on others' blocks, and whether a fresh proposal is timely.

Validity is deterministic (only the chain, its state and the genesis decide) and total (any
failure is "invalid", counted and logged); the local clock enters only ``timely``, which
decides this node's prevote (proposer-based timestamps). A transaction that makes a block
invalid leaves the mempool (poison-pill eviction). Evidence is checked against the
validator set of its own height. A mixin of ``node.service.Node``, which holds the state.
"""

import contextlib
import logging
from collections import Counter
from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

from consensus.messages import Evidence, block_id, verify_evidence
from consensus.validators import ValidatorSet
from contracts.registry import RULES
from contracts.rules import BlockContext, read_keys
from contracts.tx import Transaction, check_signature
from node import chainstore
from node.blocks import Block
from node.chainstore import Tip
from node.executor import Execution, execute
from node.genesis import ConsensusParams, NodeConfig
from node.mempool import Mempool
from tlog import layout
from tlog.note import Signer

log = logging.getLogger("shanhe.node")

NEVER_INCLUDABLE = {"malformed", "too old", "no validator set for its height", "does not verify"}


class BlockApplication:
    chain_id: str
    params: ConsensusParams
    config: NodeConfig
    clock: Callable[[], int]
    signer: Signer
    validators: ValidatorSet
    engine: Engine
    mempool: Mempool
    tip: Tip
    frontier: layout.Frontier
    state: chainstore.StateCache
    counters: Counter[str]
    evidence_pending: bool
    verified: set[tuple[bytes, bytes]]
    exec_cache: dict[bytes, tuple[Block, Execution]]
    decoded: dict[bytes, Block | str]

    def pending(self) -> bool:
        return len(self.mempool) > 0 or self.evidence_pending

    def _context(self, height: int, time_ms: int) -> BlockContext:
        return BlockContext(self.chain_id, height, time_ms, self._check_signature)

    def _check_signature(self, tx: Transaction, key: Any) -> bool:
        token = (tx.hash, key.public_key)
        if token in self.verified:
            return True
        ok = check_signature(tx, key)
        if ok:
            if len(self.verified) > 200_000:
                self.verified.clear()
            self.verified.add(token)
        return ok

    def _execute(self, txs: list[dict[str, Any]], height: int, time_ms: int) -> Execution:
        with self.engine.connect() as conn:
            self.state.prefetch(conn, [k for t in txs for k in read_keys(t.get("body"))])
            return execute(
                self.state.view(conn),
                self.frontier,
                self.tip.state_root,
                txs,
                self._context(height, time_ms),
                RULES,
            )

    def propose(self, height: int) -> bytes | None:
        """A block of pending transactions, or None. Total: a transaction that makes the block
        invalid (or breaks execution) is evicted from the mempool, never proposed again."""
        try:
            return self._propose(height)
        except Exception:
            log.exception("proposing at height %d failed", height)
            self.counters["propose_failed"] += 1
            return None

    def _propose(self, height: int) -> bytes | None:
        limit = min(self.config.max_block_txs, self.params.max_block_txs)
        candidates, size = [], 0
        for tx in self.mempool.take(limit):
            size += len(tx.encode()) + 1
            if size > self.params.max_block_bytes - 64 * 1024:  # room for header and evidence
                break
            candidates.append(tx)
        with self.engine.begin() as conn:
            done = chainstore.committed(conn, [tx.hash for tx in candidates])
            evidence = self._includable_evidence(conn, height)
        self.mempool.remove(list(done))
        txs = [tx.to_json() for tx in candidates if tx.hash not in done]
        if not txs and not evidence:
            return None
        time_ms = max(self.clock(), self.tip.time_ms + 1)
        execution = self._execute_or_evict(txs, height, time_ms)
        if execution.invalid_txs:
            bad = set(execution.invalid_txs)
            self._evict(bad, "invalid in our own proposal")
            txs = [t for t in txs if Transaction.from_json(t).hash not in bad]
            if not txs and not evidence:
                return None
            execution = self._execute_or_evict(txs, height, time_ms)
            if execution.invalid:
                return None
        block = Block(
            chain_id=self.chain_id,
            height=height,
            prev_hash=self.tip.hash,
            proposer=self.signer.name,
            time_ms=time_ms,
            txs=tuple(txs),
            evidence=tuple(evidence),
            tree_size=execution.tree_size,
            tree_root=execution.tree_root,
            state_root=execution.state_root.hex(),
        )
        data = block.encode()
        self.exec_cache[block_id(data)] = (block, execution)
        return data

    def _execute_or_evict(self, txs: list[dict[str, Any]], height: int, time_ms: int) -> Execution:
        """Execute; if execution itself fails (it should not: transactions are checked at
        admission), find the transactions that make it fail one by one and evict them, so
        that the next proposal, ours or another's, moves on."""
        try:
            return self._execute(txs, height, time_ms)
        except SQLAlchemyError:
            raise  # the database failed, not a transaction: evict nothing
        except Exception:
            culprits = set()
            for raw in txs:
                try:
                    self._execute([raw], height, time_ms)
                except SQLAlchemyError:
                    raise
                except Exception:
                    with contextlib.suppress(Exception):
                        culprits.add(Transaction.from_json(raw).hash)
            self._evict(culprits, "execution failed")
            raise

    def _evict(self, hashes: set[bytes], why: str) -> None:
        """Poison-pill eviction: a transaction that makes a block invalid leaves the mempool
        on every honest node that sees such a block (validity is the same everywhere)."""
        held = [h for h in hashes if h in self.mempool]
        if held:
            self.mempool.remove(held)
            self.counters["mempool_evicted"] += len(held)
            log.warning("evicted %d transaction(s) from the mempool: %s", len(held), why)

    def _includable_evidence(self, conn: Connection, height: int) -> list[dict[str, Any]]:
        """Pending evidence that this proposer has checked, against the validator set of the
        evidence's own height; what can never be included is not offered again."""
        out = []
        for key, raw in chainstore.pending_evidence(conn, height):
            problem = self._evidence_problem(conn, raw, height)
            if problem is None:
                out.append(raw)
            elif problem in NEVER_INCLUDABLE:
                chainstore.discard_evidence(conn, key)
                log.warning("evidence can never be included (%s); set aside", problem)
        return out

    def _evidence_problem(self, conn: Connection, raw: dict[str, Any], height: int) -> str | None:
        try:
            ev = Evidence.from_json(raw)
        except Exception:
            return "malformed"
        h = ev.first.height
        if h >= height:
            return "not yet final"
        if height - h > self.params.max_evidence_age:
            return "too old"
        try:
            members = chainstore.validator_set(chainstore.validators_at(conn, h))
        except Exception:
            members = None
        if not isinstance(members, ValidatorSet):
            return "no validator set for its height"
        if verify_evidence(ev, members, self.chain_id) is not None:
            return "does not verify"
        if chainstore.evidence_included(conn, ev):
            return "already included"
        return None

    def validate(self, height: int, data: bytes) -> bool | None:
        """Total: any failure is "invalid", counted and logged with its reason; the
        transactions that made the block invalid leave our mempool. A database failure is no
        verdict (None): the block is asked about again, and nothing is evicted for it."""
        try:
            why = self._invalid_reason(height, data)
        except SQLAlchemyError as exc:
            self.counters["validate_database_error"] += 1
            log.error("no verdict on a block at height %d: database: %s", height, exc)
            return None
        except Exception as exc:
            log.exception("validating a block at height %d failed", height)
            why = f"internal: {type(exc).__name__}"
        if why is not None:
            self.counters[f"invalid_block:{why.split(':')[0]}"] += 1
            log.warning("refusing block at height %d: %s", height, why)
        return why is None

    def timely(self, height: int, round_: int, data: bytes) -> bool:
        """PBTS (CometBFT's proposer-based timestamps): a fresh proposal's time may be at most
        ``precision`` ahead of our clock and at most ``message_delay`` (growing by a tenth a
        round) plus ``precision`` behind it when it arrives. Decides our prevote only."""
        block = self._decode(data)
        if isinstance(block, str):
            return True  # no time to judge: validity refuses it (and counts why)
        p, now = self.params, self.clock()
        delay = p.message_delay_ms * 1.1 ** min(round_, 60)  # 3,000 times the base: plenty
        ok = block.time_ms - p.precision_ms <= now <= block.time_ms + delay + p.precision_ms
        if not ok:
            self.counters["untimely_proposal"] += 1
            log.warning(
                "untimely proposal at height %d round %d: block time %d, our clock %d",
                height, round_, block.time_ms, now,
            )  # fmt: skip
        return ok

    def _decode(self, data: bytes) -> Block | str:
        h = block_id(data)
        if h not in self.decoded:
            try:
                self.decoded[h] = Block.decode(data)
            except Exception as exc:
                self.decoded[h] = f"malformed: {exc}"
        return self.decoded[h]

    def _invalid_reason(self, height: int, data: bytes) -> str | None:
        """Why the block is invalid, or None. Deterministic: only the chain, its state and the
        genesis decide (never this node's clock or config), so every honest node agrees."""
        if block_id(data) in self.exec_cache:
            return None  # our own proposal (or one already checked): executed against this tip
        if len(data) > self.params.max_block_bytes:
            return "block too large"
        block = self._decode(data)
        if isinstance(block, str):
            return block
        if block.chain_id != self.chain_id or block.height != height:
            return "wrong chain or height"
        if block.prev_hash != self.tip.hash:
            return "wrong parent"
        if self.validators.by_name(block.proposer) is None:
            return "proposer is not a validator"
        if block.time_ms <= self.tip.time_ms:
            return "block time not after the previous block's"
        if len(block.txs) > self.params.max_block_txs:
            return "too many transactions"
        with self.engine.connect() as conn:
            for raw in block.evidence:
                if (problem := self._evidence_problem(conn, raw, height)) is not None:
                    return f"evidence: {problem}"
        if len({Evidence.from_json(e).key() for e in block.evidence}) != len(block.evidence):
            return "evidence: repeated"  # one equivocation, however its two messages are ordered
        execution = self._execute_or_evict(list(block.txs), height, block.time_ms)
        if execution.invalid:
            self._evict(set(execution.invalid_txs), "in an invalid proposal")
            return f"transaction: {execution.invalid}"
        hashes = [r.tx_hash for r in execution.results]
        with self.engine.connect() as conn:
            if chainstore.committed(conn, hashes) or len(set(hashes)) != len(hashes):
                return "transaction: already committed or repeated"
        if (execution.tree_size, execution.tree_root) != (block.tree_size, block.tree_root):
            return "post-state: tree head differs"
        if execution.state_root.hex() != block.state_root:
            return "post-state: state root differs"
        self.exec_cache[block_id(data)] = (block, execution)
        return None
