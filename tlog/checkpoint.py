"""C2SP tlog-checkpoint: the signed tree head an auditor checks with standard tools.

Body: origin line, decimal tree size, base64 root hash, then optional extension lines.
"""

import base64
from collections.abc import Iterable
from dataclasses import dataclass

from tlog.errors import Invalid
from tlog.hashing import HASH_SIZE
from tlog.note import NoteError, OpenedNote, Verifier, verify_note


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    def body(self) -> str:
        lines = [self.origin, str(self.size), base64.b64encode(self.root).decode()]
        return "".join(line + "\n" for line in (*lines, *self.extensions))


CheckpointError = Invalid
"""Why a checkpoint does not hold (the log's shared error value)."""


def parse_checkpoint(body: str) -> Checkpoint | CheckpointError:
    if not body.endswith("\n"):
        return CheckpointError("malformed_checkpoint", "body must end with a newline")
    lines = body[:-1].split("\n")
    if len(lines) < 3:
        return CheckpointError("malformed_checkpoint", "want origin, size and root lines")
    origin, size_text, root_text, *extensions = lines
    if not origin or any(not line for line in extensions):
        return CheckpointError("malformed_checkpoint", "empty origin or extension line")
    if (
        not size_text.isascii()
        or not size_text.isdigit()
        or (size_text != "0" and size_text.startswith("0"))
    ):
        return CheckpointError("malformed_checkpoint", f"tree size {size_text!r} is not decimal")
    try:
        root = base64.b64decode(root_text, validate=True)
    except ValueError:  # binascii.Error, or a str not ASCII
        return CheckpointError("malformed_checkpoint", "root hash is not base64")
    if len(root) != HASH_SIZE:
        return CheckpointError("malformed_checkpoint", f"root hash is {len(root)} bytes")
    return Checkpoint(origin, int(size_text), root, tuple(extensions))


def verify_checkpoint(
    note: str, verifiers: Iterable[Verifier], quorum: int
) -> tuple[Checkpoint, OpenedNote] | NoteError | CheckpointError:
    """A checkpoint whose note carries at least ``quorum`` valid cosignatures."""
    opened = verify_note(note, verifiers, quorum)
    if isinstance(opened, NoteError):
        return opened
    checkpoint = parse_checkpoint(opened.text)
    if isinstance(checkpoint, CheckpointError):
        return checkpoint
    return checkpoint, opened
