"""The consensus write-ahead record on disk: fsync'd before any signed message is sent.

Reading it: a torn tail (a crash mid-write) is cut; a damaged final record is cut and reported;
damage with intact records after it stops the node (``WalCorrupted``): cutting would forget
what it signed.
"""

import contextlib
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
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)

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
            self._compact(state.encode())
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
