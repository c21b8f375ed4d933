"""The consensus write-ahead record on disk: fsync'd before any signed message is sent.

Reading it: a torn tail (a crash mid-write) is cut; a damaged final record is cut and reported,
so that the node does not sign where that record may have spoken; damage with intact records
after it stops the node (``WalCorrupted``): cutting would forget what it signed.
Writing it: a record is either written whole and fsync'd, or ``append`` raises
``WalWriteError`` and the file is cut back to its last whole record, so a retry appends after
intact data. A failed fsync or a failed cut-back leaves the file in a state this process can no
longer vouch for: it refuses every later append (PostgreSQL's lesson: a failed fsync is not
retried).
"""

import contextlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from consensus.safety import SafetyState
from consensus.wal import (
    Corrupt,
    Decoded,
    Tail,
    decode_legacy,
    decode_records,
    encode_record,
    is_legacy,
)

log = logging.getLogger("shanhe.wal")

COMPACT_ABOVE = 4 * 1024 * 1024


class WalCorrupted(ValueError):
    """The WAL is damaged in a way that is not a torn write: the node must not start."""

    def __init__(self, path: Path, offset: int, reason: str, detail: str) -> None:
        self.path, self.offset, self.reason, self.detail = path, offset, reason, detail
        self.tip: int | None = None
        """The database's last block, when the node knows it."""
        super().__init__(reason)

    def __str__(self) -> str:
        if self.tip is None:
            above = "above the database's last block + 1"
        else:
            above = f"above height {self.tip + 1} (the database holds blocks up to {self.tip})"
        return (
            f"the consensus WAL {self.path} is damaged at byte {self.offset} ({self.reason}); "
            f"{self.detail}. Cutting it there could make this validator sign twice, so the node "
            f"does not start. Restore the file from a copy taken after the node's last run; or, "
            f"if this validator signed nothing {above}, move the file aside "
            f"(mv {self.path} {self.path}.damaged) and start again: the node then signs "
            f"nothing at the next height and follows it (docs/consensus.md, 'A damaged WAL')."
        )


class WalWriteError(OSError):
    """A record was not made durable: nothing of the Ready it belongs to may be sent."""


@dataclass(frozen=True)
class Loaded:
    state: SafetyState | None
    """The last intact record."""
    tail: Tail
    """What was cut: nothing, a torn write, or a damaged final record (maybe sent)."""


class WalFile:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.torn_tails_repaired = 0
        self.broken: str | None = None
        """Why this process may no longer append, if it may not."""
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
        self._size = os.fstat(self._fd).st_size

    def load(self) -> Loaded:
        """The last intact record; a torn or damaged tail is cut off and counted; raises
        ``WalCorrupted`` for damage that is not at the tail or that no record holds."""
        data = self.path.read_bytes()
        decoded = decode_legacy(data) if is_legacy(data) else decode_records(data)
        if isinstance(decoded, Corrupt):
            raise self._corrupted(data, decoded)
        if decoded.torn:
            if decoded.tail is Tail.TORN:
                self.torn_tails_repaired += 1
            os.ftruncate(self._fd, decoded.valid_length)
            os.fsync(self._fd)
            self._size = decoded.valid_length
        state = None
        if decoded.records:
            try:
                state = SafetyState.decode(decoded.records[-1])
            except ValueError as exc:
                offset = decoded.offsets[-1]
                raise WalCorrupted(
                    self.path, offset, "an intact record that is no safety state",
                    f"its checksums hold, so this is no torn write but a bug or an edit: {exc}",
                ) from exc  # fmt: skip
        if is_legacy(data) and state is not None:  # into the current format, or no start
            failed = self._compact(encode_record(state.encode()))
            if failed is not None or self.broken is not None:
                raise OSError(f"cannot rewrite {self.path} in the current WAL format: {failed}")
        return Loaded(state, decoded.tail)

    def _corrupted(self, data: bytes, c: Corrupt) -> WalCorrupted:
        heights = []
        if c.next_intact is not None:
            after = decode_records(data[c.next_intact :])
            for record in after.records if isinstance(after, Decoded) else []:
                with contextlib.suppress(ValueError):
                    heights.append(SafetyState.decode(record).height)
        if c.next_intact is None:
            detail = "no intact record follows it, but neither is it the file's last record"
        else:
            reach = f", up to height {max(heights)}" if heights else ""
            detail = f"intact records follow it from byte {c.next_intact}{reach}"
        return WalCorrupted(self.path, c.offset, c.reason, detail)

    def append(self, state: SafetyState) -> None:
        """Make ``state`` durable, or raise ``WalWriteError`` having sent nothing to disk that
        a restart would take for a record."""
        if self.broken is not None:
            raise WalWriteError(f"the WAL is not writable in this process: {self.broken}")
        record = encode_record(state.encode())
        try:
            _write_all(self._fd, record)
        except OSError as exc:
            self._cut_back(exc)
            raise WalWriteError(f"writing {self.path} failed: {exc}") from exc
        try:
            os.fsync(self._fd)
        except OSError as exc:
            self.broken = f"fsync failed: {exc}"
            raise WalWriteError(f"fsync of {self.path} failed: {exc}") from exc
        self._size += len(record)
        if self._size > COMPACT_ABOVE:
            self._compact(record)

    def _cut_back(self, exc: OSError) -> None:
        """Remove a partly written record, so that the next one follows intact data."""
        try:
            os.ftruncate(self._fd, self._size)
            os.fsync(self._fd)
        except OSError as again:
            self.broken = f"a write failed ({exc}) and cutting it back failed ({again})"

    def _compact(self, record: bytes) -> str | None:
        """Replace the file by its last record: write a temporary file, fsync it, rename it over
        the WAL, reopen, fsync the directory. A failure before the rename leaves the old file
        whole (the record is in it: ``append`` already succeeded); after the rename, an
        unsynced directory could bring the old file back after a crash, without the records
        appended since, so the WAL refuses further appends. Returns why it failed, if it did."""
        tmp = self.path.with_name(self.path.name + ".tmp")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                _write_all(fd, record)
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, self.path)
        except OSError as exc:
            log.warning("compacting %s failed, it keeps growing: %s", self.path, exc)
            with contextlib.suppress(OSError):
                tmp.unlink(missing_ok=True)
            return str(exc)
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_APPEND)
        except OSError as exc:
            self.broken = f"reopening after compaction failed: {exc}"
            return self.broken
        os.close(self._fd)
        self._fd, self._size = fd, len(record)
        try:
            _fsync_dir(self.path.parent)
        except OSError as exc:
            self.broken = f"fsync of its directory after compaction failed: {exc}"
            return self.broken
        return None

    def close(self) -> None:
        os.close(self._fd)


def _write_all(fd: int, data: bytes) -> None:
    """One ``write``, which must take every byte: a short count on a regular file means the
    disk (or quota) is full, and the next write would fail anyway."""
    n = os.write(fd, data)
    if n != len(data):
        raise OSError(f"short write: {n} of {len(data)} bytes (disk full?)")


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
