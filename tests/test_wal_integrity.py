"""A damaged WAL never makes an honest validator sign twice (issue 10, item 5).

The attack replayed first: one flipped byte in the first record of a long WAL used to read as a
torn tail, every record after it was dropped, and the validator signed a conflicting prevote.
Here only a torn or damaged *final* record is ever cut; any other damage is refused, naming the
file and the byte offset; writes are whole or fail; and where the WAL cannot tell what was
signed, the machine signs nothing (``sign_from_height``).
"""

import contextlib
import errno
import hashlib
import json
import os
import struct
import zlib
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from consensus.machine import Ready, Step, Tendermint, Timeout
from consensus.messages import Proposal, Vote, VoteType, block_id, conflicting, signer_of
from consensus.safety import SafetyState, double_sign_guard
from consensus.validators import ValidatorSet
from consensus.wal import (
    HEADER_SIZE,
    MAGIC,
    Corrupt,
    Decoded,
    Tail,
    decode_legacy,
    decode_records,
    encode_record,
    is_legacy,
)
from node import walfile
from node.walfile import WalCorrupted, WalFile, WalWriteError
from tlog.note import Signer

CHAIN = "wal"
SIGNERS = [Signer(f"v{i}", hashlib.sha256(b"wal" + bytes([i])).digest()) for i in range(4)]
VALIDATORS = ValidatorSet(tuple(s.verifier() for s in SIGNERS))
payloads = st.lists(st.binary(max_size=60), min_size=1, max_size=6)


def stream_of(records: list[bytes]) -> tuple[bytes, list[int]]:
    offsets, pos = [], 0
    for r in records:
        offsets.append(pos)
        pos += HEADER_SIZE + len(r)
    return b"".join(encode_record(r) for r in records), offsets


def decoded(data: bytes) -> Decoded:
    out = decode_records(data)
    assert isinstance(out, Decoded), out
    return out


# ------------------------------------------------------------------ framing
@given(st.lists(st.binary(max_size=60), max_size=6))
def test_records_round_trip(records: list[bytes]) -> None:
    data, offsets = stream_of(records)
    out = decoded(data)
    assert out.records == records and out.offsets == offsets
    assert out.tail is Tail.CLEAN and out.valid_length == len(data)


@given(payloads, st.data())
def test_any_torn_tail_is_cut_and_keeps_every_complete_record(
    records: list[bytes], data: st.DataObject
) -> None:
    stream, offsets = stream_of(records)
    cut = data.draw(st.integers(0, len(stream)))
    out = decoded(stream[:cut])
    complete = [r for r, o in zip(records, offsets, strict=True) if o + HEADER_SIZE + len(r) <= cut]
    assert out.records == complete
    assert out.valid_length == sum(HEADER_SIZE + len(r) for r in complete)
    assert out.tail is (Tail.CLEAN if cut == out.valid_length else Tail.TORN)


@given(st.lists(st.binary(max_size=60), min_size=2, max_size=6), st.data())
def test_a_flipped_byte_in_any_record_but_the_last_is_refused(
    records: list[bytes], data: st.DataObject
) -> None:
    stream, offsets = stream_of(records)
    k = data.draw(st.integers(0, len(records) - 2))
    where = offsets[k] + data.draw(st.integers(0, HEADER_SIZE + len(records[k]) - 1))
    flip = data.draw(st.integers(1, 255))
    damaged = bytearray(stream)
    damaged[where] ^= flip
    out = decode_records(bytes(damaged))
    assert isinstance(out, Corrupt), "a damaged record with intact data after it was cut"
    assert out.offset == offsets[k] and out.records_before == k
    assert out.next_intact == offsets[k + 1]


@given(payloads, st.data())
def test_a_flipped_byte_in_the_last_record_is_a_damaged_tail(
    records: list[bytes], data: st.DataObject
) -> None:
    stream, offsets = stream_of(records)
    where = offsets[-1] + data.draw(st.integers(0, HEADER_SIZE + len(records[-1]) - 1))
    damaged = bytearray(stream)
    damaged[where] ^= data.draw(st.integers(1, 255))
    out = decoded(bytes(damaged))
    assert out.records == records[:-1] and out.tail is Tail.DAMAGED
    assert out.valid_length == offsets[-1]


