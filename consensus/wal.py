"""Write-ahead record framing, pure: ``length ‖ crc32 ‖ payload`` per record.

A crash can tear the last record (Jepsen found Tendermint losing WAL data exactly there): the
decoder detects a short or corrupt tail, returns the intact records before it and says so,
instead of reading garbage or failing to start.
"""

import struct
import zlib
from dataclasses import dataclass

_HEADER = struct.Struct(">II")
MAX_RECORD = 64 * 1024 * 1024


def encode_record(payload: bytes) -> bytes:
    return _HEADER.pack(len(payload), zlib.crc32(payload)) + payload


@dataclass(frozen=True)
class Decoded:
    records: list[bytes]
    valid_length: int
    """Bytes of intact records; anything after is a torn tail to truncate."""
    torn: bool


def decode_records(data: bytes) -> Decoded:
    records: list[bytes] = []
    pos = 0
    while pos < len(data):
        if pos + _HEADER.size > len(data):
            return Decoded(records, pos, True)
        length, crc = _HEADER.unpack_from(data, pos)
        end = pos + _HEADER.size + length
        if length > MAX_RECORD or end > len(data):
            return Decoded(records, pos, True)
        payload = data[pos + _HEADER.size : end]
        if zlib.crc32(payload) != crc:
            return Decoded(records, pos, True)
        records.append(payload)
        pos = end
    return Decoded(records, pos, False)
