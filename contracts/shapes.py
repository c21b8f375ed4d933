"""The shape of every transaction type: fields present, formats, lengths, codes from the fixed
vocabularies, nothing unexpected; and no personal number in any string. Pure and stateless,
so admission (``Node._admit``: a 400, never the mempool) and block validation
(``rules.apply_transaction``: a block carrying such a transaction is invalid) run the same
check, and a malformed transaction never reaches the public log.

What needs state (who signs, whether a record exists) is the rules' job, after this.
"""

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from contracts.ages import parse_day
from contracts.authority import check_roles, listed_roles
from contracts.calendar import check_arrangement
from contracts.formats import (
    HEX64,
    IDENT,
    BadField,
    choice,
    exactly,
    hex64,
    ident,
    integer,
    matching,
    members,
    obj,
    require,
    text,
    verifier,
)
from contracts.personal_data import found_in_json, may_hold
from contracts.tx import Transaction
from contracts.vocabulary import (
    AGE_CLASSES,
    AGENCY_KINDS,
    CAPACITIES,
    CHANNELS,
    CORRECTION_DECISIONS,
    CORRECTION_GROUNDS,
    CORRECTION_RECORDS,
    CORRECTION_REFUSALS,
    DATA_CLASSES,
    DELEGABLE_ACTIONS,
    EMERGENCY_REASONS,
    GRANTOR_TYPES,
    GUARDIAN_BASES,
    GUARDIAN_DOCUMENTS,
    GUARDIAN_ENDINGS,
    HEALTH_CLASSES,
    PENSION_KINDS,
    PENSION_REJECTIONS,
    PROOF_REVOCATIONS,
    PROOF_SCHEMES,
    PURPOSES,
    SCHEME_LINK_DIRECTIONS,
    STATUTORY_BASES,
    STATUTORY_SHARING,
    VERIFICATION_METHODS,
    VERIFICATION_RESULTS,
)
from signing.canonical import NotCanonicalizable

Body = dict[str, Any]
Shape = Callable[[Body, str], None]
"""Raises ``BadField`` unless the body (signed by the given signer) has the type's shape."""

SIGNER = re.compile(r"^(?:resident:[0-9a-f]{64}|node:[A-Za-z0-9._-]{1,64}|[A-Za-z0-9._:-]{1,64})$")
NAME = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
DIVISION = re.compile(r"^[0-9]{6}$")
LOCATOR = re.compile(r"^[A-Za-z0-9._:/-]{1,128}$")
URL = re.compile(r"^https?://[A-Za-z0-9.:\[\]_-]{1,253}(?:/[A-Za-z0-9._~/-]{0,200})?$")
REFUSAL_CODE = re.compile(r"^[a-z_]{1,48}$")
REFUSAL_DATA_CLASS = re.compile(r"^(?:-|[a-z_]{1,32})$")
API_PURPOSE = re.compile(r"^api [a-z_.]{1,48}$")
ASSISTED_FIELDS = ("channel", "operator_id", "verification_method", "verification_result",
                   "form_hash")  # fmt: skip
GOVERNANCE_SUBJECTS = {
    "add_agency": ("agency", ("id", "name", "division", "kind", "roles", "key")),
    "remove_agency": ("agency", ("id",)),
    "rotate_agency_key": ("agency", ("id", "key")),
    "set_agency_roles": ("agency", ("id", "roles")),
    "add_validator": ("validator", ("name", "key", "url")),
    "remove_validator": ("validator", ("name",)),
    "rotate_validator_key": ("validator", ("name", "key")),
    "set_calendar": ("calendar", ("year", "holidays", "workdays", "notice")),
    "set_emergency_limit": ("emergency_limit", ("agency", "max_per_day")),
}
MAX_EMERGENCY_LIMIT = 10_000


@dataclass(frozen=True)
class Malformed:
    code: str
    """``bad_field``, ``unknown_type`` or ``personal_data``."""
    message: str


