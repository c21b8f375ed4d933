"""Red team, round 2: copies of one message whose signature does not verify are checked
again, every copy.

Round 1 made duplicates free for messages that verify (a vote already stored, a far height
already shown by its sender). A message that fails its check leaves no trace, so its next
copy is verified again: a Byzantine validator fills a 16 MiB peer envelope with copies of one
vote carrying a junk signature (no signature of its own needed, and it may name an honest
validator as the voter) and each copy costs a full Ed25519 check at every honest node, at
any height: this one, a past one or a far one. About 55,000 copies fit an envelope; at the
~150 us a check costs here that is seconds of the node's only event loop per envelope, and
the attacker can send envelopes back to back. The promise (docs/threat-model.md, bounded
resources): duplicates are dropped before signature checks; a message's cost does not
depend on junk."""

import dataclasses
import time

import pytest

from consensus.machine import Tendermint
from consensus.messages import VoteType
from consensus.validators import ValidatorSet
from tests.test_consensus_unit import CHAIN, SIGNERS, VALIDATORS, App, _vote
from tlog.note import Verifier

COPIES = 5_000


class CountingVerifier(Verifier):
    calls = 0

    def verify(self, message: bytes, signature: bytes) -> bool:
        CountingVerifier.calls += 1
        return super().verify(message, signature)


def _machine(height: int) -> Tendermint:
    counting = ValidatorSet(
        tuple(CountingVerifier(v.name, v.public_key) for v in VALIDATORS.validators)
    )
    m = Tendermint(CHAIN, counting, App(), SIGNERS[0], height)
    m.start()
    return m


@pytest.mark.parametrize(
    ("machine_height", "vote_height"),
    [(1, 1), (5, 2), (1, 10**9)],
    ids=["this-height", "past-height", "far-height"],
)
def test_copies_of_a_badly_signed_message_are_not_checked_again(
    machine_height: int, vote_height: int
) -> None:
    m = _machine(machine_height)
    good = _vote(1, VoteType.PREVOTE, 0, None, height=vote_height)  # names honest v1
    other = _vote(1, VoteType.PREVOTE, 1, None, height=vote_height)
    junk = dataclasses.replace(good, signature=other.signature)  # well-formed, not for this
    CountingVerifier.calls = 0
    start = time.perf_counter()
    m.receive_many([junk] * COPIES, via="v3")
    took = time.perf_counter() - start
    assert CountingVerifier.calls <= 1, (
        f"{CountingVerifier.calls} signature checks for {COPIES} copies of one junk message "
        f"({took * 1e6 / COPIES:.0f} us each, {took:.2f} s)"
    )
