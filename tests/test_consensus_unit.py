"""The state machine step by step: happy path, restart safety, certificates, evidence.

The WAL framing is tested in tests/test_wal_integrity.py."""

import hashlib
import time

import pytest

from consensus.machine import (
    CATCHUP_ROUNDS,
    NEXT_HEIGHT_ROUNDS,
    Ready,
    Step,
    Tendermint,
    Timeout,
)
from consensus.messages import (
    CommitCertificate,
    Evidence,
    Proposal,
    Vote,
    VoteType,
    block_id,
    message_from_json,
    verify_certificate,
    verify_evidence,
    verify_signature,
)
from consensus.safety import SafetyState
from consensus.validators import ValidatorSet
from tlog.note import Signer

CHAIN = "unit"
SIGNERS = [Signer(f"v{i}", hashlib.sha256(bytes([i])).digest()) for i in range(4)]
VALIDATORS = ValidatorSet(tuple(s.verifier() for s in SIGNERS))


class App:
    def __init__(self, block: bytes | None = b"block-1", valid: bool = True) -> None:
        self.block, self.valid = block, valid

    def pending(self) -> bool:
        return self.block is not None

    def propose(self, height: int) -> bytes | None:
        return self.block

    def validate(self, height: int, block: bytes) -> bool:
        return self.valid and block.startswith(b"block")

    def timely(self, height: int, round_: int, block: bytes) -> bool:
        return not block.endswith(b"-late")


def machine(i: int, app: App | None = None, restored: SafetyState | None = None) -> Tendermint:
    return Tendermint(CHAIN, VALIDATORS, app or App(), SIGNERS[i], 1, restored=restored)


def run_network(machines: list[Tendermint]) -> list[Ready]:
    """Deliver every message to every other machine until quiet; return all Readys."""
    readies = [m.start() for m in machines]
    queue = [(i, msg) for i, r in enumerate(readies) for msg in r.messages]
    seen = list(readies)
    while queue:
        src, msg = queue.pop(0)
        for j, m in enumerate(machines):
            if j != src:
                r = m.receive(msg)
                seen.append(r)
                queue.extend((j, x) for x in r.messages)
    return seen


def test_validator_set_thresholds() -> None:
    sizes = {1: (1, 1), 2: (2, 1), 3: (3, 2), 4: (3, 2), 7: (5, 3), 10: (7, 4)}
    for n, (quorum, weak) in sizes.items():
        vs = ValidatorSet(tuple(Signer(f"x{i}", bytes([i]) * 32).verifier() for i in range(n)))
        assert (vs.quorum, vs.weak_quorum) == (quorum, weak)
    assert [VALIDATORS.proposer(1, r) for r in range(4)] == ["v1", "v2", "v3", "v0"]


def test_a_signature_binds_the_validator_that_made_it() -> None:
    """A key registered under two names must never count twice: the signed bytes name the
    signer, and a set may not hold one key twice."""
    vote = Vote(CHAIN, VoteType.PRECOMMIT, 1, 0, b"h" * 32, "v0").signed(SIGNERS[0])
    prop = Proposal(CHAIN, 1, 0, -1, b"h" * 32, "v0").signed(SIGNERS[0])
    assert b'"validator":"v0"' in vote.sign_bytes() and b'"proposer":"v0"' in prop.sign_bytes()
    twin = Signer("v1", hashlib.sha256(bytes([0])).digest())  # v0's key under v1's name
    assert twin.verifier().public_key == SIGNERS[0].verifier().public_key
    with pytest.raises(ValueError, match="same key"):
        ValidatorSet((SIGNERS[0].verifier(), twin.verifier()))
    renamed = Vote(CHAIN, VoteType.PRECOMMIT, 1, 0, b"h" * 32, "v1", vote.signature)
    lax = ValidatorSet.__new__(ValidatorSet)  # a set built without the check, as a forger would
    object.__setattr__(lax, "validators", (SIGNERS[0].verifier(), twin.verifier()))
    assert verify_signature(vote, lax, CHAIN) and not verify_signature(renamed, lax, CHAIN)


def test_four_honest_validators_decide_in_round_zero() -> None:
    machines = [machine(i) for i in range(4)]
    readies = run_network(machines)
    decisions = [r.decision for r in readies if r.decision]
    assert len(decisions) == 4
    assert {d.block for d in decisions} == {b"block-1"} and {d.round for d in decisions} == {0}
    cert = decisions[0].certificate
    assert verify_certificate(cert, VALIDATORS, CHAIN) is None
    assert verify_certificate(cert, VALIDATORS, "other-chain") is not None
    short = CommitCertificate(cert.height, cert.round, cert.block_hash, cert.precommits[:2])
    assert "quorum" in (verify_certificate(short, VALIDATORS, CHAIN) or "")


