"""The off-log payload vault: documents behind the log's commitments, encrypted per resident.

Each resident has a random data key, stored wrapped (XSalsa20-Poly1305) under the node's
key-encryption key (KEK, ``node.keyring``); each payload is encrypted with XChaCha20-Poly1305
under it, bound to its locator, and so is its salt. The log holds only a salted commitment
SHA-256(salt ‖ payload) and the locator. Delivery to a recipient agency is a sealed box to
that agency's key.

Each item is bound at deposit to the case it was deposited for: its case, resident, source
hospital and commitment are stored beside it, and its locator is derived from the four
(``contracts/locator.py``), so the contracts check a release's locator without the vault.
``deliver`` serves an item only for the case it is bound to (``WrongCase`` otherwise): a
locator copied from another case's public release entry opens nothing.

Erasure (PIPL art. 47) destroys the resident's data key, and with it every payload and salt:
the log still verifies, the payloads can no longer be read, and the commitments no longer
identify anything. Deleting rows is not enough (the database's WAL, free pages and, on
PostgreSQL, dead rows keep them), so ``erase`` also replaces the KEK, in this order, each
step durable before the next:

1. a new KEK is written to ``vault.key.next`` and fsync'd (file and directory);
2. one database transaction deletes the erased residents' keys and items, records them as
   erased, rewraps every remaining data key under the new KEK and stores its check value;
3. the old KEK's file is overwritten in place, fsync'd, and the new file renamed over it.

A crash before 2 commits leaves the old KEK current (the next file is destroyed at start and
the erasure, still pending at the node, is done again); after 2, the new one (the old file
is destroyed at start). Either way every live resident's key opens and, once the step is
done, the erased ones' open under no key the node holds.
"""

import hashlib
import os
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, TypeVar

from nacl import bindings
from nacl.public import PrivateKey, PublicKey, SealedBox
from nacl.secret import SecretBox
from sqlalchemy import (
    BigInteger,
    Column,
    Engine,
    LargeBinary,
    MetaData,
    Table,
    Text,
    bindparam,
    delete,
    event,
    insert,
    inspect,
    select,
    text,
    update,
)

from contracts.locator import derive
from node import keyring
from tlog.note import Signer, Verifier

metadata = MetaData()
vault_keys = Table(
    "vault_keys",
    metadata,
    Column("resident", Text, primary_key=True),
    Column("wrapped_key", LargeBinary, nullable=False),
)
vault_items = Table(
    "vault_items",
    metadata,
    Column("locator", Text, primary_key=True),
    Column("resident", Text, nullable=False, index=True),
    Column("salt", LargeBinary, nullable=False),
    Column("ciphertext", LargeBinary, nullable=False),
    # the case the item was deposited for (null in vaults from before binding: never delivered)
    Column("case_id", Text, nullable=True),
    Column("source", Text, nullable=True),
    Column("commitment", Text, nullable=True),
)
BINDING_COLUMNS = ("case_id", "source", "commitment")
vault_meta = Table(
    "vault_meta",
    metadata,
    # "kek_check": the check value of the current KEK (``keyring.check_value``)
    Column("name", Text, primary_key=True),
    Column("value", LargeBinary, nullable=False),
)
vault_erased = Table(
    "vault_erased",
    metadata,
    # residents whose key material was destroyed: nothing is stored for them again
    Column("resident", Text, primary_key=True),
    Column("erased_ms", BigInteger, nullable=False),
)


class Unreadable(Exception):
    """No such payload, or its resident's key material was erased."""


class Erased(Unreadable):
    """The resident was erased: the vault stores nothing for them again."""


class WrongCase(Exception):
    """The item at a locator was deposited for another case (or before items were bound):
    it is not delivered. ``resident`` is the one the item belongs to, whose access log is
    where the attempt goes."""

    def __init__(self, resident: str, case_id: str | None) -> None:
        super().__init__(f"the item is bound to case {case_id}, not this one")
        self.resident, self.case_id = resident, case_id


class VaultKeyMismatch(ValueError):
    """No key file opens this vault database: the node must not start with it."""


@dataclass(frozen=True)
class CaseRef:
    """The case a payload is deposited for, as the committed state holds it."""

    case_id: str
    resident: str
    source: str


@dataclass(frozen=True)
class Stored:
    locator: str
    commitment: str
    """Hex SHA-256(salt ‖ payload): what goes on the log."""


def commitment(salt: bytes, payload: bytes) -> str:
    return hashlib.sha256(salt + payload).hexdigest()


P = ParamSpec("P")
R = TypeVar("R")


def _locked(method: "Callable[Concatenate[Vault, P], R]") -> "Callable[Concatenate[Vault, P], R]":
    """One vault operation at a time: a deposit may not wrap or write for a resident while a
    rotation erases them, nor a read use a KEK the rotation has just retired."""

    def run(self: "Vault", /, *args: P.args, **kwargs: P.kwargs) -> R:
        with self.lock:
            return method(self, *args, **kwargs)

    return run