@given(payloads, st.binary(min_size=1, max_size=60), st.binary(min_size=1, max_size=40))
def test_a_bad_record_followed_by_more_bytes_is_not_a_torn_tail(
    records: list[bytes], last: bytes, junk: bytes
) -> None:
    """Its intact header says where it ends: bytes after it are a second fault, not a tear."""
    stream, offsets = stream_of([*records, last])
    damaged = bytearray(stream)
    damaged[-1] ^= 1  # in the payload of the last record
    out = decode_records(bytes(damaged) + junk)
    assert isinstance(out, Corrupt) and out.offset == offsets[-1]


@given(st.binary(max_size=300))
def test_decoding_is_total_and_only_keeps_what_it_can_prove(data: bytes) -> None:
    out = decode_records(data)
    if isinstance(out, Decoded):
        assert b"".join(encode_record(r) for r in out.records) == data[: out.valid_length]


def test_a_zero_filled_tail_is_damaged_not_torn() -> None:
    """Some file systems leave zeros after a crash where the last write went: it may be cut,
    but it is not a clean tear, so the caller will not sign where that write may have spoken."""
    stream, _ = stream_of([b"a", b"b"])
    assert decoded(stream + bytes(30)).tail is Tail.DAMAGED
    assert decoded(stream + MAGIC[:3]).tail is Tail.TORN


def test_a_legacy_wal_still_reads() -> None:
    def old(payload: bytes) -> bytes:
        return struct.pack(">II", len(payload), zlib.crc32(payload)) + payload

    data = old(b"one") + old(b"two")
    assert is_legacy(data) and not is_legacy(encode_record(b"x")) and not is_legacy(b"")
    assert decode_legacy(data).records == [b"one", b"two"]
    assert decode_legacy(data + old(b"three")[:5]).tail is Tail.DAMAGED


# --------------------------------------------------------------- the file
def state(
    height: int, sent: tuple[Proposal | Vote, ...] = (), sign_from_height: int = 0
) -> SafetyState:
    return SafetyState(height, 0, 0, -1, None, -1, None, sent, (), sign_from_height)


def prevote(height: int, block: bytes | None, i: int = 0, round_: int = 0) -> Vote:
    h = None if block is None else block_id(block)
    return Vote(CHAIN, VoteType.PREVOTE, height, round_, h, f"v{i}").signed(SIGNERS[i])


def test_the_issues_wal_one_flipped_byte_in_the_first_record_is_refused(tmp_path: Path) -> None:
    """The reproduction from the issue: 244 records, ~768 KB, one byte flipped in the first."""
    path = tmp_path / "consensus.wal"
    wal = WalFile(path)
    for n in range(244):  # locked on and prevoting a block of about 1 KB at each height
        height, block = 1 + n // 2, os.urandom(1150)
        vote = prevote(height, block)
        wal.append(SafetyState(height, 0, 1, 0, block, 0, block, (vote,), (vote,)))
    wal.close()
    size = path.stat().st_size
    assert size > 700_000
    data = bytearray(path.read_bytes())
    data[20] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(WalCorrupted) as refused:
        WalFile(path).load()
    message = str(refused.value)
    assert str(path) in message and "at byte 0 " in message
    assert "up to height 122" in message and "move the file aside" in message
    assert path.read_bytes() == bytes(data)  # nothing was cut


def test_a_record_that_is_no_safety_state_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "consensus.wal"
    path.write_bytes(encode_record(state(1).encode()) + encode_record(b'{"height": "x"}'))
    with pytest.raises(WalCorrupted, match="no safety state"):
        WalFile(path).load()


def test_a_damaged_last_record_is_cut_and_reported(tmp_path: Path) -> None:
    path = tmp_path / "consensus.wal"
    wal = WalFile(path)
    wal.append(state(1))
    wal.append(state(2))
    wal.close()
    data = bytearray(path.read_bytes())
    data[-3] ^= 0x40
    path.write_bytes(bytes(data))
    loaded = WalFile(path).load()
    assert loaded.state is not None and loaded.state.height == 1 and loaded.tail is Tail.DAMAGED
    assert path.stat().st_size == len(encode_record(state(1).encode()))


def test_a_legacy_file_is_rewritten_in_the_current_format(tmp_path: Path) -> None:
    path = tmp_path / "consensus.wal"
    payload = state(3).encode()
    path.write_bytes(struct.pack(">II", len(payload), zlib.crc32(payload)) + payload)
    wal = WalFile(path)
    loaded = wal.load()
    assert loaded.state == state(3) and loaded.tail is Tail.CLEAN
    wal.append(state(4))
    wal.close()
    assert decoded(path.read_bytes()).records == [payload, state(4).encode()]


