"""Proofs of insurance (参保证明): a bureau states that a resident is insured, and any agency
checks the statement offline, without calling the bureau.

``proof.issue`` puts on the log only the proof's serial number, the resident's pseudonym, the
issuer (its signer), the scheme, the expiry and a salted commitment to the content; the
content itself (scheme, insured period, contribution months, serial number, issuer, expiry:
integers and codes) goes to the resident through the vault, bound to the proof as its case
(``contracts/locator.py``). ``proof.revoke`` by the issuer marks it revoked. Both are notices
in the resident's access log.

The resident hands another agency a C2SP ``tlog-proof`` file (``tlog/proof_file.py``) whose
extra data holds the ``proof.issue`` leaf, the content and the salt; ``check_proof_file``
checks it with nothing but the validators' keys: the checkpoint's cosignatures by a quorum,
the leaf's inclusion, that the leaf is a ``proof.issue`` whose fields the content repeats, the
commitment, the expiry. Revocation it cannot know offline: only a node can say (online).
"""

import base64
import binascii
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from contracts import authority
from contracts.access_log import record_access
from contracts.authority import Relation
from contracts.fields import guarded, hex64, ident, integer, only, require
from contracts.formats import BadField
from contracts.locator import derive
from contracts.residents import resident
from contracts.rules import Applied, BlockContext, Outcome
from contracts.state import Overlay
from contracts.tx import Transaction
from contracts.vocabulary import PROOF_SCHEMES
from signing.bounded_json import JsonRefused, Limits, decode
from signing.canonical import NotCanonicalizable, canonical_json
from tlog.checkpoint import Checkpoint
from tlog.errors import Invalid
from tlog.note import Verifier
from tlog.proof_file import parse_tlog_proof, verify_tlog_proof

CONTENT_FORMAT = "shanhe-insurance-proof-v1"
EXTRA_FORMAT = "shanhe-insurance-proof-file-v1"
CONTENT_FIELDS = ("format", "proof_id", "resident", "issuer", "scheme", "period_from",
                  "period_to", "contribution_months", "expires_ms")  # fmt: skip
ON_LOG = ("proof_id", "resident", "scheme", "expires_ms")
"""The content's fields that ``proof.issue`` repeats (besides the issuer, its signer)."""
MAX_VALIDITY_MS = 366 * 86_400_000
"""A proof states the record as of its day: it expires at most a year after it is issued,
so that one revoked since cannot be shown offline forever."""
EXTRA_LIMITS = Limits(max_bytes=32 * 1024, max_depth=4, max_items=64)
ISSUED, REVOKED = "proof_issued", "proof_revoked"


def vault_case(proof_id: str) -> str:
    """The case id the proof's content is deposited under in the vault (and its locator
    derived from): never a sharing case's, whose ids cannot hold a ``/``."""
    return f"proof/{proof_id}"


def locator_of(proof_id: str, who: str, issuer: str, commitment: str) -> str:
    return derive(vault_case(proof_id), who, issuer, commitment)


def content_commitment(salt: bytes, content: dict[str, Any]) -> str:
    """Hex SHA-256(salt ‖ RFC 8785 of the content): the vault's commitment of those bytes."""
    return hashlib.sha256(salt + canonical_json(content)).hexdigest()


def _yyyymm(value: Any) -> int | None:
    """Months since year 0 of a YYYYMM integer, or None."""
    if not isinstance(value, int) or isinstance(value, bool):
        return None
    year, month = divmod(value, 100)
    return year * 12 + month - 1 if 1950 <= year <= 2200 and 1 <= month <= 12 else None


def content_problem(content: Any) -> str | None:
    """Why ``content`` is not a proof's content (a sentence), or None. Pure and total."""
    if not isinstance(content, dict) or set(content) != set(CONTENT_FIELDS):
        return f"the content holds exactly {', '.join(CONTENT_FIELDS)}"
    if content["format"] != CONTENT_FORMAT:
        return f"format must be {CONTENT_FORMAT}"
    try:
        ident(content, "proof_id")
        hex64(content, "resident")
        ident(content, "issuer")
        integer(content, "contribution_months")
        integer(content, "expires_ms", 1)
    except BadField as exc:
        return str(exc)
    if not isinstance(content["scheme"], str) or content["scheme"] not in PROOF_SCHEMES:
        return f"scheme must be one of {', '.join(sorted(PROOF_SCHEMES))}"
    start, end = _yyyymm(content["period_from"]), _yyyymm(content["period_to"])
    if start is None or end is None or end < start:
        return "period_from and period_to are YYYYMM months, from not after to"
    if content["contribution_months"] > end - start + 1:
        return "contribution_months exceeds the months of the insured period"
    return None


