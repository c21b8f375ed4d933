"""The signed transaction envelope every agency system and resident submits.

``{"body": {...}, "signature": hex}`` where the signature is Ed25519 by the signer named in
the body over ``b"shanhe-tx-v1\\n" ‖ RFC 8785(body)``. The transaction hash (its id, the
mempool's dedup key) is SHA-256 of the RFC 8785 bytes of the whole envelope.
"""

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from signing.canonical import NotCanonicalizable, canonical_json
from tlog.note import Signer, Verifier

DOMAIN = b"shanhe-tx-v1\n"
_CONTROL = re.compile(rb"(?:^|[^\\])(?:\\\\)*\\(?:[btnfr]|u00[01])")
"""A control character as RFC 8785 escapes it (a backslash not itself escaped, then b, t, n,
f, r or u0000-u001f): no field needs one, and a NUL cannot even be stored in PostgreSQL text
(once a field named ``x\\u0000`` in a refused transaction stopped every PostgreSQL node)."""
MAX_TX_BYTES = 16 * 1024
MAX_TX_DEPTH = 32
"""Nesting of the whole envelope (the envelope is level 1, its body level 2): the same bound
as a client's JSON body at the HTTP edge, so what passes one passes the other."""
MAX_TX_ITEMS = 1024
"""Array items and object members in the body, all levels together (a real body has a few
dozen): bounds the work of checking, hashing and executing one transaction."""


class MalformedTransaction(ValueError):
    pass


@dataclass(frozen=True)
class Transaction:
    body: dict[str, Any]
    signature: bytes

    @property
    def type(self) -> str:
        return str(self.body["type"])

    @property
    def signer(self) -> str:
        return str(self.body["signer"])

    def sign_bytes(self) -> bytes:
        return DOMAIN + self._body_bytes

    @cached_property
    def _body_bytes(self) -> bytes:
        # walked without recursion: past the limits it is refused, whatever the caller's stack
        return canonical_json(self.body, max_depth=MAX_TX_DEPTH - 1, max_items=MAX_TX_ITEMS)

    def to_json(self) -> dict[str, Any]:
        return {"body": self.body, "signature": self.signature.hex()}

    def encode(self) -> bytes:
        return self._encoded

    @cached_property
    def _encoded(self) -> bytes:
        # RFC 8785 of {"body", "signature"}: the keys sort as written and the hex needs no
        # escaping, so the envelope's bytes reuse the body's (tests compare with the encoder).
        return (
            b'{"body":'
            + self._body_bytes
            + b',"signature":"'
            + self.signature.hex().encode()
            + b'"}'
        )

    @cached_property
    def hash(self) -> bytes:
        return hashlib.sha256(self._encoded).digest()

    @staticmethod
    def from_json(value: Any) -> "Transaction":
        """Decode and check the envelope's shape and limits (not its signature or rules): the
        one stateless check, at admission and in block validation alike. Total: anything
        that is not a transaction raises ``MalformedTransaction``, never another error."""
        if not isinstance(value, dict) or set(value) != {"body", "signature"}:
            raise MalformedTransaction("a transaction is {body, signature}")
        body, sig = value["body"], value["signature"]
        if not isinstance(body, dict):
            raise MalformedTransaction("body must be an object")
        for field in ("type", "chain_id", "signer", "nonce"):
            if not isinstance(body.get(field), str) or not body[field]:
                raise MalformedTransaction(f"body.{field} must be a non-empty string")
        if len(body["nonce"]) > 64:
            raise MalformedTransaction("body.nonce is at most 64 characters")
        if not isinstance(sig, str) or len(sig) != 128:
            raise MalformedTransaction("signature must be 64 bytes in hex")
        try:
            signature = bytes.fromhex(sig)
        except ValueError as exc:
            raise MalformedTransaction("signature must be hex") from exc
        tx = Transaction(body, signature)
        try:
            size = len(tx.encode())
        except NotCanonicalizable as exc:
            raise MalformedTransaction(str(exc)) from exc
        if size > MAX_TX_BYTES:
            raise MalformedTransaction(f"transaction is {size} bytes, at most {MAX_TX_BYTES}")
        encoded = tx.encode()
        if b"\\" in encoded and _CONTROL.search(encoded):  # every escape has a backslash
            raise MalformedTransaction("strings may not hold control characters (U+0000-U+001F)")
        return tx


def sign_transaction(body: dict[str, Any], signer: Signer) -> Transaction:
    unsigned = Transaction(body, b"")
    return Transaction(body, signer.sign(unsigned.sign_bytes()))


SignatureCheck = Callable[[Transaction, Verifier], bool]


def check_signature(tx: Transaction, key: Verifier) -> bool:
    return key.verify(tx.sign_bytes(), tx.signature)
