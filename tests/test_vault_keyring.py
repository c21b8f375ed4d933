"""The vault's key-encryption key is replaced when residents are erased, and a crash at any
step of that leaves every live resident's key readable and, once the node has finished what
it owes, the erased residents' keys unwrappable by anything on disk."""

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, update

from node import keyring
from node.db import open_database
from node.vault import (
    CaseRef,
    Erased,
    Unreadable,
    Vault,
    VaultKeyMismatch,
    vault_items,
    vault_meta,
)
from tests.test_erasure_node import disk, key_material, opens, unwrapped, vault_rows, wal_lsn

RESIDENTS = [hashlib.sha256(f"keyring resident {i}".encode()).hexdigest() for i in range(4)]
ERASED = RESIDENTS[:2]


class Crash(Exception):
    pass


@pytest.fixture
def place(tmp_path: Path, db_url: str) -> Iterator[tuple[Path, str]]:
    if db_url.startswith("sqlite"):
        db_url = f"sqlite+pysqlite:///{tmp_path / 'vault.db'}"
    yield tmp_path, db_url


def open_vault(place: tuple[Path, str]) -> Vault:
    directory, url = place
    return Vault(open_database(url, create=False), directory / "vault.key")


def filled(vault: Vault) -> dict[str, list[tuple[str, bytes]]]:
    stored: dict[str, list[tuple[str, bytes]]] = {}
    for n, p in enumerate(RESIDENTS):
        for k in range(2):
            document = f"document {k} of resident {n}".encode()
            case = CaseRef(f"s-{n}-{k}", p, "hosp-330824")
            stored.setdefault(p, []).append((vault.store(case, document).locator, document))
    return stored


def data_keys(vault: Vault, directory: Path) -> dict[str, bytes]:
    """Each resident's data key as the disk gives it up under the current key file."""
    keys = key_material(directory)
    found: dict[str, bytes] = {}
    for p in RESIDENTS:
        wrapped, items = vault_rows(vault, p)
        for k in unwrapped(wrapped, keys):
            if all(opens(k, item) for item in items):
                found[p] = k
    return found


def assert_live_and_erased(vault: Vault, stored: dict[str, list[tuple[str, bytes]]]) -> None:
    for p in RESIDENTS:
        for locator, document in stored[p]:
            if p in ERASED:
                with pytest.raises(Unreadable):
                    vault.read(locator)
            else:
                assert vault.read(locator)[0] == document


def _raise(*args: Any, **kwargs: Any) -> None:
    raise Crash


def _overwrite_then_crash(path: Path) -> None:
    keyring._overwrite(path)  # the old key's bytes are gone, the new file not yet renamed
    raise Crash


def _half_written(path: Path) -> bytes:
    keyring.temporary_path(path).write_bytes(os.urandom(7))  # torn before its rename
    raise Crash


CRASHES = {
    "while the next KEK is written": (keyring, "create", _half_written),
    "after the next KEK is written": (Vault, "_rewrap", _raise),
    "after the rewrap commits": (keyring, "install", _raise),
    "after the old KEK is overwritten, before the rename": (keyring, "install", _overwrite_then_crash),
    "after the new KEK is in place": (Vault, "_checkpoint", _raise),
}  # fmt: skip


@pytest.mark.parametrize("crash", list(CRASHES))
def test_a_crash_at_any_step_of_the_rotation_loses_no_live_key_and_frees_no_erased_one(
    place: tuple[Path, str], monkeypatch: pytest.MonkeyPatch, crash: str
) -> None:
    directory, url = place
    since = wal_lsn(url) if url.startswith("postgresql") else ""
    vault = open_vault(place)
    stored = filled(vault)
    before = data_keys(vault, directory)
    assert set(before) == set(RESIDENTS)
    target, name, failing = CRASHES[crash]
    monkeypatch.setattr(target, name, failing)
    with pytest.raises(Crash):
        vault.erase(ERASED)
    monkeypatch.undo()
    vault.engine.dispose()

    again = open_vault(place)  # the restart: the vault finds which key file is current
    for p in RESIDENTS[2:]:
        assert again.read(stored[p][0][0])[0] == stored[p][0][1]
    again.erase(ERASED)  # what the node's pending erasures do after a restart
    assert_live_and_erased(again, stored)
    assert sorted(f.name for f in directory.iterdir() if ".key" in f.name) == ["vault.key"]
    blobs, _ = disk(directory, url, since)
    found = unwrapped(blobs.values(), key_material(directory))
    assert not {before[p] for p in ERASED} & found
    assert {before[p] for p in RESIDENTS[2:]} <= found
    again.engine.dispose()


def test_each_erasure_retires_the_key_and_the_old_file_is_overwritten(
    place: tuple[Path, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    directory, _ = place
    vault = open_vault(place)
    stored = filled(vault)
    old = (directory / "vault.key").read_bytes()
    inode = (directory / "vault.key").stat().st_ino
    seen: list[bytes] = []
    real = keyring._overwrite

    def watch(path: Path) -> None:
        before = path.read_bytes() if path.exists() else b""
        real(path)
        if before:
            seen.append(before)
            assert path.read_bytes() != before  # overwritten in place, then renamed over

    monkeypatch.setattr(keyring, "_overwrite", watch)
    assert vault.erase(ERASED) == 4
    monkeypatch.undo()
    assert seen == [old]
    new = (directory / "vault.key").read_bytes()
    assert new != old and (directory / "vault.key").stat().st_ino != inode
    assert os.stat(directory / "vault.key").st_mode & 0o777 == 0o600
    assert_live_and_erased(vault, stored)
    assert vault.erase(ERASED) == 0  # idempotent: nothing left, no new key
    assert (directory / "vault.key").read_bytes() == new


def test_nothing_is_stored_again_for_an_erased_resident(place: tuple[Path, str]) -> None:
    vault = open_vault(place)
    vault.erase([RESIDENTS[3]])  # no key yet: only recorded as erased, no rotation
    with pytest.raises(Erased):
        vault.store(CaseRef("s-late", RESIDENTS[3], "hosp-330824"), b"late")
    vault.store(CaseRef("s-fine", RESIDENTS[2], "hosp-330824"), b"fine")


def test_a_key_file_that_does_not_open_the_vault_stops_the_node(place: tuple[Path, str]) -> None:
    directory, _ = place
    vault = open_vault(place)
    filled(vault)
    vault.engine.dispose()
    (directory / "vault.key").write_bytes(os.urandom(32))
    with pytest.raises(VaultKeyMismatch):
        open_vault(place)
    (directory / "vault.key").write_bytes(b"short")
    with pytest.raises(keyring.KeyringError):
        open_vault(place)


def test_a_vault_from_before_rotation_adopts_its_key_file(place: tuple[Path, str]) -> None:
    vault = open_vault(place)
    stored = filled(vault)
    locator, document = stored[RESIDENTS[0]][0]
    raw_salt = os.urandom(32)
    with vault.engine.begin() as conn:  # as a vault written before check values, sealed salts
        conn.execute(delete(vault_meta))
        conn.execute(
            update(vault_items).where(vault_items.c.locator == locator).values(salt=raw_salt)
        )
    vault.engine.dispose()
    again = open_vault(place)
    assert again.read(locator) == (document, raw_salt)
