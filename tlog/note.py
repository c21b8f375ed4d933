"""C2SP signed notes (the format of Go's ``sumdb/note``) with Ed25519 keys and cosignatures.

A note is UTF-8 text ending in a newline, a blank line, then one line per signature:
``— <name> <base64(4-byte key id ‖ 64-byte Ed25519 signature)>``. Verification takes a set of
known verifier keys and a quorum and counts distinct signers whose signature is valid; unknown
signers and bad signatures are reported but never counted.
"""

import base64
import binascii
import hashlib
import os
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey

from tlog.errors import Invalid

ALG_ED25519 = 1
SIG_PREFIX = "— "
MAX_SIGNATURES = 100


def _valid_name(name: str) -> bool:
    return (
        name != ""
        and "+" not in name
        and not any(ch.isspace() or unicodedata.category(ch) == "Zs" for ch in name)
    )


def key_id(name: str, public_key: bytes) -> int:
    """First four bytes of SHA-256(name ‖ "\\n" ‖ 0x01 ‖ public key), big-endian."""
    digest = hashlib.sha256(name.encode() + b"\n" + bytes([ALG_ED25519]) + public_key).digest()
    return int.from_bytes(digest[:4], "big")


def _decode_key(name: str, hex_id: str, b64: str, what: str) -> bytes:
    if not _valid_name(name):
        raise ValueError(f"{what}: invalid key name {name!r}")
    if len(hex_id) != 8:
        raise ValueError(f"{what}: key id must be 8 hex digits")
    try:
        raw = base64.b64decode(b64, validate=True)
        int(hex_id, 16)
    except (binascii.Error, ValueError) as exc:
        raise ValueError(f"{what}: malformed encoding") from exc
    if len(raw) != 33 or raw[0] != ALG_ED25519:
        raise ValueError(f"{what}: not an Ed25519 key")
    return raw[1:]


@dataclass(frozen=True)
class Verifier:
    name: str
    public_key: bytes

    @property
    def key_id(self) -> int:
        return key_id(self.name, self.public_key)

    def encode(self) -> str:
        b64 = base64.b64encode(bytes([ALG_ED25519]) + self.public_key).decode()
        return f"{self.name}+{self.key_id:08x}+{b64}"

    @staticmethod
    def parse(text: str) -> "Verifier":
        parts = text.strip().split("+", 2)
        if len(parts) != 3:
            raise ValueError("verifier key: want <name>+<hex key id>+<base64 key>")
        name, hex_id, b64 = parts
        v = Verifier(name, _decode_key(name, hex_id, b64, "verifier key"))
        if v.key_id != int(hex_id, 16):
            raise ValueError("verifier key: key id does not match name and key")
        return v

    def verify(self, message: bytes, signature: bytes) -> bool:
        try:
            VerifyKey(self.public_key).verify(message, signature)
        except BadSignatureError:
            return False
        return True


@dataclass(frozen=True)
class Signer:
    name: str
    seed: bytes = field(repr=False)

    @staticmethod
    def generate(name: str) -> "Signer":
        if not _valid_name(name):
            raise ValueError(f"invalid key name {name!r}")
        return Signer(name, os.urandom(32))

    @property
    def public_key(self) -> bytes:
        return bytes(SigningKey(self.seed).verify_key)

    def verifier(self) -> Verifier:
        return Verifier(self.name, self.public_key)

    def encode(self) -> str:
        b64 = base64.b64encode(bytes([ALG_ED25519]) + self.seed).decode()
        return f"PRIVATE+KEY+{self.name}+{self.verifier().key_id:08x}+{b64}"

    @staticmethod
    def parse(text: str) -> "Signer":
        parts = text.strip().split("+", 4)
        if len(parts) != 5 or parts[:2] != ["PRIVATE", "KEY"]:
            raise ValueError("signer key: want PRIVATE+KEY+<name>+<hex key id>+<base64 seed>")
        name, hex_id, b64 = parts[2:]
        s = Signer(name, _decode_key(name, hex_id, b64, "signer key"))
        if s.verifier().key_id != int(hex_id, 16):
            raise ValueError("signer key: key id does not match name and key")
        return s

    def sign(self, message: bytes) -> bytes:
        return SigningKey(self.seed).sign(message).signature