def malformed(tx: Transaction) -> Malformed | None:
    """Why ``tx`` can never be valid whatever the state, or None. Total."""
    try:
        encoded = tx.encode()  # done by Transaction.from_json: cached, and never fails there
    except NotCanonicalizable as exc:
        return Malformed("bad_field", str(exc))
    if may_hold(encoded) and (where := found_in_json(tx.body)) is not None:
        return Malformed(
            "personal_data",
            f"{where}: ID and phone numbers never go on the log (a resident is named by the "
            "keyed pseudonym; a note goes to the vault, its hash in note_hash)",
        )
    shape = SHAPES.get(tx.type)
    if shape is None:
        return Malformed("unknown_type", f"no transaction type {tx.type!r}")
    try:
        _common(tx.body)
        shape(tx.body, tx.signer)
    except BadField as exc:
        return Malformed(exc.code, str(exc))
    return None


def _common(body: Body) -> None:
    ident(body, "chain_id")
    matching(body, "signer", SIGNER, "resident:<pseudonym>, node:<name> or an agency id")
    ident(body, "nonce")


def _is_resident(signer: str) -> bool:
    return signer.startswith("resident:")


def _purpose(body: Body) -> str:
    return choice(body, "purpose", PURPOSES)


# ------------------------------------------------------------------------------ types
def anchor(body: Body, signer: str) -> None:
    exactly(body, "sha256")
    hex64(body, "sha256")


def enroll(body: Body, signer: str) -> None:
    """The age class from the ID (#13 item 2); a minor's with the day it ends, an adult's none."""
    minor = body.get("age_class") in ("under_14", "14_17")
    exactly(body, "pseudonym", "key", "age_class", *(("class_ends",) if minor else ()))
    hex64(body, "pseudonym")
    verifier(body, "key")
    choice(body, "age_class", AGE_CLASSES)
    if minor:
        parse_day(body["class_ends"])


def _acting(body: Body, signer: str) -> tuple[str, ...]:
    """``on_behalf_of`` when a resident signs for another (a guardian, a delegate: #13), the
    field to allow; never herself."""
    if not _is_resident(signer) or "on_behalf_of" not in body:
        return ()
    require(
        hex64(body, "on_behalf_of") != signer.removeprefix("resident:"),
        "bad_field",
        "on_behalf_of names another resident",
    )
    return ("on_behalf_of",)


def rotate_key(body: Body, signer: str) -> None:
    """The resident's own key sets the next; or a counter re-keys the resident, present."""
    if _is_resident(signer):
        exactly(body, "key")
    else:
        exactly(body, "pseudonym", "key", "assisted")
        hex64(body, "pseudonym")
        assisted_details(body)
    verifier(body, "key")


def erase(body: Body, signer: str) -> None:
    if _is_resident(signer):
        exactly(body)
    else:
        exactly(body, "pseudonym")
        hex64(body, "pseudonym")


CONSENT_FIELDS = ("consent_id", "grantor", "basis", "purpose", "data_classes", "source",
                  "recipient", "valid_from_ms", "valid_until_ms", "notice", "separate")  # fmt: skip


def _data_classes(body: Body, allowed: frozenset[str] = DATA_CLASSES) -> list[str]:
    classes = body.get("data_classes")
    require(
        isinstance(classes, list)
        and 0 < len(classes) == len(set(c for c in classes if isinstance(c, str)))
        and set(classes) <= allowed,
        "bad_field",
        f"data_classes: a non-empty list, without repeats, from {', '.join(sorted(allowed))}",
    )
    assert isinstance(classes, list)
    return classes


def _basis(body: Body) -> None:
    """A consent's basis is consent: a statute is no consent, and is recorded apart, by the
    agency holding the duty (``basis.record``), never withdrawn."""
    basis = obj(body, "basis")
    require(
        basis.get("type") != "statutory",
        "statutory_basis_not_allowed",
        "a statutory basis is not a consent: it is recorded as basis.record by the agency "
        "holding the duty",
    )
    choice(basis, "type", {"consent"})
    members(basis, "basis", "type")


def basis_record(body: Body, signer: str) -> None:
    """A statutory basis an agency records for a resident: its citation code (zh/en text in
    ``vocabulary.STATUTORY_BASES``) and the classes it covers."""
    exactly(body, "basis_id", "resident", "citation", "data_classes")
    ident(body, "basis_id")
    hex64(body, "resident")
    citation = choice(body, "citation", STATUTORY_BASES)
    _data_classes(body, STATUTORY_BASES[citation][3])


