"""Tendermint BFT consensus ("The latest gossip on BFT consensus", arXiv:1807.04938, Alg. 1)
as a pure state machine, with proposer-based timestamps (PBTS) for the prevote.

Inputs: ``receive`` (a signed proposal or vote), ``timeout`` (a timer the driver scheduled
fired), ``txs_available``, ``commit_certificate`` (a decided block learned from a peer),
``advance`` (the driver stored the last decision), ``rebroadcast`` (a gossip tick). Each returns
a ``Ready``. Line numbers in comments refer to Algorithm 1 of the paper.

What one Byzantine validator can make a machine keep is bounded: per height, rounds up to the
current one plus one, and at most ``CATCHUP_ROUNDS`` further rounds introduced by each peer (as
CometBFT's ``peerCatchupRounds``); per round one proposal and at most ``MAX_CONFLICTING`` votes
per validator and step; for the next height, the first message per sender, round and step in
at most ``NEXT_HEIGHT_ROUNDS`` rounds. Tallies are kept as messages arrive, so the cost of a
message does not grow with what was stored before.
"""

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Protocol

from consensus.messages import (
    CommitCertificate,
    Evidence,
    Message,
    Proposal,
    Vote,
    VoteType,
    block_id,
    conflicting,
    signer_of,
    verify_certificate,
    verify_signature,
)
from consensus.safety import SafetyState
from consensus.validators import ValidatorSet
from tlog.note import Signer


class Step(IntEnum):
    PROPOSE = 0
    PREVOTE = 1
    PRECOMMIT = 2


class Application(Protocol):
    """What consensus needs from the node: blocks to propose and verdicts on others' blocks.

    Consensus never looks inside a block; the application never sees votes.
    """

    def pending(self) -> bool:
        """Is there anything to put in a block?"""

    def propose(self, height: int) -> bytes | None:
        """A new block for ``height`` (on top of the last decided one), or None if empty."""

    def validate(self, height: int, block: bytes) -> bool | None:
        """Would an honest validator accept this block at ``height``? The same answer on every
        honest node: only replicated state and genesis may decide it, never the local clock or
        configuration. None: no verdict now (an internal failure); asked again later."""

    def timely(self, height: int, round_: int, block: bytes) -> bool:
        """PBTS: is the block's time close enough to this node's clock, now that its fresh
        proposal arrived in ``round_``? The only place a local clock may enter consensus:
        it decides this node's prevote, never validity."""


@dataclass(frozen=True)
class TimeoutConfig:
    """Seconds; each round waits ``delta`` longer than the one before (partial synchrony)."""

    propose: float = 3.0
    prevote: float = 1.0
    precommit: float = 1.0
    delta: float = 0.5

    def duration(self, step: Step, round_: int) -> float:
        base = {
            Step.PROPOSE: self.propose,
            Step.PREVOTE: self.prevote,
            Step.PRECOMMIT: self.precommit,
        }
        return base[step] + round_ * self.delta


@dataclass(frozen=True)
class Timeout:
    step: Step
    height: int
    round: int
    delay: float


@dataclass(frozen=True)
class Decision:
    height: int
    round: int
    block: bytes
    certificate: CommitCertificate


@dataclass
class Ready:
    """What the driver must do, in this order (see ``consensus/__init__.py``)."""

    persist: SafetyState | None = None
    messages: list[Message] = field(default_factory=list)
    timeouts: list[Timeout] = field(default_factory=list)
    decision: Decision | None = None
    evidence: list[Evidence] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    """Why inbound messages were dropped (for counters)."""
    lagging: list[tuple[str, int]] = field(default_factory=list)
    """(validator, height) of peers still at a lower height: send them the decided blocks."""
    behind: int | None = None
    """A height above ours that peers are at: fetch the blocks in between."""


