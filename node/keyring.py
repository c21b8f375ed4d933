"""The vault's key-encryption key (KEK) on disk, and its replacement when residents are erased.

Residents' data keys are stored wrapped under the KEK, in the vault's database. Deleting a
wrapped key there does not remove it from disk (SQLite's WAL and free pages, PostgreSQL's
dead rows and WAL keep it for a while), so erasure instead retires the KEK: a new one wraps
every remaining data key, and the file of the old one is overwritten and removed. Whatever
old wrapped bytes linger anywhere then open under no key the node holds.

One file, ``vault.key`` (32 random bytes, mode 0600), holds the current KEK; during a
rotation the next one waits in ``vault.key.next``. The vault database records a check value
of the current KEK, so at start the file that matches it is the current one, whichever step
a crash interrupted (``node.vault`` documents the order of the steps).
"""

import contextlib
import hashlib
import hmac
import os
from pathlib import Path

KEY_BYTES = 32
_CHECK_CONTEXT = b"shanhe-vault-kek-check-v1"


class KeyringError(ValueError):
    """A key file that cannot be what it claims (wrong size): the node does not start."""


def check_value(kek: bytes) -> bytes:
    """What the vault database stores to recognise its KEK: reveals nothing of the key."""
    return hmac.new(kek, _CHECK_CONTEXT, hashlib.sha256).digest()


def next_path(path: Path) -> Path:
    return path.with_name(path.name + ".next")


def read(path: Path) -> bytes | None:
    """The key in ``path``, or None if there is no such file."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    if len(data) != KEY_BYTES:
        raise KeyringError(f"{path} holds {len(data)} bytes, not a {KEY_BYTES}-byte key")
    return data


def create(path: Path) -> bytes:
    """A new random key, written whole to ``path`` (0600) and durable before it is used: a
    temporary file, fsync'd, then renamed, so a crash leaves no partial key file."""
    key = os.urandom(KEY_BYTES)
    tmp = temporary_path(path)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, key)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    _sync_dir(path.parent)
    return key


def temporary_path(path: Path) -> Path:
    return path.with_name(path.name + ".tmp")


def destroy(path: Path) -> None:
    """Overwrite the file's bytes in place, make that durable, then unlink it. A reader of
    the file system sees the key no more; on copy-on-write file systems and flash the old
    blocks may survive below it (docs/threat-model.md, known limits)."""
    _overwrite(path)
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    _sync_dir(path.parent)


def install(path: Path) -> None:
    """Make the next key the current one: the current file's bytes are overwritten first,
    then the next file takes its name (an atomic rename), and the directory is synced."""
    _overwrite(path)
    os.replace(next_path(path), path)
    _sync_dir(path.parent)


def _overwrite(path: Path) -> None:
    try:
        fd = os.open(path, os.O_WRONLY)
    except FileNotFoundError:
        return
    try:
        size = os.fstat(fd).st_size
        os.write(fd, os.urandom(size))
        os.fsync(fd)
    finally:
        os.close(fd)


def _sync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
