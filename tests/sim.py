"""Deterministic simulation of a validator network driving ``consensus.Tendermint``.

Seeded virtual clock and network with delay, loss, duplication, reordering, partitions (halves,
an isolated node, an overlapping-majority ring) and heals, per-node clock skew, crashes and
restarts from the persisted write-ahead record (sometimes with a torn last record), clock
offsets judged by proposer-based timestamps, and one Byzantine validator with one or more roles:
equivocation (conflicting proposals, double votes, votes for unknown blocks, garbage
signatures), floods of signed messages for far-future rounds and the next height, blocks with
bad evidence, blocks stamped far ahead or backdated, and proposals timed to split the
validators (sent to one early, to the others after their timeouts). Invariants are checked
after every event; a failure names its seed.

    python -m tests.sim --seeds 2000          # soak
    python -m tests.sim --seed 1234 --verbose # replay one seed
"""

import argparse
import hashlib
import heapq
import json
import random
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

from consensus.machine import (
    CATCHUP_ROUNDS,
    NEXT_HEIGHT_ROUNDS,
    Decision,
    Ready,
    Tendermint,
    Timeout,
    TimeoutConfig,
)
from consensus.messages import (
    CommitCertificate,
    Evidence,
    Message,
    Proposal,
    Vote,
    VoteType,
    block_id,
    signer_of,
    verify_certificate,
    verify_evidence,
)
from consensus.safety import SafetyState
from consensus.validators import ValidatorSet
from consensus.wal import Corrupt, decode_records, encode_record
from signing.canonical import canonical_json
from tlog.note import Signer, Verifier

CHAIN = "sim-chain"
TIMEOUTS = TimeoutConfig(propose=1.0, prevote=0.5, precommit=0.5, delta=0.5)
REBROADCAST = 1.0
PRECISION = 0.5
"""PBTS: honest clocks read at most this far apart (offsets are drawn within half of it)."""
MSGDELAY = 2.0
"""PBTS: how late a fresh proposal may arrive in round 0 (a tenth more each round)."""
ROLES = ("equivocate", "future_rounds", "bad_evidence", "skewed_time", "split_timing")


class InvariantViolation(AssertionError):
    pass


class _RememberingVerifier(Verifier):
    """Every node checks every signature, as in production; in the simulation one message
    object reaches every node, so its check is remembered (Ed25519 is a pure function)."""

    def verify(self, message: bytes, signature: bytes) -> bool:
        key = (self.public_key, message, signature)
        known = _VERDICTS.get(key)
        if known is None:
            known = _VERDICTS[key] = super().verify(message, signature)
        return known


_VERDICTS: dict[tuple[bytes, bytes, bytes], bool] = {}


@dataclass
class Scenario:
    n: int
    byzantine: int | None
    loss: float
    duplicate: float
    max_delay: float
    skews: list[float]
    partition: str | None
    partition_at: float
    crash: int | None
    crash_at: float
    torn: bool
    fault_period: float = 30.0
    settle: float = 90.0
    offsets: tuple[float, ...] = ()
    """Each node's clock minus real time, in seconds."""
    roles: tuple[str, ...] = ()
    """What the Byzantine validator does."""

    @staticmethod
    def draw(rng: random.Random, extra: random.Random | None = None) -> "Scenario":
        """``extra`` draws what later versions added, so that the scenario and the run of an
        old seed stay what they were (seeds found by soaking are kept as regression tests)."""
        extra = extra or random.Random(rng.random())
        n = rng.choices([4, 1, 3, 7], weights=[80, 5, 5, 10])[0]
        byzantine = rng.randrange(n) if n >= 4 and rng.random() < 0.5 else None
        honest = [i for i in range(n) if i != byzantine]
        return Scenario(
            n=n,
            byzantine=byzantine,
            loss=rng.choice([0.0, 0.05, 0.2]),
            duplicate=rng.choice([0.0, 0.1]),
            max_delay=rng.choice([0.01, 0.1, 0.4]),
            skews=[rng.uniform(0.5, 2.0) for _ in range(n)],
            partition=rng.choice([None, "halves", "isolated", "ring"]) if n > 1 else None,
            partition_at=rng.uniform(0, 20),
            crash=rng.choice(honest) if rng.random() < 0.6 else None,
            crash_at=rng.uniform(0, 25),
            torn=rng.random() < 0.5,
            offsets=tuple(extra.uniform(-PRECISION / 2, PRECISION / 2) for _ in range(n)),
            roles=(
                tuple(sorted(extra.sample(ROLES, extra.randint(1, len(ROLES)))))
                if byzantine is not None
                else ()
            ),
        )