def test_persist_precedes_every_newly_signed_message() -> None:
    m = machine(1)  # v1 proposes at height 1 round 0
    ready = m.start()
    assert ready.persist is not None
    assert [type(x) for x in ready.messages] == [Proposal, Vote]  # it prevotes its own block
    assert all(x in ready.persist.sent for x in ready.messages)


def test_no_empty_blocks_while_nothing_is_pending() -> None:
    idle = machine(1, App(block=None))
    ready = idle.start()
    assert ready.messages == [] and ready.timeouts == []
    assert idle.waiting
    other = machine(2, App(block=None))
    assert other.start().timeouts == []


def test_restart_resends_instead_of_signing_anew() -> None:
    m = machine(2)
    m.start()
    proposal = Proposal(CHAIN, 1, 0, -1, block_id(b"block-1"), "v1", b"", b"block-1").signed(
        SIGNERS[1]
    )
    ready = m.receive(proposal)
    prevote = next(x for x in ready.messages if isinstance(x, Vote))
    assert prevote.block_hash == block_id(b"block-1") and ready.persist is not None
    state = SafetyState.decode(ready.persist.encode())

    # restart with the persisted state; a Byzantine proposer now offers another block
    restarted = machine(2, restored=state)
    again = restarted.start()
    assert prevote in again.messages
    other = Proposal(CHAIN, 1, 0, -1, block_id(b"block-2"), "v1", b"", b"block-2").signed(
        SIGNERS[1]
    )
    ready = restarted.receive(other)
    restarted.timeout(Timeout(Step.PROPOSE, 1, 0, 1.0))
    signed = [x for x in ready.messages if isinstance(x, Vote) and x.validator == "v2"]
    assert all(v == prevote for v in signed)
    assert all(
        v.block_hash == prevote.block_hash
        for v in restarted.safety_state().sent
        if isinstance(v, Vote) and v.type == VoteType.PREVOTE
    )


def test_conflicting_votes_become_evidence() -> None:
    m = machine(0)
    m.start()
    a = Vote(CHAIN, VoteType.PREVOTE, 1, 0, block_id(b"block-1"), "v3").signed(SIGNERS[3])
    b = Vote(CHAIN, VoteType.PREVOTE, 1, 0, None, "v3").signed(SIGNERS[3])
    m.receive(a)
    ready = m.receive(b)
    assert len(ready.evidence) == 1
    ev = ready.evidence[0]
    assert ev.offender == "v3" and verify_evidence(ev, VALIDATORS, CHAIN) is None
    assert Evidence.from_json(ev.to_json()).to_json() == ev.to_json()
    assert verify_evidence(Evidence(a, a), VALIDATORS, CHAIN) is not None
    assert m.receive(b).evidence == []  # reported once


def test_bad_signatures_and_wrong_proposers_are_dropped() -> None:
    m = machine(0)
    m.start()
    forged = Vote(CHAIN, VoteType.PREVOTE, 1, 0, None, "v3", bytes(64))
    assert m.receive(forged).dropped == ["bad_signature"]
    stranger = Signer("mallory", bytes(32))
    assert m.receive(
        Vote(CHAIN, VoteType.PREVOTE, 1, 0, None, "mallory").signed(stranger)
    ).dropped == ["bad_signature"]
    wrong = Proposal(CHAIN, 1, 0, -1, block_id(b"block-x"), "v2", b"", b"block-x").signed(
        SIGNERS[2]
    )
    assert m.receive(wrong).dropped == ["not_proposer"]
    mismatch = Proposal(CHAIN, 1, 0, -1, block_id(b"block-x"), "v1", b"", b"block-y").signed(
        SIGNERS[1]
    )
    assert m.receive(mismatch).dropped == ["block_hash_mismatch"]


def test_invalid_block_gets_nil_prevotes() -> None:
    machines = [machine(i, App(valid=(i == 1))) for i in range(4)]  # only the proposer likes it
    readies = run_network(machines)
    assert not any(r.decision for r in readies)
    prevotes = [
        x for r in readies for x in r.messages if isinstance(x, Vote) and x.type == VoteType.PREVOTE
    ]
    assert {v.validator for v in prevotes if v.block_hash is None} == {"v0", "v2", "v3"}


