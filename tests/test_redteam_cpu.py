"""Red team: copies of one signed message for a height beyond the next are signature-checked
every time.

``_receive_future`` drops a duplicate before its signature check only for ``height + 1``; for
any higher height it verifies the signature again (about 150 us), sets ``behind`` and returns.
One Byzantine validator signs one vote for a far height once and repeats it in its
envelopes: a 16 MiB peer envelope holds about 55,000 copies, about 8 s of one honest node's
event loop (consensus, timeouts, HTTP) per envelope, at the cost of one signature for the
attacker. The promise was that duplicates are dropped before signature checks and that a
message's cost does not depend on junk."""

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


def _machine() -> Tendermint:
    counting = ValidatorSet(
        tuple(CountingVerifier(v.name, v.public_key) for v in VALIDATORS.validators)
    )
    m = Tendermint(CHAIN, counting, App(), SIGNERS[0], 1)
    m.start()
    return m


def test_control_duplicates_at_this_height_are_not_checked_again() -> None:
    m = _machine()
    CountingVerifier.calls = 0
    m.receive_many([_vote(3, VoteType.PREVOTE, 0, None)] * COPIES)
    assert CountingVerifier.calls == 1


@pytest.mark.parametrize("ahead", [2, 10**9])
def test_duplicates_for_far_heights_are_not_checked_again(ahead: int) -> None:
    m = _machine()
    msg = _vote(3, VoteType.PREVOTE, 0, None, height=1 + ahead)
    CountingVerifier.calls = 0
    start = time.perf_counter()
    ready = m.receive_many([msg] * COPIES)
    took = time.perf_counter() - start
    assert ready.behind == 1 + ahead
    assert CountingVerifier.calls <= 1, (
        f"{CountingVerifier.calls} signature checks for {COPIES} copies of one message "
        f"({took * 1e6 / COPIES:.0f} us each)"
    )


def test_a_certificate_of_copies_costs_one_check_per_validator() -> None:
    from consensus.messages import CommitCertificate, verify_certificate

    counting = ValidatorSet(
        tuple(CountingVerifier(v.name, v.public_key) for v in VALIDATORS.validators)
    )
    own = _vote(3, VoteType.PRECOMMIT, 0, b"block-junk")  # the Byzantine's own precommit
    assert own.block_hash is not None
    cert = CommitCertificate(1, 0, own.block_hash, (own,) * COPIES)
    CountingVerifier.calls = 0
    why = verify_certificate(cert, counting, CHAIN)
    assert why is not None
    assert CountingVerifier.calls <= len(VALIDATORS.validators), (
        f"{CountingVerifier.calls} signature checks for a certificate of {COPIES} copies"
    )
