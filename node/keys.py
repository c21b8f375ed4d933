"""Key files: signed-note private keys on disk, readable by their owner only (mode 0600)."""

import os
import stat
from pathlib import Path

from tlog.note import Signer, Verifier


class KeyFileError(Exception):
    pass


def write_signer(path: Path, signer: Signer) -> None:
    """Create ``path`` with mode 0600 (never overwriting an existing key)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(signer.encode() + "\n")


def read_signer(path: Path) -> Signer:
    try:
        mode = path.stat().st_mode
        text = path.read_text()
    except OSError as exc:
        raise KeyFileError(f"cannot read key file {path}: {exc.strerror}") from exc
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise KeyFileError(f"key file {path} is readable by others; chmod 600 it")
    try:
        return Signer.parse(text)
    except ValueError as exc:
        raise KeyFileError(f"key file {path}: {exc}") from exc


def read_verifiers(path: Path) -> list[Verifier]:
    """A verifier-keys file: one signed-note verifier key a line; blank lines and # comments skipped."""
    try:
        lines = path.read_text().splitlines()
    except OSError as exc:
        raise KeyFileError(f"cannot read keys file {path}: {exc.strerror}") from exc
    keys = []
    for number, line in enumerate(lines, 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        try:
            keys.append(Verifier.parse(line))
        except ValueError as exc:
            raise KeyFileError(f"{path}:{number}: {exc}") from exc
    return keys