def test_catch_up_through_a_certificate() -> None:
    machines = [machine(i) for i in range(4)]
    decision = next(r.decision for r in run_network(machines) if r.decision)
    late = machine(0)
    late.start()
    bad = CommitCertificate(
        1, 0, decision.certificate.block_hash, decision.certificate.precommits[:1]
    )
    assert late.commit_certificate(decision.block, bad).dropped == ["bad_certificate"]
    assert late.commit_certificate(b"block-9", decision.certificate).dropped == [
        "certificate_block_mismatch"
    ]
    assert late.commit_certificate(decision.block, decision.certificate).decision is not None
    nxt = late.advance()
    assert late.height == 2 and nxt.persist is None  # nothing signed at height 2 yet


def test_messages_round_trip_json() -> None:
    p = Proposal(CHAIN, 3, 1, 0, block_id(b"b"), "v0", b"", b"b").signed(SIGNERS[0])
    v = Vote(CHAIN, VoteType.PRECOMMIT, 3, 1, None, "v1").signed(SIGNERS[1])
    assert message_from_json(p.to_json()) == p
    assert message_from_json(v.to_json()) == v
    for bad in ({"kind": "x"}, {"kind": "vote", "height": -1}, {"kind": "vote", "height": 1.5}):
        with pytest.raises((ValueError, KeyError, TypeError)):
            message_from_json(bad)


def test_a_new_validator_set_takes_effect_at_the_next_height() -> None:
    machines = [machine(i) for i in range(4)]
    assert all(r.decision is None or r.decision.height == 1 for r in run_network(machines))
    assert all(m.decided is not None for m in machines)
    fifth = Signer("v4", hashlib.sha256(b"v4").digest())
    grown = machines[0]
    grown.advance(ValidatorSet((*VALIDATORS.validators, fifth.verifier())))
    assert grown.height == 2 and grown.validators.quorum == 4
    vote = Vote(CHAIN, VoteType.PREVOTE, 2, 0, None, "v4").signed(fifth)
    assert grown.receive(vote).dropped == []  # the newcomer's votes now count
    leaving = machines[1]
    leaving.advance(ValidatorSet((VALIDATORS.validators[0], *VALIDATORS.validators[2:])))
    assert leaving.me is None  # v1 left the set: it follows without voting


def _proposal(round_: int, block: bytes, pol: int = -1, height: int = 1) -> Proposal:
    proposer = VALIDATORS.proposer(height, round_)
    signer = SIGNERS[int(proposer[1:])]
    return Proposal(CHAIN, height, round_, pol, block_id(block), proposer, b"", block).signed(
        signer
    )


def _vote(i: int, kind: VoteType, round_: int, block: bytes | None, height: int = 1) -> Vote:
    h = None if block is None else block_id(block)
    return Vote(CHAIN, kind, height, round_, h, f"v{i}").signed(SIGNERS[i])


def test_far_future_rounds_are_bounded_per_peer() -> None:
    """One Byzantine validator (v3) floods signed proposals with large blocks and votes for
    far rounds: an honest machine keeps at most CATCHUP_ROUNDS of them."""
    m = machine(0)
    m.start()
    big = b"block-" + b"x" * 100_000
    rounds = [r for r in range(10, 2000) if VALIDATORS.proposer(1, r) == "v3"][:40]
    ready = m.receive_many(_proposal(r, big) for r in rounds)
    ready.dropped += m.receive_many(
        _vote(3, VoteType.PREVOTE, r, None) for r in range(100, 1100)
    ).dropped
    beyond, kept, _ = m.footprint()
    assert beyond <= CATCHUP_ROUNDS and kept <= CATCHUP_ROUNDS * 2
    assert ready.dropped.count("catchup_rounds") >= 1000
    assert sum(len(b) for b in m.blocks.values()) <= CATCHUP_ROUNDS * len(big)


def test_handling_cost_does_not_grow_with_junk() -> None:
    """Measured side by side: an honest height's messages cost the same after a flood of
    junk for far rounds (once each message rescanned every stored round: 200x slower)."""

    def honest_height(m: Tendermint) -> float:
        start = time.perf_counter()
        m.receive(_proposal(0, b"block-1"))
        for kind in (VoteType.PREVOTE, VoteType.PRECOMMIT):
            for i in (1, 2, 3):
                for _ in range(50):  # re-sent copies, as rebroadcasts deliver them
                    m.receive(_vote(i, kind, 0, b"block-1"))
        return time.perf_counter() - start

    junk = [_vote(3, VoteType.PREVOTE, r, None) for r in range(2, 3000)]
    clean, flooded = [], []
    for _ in range(3):
        a, b = machine(0), machine(0)
        a.start()
        b.start()
        b.receive_many(junk)
        clean.append(honest_height(a))
        flooded.append(honest_height(b))
        assert a.decided is not None and b.decided is not None
    assert min(flooded) < 3 * min(clean)


