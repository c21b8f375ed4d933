"""A validator node: the consensus driver and peer traffic; the application consensus asks
(``node.application``) and catching up (``node.blocksync``) are its mixins.

Everything here runs on one asyncio loop, so the state machine, mempool and tip are only
touched from that loop; HTTP read endpoints use their own database connections.
"""

import asyncio
import contextlib
import logging
import secrets
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from consensus.machine import Decision, Ready, Tendermint, Timeout
from consensus.messages import (
    message_from_json,
)
from consensus.safety import SafetyState, double_sign_guard
from consensus.validators import ValidatorSet
from consensus.wal import Tail
from contracts.erasure import admission_refusal, read_refusal
from contracts.registry import CONTRACT_VERSION
from contracts.rules import genesis_writes, signer_key, signer_record_key, stateless_checks
from contracts.state import DictState
from contracts.tx import MalformedTransaction, Transaction, sign_transaction
from node import chainstore, cosigning, logstore, outbox, shredding
from node.application import BlockApplication
from node.blocks import Block
from node.blocksync import BlockSync
from node.chainstore import Tip
from node.db import open_database
from node.executor import Execution
from node.genesis import Genesis, NodeConfig
from node.keys import KeyFileError, read_signer
from node.mempool import Mempool, MempoolFull
from node.p2p import Peer, check_sender, encode_item, open_envelope, tx_item
from node.ratelimit import RateLimiter
from node.vault import Vault
from node.walfile import WalCorrupted, WalFile, WalWriteError
from signing.http_signatures import NonceCache
from tlog import layout
from tlog.note import Signer, Verifier, signature_line

log = logging.getLogger("shanhe.node")

REBROADCAST_SECONDS = 1.0
SHRED_RETRY_SECONDS = 5.0
OUTBOX_RETRY_SECONDS = 1.0
OUTBOX_BATCH = 500
COSIG_FLUSH_SECONDS = 0.05


@dataclass(frozen=True)
class Submitted:
    tx_hash: str
    status: str
    """pending | committed | rejected"""