class FullDisk:
    """``os.write`` on a disk with ``room`` bytes left: a short count, then ENOSPC."""

    def __init__(self) -> None:
        self.room = 10**9
        self.real = os.write

    def write(self, fd: int, data: bytes) -> int:
        if self.room <= 0:
            raise OSError(errno.ENOSPC, "No space left on device")
        n = self.real(fd, data[: self.room])
        self.room -= n
        return n


@pytest.fixture
def full_disk(monkeypatch: pytest.MonkeyPatch) -> FullDisk:
    disk = FullDisk()
    monkeypatch.setattr(os, "write", disk.write)
    return disk


@pytest.mark.parametrize("room", [0, 1, HEADER_SIZE + 5])
def test_a_short_or_failed_write_is_an_error_and_leaves_no_partial_record(
    tmp_path: Path, full_disk: FullDisk, room: int
) -> None:
    path = tmp_path / "consensus.wal"
    wal = WalFile(path)
    wal.append(state(1))
    good = path.read_bytes()
    full_disk.room = room
    with pytest.raises(WalWriteError):
        wal.append(state(1, (prevote(1, b"block"),)))
    assert path.read_bytes() == good  # cut back: the next record follows intact data
    assert wal.broken is None
    full_disk.room = 10**9  # the operator made room: writing resumes
    wal.append(state(2))
    wal.close()
    loaded = WalFile(path).load()
    assert loaded.state == state(2) and loaded.tail is Tail.CLEAN


def test_a_failed_fsync_is_never_retried(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "consensus.wal"
    wal = WalFile(path)
    wal.append(state(1))

    def failing_fsync(fd: int) -> None:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(os, "fsync", failing_fsync)
    with pytest.raises(WalWriteError):
        wal.append(state(2))
    monkeypatch.undo()
    assert wal.broken is not None and "fsync" in wal.broken
    size = path.stat().st_size
    with pytest.raises(WalWriteError, match="not writable"):
        wal.append(state(3))
    assert path.stat().st_size == size  # not even written
    wal.close()


def test_compaction_that_fails_before_the_rename_keeps_the_whole_wal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(walfile, "COMPACT_ABOVE", 300)
    path = tmp_path / "consensus.wal"
    wal = WalFile(path)
    real_replace = os.replace

    def no_replace(src: object, dst: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "replace", no_replace)
    for h in range(1, 8):
        wal.append(state(h))  # every append succeeds although compaction fails
    assert not (tmp_path / "consensus.wal.tmp").exists()
    assert len(decoded(path.read_bytes()).records) == 7
    monkeypatch.setattr(os, "replace", real_replace)
    wal.append(state(8))
    assert decoded(path.read_bytes()).records == [state(8).encode()]
    wal.append(state(9))
    wal.close()
    assert WalFile(path).load().state == state(9)


def test_compaction_renames_a_synced_file_and_syncs_the_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(walfile, "COMPACT_ABOVE", 100)
    path = tmp_path / "consensus.wal"
    wal = WalFile(path)
    events: list[str] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        events.append("fsync dir" if os.path.isdir(f"/proc/self/fd/{fd}") else "fsync file")
        real_fsync(fd)

    def replace(src: str, dst: str) -> None:
        events.append("rename")
        real_replace(src, dst)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    wal.append(state(1))
    # the record, then the temporary file, the rename, the directory
    assert events == ["fsync file", "fsync file", "rename", "fsync dir"]

    def no_dir_fsync(fd: int) -> None:
        if os.path.isdir(f"/proc/self/fd/{fd}"):
            raise OSError(errno.EIO, "Input/output error")
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", no_dir_fsync)
    wal.append(state(2))  # durable in the new file, but the rename may not be
    assert wal.broken is not None
    with pytest.raises(WalWriteError):
        wal.append(state(3))
    wal.close()


# ------------------------------------------------------------ safety state
@given(st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=8),
                    lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=8), c, max_size=3),
                    max_leaves=20))  # fmt: skip
def test_decoding_a_safety_state_is_total(value: object) -> None:
    good = json.loads(state(2, (prevote(2, b"b"),)).encode())
    for candidate in (value, {**good, "height": value}, {**good, "sent": value}):
        with contextlib.suppress(ValueError):
            SafetyState.decode(json.dumps(candidate).encode())