def signature_line(text: str, signer: Signer) -> str:
    sig = signer.verifier().key_id.to_bytes(4, "big") + signer.sign(text.encode())
    return f"{SIG_PREFIX}{signer.name} {base64.b64encode(sig).decode()}\n"


def sign_note(text: str, signers: Sequence[Signer]) -> str:
    """The signed note of ``text`` (which must end in a newline) by every signer."""
    if not text.endswith("\n") or "\n\n" in text:
        raise ValueError("note text must end with one newline and hold no blank line")
    return text + "\n" + "".join(signature_line(text, s) for s in signers)


NoteError = Invalid
"""Why a note does not hold (the log's shared error value)."""


@dataclass(frozen=True)
class OpenedNote:
    text: str
    valid_signers: tuple[str, ...]
    """Distinct known signers with a valid signature, in order of appearance."""
    signature_lines: tuple[str, ...]
    """The valid signature lines, so a note can be re-served with every cosignature it has."""
    unknown_signers: tuple[str, ...]
    invalid_signers: tuple[str, ...]


def open_note(note: str, verifiers: Iterable[Verifier]) -> OpenedNote | NoteError:
    """Parse a signed note and check each signature against the known verifiers."""
    if any((ord(ch) < 0x20 and ch != "\n") or 0xD800 <= ord(ch) <= 0xDFFF for ch in note):
        return NoteError("malformed_note", "control characters or invalid UTF-8")
    split = note.rfind("\n\n")
    if split < 0:
        return NoteError("malformed_note", "no blank line before the signatures")
    text, sigs = note[: split + 1], note[split + 2 :]
    if not sigs.endswith("\n"):
        return NoteError("malformed_note", "signature block must end with a newline")
    known = {(v.name, v.key_id): v for v in verifiers}
    lines = sigs[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        return NoteError("malformed_note", f"more than {MAX_SIGNATURES} signatures")
    valid: dict[str, str] = {}
    unknown: list[str] = []
    invalid: list[str] = []
    message = text.encode()
    for line in lines:
        if not line.startswith(SIG_PREFIX):
            return NoteError("malformed_note", "signature line does not start with '— '")
        name, _, b64 = line[len(SIG_PREFIX) :].partition(" ")
        try:
            raw = base64.b64decode(b64, validate=True)
        except ValueError:  # binascii.Error, and a str with non-ASCII characters
            return NoteError("malformed_note", f"signature of {name!r} is not base64")
        if not _valid_name(name) or len(raw) < 5:
            return NoteError("malformed_note", f"malformed signature line for {name!r}")
        verifier = known.get((name, int.from_bytes(raw[:4], "big")))
        if verifier is None:
            unknown.append(name)
        elif name not in valid:
            if verifier.verify(message, raw[4:]):
                valid[name] = line + "\n"
            else:
                invalid.append(name)
    return OpenedNote(text, tuple(valid), tuple(valid.values()), tuple(unknown), tuple(invalid))


def verify_note(note: str, verifiers: Iterable[Verifier], quorum: int) -> OpenedNote | NoteError:
    """``open_note``, then require at least ``quorum`` distinct valid known signers."""
    if quorum < 1:
        return NoteError("bad_quorum", "quorum must be at least 1")
    opened = open_note(note, verifiers)
    if isinstance(opened, NoteError):
        return opened
    if len(opened.valid_signers) < quorum:
        return NoteError(
            "no_quorum",
            f"{len(opened.valid_signers)} valid signatures of known keys, quorum is {quorum}",
        )
    return opened
