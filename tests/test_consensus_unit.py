"""The state machine step by step: happy path, restart safety, certificates, evidence.

The WAL framing is tested in tests/test_wal_integrity.py."""

import hashlib

import pytest

from consensus.machine import Ready, Step, Tendermint, Timeout
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
