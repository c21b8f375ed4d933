"""The consensus write-ahead record on disk: fsync'd before any signed message is sent."""

import os
from pathlib import Path

from consensus.safety import SafetyState
from consensus.wal import decode_records, encode_record

COMPACT_ABOVE = 4 * 1024 * 1024


class WalFile:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.torn_tails_repaired = 0
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)

    def load(self) -> SafetyState | None:
        """The last intact record; a torn tail (a crash mid-write) is cut off and counted."""
        data = self.path.read_bytes()
        decoded = decode_records(data)
        if decoded.torn:
            self.torn_tails_repaired += 1
            os.ftruncate(self._fd, decoded.valid_length)
            os.fsync(self._fd)
        return SafetyState.decode(decoded.records[-1]) if decoded.records else None

    def append(self, state: SafetyState) -> None:
        payload = state.encode()
        os.write(self._fd, encode_record(payload))
        os.fsync(self._fd)
        if os.fstat(self._fd).st_size > COMPACT_ABOVE:
            self._compact(payload)

    def _compact(self, payload: bytes) -> None:
        """Replace the file by its last record, atomically."""
        tmp = self.path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(encode_record(payload))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)
        dir_fd = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
        os.close(self._fd)
        self._fd = os.open(self.path, os.O_RDWR | os.O_APPEND)

    def close(self) -> None:
        os.close(self._fd)