class Vault:
    def __init__(self, engine: Engine, key_file: Path) -> None:
        self.engine = engine
        self.key_file = key_file
        self.lock = threading.RLock()
        if engine.dialect.name == "sqlite":
            event.listen(engine, "connect", _secure_delete)
        metadata.create_all(engine)
        _add_binding_columns(engine)
        self.kek = self._current_kek()
        self.box = SecretBox(self.kek)

    def _current_kek(self) -> bytes:
        """The KEK the database's check value names, finishing or undoing a rotation that a
        crash interrupted (see the module docstring); a new vault's KEK is made here."""
        nxt = keyring.next_path(self.key_file)
        for unused in (keyring.temporary_path(self.key_file), keyring.temporary_path(nxt)):
            if unused.exists():  # a key a crash left before it was ever renamed into use
                keyring.destroy(unused)
        with self.engine.begin() as conn:
            check = conn.execute(
                select(vault_meta.c.value).where(vault_meta.c.name == "kek_check")
            ).scalar()
            if check is None:  # a new vault, or one from before KEK rotation: adopt the file
                if nxt.exists():
                    keyring.destroy(nxt)
                kek = keyring.read(self.key_file) or keyring.create(self.key_file)
                conn.execute(
                    insert(vault_meta).values(name="kek_check", value=keyring.check_value(kek))
                )
                return kek
        current, following = keyring.read(self.key_file), keyring.read(nxt)
        if following is not None and keyring.check_value(following) == bytes(check):
            keyring.install(self.key_file)  # the crash came after the rewrap committed
            return following
        if current is None or keyring.check_value(current) != bytes(check):
            raise VaultKeyMismatch(
                f"{self.key_file} does not hold the key this vault's database was written "
                "with: restore that file, or move the vault database away to start with an "
                "empty vault (its payloads are copies the source hospitals hold)"
            )
        if following is not None:  # the crash came before the rewrap committed
            keyring.destroy(nxt)
        return current

    @_locked
    def _resident_key(self, resident: str, create: bool) -> bytes:
        with self.engine.begin() as conn:
            wrapped = conn.execute(
                select(vault_keys.c.wrapped_key).where(vault_keys.c.resident == resident)
            ).scalar()
            if wrapped is not None:
                return self.box.decrypt(bytes(wrapped))
            if not create:
                raise Unreadable(f"no key material for resident {resident[:12]}…")
            if conn.execute(
                select(vault_erased.c.resident).where(vault_erased.c.resident == resident)
            ).first():
                raise Erased(f"resident {resident[:12]}… was erased")
            key = os.urandom(32)
            conn.execute(
                insert(vault_keys).values(resident=resident, wrapped_key=self.box.encrypt(key))
            )
            return key

    @_locked
    def store(self, case: CaseRef, payload: bytes) -> Stored:
        """Encrypt and keep ``payload`` for ``case``, bound to it: the locator is derived from
        the case and the commitment."""
        resident = case.resident
        key = self._resident_key(resident, create=True)
        salt = os.urandom(32)
        committed = commitment(salt, payload)
        locator = derive(case.case_id, resident, case.source, committed)
        nonce = os.urandom(24)
        sealed = nonce + bindings.crypto_aead_xchacha20poly1305_ietf_encrypt(
            payload, locator.encode(), nonce, key
        )
        with self.engine.begin() as conn:
            conn.execute(
                insert(vault_items).values(
                    locator=locator, resident=resident, salt=_seal_salt(key, locator, salt),
                    ciphertext=sealed, case_id=case.case_id, source=case.source,
                    commitment=committed,
                )
            )  # fmt: skip
        return Stored(locator, committed)

    @_locked
    def read(self, locator: str) -> tuple[bytes, bytes]:
        """(payload, salt) — the salt lets a recipient check the payload against the log."""
        with self.engine.connect() as conn:
            row = conn.execute(select(vault_items).where(vault_items.c.locator == locator)).first()
        if row is None:
            raise Unreadable(f"nothing at {locator} (or erased)")
        key = self._resident_key(row.resident, create=False)
        sealed = bytes(row.ciphertext)
        payload = bindings.crypto_aead_xchacha20poly1305_ietf_decrypt(
            sealed[24:], locator.encode(), sealed[:24], key
        )
        return payload, _open_salt(key, locator, bytes(row.salt))

    def binding(self, locator: str) -> tuple[CaseRef, str | None] | None:
        """The case and commitment the item at ``locator`` was deposited for (case id, source
        and commitment None for an item from before binding), or None if nothing is there."""
        with self.engine.connect() as conn:
            row = conn.execute(
                select(vault_items.c.resident, *(vault_items.c[c] for c in BINDING_COLUMNS))
                .where(vault_items.c.locator == locator)
            ).first()  # fmt: skip
        if row is None:
            return None
        return CaseRef(row.case_id, row.resident, row.source), row.commitment

    @_locked
    def deliver(self, case: CaseRef, committed: str, locator: str, recipient: Verifier) -> bytes:
        """The payload and salt sealed to the recipient agency's key (only it can open them),
        only if the item at ``locator`` was deposited for this case with this commitment;
        ``WrongCase`` otherwise, ``Unreadable`` if there is none (or it was erased)."""
        bound = self.binding(locator)
        if bound is None:
            raise Unreadable(f"nothing at {locator} (or erased)")
        if bound != (case, committed):
            raise WrongCase(bound[0].resident, bound[0].case_id)
        payload, salt = self.read(locator)
        curve = bindings.crypto_sign_ed25519_pk_to_curve25519(recipient.public_key)
        return SealedBox(PublicKey(curve)).encrypt(salt + payload)

    @_locked
    def erase(self, residents: Iterable[str], now_ms: int = 0) -> int:
        """Destroy these residents' key material for good (the module docstring gives the
        steps); return how many payloads went. Idempotent: a step done is not done again."""
        todo = sorted(set(residents))
        with self.engine.connect() as conn:
            keyed = conn.execute(
                select(vault_keys.c.resident).where(vault_keys.c.resident.in_(todo))
            ).scalars().all()  # fmt: skip
        new = self._next_kek() if keyed else None  # 1.
        with self.engine.begin() as conn:  # 2.
            gone = conn.execute(
                delete(vault_items).where(vault_items.c.resident.in_(todo))
            ).rowcount
            conn.execute(delete(vault_keys).where(vault_keys.c.resident.in_(todo)))
            known = set(
                conn.execute(
                    select(vault_erased.c.resident).where(vault_erased.c.resident.in_(todo))
                ).scalars()
            )
            fresh = [{"resident": r, "erased_ms": now_ms} for r in todo if r not in known]
            if fresh:
                conn.execute(insert(vault_erased), fresh)
            if new is not None:
                self._rewrap(conn, new)
        if new is not None:
            keyring.install(self.key_file)  # 3.
            self.kek, self.box = new, SecretBox(new)
            self._checkpoint()
        return int(gone or 0)

    def _next_kek(self) -> bytes:
        nxt = keyring.next_path(self.key_file)
        if nxt.exists():  # left by a rotation that did not commit: never used
            keyring.destroy(nxt)
        return keyring.create(nxt)

    def _rewrap(self, conn: Any, new: bytes) -> None:
        """Every remaining data key, wrapped under ``new``; its check value recorded."""
        box = SecretBox(new)
        rows = conn.execute(select(vault_keys).with_for_update()).all()
        if rows:
            conn.execute(
                update(vault_keys)
                .where(vault_keys.c.resident == bindparam("r"))
                .values(wrapped_key=bindparam("w")),
                [
                    {"r": row.resident, "w": box.encrypt(self.box.decrypt(bytes(row.wrapped_key)))}
                    for row in rows
                ],
            )
        conn.execute(
            update(vault_meta)
            .where(vault_meta.c.name == "kek_check")
            .values(value=keyring.check_value(new))
        )

    def _checkpoint(self) -> None:
        """SQLite: copy the WAL into the database (zeroing freed cells: ``secure_delete``)
        and truncate it, so the old wrapped keys leave the files as soon as they can. Not
        what makes erasure hold (the retired KEK is), so a busy database may skip it."""
        if self.engine.dialect.name == "sqlite":
            with self.engine.connect() as conn:
                conn.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))


