"""The off-log payload vault: documents behind the log's commitments, encrypted per resident.

Each resident has a random data key, stored wrapped under the node's master key; each payload
is encrypted with XChaCha20-Poly1305 under it, bound to its locator. The log holds only a
salted commitment SHA-256(salt ‖ payload) and the locator. Delivery to a recipient agency is
a sealed box to that agency's key. Erasure (PIPL art. 47) destroys the resident's data key and
every salt: the log still verifies, the payloads can no longer be read, and the commitments no
longer identify anything.
"""

import hashlib
import os
import secrets
from dataclasses import dataclass

from nacl import bindings
from nacl.public import PrivateKey, PublicKey, SealedBox
from nacl.secret import SecretBox
from sqlalchemy import Column, Engine, LargeBinary, MetaData, Table, Text, delete, insert, select

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
)


class Unreadable(Exception):
    """No such payload, or its resident's key material was erased."""


@dataclass(frozen=True)
class Stored:
    locator: str
    commitment: str
    """Hex SHA-256(salt ‖ payload): what goes on the log."""


def commitment(salt: bytes, payload: bytes) -> str:
    return hashlib.sha256(salt + payload).hexdigest()


class Vault:
    def __init__(self, engine: Engine, master_key: bytes) -> None:
        self.engine = engine
        self.box = SecretBox(master_key)
        metadata.create_all(engine)

    def _resident_key(self, resident: str, create: bool) -> bytes:
        with self.engine.begin() as conn:
            wrapped = conn.execute(
                select(vault_keys.c.wrapped_key).where(vault_keys.c.resident == resident)
            ).scalar()
            if wrapped is not None:
                return self.box.decrypt(bytes(wrapped))
            if not create:
                raise Unreadable(f"no key material for resident {resident[:12]}…")
            key = os.urandom(32)
            conn.execute(
                insert(vault_keys).values(resident=resident, wrapped_key=self.box.encrypt(key))
            )
            return key

    def store(self, resident: str, payload: bytes) -> Stored:
        key = self._resident_key(resident, create=True)
        locator = f"vault:{secrets.token_hex(16)}"
        salt = os.urandom(32)
        nonce = os.urandom(24)
        sealed = nonce + bindings.crypto_aead_xchacha20poly1305_ietf_encrypt(
            payload, locator.encode(), nonce, key
        )
        with self.engine.begin() as conn:
            conn.execute(
                insert(vault_items).values(
                    locator=locator, resident=resident, salt=salt, ciphertext=sealed
                )
            )
        return Stored(locator, commitment(salt, payload))

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
        return payload, bytes(row.salt)

    def deliver(self, locator: str, recipient: Verifier) -> bytes:
        """The payload and salt sealed to the recipient agency's key (only it can open them)."""
        payload, salt = self.read(locator)
        curve = bindings.crypto_sign_ed25519_pk_to_curve25519(recipient.public_key)
        return SealedBox(PublicKey(curve)).encrypt(salt + payload)

    def erase(self, resident: str) -> int:
        """Destroy the resident's key material and salts; return how many payloads went."""
        with self.engine.begin() as conn:
            gone = conn.execute(
                delete(vault_items).where(vault_items.c.resident == resident)
            ).rowcount
            conn.execute(delete(vault_keys).where(vault_keys.c.resident == resident))
        return int(gone or 0)


def open_delivery(sealed: bytes, agency: Signer) -> tuple[bytes, bytes]:
    """What a recipient agency runs: (payload, salt) from a delivery sealed to its key."""
    private = bindings.crypto_sign_ed25519_sk_to_curve25519(agency.seed + agency.public_key)
    opened = SealedBox(PrivateKey(private)).decrypt(sealed)
    return opened[32:], opened[:32]