class SimApp:
    """Blocks are canonical JSON {height, parent, time, txs, evidence}; honest validation
    checks them all, deterministically; timeliness reads the node's own (offset) clock."""

    def __init__(self, node: "SimNode", sim: "Simulation") -> None:
        self.node, self.sim = node, sim

    def clock(self) -> float:
        return self.sim.now + self.node.offset

    def includable(self, height: int) -> list[dict[str, object]]:
        return [
            ev
            for key, ev in sorted(self.node.evidence_pool.items())
            if key not in self.node.included_evidence and _evidence_height(ev) < height
        ][:2]

    def pending(self) -> bool:
        return bool(self.node.mempool - self.node.committed_txs) or bool(
            self.includable(len(self.node.chain) + 1)
        )

    def propose(self, height: int) -> bytes | None:
        txs = sorted(self.node.mempool - self.node.committed_txs)[:5]
        evidence = self.includable(height)
        if not txs and not evidence:
            return None
        time_ = max(int(self.clock() * 1000), self.node.tip_time() + 1)
        if self.node.byzantine:
            time_, evidence = self.sim.byzantine_block(self.node, time_, evidence)
        return make_block(height, self.node.tip(), time_, txs, evidence)

    def validate(self, height: int, block: bytes) -> bool:
        ok = self._validate(height, block)
        self.sim.refused += not ok
        return ok

    def _validate(self, height: int, block: bytes) -> bool:
        try:
            d = json.loads(block)
            txs, evidence, time_ = d["txs"], d["evidence"], d["time"]
            return (
                d["height"] == height
                and d["parent"] == self.node.tip()
                and isinstance(time_, int)
                and time_ > self.node.tip_time()
                and isinstance(txs, list)
                and len(txs) == len(set(txs))
                and all(isinstance(t, str) and t.startswith("tx-") for t in txs)
                and not set(txs) & self.node.committed_txs
                and isinstance(evidence, list)
                and all(self.valid_evidence(ev, height) for ev in evidence)
                and len({_evidence_key(ev) for ev in evidence}) == len(evidence)
            )
        except (ValueError, KeyError, TypeError, AttributeError):
            return False

    def valid_evidence(self, raw: object, height: int) -> bool:
        if not isinstance(raw, dict):
            return False
        try:
            ev = Evidence.from_json(raw)
        except (ValueError, KeyError, TypeError, AttributeError):
            return False
        return (
            verify_evidence(ev, self.sim.validators, CHAIN) is None
            and ev.first.height < height
            and _evidence_key(raw) not in self.node.included_evidence
        )

    def timely(self, height: int, round_: int, block: bytes) -> bool:
        time_ = json.loads(block)["time"] / 1000
        now = self.clock()
        ok = time_ - PRECISION <= now <= time_ + MSGDELAY * 1.1 ** min(round_, 60) + PRECISION
        self.sim.untimely += not ok
        return bool(ok)


def _evidence_key(raw: object) -> str:
    return canonical_json(raw).decode()


def _evidence_height(raw: dict[str, object]) -> int:
    first = raw.get("first")
    return int(first["height"]) if isinstance(first, dict) else 0