def _grantor(body: Body, assisted: bool) -> None:
    grantor = obj(body, "grantor")
    if "on_behalf_of" in body:  # the delegation or guardianship on the ledger authorizes it
        choice(grantor, "type", {"proxy", "guardian"})
        members(grantor, "grantor", "type")
        return
    if choice(grantor, "type", GRANTOR_TYPES if assisted else {"self"}) == "self":
        members(grantor, "grantor", "type")
    else:
        members(grantor, "grantor", "type", "authorization_hash")
        hex64(grantor, "authorization_hash")


def assisted_details(body: Body) -> None:
    """Operator, how identity was checked, the signed form's hash: nothing else (no biometric
    template can be recorded)."""
    details = obj(body, "assisted")
    members(details, "assisted", *ASSISTED_FIELDS)
    choice(details, "channel", CHANNELS)
    ident(details, "operator_id")
    choice(details, "verification_method", VERIFICATION_METHODS)
    choice(details, "verification_result", VERIFICATION_RESULTS)
    hex64(details, "form_hash")


def _notice(body: Body) -> None:
    """The notice the resident was shown (PIPL arts. 17, 23, 30): its code and the hash of its
    text, which the recipient or the counter keeps; the text itself is never on the ledger."""
    notice = obj(body, "notice")
    members(notice, "notice", "hash", "version")
    hex64(notice, "hash")
    ident(notice, "version")


def _consent(body: Body, assisted: bool) -> None:
    ident(body, "consent_id")
    _grantor(body, assisted)
    _basis(body)
    _purpose(body)
    classes = _data_classes(body)
    _notice(body)
    separate = body.get("separate")
    require(isinstance(separate, bool), "bad_field", "separate must be true or false")
    require(
        separate is True or not set(classes) & HEALTH_CLASSES,
        "separate_consent_required",
        "a health class moves only with a separate consent (PIPL art. 29)",
    )
    ident(body, "source")
    ident(body, "recipient")
    start, until = integer(body, "valid_from_ms"), integer(body, "valid_until_ms")
    require(until > start, "bad_field", "valid_until_ms must be after valid_from_ms")


def grant(body: Body, signer: str) -> None:
    exactly(body, *CONSENT_FIELDS, *_acting(body, signer))
    _consent(body, assisted=False)


def grant_assisted(body: Body, signer: str) -> None:
    exactly(body, *CONSENT_FIELDS, "resident", "assisted")
    _consent(body, assisted=True)
    hex64(body, "resident")
    assisted_details(body)


def withdraw(body: Body, signer: str) -> None:
    if _is_resident(signer):
        exactly(body, "consent_id", *_acting(body, signer))
    else:
        exactly(body, "consent_id", "assisted")
        assisted_details(body)
    ident(body, "consent_id")


def request(body: Body, signer: str) -> None:
    """With ``emergency_id``: under the signer's break-glass, for emergency treatment."""
    exactly(body, "case_id", "resident", "source", "data_class", "purpose",
            optional=("emergency_id",))  # fmt: skip
    ident(body, "case_id")
    hex64(body, "resident")
    require(ident(body, "source") != signer, "bad_field", "a hospital does not request from itself")
    choice(body, "data_class", HEALTH_CLASSES)
    purpose = _purpose(body)
    if "emergency_id" in body:
        ident(body, "emergency_id")
        require(purpose == "ETREAT", "purpose_mismatch",
                "a case under a break-glass is for emergency treatment (ETREAT)")  # fmt: skip


def emergency(body: Body, signer: str) -> None:
    """A break-glass: the resident, the source, the health classes, the reason code."""
    exactly(body, "emergency_id", "resident", "source", "data_classes", "reason")
    ident(body, "emergency_id")
    hex64(body, "resident")
    require(ident(body, "source") != signer, "bad_field", "a hospital does not request from itself")
    _data_classes(body, HEALTH_CLASSES)
    choice(body, "reason", EMERGENCY_REASONS)


def authorize(body: Body, signer: str) -> None:
    """A consent tied to the case, or, instead, the statute the source shares it under."""
    if "basis" in body:
        exactly(body, "case_id", "basis")
        basis = obj(body, "basis")
        members(basis, "basis", "type", "citation")
        choice(basis, "type", {"statutory"})
        choice(basis, "citation", STATUTORY_SHARING)
    else:
        exactly(body, "case_id", "consent_id", *_acting(body, signer))
        ident(body, "consent_id")
    ident(body, "case_id")