class TxRejected(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class NotAValidator(Exception):
    """A client's transaction at a node that only follows: its gossip would be dropped by the
    validators and it proposes no block, so a 202 would promise what nobody keeps."""


class RateLimited(Exception):
    def __init__(self, wait: float) -> None:
        super().__init__(f"too many transactions from this signer; retry in {wait:.2f} s")
        self.wait = wait


def now_ms() -> int:
    return int(time.time() * 1000)


class Node(BlockApplication, BlockSync):
    def __init__(self, config: NodeConfig) -> None:
        self.config = config
        self.genesis = Genesis.load(config.path(config.genesis_file))
        if self.genesis.contract_version != CONTRACT_VERSION:
            raise ValueError(
                f"genesis wants contract version {self.genesis.contract_version}, "
                f"this node runs {CONTRACT_VERSION}"
            )
        self.validators = self.genesis.validator_set
        self.chain_id = self.genesis.chain_id
        self.params = self.genesis.params
        self.clock = now_ms
        """Milliseconds since the epoch: block times and PBTS timeliness (tests skew it)."""
        self.signer = read_signer(config.path(config.key_file))
        self.engine = open_database(config.database_url)
        self.wal = WalFile(config.path(config.wal_file))
        self.mempool = Mempool(config.mempool_size)
        self.limiter = RateLimiter.per_second(config.rate_per_signer)
        self.vault = Vault(
            open_database(config.vault_database_url, create=False),
            config.path(config.vault_key_file),
        )
        self.counters: Counter[str] = Counter()
        # genesis validators' URLs live in each node's config, so the state holds none for them
        genesis_set = [
            {"name": v.name, "key": v.encode(), "url": ""} for v in self.genesis.validators
        ]
        self.genesis_writes = genesis_writes(
            list(self.genesis.agencies),
            genesis_set,
            self.genesis.consent_policy,
            self.genesis.calendar,
            self.genesis.rights_policy,
        )
        with self.engine.begin() as conn:
            chainstore.ensure_genesis(conn, self.genesis_writes)
            self.tip = chainstore.tip(conn, self._genesis_tip())
            listed = chainstore.DBState(conn).get("validators")
            self.validators = self._stored_validator_set(listed)
            self.frontier = layout.Frontier.load(
                logstore.tree_size(conn), logstore.hash_reader(conn)
            )
            self.evidence_pending = bool(self._includable_evidence(conn, self.tip.height + 1))
        own = self._signer_for(self.validators, self.signer)
        if isinstance(own, str):
            raise ValueError(own)
        self.signer = own
        self.failed: str | None = None
        """Why the node stopped (its commit step failed); it then does nothing more."""
        self.on_fatal: Callable[[], None] | None = None
        """Called once when the node stops on a failed commit: ``shanhe node run`` exits."""
        self.exec_cache: dict[bytes, tuple[Block, Execution]] = {}
        self.decoded: dict[bytes, Block | str] = {}
        """Blocks of the current height by id, decoded once (or why they do not decode)."""
        self.state = chainstore.StateCache()
        self.verified: set[tuple[bytes, bytes]] = set()
        self.cosigs = cosigning.Cosignatures()
        restored, sign_from = self._load_wal()
        self.wal_unwritten = False
        """A persist failed: nothing may be sent before the machine's state is written."""
        self.sm = Tendermint(
            self.chain_id,
            self.validators,
            self,
            self.signer,
            self.tip.height + 1,
            self.genesis.timeouts,
            restored,
            sign_from_height=sign_from,
        )
        self.started = False
        self.peers: list[Peer] = []
        self._sync_peers(_validator_urls(listed))
        self.tasks: list[asyncio.Task[None]] = []
        self.sync_now = asyncio.Event()
        self.progress_mark: tuple[int, int, int] = (-1, -1, -1)
        self.height_started = time.monotonic()
        self.peer_nonces = NonceCache()
        self.authorities = config.authorities
        """This node's public names: a signed request is good here only if signed for one."""
        self.committed = _Committed(self)
        """Committed state as a contracts ``StateView``."""
        self.shred_pending = True
        """Erasures may be pending (at start: a crash may have left some)."""
        self.shredding = threading.Lock()
        self._shred()

    def _load_wal(self) -> tuple[SafetyState | None, int]:
        """The WAL's last record and the height from which this validator may sign; raises
        ``WalCorrupted`` (the node must not start) for damage that is not a torn tail."""
        try:
            loaded = self.wal.load()
        except WalCorrupted as exc:
            exc.tip = self.tip.height
            self.wal.close()
            self.engine.dispose()
            self.vault.engine.dispose()
            raise
        if loaded.tail is Tail.TORN:
            log.warning("the consensus WAL ended in a torn record; it was cut off")
        elif loaded.tail is Tail.DAMAGED:
            log.warning("the consensus WAL ended in a damaged record; it was cut off")
            self.counters["wal_damaged_tails_cut"] += 1
        if self.wal.torn_tails_repaired:
            self.counters["wal_torn_tails_repaired"] = self.wal.torn_tails_repaired
        tip = self.tip.height
        sign_from, why = double_sign_guard(loaded.state, tip, loaded.tail is Tail.DAMAGED)
        if sign_from > tip + 1:
            log.warning(
                "double-sign guard: this validator signs nothing below height %d (%s); it "
                "follows the chain until then",
                sign_from,
                why,
            )
            self.counters["wal_double_sign_guard"] += 1
        return loaded.state, sign_from

    def _genesis_tip(self) -> Tip:
        return chainstore.genesis_tip(self.genesis_writes, self.genesis.genesis_time_ms)

    # ------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        for peer in self.peers:
            peer.start()
        self.tasks = [
            asyncio.create_task(
                self._every(REBROADCAST_SECONDS, self._rebroadcast), name="rebroadcast"
            ),
            asyncio.create_task(self._sync_loop(), name="sync"),
            asyncio.create_task(self._every(SHRED_RETRY_SECONDS, self._shred_soon), name="shred"),
            asyncio.create_task(
                self._every(OUTBOX_RETRY_SECONDS, self._flush_outbox), name="outbox"
            ),
        ]
        self.started = True
        self.handle(self.sm.start())

    async def stop(self) -> None:
        with self.shredding:  # let a rotation in progress finish (a crash would be safe too)
            pass
        for task in self.tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for peer in self.peers:
            await peer.close()
        self.wal.close()
        self.engine.dispose()
        self.vault.engine.dispose()

    async def _every(self, seconds: float, action: Any) -> None:
        while True:
            await asyncio.sleep(seconds)
            try:
                action()
            except Exception:
                log.exception("periodic %s failed", action)

    def _rebroadcast(self) -> None:
        """Re-send our messages only when consensus made no progress for a whole interval. A
        height that is merely slow (large blocks under load) must not be sent its proposal,
        hundreds of kilobytes, again and again: that load made it slower still."""
        mark = (self.sm.height, self.sm.round, self.sm.step)
        if mark == self.progress_mark:
            self.handle(self.sm.rebroadcast())
        self.progress_mark = mark

    # -------------------------------------------------------------- driver
    def handle(self, ready: Ready, pace: bool = True) -> None:
        """Carry out a Ready in the order consensus/__init__.py prescribes. ``pace``: a decision
        reached here starts the next height no sooner than ``block_interval`` after this one
        started (block sync passes False: catching up must not wait). A node whose commit step
        failed does nothing more: it persists, sends and decides nothing until restarted."""
        if self.failed is not None:
            return
        if not self._persisted(ready):  # 1. durable before anything is sent
            ready.messages = []
        if ready.messages:  # 2.
            items = [
                encode_item({"kind": "consensus", "message": m.to_json()}) for m in ready.messages
            ]
            for peer in self.peers:
                for item in items:
                    peer.send(item)
        loop = asyncio.get_running_loop()
        for t in ready.timeouts:  # 3.
            loop.call_later(t.delay, self._on_timeout, t)
        for ev in ready.evidence:  # 5.
            with self.engine.begin() as conn:
                if chainstore.record_evidence(conn, ev):
                    log.warning("equivocation by %s at height %d", ev.offender, ev.first.height)
                    self.evidence_pending |= ev.first.height <= self.tip.height
        for reason in ready.dropped:
            self.counters[f"dropped:{reason}"] += 1
        if ready.behind is not None:  # 6.
            self.sync_now.set()
        if ready.decision is not None:  # 4.
            try:
                changed = self._commit(ready.decision)
            except Exception as exc:  # the edge: whatever it was, stop clearly
                self._fail(ready.decision.height, exc)
                return
            wait = self.height_started + self.config.block_interval - time.monotonic()
            if pace and wait > 0:  # the machine holds the next height's messages meanwhile
                asyncio.get_running_loop().call_later(wait, self._advance, changed)
            else:
                self._advance(changed)

    def _persisted(self, ready: Ready) -> bool:
        """Write what this Ready (or an earlier one whose write failed) must make durable;
        False if that failed, and then none of its messages may be sent. A full disk makes the
        node silent, not unsafe: it keeps following, and once a write succeeds again (the
        machine's whole state at this height) it speaks again. A WAL that this process can no
        longer write at all (a failed fsync) keeps it silent until a restart."""
        if ready.persist is None and not (self.wal_unwritten and ready.messages):
            return True
        state = ready.persist if ready.persist is not None else self.sm.safety_state()
        try:
            self.wal.append(state)
        except WalWriteError as exc:
            self.counters["wal_write_failures"] += 1
            if self.wal.broken is not None and not self.counters["wal_broken"]:
                self.counters["wal_broken"] = 1
                log.critical(
                    "the consensus WAL %s cannot be written any more (%s): this validator "
                    "signs and sends nothing until it is restarted (docs/consensus.md)",
                    self.wal.path,
                    self.wal.broken,
                )
            elif not self.wal_unwritten:
                log.error("%s: sending nothing until the WAL is written again", exc)
            self.wal_unwritten = True
            return False
        if self.wal_unwritten:
            log.warning("the consensus WAL is written again: sending resumes")
            self.wal_unwritten = False
        return True

    def _advance(self, changed: ValidatorSet | None) -> None:
        self.height_started = time.monotonic()
        self.decoded.clear()
        self.handle(self.sm.advance(changed))

    def _on_timeout(self, t: Timeout) -> None:
        self.handle(self.sm.timeout(t))

    def _fail(self, height: int, exc: Exception) -> None:
        """Stop for good on a commit step that failed: one fatal line saying what, where and
        what to do; not ready; ``on_fatal`` ends the process. Going on would leave the
        machine past a height whose block this node never stored, a silent wedge."""
        what = (str(exc).strip().splitlines() or [""])[0][:300]
        self.failed = f"commit of height {height} failed: {type(exc).__name__}: {what}"
        self.started = False  # /readyz answers 503
        log.debug("commit of height %d failed", height, exc_info=exc)
        if isinstance(exc, SQLAlchemyError | OSError):
            todo = (
                "make its database reachable and writable (connection, space, permissions, locks)"
            )
        else:
            todo = "a bug: keep this log and the node's data for a report"
        log.critical(
            "FATAL: could not commit the decided block at height %d (%s: %s); the node has "
            "stopped. Cause: %s. Then restart it: it resumes from its database and WAL and "
            "fetches the block from its peers",
            height,
            type(exc).__name__,
            what,
            todo,
        )
        if self.on_fatal is not None:
            self.on_fatal()

    def _commit(self, decision: Decision) -> ValidatorSet | None:
        """Store the decided block; return the new validator set if the block changed it.
        Raises if it cannot (``handle`` then stops the node); checks that need no database
        come before anything is stored."""
        h = decision.certificate.block_hash
        cached = self.exec_cache.get(h)
        if cached is None:  # decided without our validation (cannot happen: validity is checked)
            raise RuntimeError(f"no execution for decided block {h.hex()}")
        block, execution = cached
        listed = execution.writes.get("validators")
        changed = None if listed is None else chainstore.validator_set(listed)
        if isinstance(changed, str):  # governance checks every change: a bug if ever seen
            raise RuntimeError(
                f"block {block.height} leaves a validator set no node can use: {changed}"
            )
        with self.engine.begin() as conn:
            checkpoint = chainstore.store_block(
                conn, decision.block, block, decision.certificate, execution, self.genesis.origin
            )
            line = None
            if checkpoint is not None:
                line = signature_line(checkpoint.body(), self.signer)
                cosigning.store(
                    conn, checkpoint.size, self.signer.name, line, self.validators.quorum
                )
                self.cosigs.reached(checkpoint.size)
            self.cosigs.flush(conn, self.validators, self.counters)
            self.frontier = layout.Frontier.load(
                logstore.tree_size(conn), logstore.hash_reader(conn)
            )
            self.evidence_pending = bool(self._includable_evidence(conn, block.height + 1))
            self.shred_pending |= bool(
                shredding.enqueue(conn, block.height, shredding.erased_in(execution.events))
            )
        self.tip = Tip(block.height, h.hex(), block.time_ms, execution.state_root)
        self.state.apply(execution.writes)
        self.exec_cache.clear()
        self.mempool.committed([r.tx_hash for r in execution.results])
        self._shred_soon()
        self.counters["blocks_committed"] += 1
        self.counters["txs_committed"] += len(block.txs)
        if checkpoint is not None:
            item = encode_item({"kind": "cosig", "tree_size": checkpoint.size, "line": line})
            for peer in self.peers:
                peer.send(item)
        if changed is not None:
            names = [v.name for v in changed.validators]
            log.warning("validator set changed at height %d: %s", block.height, names)
            self.validators = changed
            self._take_key(changed, block.height + 1)
            self._sync_peers(_validator_urls(listed))
        return changed

    def _shred_soon(self) -> None:
        """Shred off the event loop: rewrapping every remaining resident's key takes about
        20 µs each on SQLite, 50 µs on PostgreSQL (20,000 residents: 0.4 s and 1 s), and
        consensus must not wait for it."""
        if self.shred_pending:
            if self.started:
                asyncio.get_running_loop().run_in_executor(None, self._shred)
            else:
                self._shred()

    def _shred(self) -> None:
        """Destroy the vault key material of residents erased by committed blocks, then
        strike them from the queue. A failure leaves them queued: retried every few seconds
        and at the next start (the chain already refuses everything about them)."""
        if not self.shredding.acquire(blocking=False):
            return  # one run at a time; the flag stays set for the next
        try:
            self.shred_pending = False
            with self.engine.connect() as conn:
                todo = shredding.pending(conn)
            if todo:
                self.counters["vault_payloads_erased"] += self.vault.erase(todo, self.clock())
                with self.engine.begin() as conn:
                    shredding.done(conn, todo)
                self.counters["residents_shredded"] += len(todo)
        except Exception as exc:  # the edge: keep the node running, keep the erasure queued
            self.shred_pending = True
            self.counters["shredding_failures"] += 1
            log.error("destroying erased residents' vault keys failed (%s: %s); retrying",
                      type(exc).__name__, exc)  # fmt: skip
        finally:
            self.shredding.release()

    def _stored_validator_set(self, listed: Any) -> ValidatorSet:
        """The set the committed state holds (the genesis set if it holds none); a state
        that holds one no node can use (as governance could write before it re-checked
        changes when applying them) stops the node at start with the reason."""
        if listed is None:
            return self.genesis.validator_set
        current = chainstore.validator_set(listed)
        if isinstance(current, str):
            raise ValueError(
                f"the committed state at height {self.tip.height} holds a validator set no node "
                f"can use ({current}); every node holds the same state, so no block can follow "
                "it (earlier versions applied governance changes without checking them again): "
                "restore the node databases from a backup taken before the change that wrote it"
            )
        return current

    def _signer_for(self, validators: ValidatorSet, current: Signer) -> Signer | str:
        """The key to sign with under ``validators``: the current one if the set holds it
        (or does not name us: we only follow), else the next key file's once governance has
        rotated our key to it; else why we cannot sign."""
        listed = validators.by_name(current.name)
        if listed is None or listed.public_key == current.verifier().public_key:
            return current
        path = self.config.path(self.config.next_key_file)
        try:
            following = read_signer(path) if path.exists() else None
        except KeyFileError as exc:
            return f"{exc}"
        if following is not None and following.verifier() == listed:
            return following
        return (
            f"the validator set holds the key {listed.encode()} for {current.name}, and neither "
            f"{self.config.path(self.config.key_file)} nor {path} holds it: put that key (made "
            "by `shanhe validator rotate-key`) at the second path"
        )

    def _take_key(self, validators: ValidatorSet, height: int) -> None:
        """Sign with the key ``validators`` holds for us from ``height`` on (a rotation takes
        effect there): the next key file's once governance has rotated to it. Without it we
        sign nothing, so we never sign with a key the set does not hold."""
        own = self._signer_for(validators, self.signer)
        if isinstance(own, str):
            log.error("from height %d this node only follows: %s", height, own)
            self.sm.signer = None
            return
        if own is not self.signer:
            log.warning("from height %d this node signs with its next key %s", height, own.name)
            self.signer = own
            for peer in self.peers:
                peer.signer = own
        self.sm.signer = own

    def _sync_peers(self, urls: dict[str, str]) -> None:
        """One sender per other validator: new ones start, removed ones stop. URLs come from
        the node config, else from the governance change that added the validator."""
        wanted = {v.name for v in self.validators.validators} - {self.signer.name}
        for peer in [p for p in self.peers if p.name not in wanted]:
            self.peers.remove(peer)
            if self.started:
                asyncio.get_running_loop().create_task(peer.close())
        known = {p.name for p in self.peers}
        for name in sorted(wanted - known):
            url = self.config.peers.get(name) or urls.get(name)
            if url:
                peer = Peer(name, url, self.signer, self.chain_id)
                self.peers.append(peer)
                if self.started:
                    peer.start()

    def _on_cosig(self, signer: str, size: int, line: str) -> None:
        if self.cosigs.receive(signer, size, line, self.frontier.size, self.validators.size):
            asyncio.get_running_loop().call_later(COSIG_FLUSH_SECONDS, self._flush_cosigs)

    def _flush_cosigs(self) -> None:
        if self.cosigs.inbox:
            with self.engine.begin() as conn:
                self.cosigs.flush(conn, self.validators, self.counters)

    # ------------------------------------------------------------ inbound
    def check_envelope_headers(self, headers: Mapping[str, str]) -> str | None:
        """Why a peer's envelope is refused before its body is read, or None."""
        why = check_sender(headers, self.validators, self.authorities)
        if why is not None:
            self.counters[f"dropped_envelope:{why}"] += 1
        return why

    def on_envelope(self, body: bytes, headers: Mapping[str, str]) -> str | None:
        """Handle a peer's envelope; the reason it was dropped, or None."""
        opened = open_envelope(
            body, headers, self.validators, self.chain_id, self.peer_nonces, self.authorities
        )
        if isinstance(opened, str):
            self.counters[f"dropped_envelope:{opened}"] += 1
            return opened
        sender, items = opened
        messages = []
        for item in items:
            try:
                kind = item.get("kind")
                if kind == "consensus":
                    messages.append(message_from_json(item["message"]))
                elif kind == "tx":
                    self._admit(Transaction.from_json(item["tx"]), gossip=False)
                elif kind == "cosig":
                    self._on_cosig(sender, int(item["tree_size"]), str(item["line"]))
            except (KeyError, TypeError, ValueError, TxRejected):
                self.counters["dropped:malformed_item"] += 1
            except MempoolFull:  # the rest of the envelope (votes above all) still counts
                self.counters["dropped:mempool_full"] += 1
        if messages:
            self.handle(self.sm.receive_many(messages, via=sender))
        return None

    def submit(self, raw: Any) -> Submitted:
        """An agency system's transaction; raises TxRejected with a stable code."""
        try:
            tx = Transaction.from_json(raw)
        except MalformedTransaction as exc:
            raise TxRejected("malformed_transaction", str(exc)) from exc
        return self._admit(tx, gossip=True)

    def _admit(self, tx: Transaction, gossip: bool, limited: bool = True) -> Submitted:
        """Check and queue a transaction. ``gossip``: it came from a client, so answer
        idempotently from the database and pass it on; a peer's was checked by that peer, and
        a committed one slipping back in is filtered when proposing and refused when validating.
        ``limited``: the signer's rate limit applies (not to this node's own records of reads,
        which its outbox holds until they are in: ``_flush_outbox``).
        """
        h = tx.hash
        if h in self.mempool:
            return Submitted(h.hex(), "pending")
        if (problem := stateless_checks(tx)) is not None:  # what makes a block invalid
            code = "malformed_transaction" if problem.code == "bad_field" else problem.code
            raise TxRejected(code, problem.message)
        if gossip:
            with self.engine.connect() as conn:
                result = chainstore.tx_result(conn, h)
            if result is not None:
                decided = "rejected" if result["outcome"] == "rejected" else "committed"
                return Submitted(h.hex(), decided)
        if tx.body["chain_id"] != self.chain_id:
            raise TxRejected("wrong_chain", f"this node serves chain {self.chain_id}")
        if gossip and (erased := admission_refusal(self.committed, tx, self._check_signature)):
            raise TxRejected(erased.code, erased.message)
        key = self.key_of(tx.signer)
        if key is None:
            raise TxRejected("unknown_signer", f"{tx.signer} is not an active agency or resident")
        if not self._check_signature(tx, key):
            raise TxRejected("bad_signature", "the signature does not verify with the signer's key")
        if gossip and limited and (wait := self.limiter.take(tx.signer, time.monotonic())):
            raise RateLimited(wait)
        if gossip and self.sm.me is None:
            raise NotAValidator(
                "this node is not a validator of the current set (or not with the key the set "
                "holds): it would hold the transaction where no block takes it; send it to a "
                "validator (GET /v1/network)"
            )
        self.mempool.add(tx)  # raises MempoolFull
        if gossip:
            item = tx_item(tx)
            for peer in self.peers:
                peer.send(item, gossip=True)
        self.handle(self.sm.txs_available())
        return Submitted(h.hex(), "pending")

    def record_refusal(
        self, resident: str, agent: str, entity: str, data_class: str, purpose: str, reason: str
    ) -> None:
        """Put a read refused at this node's API into the resident's access log: a transaction
        signed by this validator (``access.refused``), committed like any other, through the
        outbox (``_record``)."""
        self._record(
            "access.refused", resident,
            {"agent": agent, "entity": entity, "data_class": data_class, "purpose": purpose,
             "reason": reason},
        )  # fmt: skip

    def record_read(
        self, resident: str, agent: str, entity: str, data_class: str, purpose: str
    ) -> None:
        """Put an agency's granted read of a resident's case file at this node's API into the
        resident's access log (``access.read``), through the outbox (``_record``)."""
        self._record(
            "access.read", resident,
            {"agent": agent, "entity": entity, "data_class": data_class, "purpose": purpose},
        )  # fmt: skip

    def _record(self, tx_type: str, resident: str, fields: dict[str, str]) -> None:
        """Write the record to the durable outbox, then try to submit it now; whatever stops
        it (a full mempool, a crash) only delays it: ``_flush_outbox`` submits it until a
        block has it. Nothing for a pseudonym nobody holds or an erased resident (the contract
        would refuse it)."""
        if read_refusal(self.committed, resident, None) or not self.committed.get(
            f"resident/{resident}"
        ):
            return
        body = {"type": tx_type, "chain_id": self.chain_id, "signer": f"node:{self.signer.name}",
                "nonce": secrets.token_hex(16), "resident": resident, **fields}  # fmt: skip
        with self.engine.begin() as conn:
            outbox.put(conn, body, self.clock())
        self.counters["refusals_recorded" if tx_type == "access.refused" else "reads_recorded"] += 1
        self._submit_owed(body)

    def _submit_owed(self, body: dict[str, Any]) -> bool:
        """Submit an outbox record, signed with the key the validator set holds for this node
        now; False if it must wait (the mempool is full, or this node cannot propose now). One
        that can never be valid (the resident was erased since, this node left the set) is
        struck from the outbox: a block would refuse it too."""
        try:
            self._admit(sign_transaction(body, self.signer), gossip=True, limited=False)
        except (MempoolFull, NotAValidator):
            self.counters["outbox_waiting"] += 1
            return False
        except TxRejected as exc:
            self.counters["outbox_refused"] += 1
            log.warning("a %s record was refused (%s): %s", body["type"], exc.code, exc)
            with self.engine.begin() as conn:
                outbox.done(conn, [str(body["nonce"])])
        return True

    def _flush_outbox(self) -> None:
        """Strike what blocks have (applied or refused there: either way on record, final)
        from the outbox; submit the rest again, oldest first. Every second, from start."""
        with self.engine.connect() as conn:
            owed = [(body, sign_transaction(body, self.signer)) for body in
                    outbox.pending(conn, OUTBOX_BATCH)]  # fmt: skip
            finished = [str(body["nonce"]) for body, tx in owed
                        if chainstore.tx_result(conn, tx.hash) is not None]  # fmt: skip
        if finished:
            with self.engine.begin() as conn:
                outbox.done(conn, finished)
        for body, tx in owed:
            if str(body["nonce"]) in finished or tx.hash in self.mempool:
                continue
            if not self._submit_owed(body):
                break  # full: the rest waits for the next round, in order

    def key_of(self, signer: str) -> Verifier | None:
        """The active key registered on the ledger for an agency id, ``resident:<pseudonym>``
        or ``node:<validator>``."""
        record = signer_record_key(signer)
        return signer_key(DictState({record: self.committed_value(record)}), signer)

    def erasure_refusal(self, resident: str, record: Any) -> str | None:
        """Why a read of ``record`` about ``resident`` is refused for erasure (the contracts'
        rule, on committed state), or None."""
        return read_refusal(self.committed, resident, record)

    def committed_value(self, key: str) -> Any:
        """A committed state value, through the node's state cache (one read on a miss)."""
        if key not in self.state.values:
            with self.engine.connect() as conn:
                self.state.prefetch(conn, [key])
        return self.state.values.get(key)

    def tx_status(self, tx_hash: bytes) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            result = chainstore.tx_result(conn, tx_hash)
        if result is not None:
            outcome = result["outcome"]
            out: dict[str, Any] = {
                "tx_hash": tx_hash.hex(),
                "status": "rejected" if outcome == "rejected" else "committed",
                "height": result["height"],
            }
            if outcome == "rejected":
                out["reason"] = result["code"]
                out["message"] = result["message"]
                return out
            out["leaf_index"] = result["leaf_index"]
            out["outcome"] = outcome
            if outcome == "refused":
                out["reason"] = result["code"]
            return out
        if tx_hash in self.mempool:
            return {"tx_hash": tx_hash.hex(), "status": "pending"}
        return None


class _Committed:
    def __init__(self, node: Node) -> None:
        self.node = node

    def get(self, key: str) -> Any:
        return self.node.committed_value(key)


def _validator_urls(value: Any) -> dict[str, str]:
    """Validators' URLs as governance added them (genesis validators' are in node configs)."""
    entries = value if isinstance(value, list) else []
    return {
        str(v["name"]): v["url"]
        for v in entries
        if isinstance(v, dict) and isinstance(v.get("url"), str) and v.get("url")
    }