def test_next_height_buffer_keeps_the_honest_proposal() -> None:
    """1,000 copies of one message (and many rounds from one sender) cannot crowd the next
    height's honest proposal out of the buffer."""
    m = machine(0)
    decision = next(r.decision for r in run_network([machine(i) for i in range(4)]) if r.decision)
    m.start()
    flood = [_vote(3, VoteType.PREVOTE, 0, None, height=2)] * 1000
    flood += [_vote(3, VoteType.PREVOTE, r, None, height=2) for r in range(1, 50)]
    ready = m.receive_many(flood)
    assert len(m.future) <= NEXT_HEIGHT_ROUNDS * 3 and "next_height_rounds" in ready.dropped
    honest = _proposal(0, b"block-2", height=2)
    m.receive(honest)
    assert m.commit_certificate(decision.block, decision.certificate).decision is not None
    m.advance()
    assert m.proposals[0] == honest


def test_an_untimely_fresh_proposal_gets_nil_but_its_polka_is_followed() -> None:
    """PBTS: the local clock decides only this validator's prevote. A fresh block judged
    untimely gets nil; once a quorum prevoted it, it is precommitted; re-proposed with its
    polka, its time is not judged again."""
    app = App()
    asked: list[int] = []
    timely = app.timely

    def counting(height: int, round_: int, block: bytes) -> bool:
        asked.append(round_)
        return timely(height, round_, block)

    app.timely = counting  # type: ignore[method-assign]
    m = machine(3, app)
    m.start()
    late = b"block-late"
    ready = m.receive(_proposal(0, late))
    assert [v.block_hash for v in ready.messages if isinstance(v, Vote)] == [None]
    ready = m.receive_many(_vote(i, VoteType.PREVOTE, 0, late) for i in (0, 1, 2))
    precommits = [v for v in ready.messages if isinstance(v, Vote)]
    assert [(v.type, v.block_hash) for v in precommits] == [(VoteType.PRECOMMIT, block_id(late))]
    m.timeout(Timeout(Step.PRECOMMIT, 1, 0, 1.0))
    ready = m.receive(_proposal(1, late, pol=0))
    prevote = next(v for v in ready.messages if isinstance(v, Vote))
    assert prevote.round == 1 and prevote.block_hash == block_id(late)
    assert asked == [0]


def test_a_cached_no_is_asked_again_when_a_quorum_commits() -> None:
    class Flaky(App):
        """Says no once (as a transient failure could), then yes."""

        def validate(self, height: int, block: bytes) -> bool:
            self.valid, first = True, self.valid
            return first

    m = machine(0, Flaky(valid=False))
    m.start()
    ready = m.receive(_proposal(0, b"block-1"))
    assert [v.block_hash for v in ready.messages if isinstance(v, Vote)] == [None]
    ready = m.receive_many(_vote(i, VoteType.PRECOMMIT, 0, b"block-1") for i in (1, 2, 3))
    assert ready.decision is not None and ready.decision.block == b"block-1"


def test_a_polka_learned_late_becomes_the_block_to_re_propose() -> None:
    """v0 missed round 0's polka and moved on; when the polka's prevotes and block reach it
    later, it re-proposes that block in its own round (seed 50227's cure)."""
    m = machine(0)
    m.start()
    for r in range(3):  # rounds 0-2 time out without a proposal reaching v0
        for step in (Step.PROPOSE, Step.PREVOTE, Step.PRECOMMIT):
            m.timeout(Timeout(step, 1, r, 1.0))
    assert m.round == 3 and m.valid_round == -1  # v0 proposes round 3: validators[(1+3) % 4]
    m.receive(_proposal(0, b"block-locked"))  # the late round-0 proposal, with its block
    ready = m.receive_many(_vote(i, VoteType.PREVOTE, 0, b"block-locked") for i in (1, 2, 3))
    assert m.valid_round == 0 and m.valid_block == b"block-locked" and ready.persist is not None
    m.timeout(Timeout(Step.PROPOSE, 1, 3, 1.0))
    m.timeout(Timeout(Step.PREVOTE, 1, 3, 1.0))
    ready = m.timeout(Timeout(Step.PRECOMMIT, 1, 3, 1.0))
    assert m.round == 4
    # round 7 is v0's next: (1 + 7) % 4 == 0
    for r in range(4, 7):
        for step in (Step.PROPOSE, Step.PREVOTE, Step.PRECOMMIT):
            ready = m.timeout(Timeout(step, 1, r, 1.0))
    proposal = next(p for p in ready.messages if isinstance(p, Proposal))
    assert proposal.round == 7 and proposal.pol_round == 0 and proposal.block == b"block-locked"