def release(body: Body, signer: str) -> None:
    exactly(body, "case_id", "commitment", "locator")
    ident(body, "case_id")
    hex64(body, "commitment")
    matching(body, "locator", LOCATOR, "1-128 letters, digits or ._:/-")


def case_only(body: Body, signer: str) -> None:
    exactly(body, "case_id")
    ident(body, "case_id")


def pension_apply(body: Body, signer: str) -> None:
    """A kind; a scheme link's direction; the two sides differ but in a scheme link (one
    county's bureau often runs both schemes)."""
    fields: tuple[str, ...] = ("case_id", "kind", "from_agency", "to_agency")
    fields += _acting(body, signer) if _is_resident(signer) else ("resident",)
    link = body.get("kind") == "scheme_link"
    exactly(body, *fields, *(("direction",) if link else ()))
    if not _is_resident(signer):
        hex64(body, "resident")
    ident(body, "case_id")
    choice(body, "kind", PENSION_KINDS)
    if link:
        choice(body, "direction", SCHEME_LINK_DIRECTIONS)
    require(
        ident(body, "from_agency") != ident(body, "to_agency") or link,
        "bad_field",
        "from_agency and to_agency differ (but in a scheme link)",
    )


def pension_withdraw(body: Body, signer: str) -> None:
    exactly(body, "case_id", *_acting(body, signer))
    ident(body, "case_id")


def accept(body: Body, signer: str) -> None:
    exactly(body, "case_id", "letter_commitment")
    ident(body, "case_id")
    hex64(body, "letter_commitment")


def reject(body: Body, signer: str) -> None:
    exactly(body, "case_id", "reason", optional=("note_hash",))
    ident(body, "case_id")
    reason = choice(body, "reason", PENSION_REJECTIONS)
    if "note_hash" in body or reason == "other":
        hex64(body, "note_hash")


INFO_FIELDS = ("contribution_months", "individual_account_fen", "pooled_fund_fen")


def _info(body: Body, field: str) -> None:
    """One salted commitment (hex64) per 信息表 value, never the value: contribution months and
    the individual account always, the pooled fund when it moves (the rule checks which by the
    case's kind)."""
    commitments = obj(body, field)
    require(
        set(INFO_FIELDS[:2]) <= set(commitments) <= set(INFO_FIELDS),
        "bad_field",
        f"{field} takes {', '.join(INFO_FIELDS[:2])} and, when funds move, {INFO_FIELDS[2]}",
    )
    for name in commitments:
        hex64(commitments, name)


def transfer_out(body: Body, signer: str) -> None:
    exactly(body, "case_id", "info_commitments")
    ident(body, "case_id")
    _info(body, "info_commitments")


def complete(body: Body, signer: str) -> None:
    exactly(body, "case_id", "received_commitments")
    ident(body, "case_id")
    _info(body, "received_commitments")


def proof_issue(body: Body, signer: str) -> None:
    exactly(body, "proof_id", "resident", "scheme", "expires_ms", "commitment")
    ident(body, "proof_id")
    hex64(body, "resident")
    choice(body, "scheme", PROOF_SCHEMES)
    integer(body, "expires_ms", 1)
    hex64(body, "commitment")


def proof_revoke(body: Body, signer: str) -> None:
    exactly(body, "proof_id", "reason")
    ident(body, "proof_id")
    choice(body, "reason", PROOF_REVOCATIONS)


def _key_named(subject: Body, name: str) -> None:
    key = verifier(subject, "key")
    require(key.split("+", 1)[0] == name, "bad_field", "the key must carry the validator's name")


