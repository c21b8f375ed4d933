"""Red team: one flipped bit in the WAL's very first byte is taken for a legacy WAL.

``WalFile.load`` picks the decoder by the first byte (``is_legacy``: anything but 0xFF). Flip
that byte and the whole current-format file is read by ``decode_legacy``, whose first
"length" (0x..535701, from the magic) is out of bounds: no records, a "damaged tail" at byte
0. The node starts instead of refusing, ``ftruncate``s the file to nothing, and the
double-sign guard sees no record at all. With a database restored from an older copy (the
case the guard exists for) the guard then covers only the database's tip + 1, not the heights
the WAL shows this validator signed at."""

from pathlib import Path

import pytest

from consensus.safety import SafetyState, double_sign_guard
from consensus.wal import Tail
from node.walfile import WalCorrupted, WalFile
from tests.test_wal_integrity import prevote

TIP = 5
"""The database's last block: restored from a copy older than the WAL."""
SIGNED_AT = 10
"""The height the WAL shows this validator prevoted at."""


def _wal(path: Path) -> None:
    wal = WalFile(path)
    for n in range(3):
        block = b"block-%d" % n
        vote = prevote(SIGNED_AT, block, round_=n)
        wal.append(SafetyState(SIGNED_AT, n, 1, -1, None, -1, None, (vote,), ()))
    wal.close()


def test_control_the_intact_wal_guards_the_heights_it_signed_at(tmp_path: Path) -> None:
    path = tmp_path / "consensus.wal"
    _wal(path)
    loaded = WalFile(path).load()
    sign_from, _ = double_sign_guard(loaded.state, TIP, loaded.tail is Tail.DAMAGED)
    assert sign_from > SIGNED_AT


@pytest.mark.parametrize("flip", [0x01, 0x80])
def test_a_flipped_first_byte_is_refused_not_cut(tmp_path: Path, flip: int) -> None:
    path = tmp_path / "consensus.wal"
    _wal(path)
    data = bytearray(path.read_bytes())
    data[0] ^= flip
    path.write_bytes(bytes(data))
    try:
        loaded = WalFile(path).load()
    except WalCorrupted:
        return  # refused, naming file and offset: the promise
    kept = path.stat().st_size
    sign_from, _ = double_sign_guard(loaded.state, TIP, loaded.tail is Tail.DAMAGED)
    assert sign_from > SIGNED_AT, (
        f"started with {kept} of {len(data)} WAL bytes kept; it may sign again from height "
        f"{sign_from} although the WAL shows it prevoted at {SIGNED_AT}"
    )
