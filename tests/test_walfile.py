"""The consensus WAL on disk: last record wins, torn tails are cut, compaction keeps the last."""

from pathlib import Path

import pytest

from consensus.safety import SafetyState
from consensus.wal import Tail, encode_record
from node import walfile
from node.walfile import WalFile


def state(height: int) -> SafetyState:
    return SafetyState(height, 0, 0, -1, None, -1, None, ())


def test_last_record_wins_and_a_torn_tail_is_cut(tmp_path: Path) -> None:
    wal = WalFile(tmp_path / "c.wal")
    assert wal.load().state is None
    wal.append(state(1))
    wal.append(state(2))
    size = (tmp_path / "c.wal").stat().st_size
    with (tmp_path / "c.wal").open("ab") as f:
        f.write(encode_record(state(3).encode())[:-3])
    wal.close()
    again = WalFile(tmp_path / "c.wal")
    loaded = again.load()
    assert loaded.state is not None and loaded.state.height == 2 and loaded.tail is Tail.TORN
    assert again.torn_tails_repaired == 1
    assert (tmp_path / "c.wal").stat().st_size == size
    again.append(state(4))
    again.close()
    final = WalFile(tmp_path / "c.wal").load().state
    assert final is not None and final.height == 4


def test_compaction_keeps_only_the_last_record(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(walfile, "COMPACT_ABOVE", 500)
    wal = WalFile(tmp_path / "c.wal")
    for h in range(1, 40):
        wal.append(state(h))
    assert (tmp_path / "c.wal").stat().st_size < 500 + len(encode_record(state(39).encode()))
    wal.append(state(40))  # still appends after compacting reopened the file
    wal.close()
    reopened = WalFile(tmp_path / "c.wal")
    restored = reopened.load().state
    assert restored is not None and restored.height == 40 and reopened.torn_tails_repaired == 0
    assert (tmp_path / "c.wal").stat().st_mode & 0o777 == 0o600