MAX_CONFLICTING = 4
"""Distinct votes per validator, round and step kept from an equivocator (all count)."""
CATCHUP_ROUNDS = 2
"""Rounds beyond the current one plus one that each peer may make this machine track."""
NEXT_HEIGHT_ROUNDS = 2
"""Rounds of the next height buffered per sender until this machine gets there."""
MAX_FAILED = 4096
"""Failed signature checks remembered (then forgotten all at once)."""


class Tendermint:
    def __init__(
        self,
        chain_id: str,
        validators: ValidatorSet,
        app: Application,
        signer: Signer | None,
        height: int,
        timeouts: TimeoutConfig | None = None,
        restored: SafetyState | None = None,
        sign_from_height: int = 0,
    ) -> None:
        """``sign_from_height``: sign nothing (proposals, votes) at lower heights, only follow
        them; the driver sets it when its WAL cannot tell what was signed there
        (``consensus.safety.double_sign_guard``). A guard in ``restored`` stays in force."""
        self.chain_id = chain_id
        self.validators = validators
        self.app = app
        self.signer = signer
        self.me = self._me()
        self.config = timeouts or TimeoutConfig()
        self.sign_from_height = max(sign_from_height, restored.sign_from_height if restored else 0)
        self.future: dict[tuple[str, int, str], Message] = {}
        """Messages of the next height: the first per (sender, round, step)."""
        self.failed: set[tuple[bytes, bytes]] = set()
        """(signed bytes, signature) of messages whose check failed: not checked again."""
        self._forged = False
        self.far: dict[str, int] = {}
        """The highest height beyond the next each validator has shown a signed message for:
        copies (or older ones) need no second signature check to say that we are behind."""
        self._reset(height)
        self._ready = Ready()
        self._dirty = False
        self._restored = restored is not None and restored.height == height
        if restored is not None and restored.height == height:
            self._restore(restored)

    # ----------------------------------------------------------------- state
    def _me(self) -> str | None:
        """Our validator name, or None while we only follow: not in the set, or holding
        another key than the set has for our name (a rotation not taken up yet), whose
        signatures nobody could count, our own tally included."""
        if self.signer is None:
            return None
        ours = self.validators.by_name(self.signer.name)
        if ours is None or ours.public_key != self.signer.verifier().public_key:
            return None
        return self.signer.name

    def _reset(self, height: int) -> None:
        self.height = height
        self.round = 0
        self.step = Step.PROPOSE
        self.locked_round = -1
        self.locked_block: bytes | None = None
        self.valid_round = -1
        self.valid_block: bytes | None = None
        # round -> the first proposal by that round's proposer (a conflicting one is evidence)
        self.proposals: dict[int, Proposal] = {}
        self.timely: dict[int, bool] = {}
        self.blocks: dict[bytes, bytes] = {}
        # (round, step) -> validator -> block hash -> vote; more than one only from an
        # equivocator, whose every vote counts (a Byzantine one could have sent either to anyone)
        self.votes: dict[tuple[int, VoteType], dict[str, dict[bytes | None, Vote]]] = {}
        self.tally: dict[tuple[int, VoteType], Counter[bytes | None]] = {}
        self.round_senders: dict[int, set[str]] = {}
        self.catchup: dict[str, set[int]] = {}
        """Rounds beyond ours + 1 each peer (the one that handed a message over, not its
        signer: a relay must not spend an honest signer's budget) made us track."""
        self.polkas: set[tuple[int, bytes]] = set()
        """(round, block hash) with a quorum of prevotes."""
        self.commits: set[tuple[int, bytes]] = set()
        """(round, block hash) with a quorum of precommits."""
        self.skip_to = 0
        self.valid_cache: dict[bytes, bool] = {}
        self.rechecked: set[bytes] = set()
        self.sent: dict[tuple[int, str], Message] = {}
        self.fired: set[tuple[str, int]] = set()
        self.decided: Decision | None = None
        self.waiting = False
        self.evidence_seen: set[tuple[str, int, int, str]] = set()

    def _restore(self, s: SafetyState) -> None:
        self.round, self.step = s.round, Step(s.step)
        self.locked_round, self.locked_block = s.locked_round, s.locked_block
        self.valid_round, self.valid_block = s.valid_round, s.valid_block
        for block in (s.locked_block, s.valid_block):
            if block is not None:
                self.blocks[block_id(block)] = block
        for msg in s.sent:
            self._remember_own(msg)
        for vote in s.polka:
            if isinstance(vote, Vote) and verify_signature(vote, self.validators, self.chain_id):
                self._store_vote(vote)

    def safety_state(self) -> SafetyState:
        return SafetyState(
            height=self.height,
            round=self.round,
            step=int(self.step),
            locked_round=self.locked_round,
            locked_block=self.locked_block,
            valid_round=self.valid_round,
            valid_block=self.valid_block,
            sent=tuple(self.sent.values()),
            polka=tuple(self._polka(self.valid_round, self.valid_block, include_own=True)),
            sign_from_height=self.sign_from_height,
        )

    def footprint(self) -> tuple[int, int, int]:
        """(rounds tracked beyond ours + 1, messages kept, next-height messages buffered): what
        the simulation bounds against a Byzantine flood."""
        beyond = sum(1 for r in self.round_senders if r > self.round + 1)
        kept = len(self.proposals) + sum(
            len(by_hash) for box in self.votes.values() for by_hash in box.values()
        )
        return beyond, kept, len(self.future)

    def _flush(self) -> Ready:
        # Only what safety needs is persisted: a newly signed message or a new lock or valid
        # block. Round and step ride along; a restart from an older round only costs time.
        ready, self._ready = self._ready, Ready()
        if self._dirty:
            ready.persist = self.safety_state()
            self._dirty = False
        return ready

    # ---------------------------------------------------------------- inputs
    def start(self) -> Ready:
        """Begin (or, after a restart, resume) the current height."""
        if self._restored:
            self._restored = False
            self._ready.messages.extend(self.sent.values())
            self._schedule(self.step, self.round)
        else:
            self._start_round(0)
        self._evaluate()
        return self._flush()

    def receive(self, msg: Message, via: str | None = None) -> Ready:
        """``via``: the peer that handed the message over (any peer may relay another's
        signed messages); what it makes this machine keep is charged to it, not the signer."""
        self._receive(msg, via)
        self._evaluate()
        return self._flush()

    def receive_many(self, msgs: Iterable[Message], via: str | None = None) -> Ready:
        """A batch from one peer (an envelope). A validator's name on a signature that does not
        hold is a forgery no honest peer relays: the rest of that peer's batch is dropped, so
        junk costs one signature check per batch, not one per copy."""
        self._forged = False
        for msg in msgs:
            self._receive(msg, via)
            if self._forged and via is not None:
                self._ready.dropped.append("rest_of_forged_batch")
                break
        self._evaluate()
        return self._flush()

    def timeout(self, t: Timeout) -> Ready:
        if t.height == self.height and t.round == self.round and self.decided is None:
            if t.step == Step.PROPOSE and self.step == Step.PROPOSE:  # L57
                self._vote(VoteType.PREVOTE, None)
                self._set_step(Step.PREVOTE)
            elif t.step == Step.PREVOTE and self.step == Step.PREVOTE:  # L61
                self._vote(VoteType.PRECOMMIT, None)
                self._set_step(Step.PRECOMMIT)
            elif t.step == Step.PRECOMMIT:  # L65
                self._start_round(self.round + 1)
            self._evaluate()
        return self._flush()

    def txs_available(self) -> Ready:
        if self.waiting and self.decided is None:
            self.waiting = False
            self._start_round(self.round)
            self._evaluate()
        return self._flush()

    def rebroadcast(self) -> Ready:
        """Our messages of the current height again, for peers that lost them."""
        if self.decided is None:
            self._ready.messages.extend(m for (r, _), m in self.sent.items() if r >= self.round - 1)
            self._ready.messages.extend(self._polka(self.valid_round, self.valid_block))
        return self._flush()

    def _polka(self, round_: int, block: bytes | None, include_own: bool = False) -> list[Vote]:
        """The prevotes that justify a lock or re-proposal, forwarded for peers that missed them.

        Without them a peer that lost round ``round_`` could never accept a re-proposal (L28)
        and a locked validator could never be joined: liveness needs this gossip.
        """
        if round_ < 0 or block is None:
            return []
        h = block_id(block)
        box = self.votes.get((round_, VoteType.PREVOTE), {})
        return [
            by_hash[h]
            for name, by_hash in box.items()
            if h in by_hash and (include_own or name != self.me)
        ]

    def commit_certificate(self, block: bytes, cert: CommitCertificate) -> Ready:
        """Adopt a block decided by the others (catch-up), if its certificate holds."""
        if self.decided is None and cert.height == self.height:
            if block_id(block) != cert.block_hash:
                self._ready.dropped.append("certificate_block_mismatch")
            elif verify_certificate(cert, self.validators, self.chain_id) is not None:
                self._ready.dropped.append("bad_certificate")
            elif not self._valid(block, cert.block_hash, certified=True):
                self._ready.dropped.append("invalid_block")
            else:
                self.decided = Decision(self.height, cert.round, block, cert)
                self._ready.decision = self.decided
        return self._flush()

    def advance(self, validators: ValidatorSet | None = None) -> Ready:
        """The driver stored the decision: move to the next height, with ``validators`` if the
        decided block changed the set (it takes effect at the very next height)."""
        if self.decided is None:
            raise RuntimeError("advance() without a decision")
        if validators is not None:
            self.validators = validators
            self.me = self._me()
        self._reset(self.height + 1)
        pending, self.future = list(self.future.values()), {}
        self._start_round(0)
        for msg in pending:
            self._receive(msg, None)
        self._evaluate()
        return self._flush()

    # ------------------------------------------------------------- receiving
    def _receive(self, msg: Message, via: str | None) -> None:
        """Check a message in order of cost (shape, duplicates, then the signature) and keep
        it within the bounds above; anything else is dropped and counted."""
        sender = signer_of(msg)
        peer = via or sender
        if msg.height < self.height:
            lag = (sender, msg.height)
            if lag not in self._ready.lagging and self._authentic(msg):
                self._ready.lagging.append(lag)
            return
        if msg.height > self.height:
            self._receive_future(msg, sender)
            return
        if self.decided is not None:
            return
        if isinstance(msg, Proposal):
            self._receive_proposal(msg, sender, peer)
        else:
            self._receive_vote(msg, sender, peer)

    def _receive_future(self, msg: Message, sender: str) -> None:
        if msg.height > self.height + 1:  # only tells us we are behind
            known = self.far.get(sender, 0)
            if msg.height <= known:  # a height this sender has already shown us to be at
                self._ready.behind = max(self._ready.behind or 0, known)
            elif self._authentic(msg):
                self.far[sender] = msg.height
                self._ready.behind = max(self._ready.behind or 0, msg.height)
            return
        key = (sender, msg.round, _step_of(msg))
        if key in self.future:
            return  # only the first (verified) one per sender, round and step is kept
        if not self._authentic(msg):
            return
        self._ready.behind = max(self._ready.behind or 0, msg.height)
        if isinstance(msg, Proposal) and block_id(msg.block) != msg.block_hash:
            self._ready.dropped.append("block_hash_mismatch")  # a relay swapped its block
            return
        rounds = {r for (s, r, _) in self.future if s == sender}
        if msg.round not in rounds and len(rounds) >= NEXT_HEIGHT_ROUNDS:
            self._ready.dropped.append("next_height_rounds")
            return
        self.future[key] = msg

    def _receive_proposal(self, msg: Proposal, sender: str, peer: str) -> None:
        if sender != self.validators.proposer(msg.height, msg.round):
            self._ready.dropped.append("not_proposer")
            return
        known = self.proposals.get(msg.round)
        if known is not None and known == msg:
            return  # a duplicate: nothing to check again
        if not self._authentic(msg):
            return
        if known is not None:
            self._check_conflict(known, msg)
            return  # one proposal per round: the block of a conflicting one is not kept
        if block_id(msg.block) != msg.block_hash:  # the signature covers the hash only
            self._ready.dropped.append("block_hash_mismatch")
            return
        if not self._admit_round(msg.round, peer):
            return
        self.proposals[msg.round] = msg
        self.blocks[msg.block_hash] = msg.block
        if msg.pol_round == -1:  # PBTS: a fresh proposal's time is judged on arrival
            self.timely[msg.round] = self.app.timely(self.height, msg.round, msg.block)
        self._seen_from(msg.round, sender)

    def _receive_vote(self, msg: Vote, sender: str, peer: str) -> None:
        by_hash = self.votes.get((msg.round, msg.type), {}).get(sender, {})
        if msg.block_hash in by_hash:
            return  # a duplicate (Ed25519 signatures are deterministic: nothing new in it)
        if not self._authentic(msg):
            return
        if by_hash:
            self._check_conflict(next(iter(by_hash.values())), msg)
            if len(by_hash) >= MAX_CONFLICTING or (
                msg.block_hash is not None and msg.block_hash not in self.blocks
            ):
                return
        if not self._admit_round(msg.round, peer):
            return
        self._store_vote(msg)
        self._seen_from(msg.round, sender)

    def _authentic(self, msg: Message) -> bool:
        """Its signature holds under the current set; a failed check is remembered (bounded),
        so copies of one junk message cost one check, and it marks the batch forged when the
        name is a validator's of this chain (an unknown name may be a newer set's)."""
        if self.failed and (msg.sign_bytes(), msg.signature) in self.failed:
            self._forged = True
            self._ready.dropped.append("bad_signature")
            return False
        if verify_signature(msg, self.validators, self.chain_id):
            return True
        self._ready.dropped.append("bad_signature")
        if msg.chain_id == self.chain_id and self.validators.by_name(signer_of(msg)) is not None:
            if len(self.failed) >= MAX_FAILED:
                self.failed.clear()
            self.failed.add((msg.sign_bytes(), msg.signature))
            self._forged = True
        return False

    def _admit_round(self, round_: int, peer: str) -> bool:
        """Rounds up to ours + 1 are always kept; each peer may add ``CATCHUP_ROUNDS`` more
        (charged when a message of that round is about to be kept, never for one dropped)."""
        if round_ <= self.round + 1 or round_ in self.round_senders:
            return True
        rounds = self.catchup.setdefault(peer, set())
        if round_ in rounds:
            return True
        if len(rounds) >= CATCHUP_ROUNDS:
            self._ready.dropped.append("catchup_rounds")
            return False
        rounds.add(round_)
        return True

    def _store_vote(self, vote: Vote) -> None:
        key = (vote.round, vote.type)
        self.votes.setdefault(key, {}).setdefault(vote.validator, {})[vote.block_hash] = vote
        tally = self.tally.setdefault(key, Counter())
        tally[vote.block_hash] += 1
        if vote.block_hash is not None and tally[vote.block_hash] >= self.validators.quorum:
            found = (vote.round, vote.block_hash)
            (self.polkas if vote.type == VoteType.PREVOTE else self.commits).add(found)

    def _seen_from(self, round_: int, sender: str) -> None:
        senders = self.round_senders.setdefault(round_, set())
        senders.add(sender)
        if round_ > self.round and len(senders) >= self.validators.weak_quorum:
            self.skip_to = max(self.skip_to, round_)
        if self.waiting:  # somebody has work at this height: join in
            self.waiting = False
            self._start_round(self.round)

    def _check_conflict(self, known: Message, new: Message) -> None:
        if conflicting(known, new):
            ev = Evidence(known, new)
            if ev.key() not in self.evidence_seen:
                self.evidence_seen.add(ev.key())
                self._ready.evidence.append(ev)

    # --------------------------------------------------------------- helpers
    def _count(self, round_: int, kind: VoteType, block_hash: bytes | None) -> int:
        return self.tally.get((round_, kind), Counter())[block_hash]

    def _total(self, round_: int, kind: VoteType) -> int:
        return len(self.votes.get((round_, kind), {}))

    def _valid(self, block: bytes, h: bytes | None = None, certified: bool = False) -> bool:
        """The application's verdict, asked once per block (``h``: its id, if known).

        ``certified``: a quorum has committed this block. A "no" remembered from earlier is
        then asked once more, so a verdict cached in a bad moment never blocks a decision that
        validity (deterministic, the same on every honest node) does not forbid."""
        h = h or block_id(block)
        if certified and self.valid_cache.get(h) is False and h not in self.rechecked:
            self.rechecked.add(h)
            del self.valid_cache[h]
        if h not in self.valid_cache:
            verdict = self.app.validate(self.height, block)
            if verdict is None:
                return False  # no verdict now: asked again next time
            self.valid_cache[h] = verdict
        return self.valid_cache[h]

    def _first(self, rule: str, round_: int) -> bool:
        if (rule, round_) in self.fired:
            return False
        self.fired.add((rule, round_))
        return True

    def _schedule(self, step: Step, round_: int) -> None:
        self._ready.timeouts.append(
            Timeout(step, self.height, round_, self.config.duration(step, round_))
        )

    def _set_step(self, step: Step) -> None:
        self.step = step

    def _remember_own(self, msg: Message) -> None:
        if isinstance(msg, Proposal):
            self.sent[(msg.round, "proposal")] = msg
            self.proposals[msg.round] = msg
            self.blocks[msg.block_hash] = msg.block
            self.timely[msg.round] = True
        else:
            self.sent[(msg.round, str(msg.type))] = msg
            if msg.block_hash not in self.votes.get((msg.round, msg.type), {}).get(
                msg.validator, {}
            ):
                self._store_vote(msg)
        self.round_senders.setdefault(msg.round, set()).add(signer_of(msg))

    def _emit_own(self, key: tuple[int, str], build: "Proposal | Vote") -> None:
        """Sign once per (round, step): after a restart the stored message is re-sent instead."""
        if self.me is None or self.signer is None:
            return
        existing = self.sent.get(key)
        if existing is None and self.height < self.sign_from_height:
            return  # it may have signed here before: follow only
        msg = existing if existing is not None else build.signed(self.signer)
        if existing is None:
            self._remember_own(msg)
            self._dirty = True
        self._ready.messages.append(msg)

    def _vote(self, kind: VoteType, block_hash: bytes | None) -> None:
        if self.me is not None:
            vote = Vote(self.chain_id, kind, self.height, self.round, block_hash, self.me)
            self._emit_own((self.round, str(kind)), vote)

    def _start_round(self, round_: int) -> None:  # L11
        self.round, self.step = round_, Step.PROPOSE
        for rounds in self.catchup.values():  # what is near now no longer counts as catch-up
            rounds -= {r for r in rounds if r <= round_ + 1}
        has_value = self.valid_block is not None or self.app.pending()
        if round_ == 0 and not has_value and not self.round_senders.get(0):
            self.waiting = True  # no empty blocks: wait for work before timing out
            return
        if (
            self.me is not None
            and self.validators.proposer(self.height, round_) == self.me
            and self.height >= self.sign_from_height
        ):
            if self.valid_block is not None:
                block, pol = self.valid_block, self.valid_round
            else:
                fresh = self.app.propose(self.height)
                if fresh is None:
                    self._schedule(Step.PROPOSE, round_)
                    return
                block, pol = fresh, -1
            proposal = Proposal(
                self.chain_id, self.height, round_, pol, block_id(block), self.me, b"", block
            )
            self._emit_own((round_, "proposal"), proposal)
            self._ready.messages.extend(self._polka(pol, block))
        else:
            self._schedule(Step.PROPOSE, round_)

    # ------------------------------------------------------------------ rules
    def _evaluate(self) -> None:
        changed = True
        while changed and self.decided is None:
            changed = (
                self._try_decide()
                or self._try_round_skip()
                or self._try_round_rules()
                or self._try_valid_from_past_round()
            )

    def _try_decide(self) -> bool:  # L49
        for round_, h in sorted(self.commits):
            block = self.blocks.get(h)
            if block is None or not self._valid(block, h, certified=True):
                continue
            box = self.votes[(round_, VoteType.PRECOMMIT)]
            precommits = tuple(
                sorted((by[h] for by in box.values() if h in by), key=lambda v: v.validator)
            )
            cert = CommitCertificate(self.height, round_, h, precommits)
            self.decided = Decision(self.height, round_, block, cert)
            self._ready.decision = self.decided
            return True
        return False

    def _try_round_skip(self) -> bool:  # L55
        if self.skip_to > self.round:
            self.waiting = False
            self._start_round(self.skip_to)
            return True
        return False

    def _try_valid_from_past_round(self) -> bool:
        """A quorum of prevotes for a block in an earlier round, learned late (a lost message,
        a forwarded polka), makes it our valid block, so that we re-propose it when it is our
        turn. The paper updates validValue only in the current round (L36); then validators
        locked on a block that the others never saw a polka for wait for one of the locked
        ones to propose, and if the others' clocks run faster they have always timed out by
        then (simulation seed 50227). Safe: a re-proposal only wins votes through L28, which
        every receiver checks against its own lock and the prevotes it holds."""
        for r, h in sorted(self.polkas, reverse=True):
            if (
                self.valid_round < r < self.round
                and h in self.blocks
                and self._valid(self.blocks[h], h)
            ):
                self.valid_round, self.valid_block = r, self.blocks[h]
                self._dirty = True
                return True
        return False

    def _try_round_rules(self) -> bool:
        r, q = self.round, self.validators.quorum
        prop = self.proposals.get(r)
        if self.step == Step.PROPOSE and not self.waiting and prop is not None:
            if prop.pol_round == -1:  # L22, with PBTS: a fresh block must also be timely
                ok = (
                    self.timely.get(r, False)
                    and self._valid(prop.block, prop.block_hash)
                    and (self.locked_round == -1 or self.locked_block == prop.block)
                )
            elif (
                0 <= prop.pol_round < r
                and self._count(prop.pol_round, VoteType.PREVOTE, prop.block_hash) >= q
            ):  # L28: a re-proposed block keeps its original time; the polka vouches for it
                ok = self._valid(prop.block, prop.block_hash) and (
                    self.locked_round <= prop.pol_round or self.locked_block == prop.block
                )
            else:
                ok = None
            if ok is not None:
                self._vote(VoteType.PREVOTE, prop.block_hash if ok else None)
                self._set_step(Step.PREVOTE)
                return True
        if (
            self.step == Step.PREVOTE
            and self._total(r, VoteType.PREVOTE) >= q
            and self._first("prevote_timeout", r)
        ):  # L34
            self._schedule(Step.PREVOTE, r)
        if (
            self.step >= Step.PREVOTE
            and prop is not None
            and self._count(r, VoteType.PREVOTE, prop.block_hash) >= q
            and self._valid(prop.block, prop.block_hash)
            and self._first("polka", r)
        ):  # L36
            if self.step == Step.PREVOTE:
                self.locked_round, self.locked_block = r, prop.block
                self._vote(VoteType.PRECOMMIT, prop.block_hash)
                self.step = Step.PRECOMMIT
            self.valid_round, self.valid_block = r, prop.block
            self._dirty = True
            return True
        if self.step == Step.PREVOTE and self._count(r, VoteType.PREVOTE, None) >= q:  # L44
            self._vote(VoteType.PRECOMMIT, None)
            self._set_step(Step.PRECOMMIT)
            return True
        if self._total(r, VoteType.PRECOMMIT) >= q and self._first("precommit_timeout", r):  # L47
            self._schedule(Step.PRECOMMIT, r)
        return False


def _step_of(msg: Message) -> str:
    return str(msg.type) if isinstance(msg, Vote) else "proposal"
