"""Deterministic simulation of a validator network driving ``consensus.Tendermint``.

Seeded virtual clock and network with delay, loss, duplication, reordering, partitions (halves,
an isolated node, an overlapping-majority ring) and heals, per-node clock skew, crashes and
restarts from the persisted write-ahead record (sometimes with a torn last record), and one
Byzantine validator (equivocating proposals, double votes, votes for unknown blocks, garbage
signatures). Invariants are checked after every event; a failure names its seed.

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

from consensus.machine import Decision, Ready, Tendermint, Timeout, TimeoutConfig
from consensus.messages import (
    CommitCertificate,
    Message,
    Proposal,
    Vote,
    VoteType,
    block_id,
    signer_of,
    verify_certificate,
)
from consensus.safety import SafetyState
from consensus.validators import ValidatorSet
from consensus.wal import Corrupt, decode_records, encode_record
from signing.canonical import canonical_json
from tlog.note import Signer

CHAIN = "sim-chain"
TIMEOUTS = TimeoutConfig(propose=1.0, prevote=0.5, precommit=0.5, delta=0.5)
REBROADCAST = 1.0


class InvariantViolation(AssertionError):
    pass


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

    @staticmethod
    def draw(rng: random.Random) -> "Scenario":
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
        )


class SimApp:
    """Blocks are canonical JSON {height, parent, txs}; honest validation checks all three."""

    def __init__(self, node: "SimNode") -> None:
        self.node = node

    def pending(self) -> bool:
        return bool(self.node.mempool - self.node.committed_txs)

    def propose(self, height: int) -> bytes | None:
        txs = sorted(self.node.mempool - self.node.committed_txs)[:5]
        return make_block(height, self.node.tip(), txs) if txs else None

    def validate(self, height: int, block: bytes) -> bool:
        try:
            d = json.loads(block)
        except ValueError:
            return False
        txs = d.get("txs")
        return (
            d.get("height") == height
            and d.get("parent") == self.node.tip()
            and isinstance(txs, list)
            and len(txs) == len(set(txs))
            and all(isinstance(t, str) and t.startswith("tx-") for t in txs)
            and not set(txs) & self.node.committed_txs
        )


def make_block(height: int, parent: str, txs: list[str]) -> bytes:
    return canonical_json({"height": height, "parent": parent, "txs": txs})


@dataclass
class SimNode:
    index: int
    signer: Signer
    skew: float
    byzantine: bool
    sm: Tendermint | None = None
    chain: list[tuple[bytes, CommitCertificate]] = field(default_factory=list)
    wal: bytearray = field(default_factory=bytearray)
    mempool: set[str] = field(default_factory=set)
    committed_txs: set[str] = field(default_factory=set)
    persisted: set[bytes] = field(default_factory=set)
    crashed: bool = False
    incarnation: int = 0

    @property
    def name(self) -> str:
        return self.signer.name

    def tip(self) -> str:
        return block_id(self.chain[-1][0]).hex() if self.chain else "genesis"


class Simulation:
    def __init__(self, seed: int, scenario: Scenario | None = None, verbose: bool = False) -> None:
        self.seed = seed
        self.rng = random.Random(seed)
        self.scenario = scenario or Scenario.draw(self.rng)
        self.verbose = verbose
        sc = self.scenario
        signers = [
            Signer(f"v{i}", hashlib.sha256(f"{seed}-{i}".encode()).digest()) for i in range(sc.n)
        ]
        self.validators = ValidatorSet(tuple(s.verifier() for s in signers))
        self.nodes = [SimNode(i, s, sc.skews[i], i == sc.byzantine) for i, s in enumerate(signers)]
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
        incarnation = node.incarnation
        for t in ready.timeouts:
            self.at(t.delay * node.skew, partial(self.fire, node, t, incarnation))
        for ev in ready.evidence:
            self.evidence_offenders.add(ev.offender)
            if not self.nodes[int(ev.offender[1:])].byzantine:
                self.fail(f"evidence against honest {ev.offender}")
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
            if not SimApp(node).validate(height, decision.block):
                self.fail(f"{node.name} committed an invalid block at height {height}")
            first = self.decided.setdefault(height, decision.block)
            if first != decision.block:
                self.fail(f"agreement: two honest blocks at height {height}")
        node.chain.append((decision.block, decision.certificate))
        node.committed_txs |= set(json.loads(decision.block)["txs"])
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
            SimApp(node),
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
    def misbehave(self, node: SimNode, msg: Message) -> None:
        rng = self.rng
        others = [n for n in self.nodes if n is not node]
        half = others[: len(others) // 2]
        rest = others[len(others) // 2 :]
        choice = rng.random()
        if isinstance(msg, Proposal) and choice < 0.5:
            evil_block = make_block(msg.height, node.tip(), [f"tx-evil-{rng.randrange(10**6)}"])
            if rng.random() < 0.3:
                evil_block = make_block(msg.height, node.tip(), ["bad-tx"])
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
        while self.queue:
            when, _, action = heapq.heappop(self.queue)
            if when > end:
                break
            self.now = when
            action()
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
        )


@dataclass(frozen=True)
class SimResult:
    seed: int
    height: int
    virtual_seconds: float
    evidence: int
    torn: int


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