# ------------------------------------------------------------------------------- the rules
def _proof(state: Overlay, proof_id: str) -> dict[str, Any]:
    record = state.get(f"proof/{proof_id}")
    require(isinstance(record, dict), "unknown_proof", "no such proof")
    assert isinstance(record, dict)
    return record


def issue(state: Overlay, tx: Transaction, ctx: BlockContext) -> Outcome:
    """A bureau states a resident's insurance: the commitment to the content it deposited in
    the vault for this proof goes on the log, and the resident's access log gets a notice."""
    authority.check(state, tx.type, tx.signer)
    proof_id, who, scheme = tx.body["proof_id"], tx.body["resident"], tx.body["scheme"]
    expires_ms, commitment = tx.body["expires_ms"], tx.body["commitment"]
    issuer_kind = authority.actor_of(state, tx.signer).kind
    require(
        PROOF_SCHEMES[scheme][2] == issuer_kind,
        "wrong_scheme",
        f"a {PROOF_SCHEMES[scheme][2]} issues proofs of {scheme}",
    )
    require(resident(state, who) is not None, "unknown_resident", "resident is not enrolled")
    require(state.get(f"proof/{proof_id}") is None, "duplicate_id", "proof_id is taken")
    require(
        expires_ms > ctx.time_ms, "already_expired", "the proof would expire before it is issued"
    )
    require(
        expires_ms <= ctx.time_ms + MAX_VALIDITY_MS,
        "validity_too_long",
        f"a proof expires at most {MAX_VALIDITY_MS // 86_400_000} days after it is issued",
    )
    data_class = PROOF_SCHEMES[scheme][3]
    entry = record_access(
        state, who, action="C", agent=tx.signer, entity=proof_id, data_class=data_class,
        purpose="MEMADMIN", consent_id=None, outcome="granted", reason=ISSUED,
        time_ms=ctx.time_ms, height=ctx.height,
    )  # fmt: skip
    state.put(
        f"proof/{proof_id}",
        {"proof_id": proof_id, "resident": who, "issuer": tx.signer, "scheme": scheme,
         "expires_ms": expires_ms, "commitment": commitment,
         "locator": locator_of(proof_id, who, tx.signer, commitment), "status": "active",
         "issued_ms": ctx.time_ms, "issued_height": ctx.height, "notice_seq": entry["seq"],
         "tx_hash": tx.hash.hex()},
    )  # fmt: skip
    return Applied(tx.encode(), ({"type": "proof_issued", "proof_id": proof_id},))


def revoke(state: Overlay, tx: Transaction, ctx: BlockContext) -> Outcome:
    """The issuer withdraws its statement, with a reason code: the record shows it revoked,
    online checks report it, and the resident's access log gets a notice."""
    only(tx.body, "proof_id", "reason")
    proof = _proof(state, ident(tx.body, "proof_id"))
    issuer = [Relation.ISSUER] if tx.signer == proof["issuer"] else []
    authority.check(state, tx.type, tx.signer, issuer)
    require(proof["status"] == "active", "wrong_state", f"the proof is {proof['status']}")
    reason = tx.body["reason"]
    record_access(
        state, proof["resident"], action="U", agent=tx.signer, entity=proof["proof_id"],
        data_class=PROOF_SCHEMES[proof["scheme"]][3], purpose="MEMADMIN", consent_id=None,
        outcome="granted", reason=reason, time_ms=ctx.time_ms, height=ctx.height,
    )  # fmt: skip
    state.put(
        f"proof/{proof['proof_id']}",
        {**proof, "status": "revoked", "revoked_reason": reason, "revoked_ms": ctx.time_ms,
         "revoked_height": ctx.height},
    )  # fmt: skip
    return Applied(tx.encode(), ({"type": "proof_revoked", "proof_id": proof["proof_id"]},))


def proof_status(proof: dict[str, Any], issuer: Any) -> str:
    """The status a holder is told online: ``issuer_removed`` for an active proof whose
    bureau governance removed (its key stolen, say): the removed bureau can no longer revoke
    what a thief issued with its key, so its proofs no longer stand (red team 12)."""
    status = str(proof.get("status"))
    if status == "active" and not (isinstance(issuer, dict) and issuer.get("status") == "active"):
        return "issuer_removed"
    return status


RULES = {"proof.issue": guarded(issue), "proof.revoke": guarded(revoke)}


# ----------------------------------------------------------------------- the offline check
@dataclass(frozen=True)
class CheckedProof:
    """A proof file that holds: what it states, and what it was checked against."""

    content: dict[str, Any]
    issuer: str
    index: int
    checkpoint: Checkpoint
    signers: tuple[str, ...]
    """The validators whose cosignatures on the checkpoint were valid."""
    commitment: str
    """The entry's commitment: what a node is asked the proof's status with."""