def propose(body: Body, signer: str) -> None:
    action = choice(body, "action", GOVERNANCE_SUBJECTS)
    field, names = GOVERNANCE_SUBJECTS[action]
    exactly(body, "proposal_id", "action", field)
    ident(body, "proposal_id")
    if field == "calendar":
        check_arrangement(body.get(field))
        return
    if field == "emergency_limit":  # a hospital's break-glasses a rolling day, or the network's
        limit = obj(body, field)
        members(limit, field, *names)
        require(limit.get("agency") == "*" or IDENT.fullmatch(str(limit.get("agency"))) is not None,
                "bad_field", "agency: a hospital's id, or * for every hospital")  # fmt: skip
        integer(limit, "max_per_day")
        require(limit["max_per_day"] <= MAX_EMERGENCY_LIMIT, "bad_field",
                f"max_per_day is at most {MAX_EMERGENCY_LIMIT}")  # fmt: skip
        return
    subject = obj(body, field)
    members(subject, field, *names)
    if field == "agency":
        ident(subject, "id")
        if action == "add_agency":
            text(subject, "name", 100)
            matching(subject, "division", DIVISION, "a GB/T 2260 code of six digits")
            check_roles(choice(subject, "kind", AGENCY_KINDS), subject.get("roles"))
        if action == "set_agency_roles":  # the kind's rules need its record: the rule checks
            listed_roles(subject.get("roles"))
        if "key" in names:
            verifier(subject, "key")
        return
    name = matching(subject, "name", NAME, "1-64 letters, digits or ._-")
    if "key" in names:
        _key_named(subject, name)
    if "url" in names:
        matching(subject, "url", URL, "an http(s) URL")


def approve(body: Body, signer: str) -> None:
    exactly(body, "proposal_id")
    ident(body, "proposal_id")


def refused(body: Body, signer: str) -> None:
    exactly(body, "resident", "agent", "entity", "data_class", "purpose", "reason")
    _api_read(body)
    matching(body, "reason", REFUSAL_CODE, "a reason code")


def read(body: Body, signer: str) -> None:
    """Its purpose is always ``api <action>``: no granted entry a node records can pass for a
    ``health.access`` (whose purpose is a code), which a payload fetch uses."""
    exactly(body, "resident", "agent", "entity", "data_class", "purpose")
    _api_read(body)
    matching(body, "purpose", API_PURPOSE, "api <action>")


def _api_read(body: Body) -> None:
    """A read at a node's API, as ``access.refused`` and ``access.read`` record it."""
    hex64(body, "resident")
    matching(body, "agent", SIGNER, "a signer: resident:<pseudonym>, node:<name> or agency id")
    ident(body, "entity")
    matching(body, "data_class", REFUSAL_DATA_CLASS, "a data class, or -")
    purpose = body.get("purpose")
    require(
        isinstance(purpose, str)
        and (purpose in PURPOSES or API_PURPOSE.fullmatch(purpose) is not None),
        "bad_field",
        "purpose must be a purpose code or api <action>",
    )


ON_BEHALF = ("on_behalf_of",)
"""A resident acting for another names her (``contracts/acting.py`` decides whether she may)."""


def _resident_request(body: Body, *names: str) -> None:
    exactly(body, "request_id", *names, optional=ON_BEHALF)
    ident(body, "request_id")
    if "on_behalf_of" in body:
        hex64(body, "on_behalf_of")


def copy_request(body: Body, signer: str) -> None:
    """PIPL art. 45: what she asks for is everything of hers; nothing else to say."""
    _resident_request(body)


def correct_request(body: Body, signer: str) -> None:
    """PIPL art. 46: the agency, its record, a ground code, and the commitment of the
    correction (its text, with the evidence, goes to the agency off the log)."""
    _resident_request(body, "agency", "record", "ground", "content_commitment")
    ident(body, "agency")
    record = obj(body, "record")
    if choice(record, "type", CORRECTION_RECORDS) == "enrollment":
        members(record, "record", "type")
    else:
        members(record, "record", "type", "id")
        ident(record, "id")
    choice(body, "ground", CORRECTION_GROUNDS)
    hex64(body, "content_commitment")


def correct_decide(body: Body, signer: str) -> None:
    """PIPL art. 50: a refusal, or a partial correction, always with its reason code; a note
    (``other``) only as the hash of what the agency wrote; a new commitment only for what was
    corrected."""
    decision = body.get("decision")
    reasoned = ("reason",) if decision in ("refused", "partial") else ()
    corrected = ("new_commitment",) if decision in ("accepted", "partial") else ()
    exactly(body, "request_id", "decision", *reasoned, optional=(*corrected, "note_hash"))
    ident(body, "request_id")
    choice(body, "decision", CORRECTION_DECISIONS)
    if reasoned:
        reason = choice(body, "reason", CORRECTION_REFUSALS)
        if reason == "other" or "note_hash" in body:
            hex64(body, "note_hash")
    elif "note_hash" in body:
        hex64(body, "note_hash")
    if "new_commitment" in body:
        hex64(body, "new_commitment")


