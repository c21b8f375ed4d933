"""C2SP tlog-proof (``c2sp.org/tlog-proof@v1``): an offline-verifiable proof that an entry is
in the log, as one text file: optional extra data, the entry's index, its inclusion proof and
the checkpoint (with its cosignatures) the proof leads to.

    c2sp.org/tlog-proof@v1
    extra <base64>            (optional)
    index <decimal>
    <base64 hash>             (zero or more: leaf's sibling first, up to the root's child)

    <the signed checkpoint note, verbatim>

Pure: parse, encode and verify, failures as ``Invalid`` values with stable codes. What the
leaf is and what the extra data means is the application's (``contracts/proofs.py``).
"""

import base64
from collections.abc import Iterable
from dataclasses import dataclass

from tlog.checkpoint import Checkpoint, verify_checkpoint
from tlog.errors import Invalid
from tlog.hashing import HASH_SIZE, leaf_hash
from tlog.note import OpenedNote, Verifier
from tlog.verify import verify_inclusion

HEADER = "c2sp.org/tlog-proof@v1"
MAX_HASHES = 64
"""An inclusion proof in a tree of up to 2^64 leaves has at most 64 hashes."""
MAX_BYTES = 256 * 1024


@dataclass(frozen=True)
class TlogProof:
    index: int
    hashes: tuple[bytes, ...]
    checkpoint: str
    """The signed checkpoint note, verbatim (body, blank line, signature lines)."""
    extra: bytes | None = None

    def encode(self) -> str:
        lines = [HEADER]
        if self.extra is not None:
            lines.append("extra " + base64.b64encode(self.extra).decode())
        lines.append(f"index {self.index}")
        lines += [base64.b64encode(h).decode() for h in self.hashes]
        return "\n".join(lines) + "\n\n" + self.checkpoint


def _malformed(message: str) -> Invalid:
    return Invalid("malformed_proof", message)


def _decimal(text: str) -> int | None:
    if not text.isascii() or not text.isdigit() or (text != "0" and text.startswith("0")):
        return None
    return int(text)


def parse_tlog_proof(text: str) -> TlogProof | Invalid:
    """The proof in ``text``, or why it is not one (``malformed_proof``). Total."""
    if len(text) > MAX_BYTES:
        return _malformed(f"a proof file is at most {MAX_BYTES} bytes")
    head, blank, checkpoint = text.partition("\n\n")
    if not blank:
        return _malformed("no empty line before the checkpoint")
    lines = head.split("\n")
    if lines[0] != HEADER:
        return _malformed(f"the first line must be {HEADER}")
    rest = lines[1:]
    extra = None
    if rest and rest[0].startswith("extra "):
        try:
            extra = base64.b64decode(rest[0].removeprefix("extra "), validate=True)
        except ValueError:  # binascii.Error, or a str not ASCII
            return _malformed("the extra data is not base64")
        rest = rest[1:]
    if not rest or not rest[0].startswith("index "):
        return _malformed("want an index line")
    index = _decimal(rest[0].removeprefix("index "))
    if index is None:
        return _malformed("the index is not a decimal without leading zeroes")
    if len(rest) - 1 > MAX_HASHES:
        return _malformed(f"more than {MAX_HASHES} proof hashes")
    hashes = []
    for i, line in enumerate(rest[1:]):
        try:
            value = base64.b64decode(line, validate=True)
        except ValueError:  # binascii.Error, or a str not ASCII
            return _malformed(f"proof hash {i} is not base64")
        if len(value) != HASH_SIZE or not line:
            return _malformed(f"proof hash {i} is not {HASH_SIZE} bytes")
        hashes.append(value)
    if not checkpoint:
        return _malformed("no checkpoint after the empty line")
    return TlogProof(index, tuple(hashes), checkpoint, extra)


def verify_tlog_proof(
    proof: TlogProof,
    leaf: bytes,
    verifiers: Iterable[Verifier],
    quorum: int,
    *,
    origin: str | None = None,
) -> tuple[Checkpoint, OpenedNote] | Invalid:
    """The spec's steps 2-4: the checkpoint carries at least ``quorum`` valid signatures of
    known keys (and names ``origin``, if given), and ``leaf`` (the entry's exact bytes) is at
    the proof's index in its tree."""
    checked = verify_checkpoint(proof.checkpoint, verifiers, quorum)
    if isinstance(checked, Invalid):
        return checked
    checkpoint, opened = checked
    if origin is not None and checkpoint.origin != origin:
        return Invalid(
            "wrong_origin", f"the checkpoint is of {checkpoint.origin!r}, not {origin!r}"
        )
    err = verify_inclusion(
        proof.index, checkpoint.size, leaf_hash(leaf), proof.hashes, checkpoint.root
    )
    if err is not None:
        return err
    return checkpoint, opened
