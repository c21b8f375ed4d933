"""Write-ahead record framing, pure: ``magic ‖ length ‖ crc32(payload) ‖ crc32(header) ‖ payload``.

A crash can tear the last record (Jepsen found Tendermint losing WAL data exactly there), and
that record may be cut: its messages were never sent, because sending waits for the fsync. A
damaged record with intact data after it is something else (a bad disk block, a flipped bit, a
hand edit): cutting it would drop the records after it, and with them what this validator
signed, so the decoder reports it and the node refuses to start. Telling the two apart:

- every record starts with ``MAGIC``, whose 0xFF byte never occurs in UTF-8 (payloads are
  JSON), so a search for the next record start cannot stop inside a payload;
- the header has its own CRC, so a length is only believed when the header is intact;
- damage followed by at least one intact record anywhere after it is corruption, never a tear;
- a tail that is a strict prefix of a record is a torn write; a complete final record that
  fails its checksum, or bytes that are no record at all, is a *damaged* tail: it may be cut
  (nothing intact follows), but the record may have been fsync'd and its messages sent, so the
  caller must not trust the WAL for the height it covered (``consensus.safety.restart_plan``).
"""

import struct
import zlib
from dataclasses import dataclass
from enum import Enum

MAGIC = b"\xffSW\x01"
"""0xFF, "SW" (Shanhe WAL) and the format version."""
_HEAD = struct.Struct(">4sII")  # magic, payload length, payload CRC32
_HEAD_CRC = struct.Struct(">I")
HEADER_SIZE = _HEAD.size + _HEAD_CRC.size
MAX_RECORD = 64 * 1024 * 1024


def encode_record(payload: bytes) -> bytes:
    if len(payload) > MAX_RECORD:
        raise ValueError(f"a WAL record holds at most {MAX_RECORD} bytes")
    head = _HEAD.pack(MAGIC, len(payload), zlib.crc32(payload))
    return head + _HEAD_CRC.pack(zlib.crc32(head)) + payload


class Tail(Enum):
    CLEAN = "clean"
    """The data ends at a record boundary."""
    TORN = "torn"
    """It ends in a strict prefix of a record: a write that never completed, so never sent."""
    DAMAGED = "damaged"
    """It ends in one complete record that fails its checksum, or in bytes that are no record."""


@dataclass(frozen=True)
class Decoded:
    records: list[bytes]
    offsets: list[int]
    """Where each record starts."""
    valid_length: int
    """Bytes of intact records; anything after is the tail to cut."""
    tail: Tail

    @property
    def torn(self) -> bool:
        """Something after the intact records must be cut."""
        return self.tail is not Tail.CLEAN


@dataclass(frozen=True)
class Corrupt:
    """Damage that is not a torn tail: intact data follows it, or it spans more than a record."""

    offset: int
    reason: str
    records_before: int
    next_intact: int | None
    """Where the first intact record after the damage starts, if there is one."""


def _header(data: bytes, pos: int) -> int | str:
    """The payload length of an intact header at ``pos``, or why there is none there."""
    if len(data) - pos < HEADER_SIZE:
        have = data[pos : pos + len(MAGIC)]
        return "incomplete" if MAGIC.startswith(have) else "bad magic"
    magic, length, _ = _HEAD.unpack_from(data, pos)
    if magic != MAGIC:
        return "bad magic"
    (head_crc,) = _HEAD_CRC.unpack_from(data, pos + _HEAD.size)
    if zlib.crc32(data[pos : pos + _HEAD.size]) != head_crc:
        return "header checksum mismatch"
    if length > MAX_RECORD:
        return "length out of bounds"
    return int(length)


def _record(data: bytes, pos: int) -> int | str:
    """The end of an intact record at ``pos``, or why there is none there."""
    length = _header(data, pos)
    if isinstance(length, str):
        return length
    end = pos + HEADER_SIZE + length
    if end > len(data):
        return "incomplete"
    (_, _, crc) = _HEAD.unpack_from(data, pos)
    if zlib.crc32(data[pos + HEADER_SIZE : end]) != crc:
        return "payload checksum mismatch"
    return end


def _next_intact(data: bytes, after: int) -> int | None:
    pos = data.find(MAGIC, after + 1)
    while pos != -1:
        if isinstance(_record(data, pos), int):
            return pos
        pos = data.find(MAGIC, pos + 1)
    return None


def decode_records(data: bytes) -> Decoded | Corrupt:
    """Total: any bytes give the intact records and a tail to cut, or the damage to refuse."""
    records: list[bytes] = []
    offsets: list[int] = []
    pos = 0
    while pos < len(data):
        end = _record(data, pos)
        if isinstance(end, str):
            return _tail(data, pos, end, records, offsets)
        records.append(data[pos + HEADER_SIZE : end])
        offsets.append(pos)
        pos = end
    return Decoded(records, offsets, pos, Tail.CLEAN)


def _tail(
    data: bytes, pos: int, why: str, records: list[bytes], offsets: list[int]
) -> Decoded | Corrupt:
    following = _next_intact(data, pos)
    if following is not None:
        return Corrupt(pos, why, len(records), following)
    if why == "incomplete":
        return Decoded(records, offsets, pos, Tail.TORN)
    length = _header(data, pos)
    if isinstance(length, int):  # an intact header: the record's extent is known
        beyond = len(data) - (pos + HEADER_SIZE + length)
    else:
        beyond = len(data) - pos - (HEADER_SIZE + MAX_RECORD)
    if beyond > 0:
        return Corrupt(pos, f"{why}, and {beyond} more bytes after it", len(records), None)
    return Decoded(records, offsets, pos, Tail.DAMAGED)


_LEGACY_HEAD = struct.Struct(">II")


def decode_legacy(data: bytes) -> Decoded:
    """A WAL written before ``MAGIC`` (``length ‖ crc32 ‖ payload``): its records up to the
    first that fails. That format cannot tell a tear from damage, so anything cut is reported
    as a damaged tail, and the caller rewrites the file in the current format."""
    records: list[bytes] = []
    offsets: list[int] = []
    pos = 0
    while pos < len(data):
        if len(data) - pos < _LEGACY_HEAD.size:
            break
        length, crc = _LEGACY_HEAD.unpack_from(data, pos)
        end = pos + _LEGACY_HEAD.size + length
        if length > MAX_RECORD or end > len(data):
            break
        payload = data[pos + _LEGACY_HEAD.size : end]
        if zlib.crc32(payload) != crc:
            break
        records.append(payload)
        offsets.append(pos)
        pos = end
    return Decoded(records, offsets, pos, Tail.CLEAN if pos == len(data) else Tail.DAMAGED)


def is_legacy(data: bytes) -> bool:
    """Every current record starts with 0xFF; a legacy one with a length below 2**26."""
    return bool(data) and data[0] != MAGIC[0]
