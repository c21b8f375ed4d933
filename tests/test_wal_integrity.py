"""A damaged WAL never makes an honest validator sign twice (issue 10, item 5).

The attack replayed first: one flipped byte in the first record of a long WAL used to read as a
torn tail, every record after it was dropped, and the validator signed a conflicting prevote.
Here only a torn or damaged *final* record is ever cut; any other damage is refused, naming the
file and the byte offset.
"""

import contextlib
import hashlib
import json
import os
import struct
import zlib
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from consensus.messages import Proposal, Vote, VoteType, block_id
from consensus.safety import SafetyState
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
from node.walfile import WalCorrupted, WalFile
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
def state(height: int, sent: tuple[Proposal | Vote, ...] = ()) -> SafetyState:
    return SafetyState(height, 0, 0, -1, None, -1, None, sent)


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


# ------------------------------------------------------------ safety state
@given(st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=8),
                    lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=8), c, max_size=3),
                    max_leaves=20))  # fmt: skip
def test_decoding_a_safety_state_is_total(value: object) -> None:
    good = json.loads(state(2, (prevote(2, b"b"),)).encode())
    for candidate in (value, {**good, "height": value}, {**good, "sent": value}):
        with contextlib.suppress(ValueError):
            SafetyState.decode(json.dumps(candidate).encode())