def guardian_record(body: Body, signer: str) -> None:
    """Ward and guardian (never the same), the basis (民法典 arts. 27-33), the document's kind
    and hash, until when, the counter's details; an adult ward's capacity (arts. 21-22)."""
    exactly(body, "guardianship_id", "resident", "guardian", "basis", "document",
            "valid_until_ms", "assisted", optional=("capacity",))  # fmt: skip
    ident(body, "guardianship_id")
    require(hex64(body, "resident") != hex64(body, "guardian"), "bad_field",
            "a resident is not her own guardian")  # fmt: skip
    choice(body, "basis", GUARDIAN_BASES)
    document = obj(body, "document")
    members(document, "document", "kind", "hash")
    choice(document, "kind", GUARDIAN_DOCUMENTS)
    hex64(document, "hash")
    integer(body, "valid_until_ms", 1)
    if "capacity" in body:
        choice(body, "capacity", CAPACITIES)
    assisted_details(body)


def guardian_revoke(body: Body, signer: str) -> None:
    exactly(body, "guardianship_id", "reason", "assisted")
    ident(body, "guardianship_id")
    choice(body, "reason", GUARDIAN_ENDINGS)
    assisted_details(body)


def _delegation(body: Body, principal: str) -> None:
    ident(body, "delegation_id")
    require(hex64(body, "delegate") != principal, "self_delegation",
            "a resident does not delegate to herself")  # fmt: skip
    actions = body.get("actions")
    require(
        isinstance(actions, list)
        and 0 < len(actions) == len(set(a for a in actions if isinstance(a, str)))
        and set(actions) <= DELEGABLE_ACTIONS,
        "bad_field",
        f"actions: a non-empty list, without repeats, from {', '.join(sorted(DELEGABLE_ACTIONS))}",
    )
    _data_classes(body)
    integer(body, "valid_until_ms", 1)


DELEGATION_FIELDS = ("delegation_id", "delegate", "actions", "data_classes", "valid_until_ms")


def delegation_grant(body: Body, signer: str) -> None:
    exactly(body, *DELEGATION_FIELDS)
    _delegation(body, signer.removeprefix("resident:"))


def delegation_grant_assisted(body: Body, signer: str) -> None:
    """At a counter, the resident present with her power of attorney (委托书: its hash)."""
    exactly(body, *DELEGATION_FIELDS, "resident", "document_hash", "assisted")
    _delegation(body, hex64(body, "resident"))
    hex64(body, "document_hash")
    assisted_details(body)


def delegation_revoke(body: Body, signer: str) -> None:
    exactly(body, "delegation_id", *(() if _is_resident(signer) else ("assisted",)))
    ident(body, "delegation_id")
    if not _is_resident(signer):
        assisted_details(body)


SHAPES: dict[str, Shape] = {
    "anchor": anchor,
    "resident.enroll": enroll,
    "resident.rotate_key": rotate_key,
    "resident.erase": erase,
    "consent.grant": grant,
    "consent.grant_assisted": grant_assisted,
    "consent.withdraw": withdraw,
    "health.request": request,
    "health.emergency": emergency,
    "basis.record": basis_record,
    "health.authorize": authorize,
    "health.release": release,
    "health.access": case_only,
    "pension.apply": pension_apply,
    "pension.accept": accept,
    "pension.reject": reject,
    "pension.transfer_out": transfer_out,
    "pension.complete": complete,
    "pension.withdraw": pension_withdraw,
    "proof.issue": proof_issue,
    "proof.revoke": proof_revoke,
    "governance.propose": propose,
    "governance.approve": approve,
    "access.refused": refused,
    "access.read": read,
    "rights.copy_request": copy_request,
    "rights.correct_request": correct_request,
    "rights.correct_decide": correct_decide,
    "guardian.record": guardian_record,
    "guardian.revoke": guardian_revoke,
    "delegation.grant": delegation_grant,
    "delegation.grant_assisted": delegation_grant_assisted,
    "delegation.revoke": delegation_revoke,
}

__all__ = ["HEX64", "IDENT", "SHAPES", "Malformed", "malformed"]