def _refused(code: str, message: str) -> Invalid:
    return Invalid(code, message)


def build_extra(entry: bytes, content: dict[str, Any], salt: bytes) -> bytes:
    """The tlog-proof extra data of a proof of insurance: RFC 8785 of the leaf (base64), the
    content and the salt (hex). Unauthenticated by itself: the check binds each part."""
    return canonical_json({"format": EXTRA_FORMAT, "entry": base64.b64encode(entry).decode(),
                           "content": content, "salt": salt.hex()})  # fmt: skip


def _extra(extra: bytes | None) -> tuple[bytes, dict[str, Any], bytes] | Invalid:
    if extra is None:
        return _refused("malformed_proof", "no extra line: the leaf and content are missing")
    value = decode(extra, EXTRA_LIMITS)
    if isinstance(value, JsonRefused):
        return _refused("malformed_proof", f"extra data: {value.message}")
    if not isinstance(value, dict) or set(value) != {"format", "entry", "content", "salt"}:
        return _refused("malformed_proof", "extra data holds format, entry, content and salt")
    if value["format"] != EXTRA_FORMAT:
        return _refused("malformed_proof", f"extra data is not {EXTRA_FORMAT}")
    try:
        entry = base64.b64decode(str(value["entry"]), validate=True)
        salt = bytes.fromhex(str(value["salt"]))
    except (binascii.Error, ValueError):
        return _refused("malformed_proof", "entry is not base64 or salt not hex")
    if len(salt) != 32:
        return _refused("malformed_proof", "the salt is 32 bytes")
    if (why := content_problem(value["content"])) is not None:
        return _refused("malformed_content", why)
    return entry, value["content"], salt


def _issue_body(entry: bytes) -> dict[str, Any] | Invalid:
    """The body of the ``proof.issue`` transaction the leaf is, or why it is none."""
    envelope = decode(entry, EXTRA_LIMITS)
    body = envelope.get("body") if isinstance(envelope, dict) else None
    if not isinstance(body, dict) or body.get("type") != "proof.issue":
        return _refused("wrong_leaf", "the log entry is not a proof.issue transaction")
    if any(f not in body for f in ("signer", "commitment", *ON_LOG)):
        return _refused("wrong_leaf", "the proof.issue entry lacks its fields")
    return body


def check_proof_file(
    text: str,
    verifiers: Iterable[Verifier],
    quorum: int,
    now_ms: int,
    *,
    origin: str,
    issuer: str | None = None,
    resident_pseudonym: str | None = None,
) -> CheckedProof | Invalid:
    """Check a proof of insurance offline: parse the tlog-proof, check that the checkpoint is
    of the log named ``origin`` (C2SP tlog-proof: the verifier must know which log it
    trusts; validators' keys may also sign other logs, a staging network say), its
    cosignatures by ``quorum`` of ``verifiers`` and the leaf's inclusion, that the leaf is a
    ``proof.issue`` (of ``issuer``, about ``resident_pseudonym``, when given) whose fields the
    content repeats, that the content matches the commitment, and that it has not expired at
    ``now_ms``. Each failure is an ``Invalid`` with a stable code. Pure."""
    proof = parse_tlog_proof(text)
    if isinstance(proof, Invalid):
        return proof
    parts = _extra(proof.extra)
    if isinstance(parts, Invalid):
        return parts
    entry, content, salt = parts
    verified = verify_tlog_proof(proof, entry, verifiers, quorum, origin=origin)
    if isinstance(verified, Invalid):
        return verified
    checkpoint, opened = verified
    body = _issue_body(entry)
    if isinstance(body, Invalid):
        return body
    if any(body[f] != content[f] for f in ON_LOG) or body["signer"] != content["issuer"]:
        return _refused("content_mismatch", "the content does not repeat the proof.issue entry")
    try:
        committed = content_commitment(salt, content)
    except NotCanonicalizable:
        return _refused("malformed_content", "the content cannot be canonicalized")
    if committed != body["commitment"]:
        return _refused("commitment_mismatch", "the content and salt do not match the commitment")
    if issuer is not None and body["signer"] != issuer:
        return _refused("wrong_issuer", f"issued by {body['signer']}, not {issuer}")
    if resident_pseudonym is not None and content["resident"] != resident_pseudonym:
        return _refused("wrong_resident", "the proof is about another resident")
    if now_ms >= content["expires_ms"]:
        return _refused("expired", f"the proof expired at {content['expires_ms']} ms")
    return CheckedProof(
        content, body["signer"], proof.index, checkpoint, opened.valid_signers, committed
    )
