"""Signed consensus messages, commit certificates and equivocation evidence.

Every signature covers RFC 8785 bytes that name the chain, height, round, step and the signing
validator, so a signature can never be replayed into another chain, height, round or step, nor
be counted for another validator that happens to hold the same key.
"""

import base64
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from consensus.validators import ValidatorSet
from signing.canonical import canonical_json
from tlog.note import Signer


def block_id(block: bytes) -> bytes:
    """Consensus sees a block only as bytes and this hash."""
    return hashlib.sha256(block).digest()


class VoteType(StrEnum):
    PREVOTE = "prevote"
    PRECOMMIT = "precommit"


def _hex_or_none(h: bytes | None) -> str | None:
    return None if h is None else h.hex()


def _brief(value: Any) -> str:
    """A value for an error message: never its repr, which recurses (and a peer or a
    proposer chooses the value)."""
    return repr(value[:20]) if type(value) is str else f"a {type(value).__name__}"


class MalformedMessage(ValueError):
    """Not a well-formed message, certificate or evidence: the one error decoding raises,
    whatever it is given (peers, blocks and block sync hand it anything)."""


def _object(d: Any, what: str) -> dict[str, Any]:
    if type(d) is not dict:
        raise MalformedMessage(f"{what} must be an object")
    return d


def _field(d: dict[str, Any], key: str) -> Any:
    try:
        return d[key]
    except KeyError:
        raise MalformedMessage(f"missing {key!r}") from None


def _text(d: dict[str, Any], key: str) -> str:
    value = _field(d, key)
    if type(value) is not str:
        raise MalformedMessage(f"{key} must be a string")
    return value


def _hex(d: dict[str, Any], key: str) -> bytes:
    try:
        return bytes.fromhex(_text(d, key))
    except MalformedMessage:
        raise
    except ValueError:
        raise MalformedMessage(f"{key} must be hex") from None


def _unhex(d: dict[str, Any], key: str) -> bytes | None:
    return None if _field(d, key) is None else _hex(d, key)


@dataclass(frozen=True)
class Vote:
    chain_id: str
    type: VoteType
    height: int
    round: int
    block_hash: bytes | None
    """None is a vote for nil."""
    validator: str
    signature: bytes = b""

    def sign_bytes(self) -> bytes:
        return canonical_json(
            {
                "chain_id": self.chain_id,
                "type": str(self.type),
                "height": self.height,
                "round": self.round,
                "block_hash": _hex_or_none(self.block_hash),
                "validator": self.validator,
            }
        )

    def signed(self, signer: Signer) -> "Vote":
        return replace(self, signature=signer.sign(self.sign_bytes()))

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": "vote",
            "chain_id": self.chain_id,
            "type": str(self.type),
            "height": self.height,
            "round": self.round,
            "block_hash": _hex_or_none(self.block_hash),
            "validator": self.validator,
            "signature": self.signature.hex(),
        }

    @staticmethod
    def from_json(value: Any) -> "Vote":
        """Raises ``MalformedMessage`` (a ValueError) for anything but a vote."""
        d = _object(value, "a vote")
        kind = _text(d, "type")
        if kind not in (VoteType.PREVOTE, VoteType.PRECOMMIT):
            raise MalformedMessage(f"unknown vote type {_brief(kind)}")
        return Vote(
            _text(d, "chain_id"),
            VoteType(kind),
            _int(_field(d, "height")),
            _int(_field(d, "round")),
            _unhex(d, "block_hash"),
            _text(d, "validator"),
            _hex(d, "signature"),
        )


@dataclass(frozen=True)
class Proposal:
    chain_id: str
    height: int
    round: int
    pol_round: int
    """The round whose prevote quorum justifies re-proposing a block; -1 for a fresh one."""
    block_hash: bytes
    proposer: str
    signature: bytes = b""
    block: bytes = b""
    """Travels with the proposal; the signature covers its hash."""

    def sign_bytes(self) -> bytes:
        return canonical_json(
            {
                "chain_id": self.chain_id,
                "type": "proposal",
                "height": self.height,
                "round": self.round,
                "pol_round": self.pol_round,
                "block_hash": self.block_hash.hex(),
                "proposer": self.proposer,
            }
        )

    def signed(self, signer: Signer) -> "Proposal":
        return replace(self, signature=signer.sign(self.sign_bytes()))

    def without_block(self) -> "Proposal":
        return replace(self, block=b"")

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": "proposal",
            "chain_id": self.chain_id,
            "height": self.height,
            "round": self.round,
            "pol_round": self.pol_round,
            "block_hash": self.block_hash.hex(),
            "proposer": self.proposer,
            "signature": self.signature.hex(),
            "block": base64.b64encode(self.block).decode(),
        }

    @staticmethod
    def from_json(value: Any) -> "Proposal":
        """Raises ``MalformedMessage`` (a ValueError) for anything but a proposal."""
        d = _object(value, "a proposal")
        block = d.get("block", "")
        if type(block) is not str:
            raise MalformedMessage("block must be base64")
        try:
            data = base64.b64decode(block, validate=True)
        except ValueError:
            raise MalformedMessage("block must be base64") from None
        return Proposal(
            _text(d, "chain_id"),
            _int(_field(d, "height")),
            _int(_field(d, "round")),
            _int(_field(d, "pol_round"), minimum=-1),
            _hex(d, "block_hash"),
            _text(d, "proposer"),
            _hex(d, "signature"),
            data,
        )