def _add_binding_columns(engine: Engine) -> None:
    """A vault from before items were bound gets the columns (its items stay unbound, so
    they are never delivered: nothing says which case they belong to)."""
    have = {c["name"] for c in inspect(engine).get_columns("vault_items")}
    with engine.begin() as conn:
        for name in BINDING_COLUMNS:
            if name not in have:
                conn.execute(text(f"ALTER TABLE vault_items ADD COLUMN {name} TEXT"))


def _secure_delete(dbapi_connection: Any, _record: Any) -> None:
    """SQLite overwrites deleted content with zeros in the database file's pages and free
    list. It does not reach WAL frames written before (the checkpoint after a rotation
    truncates those), copies the file system or the drive keeps, or PostgreSQL at all."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA secure_delete=ON")
    cursor.close()


def _seal_salt(key: bytes, locator: str, salt: bytes) -> bytes:
    """The salt under the resident's data key: a salt left on disk after erasure would let
    anyone holding a guess of the document confirm it against the commitment on the log."""
    nonce = os.urandom(24)
    aad = b"salt\n" + locator.encode()
    return nonce + bindings.crypto_aead_xchacha20poly1305_ietf_encrypt(salt, aad, nonce, key)


def _open_salt(key: bytes, locator: str, sealed: bytes) -> bytes:
    if len(sealed) == 32:  # stored before salts were sealed
        return sealed
    aad = b"salt\n" + locator.encode()
    return bytes(
        bindings.crypto_aead_xchacha20poly1305_ietf_decrypt(sealed[24:], aad, sealed[:24], key)
    )


def open_delivery(sealed: bytes, agency: Signer) -> tuple[bytes, bytes]:
    """What a recipient agency runs: (payload, salt) from a delivery sealed to its key."""
    private = bindings.crypto_sign_ed25519_sk_to_curve25519(agency.seed + agency.public_key)
    opened = SealedBox(PrivateKey(private)).decrypt(sealed)
    return opened[32:], opened[:32]
