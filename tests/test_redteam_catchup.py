"""Red team (fixed): a Byzantine validator spent honest peers' catch-up budgets at a lagging
honest node by relaying their real proposals with the (unsigned) block swapped.

``_receive_proposal`` charges the round to the proposer's ``CATCHUP_ROUNDS`` budget
(``_admit_round``) *before* it checks that the block matches the signed hash, and a proposal
whose block does not match is then dropped without the round ever entering ``round_senders``.
Two such relays per honest peer fill its budget with rounds that never count, and from then on
every genuine message of that peer for a round beyond the laggard's round + 1 is dropped
(``catchup_rounds``): the laggard can never round-skip to the others, and if it is needed for
the quorum the chain halts for good."""

from dataclasses import replace

from consensus.machine import CATCHUP_ROUNDS, Tendermint
from consensus.messages import Proposal, Vote, VoteType
from tests.redteam_net import MiniNet
from tests.test_consensus_unit import CHAIN, SIGNERS, VALIDATORS, App

A, B, X, Z = "v0", "v1", "v2", "v3"
"""A, B, X honest; Z Byzantine (f = 1)."""


def _machine(name: str) -> Tendermint:
    i = int(name[1:])
    return Tendermint(CHAIN, VALIDATORS, App(), SIGNERS[i], 1)


def _byzantine_nil_votes(net: MiniNet, targets: list[str]) -> None:
    """Z votes nil in whatever round A and B are in: no block gets a quorum without X, and
    A and B keep moving to higher rounds (a Byzantine validator's legitimate-looking votes)."""
    for dst in targets:
        r = net.machines[dst].round
        for kind in (VoteType.PREVOTE, VoteType.PRECOMMIT):
            net.inject(dst, Vote(CHAIN, kind, 1, r, None, Z).signed(SIGNERS[3]))


def _scenario(tamper: bool, relay_genuine: bool = False) -> tuple[MiniNet, list[str]]:
    net = MiniNet({n: _machine(n) for n in (A, B, X)})
    # Phase 1: X is down (crashed); Z's nil votes carry A and B to round >= 10.
    net.start(A)
    net.start(B)
    while min(net.machines[n].round for n in (A, B)) < 10:
        _byzantine_nil_votes(net, [A, B])
        net.run(net.now + 0.5)
    assert not net.decisions
    # Phase 2: X restarts (round 0). Z relays A's and B's real proposals of two earlier rounds
    # each, with another block in place of the one they signed; then Z goes silent for good.
    net.start(X)
    dropped: list[str] = []
    if tamper:
        for honest in (A, B):
            by_round = {
                p.round: p
                for p in net.sent[honest]
                if isinstance(p, Proposal) and net.machines[X].round + 1 < p.round
            }
            old = [by_round[r] for r in sorted(by_round)][:CATCHUP_ROUNDS]
            assert len(old) == CATCHUP_ROUNDS
            for p in old:
                if relay_genuine:  # the real signed messages, handed over by Z
                    dropped += net.machines[X].receive(p, via=Z).dropped
                else:
                    swapped = replace(p, block=b"block-swapped")
                    dropped += net.machines[X].receive(swapped).dropped
    net.run(net.now + 600, stop=lambda: len(net.decisions) == 3)
    return net, dropped


def test_control_a_restarted_validator_catches_up_and_the_chain_decides() -> None:
    net, _ = _scenario(tamper=False)
    assert set(net.decisions) == {A, B, X}


def test_swapped_block_relays_cannot_starve_an_honest_peers_catch_up_budget() -> None:
    net, dropped = _scenario(tamper=True)
    assert dropped.count("block_hash_mismatch") == 2 * CATCHUP_ROUNDS
    x = net.machines[X]
    assert set(net.decisions) == {A, B, X}, (
        f"no decision in 600 s: X at round {x.round}, A at {net.machines[A].round}; X's budgets "
        f"{x.catchup}"
    )


def test_relayed_old_messages_are_charged_to_the_relay_not_their_signer() -> None:
    """Z hands X genuine signed proposals of A and B from old rounds: they count against Z's
    catch-up budget (the peer that relayed them), so A's and B's own messages still get in."""
    net, _ = _scenario(tamper=True, relay_genuine=True)
    x = net.machines[X]
    assert set(net.decisions) == {A, B, X}
    assert A not in x.catchup or len(x.catchup[A]) <= CATCHUP_ROUNDS


def test_a_swapped_block_relay_cannot_displace_the_next_heights_proposal() -> None:
    from consensus.messages import block_id
    from tests.test_consensus_unit import machine, run_network

    decision = next(r.decision for r in run_network([machine(i) for i in range(4)]) if r.decision)
    x = machine(0)  # still at height 1 when height 2's proposal (by v2) goes round
    x.start()
    proposer = VALIDATORS.proposer(2, 0)
    signer = SIGNERS[int(proposer[1:])]
    block = b"block-2"
    genuine = Proposal(CHAIN, 2, 0, -1, block_id(block), proposer, b"", block).signed(signer)
    x.receive(replace(genuine, block=b"block-swapped"))  # Z's relay, a moment earlier
    x.receive(genuine)
    assert x.commit_certificate(decision.block, decision.certificate).decision is not None
    ready = x.advance()
    assert x.proposals.get(0) == genuine, f"dropped: {ready.dropped}"