Message = Proposal | Vote


def _int(value: Any, minimum: int = 0) -> int:
    if type(value) is not int or value < minimum or value > 2**53:
        raise MalformedMessage(f"not an integer >= {minimum}: {_brief(value)}")
    return value


def message_from_json(value: Any) -> Message:
    """Decode a message; raises ``MalformedMessage`` (a ValueError) for anything else."""
    d = _object(value, "a message")
    kind = d.get("kind")
    if kind == "vote":
        return Vote.from_json(d)
    if kind == "proposal":
        return Proposal.from_json(d)
    raise MalformedMessage(f"unknown message kind {_brief(kind)}")


def signer_of(msg: Message) -> str:
    return msg.validator if isinstance(msg, Vote) else msg.proposer


def verify_signature(msg: Message, validators: ValidatorSet, chain_id: str) -> bool:
    if msg.chain_id != chain_id:
        return False
    key = validators.by_name(signer_of(msg))
    if key is None:
        return False
    return key.verify(msg.sign_bytes(), msg.signature)


@dataclass(frozen=True)
class CommitCertificate:
    """At least a quorum of precommits for one block at one height and round."""

    height: int
    round: int
    block_hash: bytes
    precommits: tuple[Vote, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "height": self.height,
            "round": self.round,
            "block_hash": self.block_hash.hex(),
            "precommits": [v.to_json() for v in self.precommits],
        }

    @staticmethod
    def from_json(value: Any) -> "CommitCertificate":
        """Raises ``MalformedMessage`` (a ValueError) for anything but a certificate."""
        d = _object(value, "a certificate")
        precommits = _field(d, "precommits")
        if type(precommits) is not list:
            raise MalformedMessage("precommits must be a list")
        return CommitCertificate(
            _int(_field(d, "height")),
            _int(_field(d, "round")),
            _hex(d, "block_hash"),
            tuple(Vote.from_json(v) for v in precommits),
        )


def verify_certificate(
    cert: CommitCertificate, validators: ValidatorSet, chain_id: str
) -> str | None:
    """None if the certificate holds; else why not. Its shape is checked before any signature
    (one per validator at most), so a certificate of copies costs no more than an honest one."""
    if len(cert.precommits) > validators.size:
        return f"{len(cert.precommits)} precommits, more than the {validators.size} validators"
    signers: set[str] = set()
    for vote in cert.precommits:
        if (
            vote.type != VoteType.PRECOMMIT
            or vote.height != cert.height
            or vote.round != cert.round
            or vote.block_hash != cert.block_hash
        ):
            return f"precommit of {vote.validator} is not for this block, height and round"
        if vote.validator in signers or validators.by_name(vote.validator) is None:
            return f"precommit of {vote.validator} is repeated or not a validator's"
        signers.add(vote.validator)
    if len(signers) < validators.quorum:
        return f"{len(signers)} distinct precommits, quorum is {validators.quorum}"
    for vote in cert.precommits:
        if not verify_signature(vote, validators, chain_id):
            return f"precommit of {vote.validator} has no valid signature"
    return None


@dataclass(frozen=True)
class Evidence:
    """Two conflicting signed messages from one validator for one height, round and step."""

    first: Message
    second: Message

    @property
    def offender(self) -> str:
        return signer_of(self.first)

    def key(self) -> tuple[str, int, int, str]:
        kind = str(self.first.type) if isinstance(self.first, Vote) else "proposal"
        return (self.offender, self.first.height, self.first.round, kind)

    def to_json(self) -> dict[str, Any]:
        first, second = sorted(
            [_strip(self.first).to_json(), _strip(self.second).to_json()],
            key=lambda m: m["signature"],
        )
        return {"offender": self.offender, "first": first, "second": second}

    @staticmethod
    def from_json(value: Any) -> "Evidence":
        """Raises ``MalformedMessage`` (a ValueError) for anything but two messages."""
        d = _object(value, "evidence")
        return Evidence(
            message_from_json(_field(d, "first")), message_from_json(_field(d, "second"))
        )


def _strip(msg: Message) -> Message:
    return msg.without_block() if isinstance(msg, Proposal) else msg


def conflicting(a: Message, b: Message) -> bool:
    """Same signer, height, round and step, different content: a Byzantine act."""
    if type(a) is not type(b) or signer_of(a) != signer_of(b):
        return False
    if a.height != b.height or a.round != b.round:
        return False
    if isinstance(a, Vote) and isinstance(b, Vote):
        return a.type == b.type and a.block_hash != b.block_hash
    assert isinstance(a, Proposal) and isinstance(b, Proposal)
    return (a.block_hash, a.pol_round) != (b.block_hash, b.pol_round)


def verify_evidence(ev: Evidence, validators: ValidatorSet, chain_id: str) -> str | None:
    if not conflicting(ev.first, ev.second):
        return "the two messages do not conflict"
    for msg in (ev.first, ev.second):
        if not verify_signature(msg, validators, chain_id):
            return "a message of the evidence has no valid signature"
    return None


def distinct_signers(msgs: Iterable[Message]) -> set[str]:
    return {signer_of(m) for m in msgs}