def test_a_safety_state_round_trips_with_its_guard() -> None:
    s = state(5, (prevote(5, b"b"),), sign_from_height=9)
    assert SafetyState.decode(s.encode()) == s
    legacy = json.loads(s.encode())
    del legacy["sign_from_height"]
    assert SafetyState.decode(json.dumps(legacy).encode()).sign_from_height == 0
    with pytest.raises(ValueError):
        SafetyState.decode(json.dumps({**legacy, "sent": [prevote(4, b"b").to_json()]}).encode())


@pytest.mark.parametrize(
    ("last", "tip", "damaged", "sign_from"),
    [
        (None, 0, False, 1),  # a new chain: nothing can have been signed
        (None, 7, False, 9),  # WAL lost: height 8 may have been signed
        (None, 0, True, 2),  # the only record was damaged: height 1 may have been signed
        (state(8), 7, False, 1),  # the usual restart
        (state(5), 7, False, 1),  # stale: see double_sign_guard
        (state(12), 7, False, 13),  # the database went back: heights up to 12 were signed
        (state(8), 7, True, 9),  # a damaged record after the one at height 8
        (state(12), 7, True, 14),  # ... and the database went back
        (state(8, sign_from_height=11), 7, False, 11),  # a guard from an earlier start holds
        (state(6, sign_from_height=11), 9, False, 11),  # ... even in a stale record
        (state(6, sign_from_height=8), 9, False, 8),  # ... and lapses once passed
    ],
)
def test_the_double_sign_guard(
    last: SafetyState | None, tip: int, damaged: bool, sign_from: int
) -> None:
    got, why = double_sign_guard(last, tip, damaged)
    assert got == sign_from
    assert bool(why) == (got > tip + 1)


# -------------------------------------------------------------- the machine
class App:
    def pending(self) -> bool:
        return True

    def propose(self, height: int) -> bytes | None:
        return b"block-%d" % height

    def validate(self, height: int, block: bytes) -> bool:
        return block == b"block-%d" % height

    def timely(self, height: int, round_: int, block: bytes) -> bool:
        return True


def test_a_guarded_machine_follows_without_signing_and_signs_after() -> None:
    """Validator v1 (the proposer at height 1) may not sign there: it neither proposes nor
    votes, yet decides height 1 from the others' votes, and signs at height 2."""
    machines = [
        Tendermint(CHAIN, VALIDATORS, App(), SIGNERS[i], 1, sign_from_height=2 if i == 1 else 0)
        for i in range(4)
    ]
    signed: list[Proposal | Vote] = []
    queue: list[tuple[int, Proposal | Vote]] = []
    timers: list[tuple[int, Timeout]] = []

    def feed(i: int, ready: Ready) -> None:
        for msg in ready.messages:
            if signer_of(msg) == f"v{i}":
                signed.append(msg)
            queue.append((i, msg))
        timers.extend((i, t) for t in ready.timeouts)
        if ready.decision is not None:
            feed(i, machines[i].advance())

    for i, m in enumerate(machines):
        feed(i, m.start())
    assert not [m for m in signed if signer_of(m) == "v1"]  # the proposer did not propose
    while min(m.height for m in machines) < 3:
        if queue:
            src, msg = queue.pop(0)
            for j, m in enumerate(machines):
                if j != src:
                    feed(j, m.receive(msg))
        else:
            assert timers, "stalled"
            fire, timers[:] = list(timers), []
            for i, t in fire:
                feed(i, machines[i].timeout(t))
    assert not [m for m in signed if signer_of(m) == "v1" and m.height == 1]
    assert [m for m in signed if signer_of(m) == "v1" and m.height == 2]
    assert machines[1].safety_state().sign_from_height == 2
    for a in signed:
        for b in signed:
            assert not conflicting(a, b)


def test_a_guard_in_the_restored_state_stays_in_force() -> None:
    restored = state(1, sign_from_height=2)
    m = Tendermint(CHAIN, VALIDATORS, App(), SIGNERS[1], 1, restored=restored)
    ready = m.start()
    assert m.sign_from_height == 2 and not ready.messages
    ready = m.timeout(Timeout(Step.PROPOSE, 1, 0, 0))
    assert not ready.messages and ready.persist is None