def make_block(
    height: int,
    parent: str,
    time_: int,
    txs: list[str],
    evidence: list[dict[str, object]] | None = None,
) -> bytes:
    return canonical_json(
        {"height": height, "parent": parent, "time": time_, "txs": txs, "evidence": evidence or []}
    )


@dataclass
class SimNode:
    index: int
    signer: Signer
    skew: float
    byzantine: bool
    offset: float = 0.0
    sm: Tendermint | None = None
    chain: list[tuple[bytes, CommitCertificate]] = field(default_factory=list)
    wal: bytearray = field(default_factory=bytearray)
    mempool: set[str] = field(default_factory=set)
    committed_txs: set[str] = field(default_factory=set)
    persisted: set[bytes] = field(default_factory=set)
    crashed: bool = False
    incarnation: int = 0
    evidence_pool: dict[str, dict[str, object]] = field(default_factory=dict)
    included_evidence: set[str] = field(default_factory=set)

    @property
    def name(self) -> str:
        return self.signer.name

    def tip(self) -> str:
        return block_id(self.chain[-1][0]).hex() if self.chain else "genesis"

    def tip_time(self) -> int:
        """The last block's time, in milliseconds."""
        return int(json.loads(self.chain[-1][0])["time"]) if self.chain else 0


class Simulation:
    def __init__(self, seed: int, scenario: Scenario | None = None, verbose: bool = False) -> None:
        self.seed = seed
        self.rng = random.Random(seed)
        self.scenario = scenario or Scenario.draw(self.rng, random.Random(f"{seed}-extra"))
        self.verbose = verbose
        sc = self.scenario
        signers = [
            Signer(f"v{i}", hashlib.sha256(f"{seed}-{i}".encode()).digest()) for i in range(sc.n)
        ]
        _VERDICTS.clear()
        self.validators = ValidatorSet(
            tuple(_RememberingVerifier(s.name, s.verifier().public_key) for s in signers)
        )
        self.nodes = [
            SimNode(i, s, sc.skews[i], i == sc.byzantine, sc.offsets[i] if sc.offsets else 0.0)
            for i, s in enumerate(signers)
        ]
        self.now = 0.0
        self.queue: list[tuple[float, int, Callable[[], None]]] = []
        self.seq = 0
        self.cut: Callable[[int, int], bool] = lambda a, b: False
        self.decided: dict[int, bytes] = {}
        self.signed_by_honest: dict[tuple[str, int, int, str], Message] = {}
        self.evidence_offenders: set[str] = set()
        self.torn_injected = 0
        self.torn_detected = 0
        self.tx_count = 0
        self.faults_over = False
        self.flood_dropped = 0
        self.untimely = 0
        self.refused = 0

    # ------------------------------------------------------------ plumbing
    def log(self, text: str) -> None:
        if self.verbose:
            print(f"[{self.now:8.3f}] {text}")

    def at(self, delay: float, action: Callable[[], None]) -> None:
        self.seq += 1
        heapq.heappush(self.queue, (self.now + delay, self.seq, action))

    def honest(self) -> list[SimNode]:
        return [n for n in self.nodes if not n.byzantine]

    def fail(self, what: str) -> None:
        raise InvariantViolation(f"seed {self.seed}: {what} (scenario {self.scenario})")

    # ------------------------------------------------------------- network
    def send(self, src: SimNode, dst: SimNode, deliver: Callable[[SimNode], None]) -> None:
        sc = self.scenario
        if self.cut(src.index, dst.index) or self.rng.random() < sc.loss:
            return
        copies = 2 if self.rng.random() < sc.duplicate else 1
        for _ in range(copies):

            def go(dst: SimNode = dst) -> None:
                if not dst.crashed:
                    deliver(dst)

            self.at(self.rng.uniform(0.001, sc.max_delay), go)

    def broadcast(self, src: SimNode, msg: Message, only: list[SimNode] | None = None) -> None:
        if not src.byzantine:
            self.record_honest(msg)
        for dst in only if only is not None else self.nodes:
            if dst is not src:
                self.send(src, dst, partial(self.deliver_message, msg))

    def deliver_message(self, msg: Message, dst: SimNode) -> None:
        if dst.sm is not None:
            self.handle(dst, dst.sm.receive(msg))

    def deliver_commit(self, block: bytes, cert: CommitCertificate, dst: SimNode) -> None:
        if dst.sm is not None:
            self.handle(dst, dst.sm.commit_certificate(block, cert))

    def sync_request(self, requester: SimNode, height: int, dst: SimNode) -> None:
        self.send_commits(dst, requester, height)

    def record_honest(self, msg: Message) -> None:
        kind = "proposal" if isinstance(msg, Proposal) else str(msg.type)
        key = (signer_of(msg), msg.height, msg.round, kind)
        known = self.signed_by_honest.get(key)
        content = (msg.block_hash, msg.pol_round) if isinstance(msg, Proposal) else msg.block_hash
        if known is not None:
            old = (
                (known.block_hash, known.pol_round)
                if isinstance(known, Proposal)
                else known.block_hash
            )
            if old != content:
                self.fail(
                    f"honest {key[0]} signed conflicting {kind}s at height {msg.height} round {msg.round}"
                )
        else:
            self.signed_by_honest[key] = msg

    # -------------------------------------------------------------- driver
    def handle(self, node: SimNode, ready: Ready) -> None:
        """The driver contract of consensus/__init__.py, steps 1-6."""
        if node.crashed or node.sm is None:
            return
        if ready.persist is not None:
            node.wal += encode_record(ready.persist.encode())
            node.persisted |= {m.signature for m in ready.persist.sent}
        for msg in ready.messages:
            if signer_of(msg) == node.name and msg.signature not in node.persisted:
                self.fail(f"{node.name} sent a message it had not persisted")
        for msg in ready.messages:
            if node.byzantine:
                self.misbehave(node, msg)
            else:
                self.broadcast(node, msg)
        if not node.byzantine:
            self.flood_dropped += sum(
                r in ("catchup_rounds", "next_height_rounds") for r in ready.dropped
            )
        incarnation = node.incarnation
        for t in ready.timeouts:
            self.at(t.delay * node.skew, partial(self.fire, node, t, incarnation))
        for ev in ready.evidence:
            self.evidence_offenders.add(ev.offender)
            if not self.nodes[int(ev.offender[1:])].byzantine:
                self.fail(f"evidence against honest {ev.offender}")
            raw = ev.to_json()
            node.evidence_pool[_evidence_key(raw)] = raw
        for name, height in ready.lagging[:3]:
            self.send_commits(node, self.nodes[int(name[1:])], height)
        if ready.behind is not None:
            for peer in self.nodes:
                if peer is not node:
                    self.send(node, peer, partial(self.sync_request, node, len(node.chain) + 1))
        if ready.decision is not None:
            self.commit(node, ready.decision)

    def fire(self, node: SimNode, t: Timeout, incarnation: int) -> None:
        if not node.crashed and node.incarnation == incarnation and node.sm:
            self.handle(node, node.sm.timeout(t))

    def send_commits(self, src: SimNode, dst: SimNode, from_height: int) -> None:
        for height in range(from_height, min(len(src.chain), from_height + 5) + 1):
            block, cert = src.chain[height - 1]
            self.send(src, dst, partial(self.deliver_commit, block, cert))

    def commit(self, node: SimNode, decision: Decision) -> None:
        height = len(node.chain) + 1
        if decision.height != height:
            self.fail(f"{node.name} decided height {decision.height} at chain length {height - 1}")
        if not node.byzantine:
            err = verify_certificate(decision.certificate, self.validators, CHAIN)
            if err is not None or decision.certificate.block_hash != block_id(decision.block):
                self.fail(
                    f"{node.name} committed height {height} without a valid certificate: {err}"
                )
            if not SimApp(node, self).validate(height, decision.block):
                self.fail(f"{node.name} committed an invalid block at height {height}")
            latest = self.now + max(abs(o) for o in self.scenario.offsets or (0.0,)) + PRECISION
            if json.loads(decision.block)["time"] > latest * 1000 + 1:
                self.fail(f"{node.name} committed a block stamped in the future at {height}")
            first = self.decided.setdefault(height, decision.block)
            if first != decision.block:
                self.fail(f"agreement: two honest blocks at height {height}")
        node.chain.append((decision.block, decision.certificate))
        content = json.loads(decision.block)
        node.committed_txs |= set(content["txs"])
        node.included_evidence |= {_evidence_key(ev) for ev in content["evidence"]}
        self.log(f"{node.name} commits height {height} round {decision.round}")
        assert node.sm is not None
        self.handle(node, node.sm.advance())

    # ----------------------------------------------------------- lifecycle
    def boot(self, node: SimNode) -> None:
        restored = None
        decoded = decode_records(bytes(node.wal))
        if isinstance(decoded, Corrupt):  # the model only tears tails
            return self.fail(
                f"{node.name}'s WAL is corrupt at byte {decoded.offset}: {decoded.reason}"
            )
        if decoded.torn:
            self.torn_detected += 1
            del node.wal[decoded.valid_length :]
        if decoded.records:
            restored = SafetyState.decode(decoded.records[-1])
        node.sm = Tendermint(
            CHAIN,
            self.validators,
            SimApp(node, self),
            node.signer,
            len(node.chain) + 1,
            TIMEOUTS,
            restored,
        )
        node.crashed = False
        self.handle(node, node.sm.start())
        self.tick(node, node.incarnation)

    def tick(self, node: SimNode, incarnation: int) -> None:
        if node.crashed or node.incarnation != incarnation or node.sm is None:
            return
        self.handle(node, node.sm.rebroadcast())
        self.at(REBROADCAST * node.skew, lambda: self.tick(node, incarnation))

    def crash(self, node: SimNode) -> None:
        self.log(f"{node.name} crashes")
        if self.scenario.torn and node.sm is not None:
            # killed in the middle of writing its next record: a prefix of it reaches the disk
            record = encode_record(node.sm.safety_state().encode())
            node.wal += record[: self.rng.randrange(1, len(record))]
            self.torn_injected += 1
        node.crashed = True
        node.incarnation += 1
        node.sm = None

    def restart(self, node: SimNode) -> None:
        self.log(f"{node.name} restarts")
        self.boot(node)

    def submit(self, tx: str) -> None:
        for node in self.nodes:

            def arrive(node: SimNode = node) -> None:
                node.mempool.add(tx)
                if not node.crashed and node.sm is not None:
                    self.handle(node, node.sm.txs_available())

            self.at(self.rng.uniform(0.0, 0.3), arrive)

    def partition(self, kind: str) -> None:
        n = self.scenario.n
        self.log(f"partition {kind}")
        if kind == "halves":
            self.cut = lambda a, b: (a < n // 2) != (b < n // 2)
        elif kind == "isolated":
            lone = self.rng.randrange(n)
            self.cut = lambda a, b: (a == lone) != (b == lone)
        elif kind == "ring":  # each node reaches only its ring neighbours
            self.cut = lambda a, b: (a - b) % n not in (0, 1, n - 1)

    def heal(self) -> None:
        self.log("heal")
        self.cut = lambda a, b: False
        self.faults_over = True

    # ---------------------------------------------------------- byzantine
    def byzantine_block(
        self, node: SimNode, time_: int, evidence: list[dict[str, object]]
    ) -> tuple[int, list[dict[str, object]]]:
        """What a Byzantine proposer puts in its own blocks, by role."""
        roles, rng = self.scenario.roles, self.rng
        if "skewed_time" in roles and rng.random() < 0.5:
            time_ = rng.choice([time_ + 30_200, node.tip_time() + 1, time_ - 60_000])
            time_ = max(time_, node.tip_time() + 1)
        if "bad_evidence" in roles and rng.random() < 0.5:
            junk: list[dict[str, object]] = [
                {"first": 1, "second": []},
                {"offender": "v0"},
                {"first": {"kind": "vote"}, "second": {"kind": "proposal"}},
            ]
            evidence = [*evidence, rng.choice(junk)]
            if evidence and rng.random() < 0.3:
                evidence = [*evidence, evidence[0]]  # the same evidence twice
        return time_, evidence

    def misbehave(self, node: SimNode, msg: Message) -> None:
        roles = [
            r for r in self.scenario.roles if r in ("equivocate", "future_rounds", "split_timing")
        ]
        role = self.rng.choice(roles) if roles else "honest"
        if role == "future_rounds":
            self.flood_future(node, msg)
            self.broadcast(node, msg)
        elif role == "split_timing" and isinstance(msg, Proposal):
            others = [n for n in self.nodes if n is not node]
            self.rng.shuffle(others)
            self.broadcast(node, msg, others[:1])
            late = self.rng.uniform(0.8, 3.0)  # after most honest propose timeouts
            self.at(late, partial(self.broadcast, node, msg, others[1:]))
        elif role == "equivocate":
            self.equivocate(node, msg)
        else:
            self.broadcast(node, msg)

    def flood_future(self, node: SimNode, msg: Message) -> None:
        """Signed messages for far rounds of this height and many rounds of the next, large
        blocks included, and copies of each: all of it must stay bounded at honest nodes."""
        rng, n = self.rng, self.scenario.n
        junk = make_block(msg.height, node.tip(), 0, [f"tx-junk-{i}" for i in range(200)])
        for _ in range(2):
            far = msg.round + 2 + rng.randrange(10**4)
            far += (node.index - msg.height - far) % n  # a round this node proposes in
            prop = Proposal(CHAIN, msg.height, far, -1, block_id(junk), node.name, b"", junk)
            vote = Vote(CHAIN, VoteType.PREVOTE, msg.height, far + 1, None, node.name)
            ahead = Vote(
                CHAIN, VoteType.PRECOMMIT, msg.height + 1, rng.randrange(50), None, node.name
            )
            for m in (
                prop.signed(node.signer),
                vote.signed(node.signer),
                ahead.signed(node.signer),
            ):
                for _ in range(3):
                    self.broadcast(node, m)

    def equivocate(self, node: SimNode, msg: Message) -> None:
        rng = self.rng
        others = [n for n in self.nodes if n is not node]
        half = others[: len(others) // 2]
        rest = others[len(others) // 2 :]
        choice = rng.random()
        if isinstance(msg, Proposal) and choice < 0.5:
            txs = [f"tx-evil-{rng.randrange(10**6)}"] if rng.random() >= 0.3 else ["bad-tx"]
            evil_block = make_block(msg.height, node.tip(), node.tip_time() + 1, txs)
            evil = Proposal(
                CHAIN,
                msg.height,
                msg.round,
                msg.pol_round,
                block_id(evil_block),
                node.name,
                b"",
                evil_block,
            ).signed(node.signer)
            self.broadcast(node, msg, half)
            self.broadcast(node, evil, rest)
        elif isinstance(msg, Vote) and choice < 0.3:
            other = None if msg.block_hash is not None else rng.randbytes(32)
            double = Vote(CHAIN, msg.type, msg.height, msg.round, other, node.name).signed(
                node.signer
            )
            self.broadcast(node, msg, half)
            self.broadcast(node, double, rest)
        elif isinstance(msg, Vote) and choice < 0.4:
            unknown = Vote(CHAIN, msg.type, msg.height, msg.round, rng.randbytes(32), node.name)
            self.broadcast(node, unknown.signed(node.signer))
        elif choice < 0.5:
            garbage = Vote(
                CHAIN,
                VoteType.PREVOTE,
                msg.height,
                msg.round,
                rng.randbytes(32),
                node.name,
                rng.randbytes(64),
            )
            self.broadcast(node, garbage)
            self.broadcast(node, msg)
        else:
            self.broadcast(node, msg)

    def check_bounds(self) -> None:
        """What a Byzantine flood can make an honest machine keep is bounded."""
        n = self.scenario.n
        for node in self.honest():
            if node.sm is None:
                continue
            beyond, _, future = node.sm.footprint()
            if beyond > n * CATCHUP_ROUNDS or future > n * NEXT_HEIGHT_ROUNDS * 3:
                self.fail(
                    f"{node.name} keeps {beyond} far rounds and {future} next-height messages"
                )
            if len(node.sm.round_senders) > node.sm.round + 2 + n * CATCHUP_ROUNDS:
                self.fail(f"{node.name} tracks {len(node.sm.round_senders)} rounds")

    # ---------------------------------------------------------------- run
    def converged(self, final_tx: str) -> bool:
        honest = self.honest()
        return all(final_tx in n.committed_txs for n in honest) and (
            len({len(n.chain) for n in honest}) == 1
        )

    def run(self) -> "SimResult":
        sc = self.scenario
        for node in self.nodes:
            self.boot(node)
        t = 0.0
        while t < sc.fault_period:
            t += self.rng.expovariate(1.5)
            self.tx_count += 1
            tx = f"tx-{self.tx_count}"
            self.at(t, partial(self.submit, tx))
        if sc.partition:
            kind = sc.partition
            self.at(sc.partition_at, partial(self.partition, kind))
        if sc.crash is not None:
            victim = self.nodes[sc.crash]
            self.at(sc.crash_at, partial(self.crash, victim))
            back = min(sc.crash_at + self.rng.uniform(1, 10), sc.fault_period)
            self.at(back, partial(self.restart, victim))
        self.at(sc.fault_period, self.heal)
        final_tx = "tx-final"
        self.at(sc.fault_period + 0.01, partial(self.submit, final_tx))
        end = sc.fault_period + sc.settle
        events = 0
        while self.queue:
            when, _, action = heapq.heappop(self.queue)
            if when > end:
                break
            self.now = when
            action()
            events += 1
            if events % 50 == 0:
                self.check_bounds()
            if self.faults_over and self.converged(final_tx):
                break
        honest = self.honest()
        if not self.converged(final_tx):
            reached = {n.name: len(n.chain) for n in honest}
            self.fail(f"liveness: after healing, honest heights {reached} did not converge")
        if self.torn_detected < self.torn_injected:
            self.fail(f"{self.torn_injected} torn records written, {self.torn_detected} detected")
        return SimResult(
            seed=self.seed,
            height=len(honest[0].chain),
            virtual_seconds=self.now,
            evidence=len(self.evidence_offenders),
            torn=self.torn_detected,
            flood_dropped=self.flood_dropped,
            untimely=self.untimely,
            refused=self.refused,
        )


@dataclass(frozen=True)
class SimResult:
    seed: int
    height: int
    virtual_seconds: float
    evidence: int
    torn: int
    flood_dropped: int = 0
    untimely: int = 0
    refused: int = 0


def run_seed(seed: int, verbose: bool = False) -> SimResult:
    return Simulation(seed, verbose=verbose).run()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="consensus simulation soak")
    parser.add_argument("--seeds", type=int, default=300)
    parser.add_argument("--first", type=int, default=0)
    parser.add_argument("--seed", type=int, help="replay one seed")
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args(argv)
    seeds = [args.seed] if args.seed is not None else range(args.first, args.first + args.seeds)
    failures = 0
    for seed in seeds:
        try:
            result = run_seed(seed, args.verbose)
            if args.verbose or args.seed is not None:
                print(result)
        except InvariantViolation as exc:
            failures += 1
            print(f"FAIL {exc}\n  replay: python -m tests.sim --seed {seed} --verbose")
    print(f"{len(seeds) - failures} passed, {failures} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
