"""Consent, in the vocabulary of FHIR Consent and the Kantara consent receipt.

Granted and withdrawn by the resident's key, or at a service counter by an agency operator for
a resident without a smartphone (assisted: channel, operator, how identity was verified and the
hash of the signed paper form; never a biometric template). Withdrawal stops future access and
leaves past, lawful processing as it was.
"""

from typing import Any

from contracts.fields import (
    BadField,
    agency,
    choice,
    guarded,
    hex64,
    ident,
    integer,
    only,
    require,
    text,
)
from contracts.residents import resident
from contracts.rules import Applied, BlockContext, Outcome
from contracts.state import Overlay
from contracts.tx import Transaction

PENSION_CLASSES = {"pension_account", "contribution_history"}
HEALTH_CLASSES = {"medical_insurance_record", "health_file_summary", "test_result"}
DATA_CLASSES = PENSION_CLASSES | HEALTH_CLASSES
STATUTORY_CITATION = "PIPL art. 13(3)"
GRANTOR_TYPES = {"self", "proxy", "guardian"}
CHANNELS = {"counter", "proxy", "guardian"}
ASSISTED_FIELDS = {
    "channel",
    "operator_id",
    "verification_method",
    "verification_result",
    "form_hash",
}


def _basis(body: dict[str, Any], classes: list[str]) -> dict[str, str]:
    basis = body.get("basis")
    if not isinstance(basis, dict):
        raise BadField("bad_field", "basis must be an object")
    kind = choice(basis, "type", {"consent", "statutory"})
    if kind == "consent":
        require(set(basis) == {"type"}, "bad_field", "a consent basis takes no other field")
        return {"type": "consent"}
    require(set(basis) == {"type", "citation"}, "bad_field", "a statutory basis takes a citation")
    citation = text(basis, "citation")
    require(
        set(classes) <= PENSION_CLASSES,
        "statutory_basis_not_allowed",
        "health data moves only with the resident's separate consent (PIPL arts. 28-29)",
    )
    return {"type": "statutory", "citation": citation}


def _grantor(body: dict[str, Any], assisted: bool) -> dict[str, str]:
    grantor = body.get("grantor")
    if not isinstance(grantor, dict):
        raise BadField("bad_field", "grantor must be an object")
    kind = choice(grantor, "type", GRANTOR_TYPES)
    if kind == "self":
        require(set(grantor) == {"type"}, "bad_field", "a self grantor takes no other field")
        return {"type": "self"}
    require(assisted, "bad_field", "a proxy or guardian grants at a counter (assisted)")
    require(
        set(grantor) == {"type", "authorization_hash"},
        "bad_field",
        "proxy and guardian need authorization_hash",
    )
    return {"type": kind, "authorization_hash": hex64(grantor, "authorization_hash")}


def _assisted(body: dict[str, Any]) -> dict[str, str]:
    details = body.get("assisted")
    if not isinstance(details, dict) or set(details) != ASSISTED_FIELDS:
        raise BadField("bad_field", f"assisted takes exactly {', '.join(sorted(ASSISTED_FIELDS))}")
    require(
        details.get("verification_result") == "verified",
        "identity_not_verified",
        "the operator did not verify the resident's identity",
    )
    return {
        "channel": choice(details, "channel", CHANNELS),
        "operator_id": ident(details, "operator_id"),
        "verification_method": text(details, "verification_method", 64),
        "verification_result": "verified",
        "form_hash": hex64(details, "form_hash"),
    }


def _grant(state: Overlay, tx: Transaction, ctx: BlockContext, assisted: bool) -> Outcome:
    body = tx.body
    fields = [
        "consent_id",
        "grantor",
        "basis",
        "purpose",
        "data_classes",
        "source",
        "recipient",
        "valid_from_ms",
        "valid_until_ms",
    ]
    if assisted:
        only(body, *fields, "resident", "assisted")
        agency(state, tx.signer)
        who = hex64(body, "resident")
        details: dict[str, str] | None = _assisted(body)
    else:
        only(body, *fields)
        require(
            tx.signer.startswith("resident:"), "wrong_signer", "a resident grants with its own key"
        )
        who, details = tx.signer.removeprefix("resident:"), None
    require(resident(state, who) is not None, "unknown_resident", "resident is not enrolled")
    consent_id = ident(body, "consent_id")
    require(state.get(f"consent/{consent_id}") is None, "duplicate_id", "consent_id is taken")
    classes = body.get("data_classes")
    if (
        not isinstance(classes, list)
        or not classes
        or len(set(classes)) != len(classes)
        or not set(classes) <= DATA_CLASSES
    ):
        raise BadField(
            "bad_field", f"data_classes: a non-empty list from {', '.join(sorted(DATA_CLASSES))}"
        )
    basis = _basis(body, classes)
    grantor = _grantor(body, assisted)
    source, recipient = ident(body, "source"), ident(body, "recipient")
    agency(state, source)
    agency(state, recipient)
    start, until = integer(body, "valid_from_ms"), integer(body, "valid_until_ms")
    require(until > start, "bad_field", "valid_until_ms must be after valid_from_ms")
    record = {
        "consent_id": consent_id,
        "resident": who,
        "grantor": grantor,
        "basis": basis,
        "purpose": text(body, "purpose"),
        "data_classes": sorted(classes),
        "source": source,
        "recipient": recipient,
        "valid_from_ms": start,
        "valid_until_ms": until,
        "status": "active",
        "assisted": details is not None,
        "assisted_details": details,
        "granted_by": tx.signer,
        "granted_ms": ctx.time_ms,
        "height": ctx.height,
    }
    state.put(f"consent/{consent_id}", record)
    return Applied(
        tx.encode(),
        (
            {
                "type": "consent_granted",
                "consent_id": consent_id,
                "resident": who,
                "assisted": details is not None,
            },
        ),
    )


def grant(state: Overlay, tx: Transaction, ctx: BlockContext) -> Outcome:
    return _grant(state, tx, ctx, assisted=False)


def grant_assisted(state: Overlay, tx: Transaction, ctx: BlockContext) -> Outcome:
    return _grant(state, tx, ctx, assisted=True)


def withdraw(state: Overlay, tx: Transaction, ctx: BlockContext) -> Outcome:
    body = tx.body
    consent_id = ident(body, "consent_id")
    record = state.get(f"consent/{consent_id}")
    require(isinstance(record, dict), "unknown_consent", "no such consent")
    assert isinstance(record, dict)
    if tx.signer.startswith("resident:"):
        only(body, "consent_id")
        require(
            tx.signer == f"resident:{record['resident']}",
            "wrong_signer",
            "only the resident (or a counter, assisted) withdraws",
        )
        details = None
    else:
        only(body, "consent_id", "assisted")
        agency(state, tx.signer)
        details = _assisted(body)
    require(record["status"] == "active", "wrong_state", f"consent is {record['status']}")
    state.put(
        f"consent/{consent_id}",
        {
            **record,
            "status": "withdrawn",
            "withdrawn_ms": ctx.time_ms,
            "withdrawn_by": tx.signer,
            "withdrawal_assisted": details,
        },
    )
    return Applied(
        tx.encode(),
        ({"type": "consent_withdrawn", "consent_id": consent_id, "resident": record["resident"]},),
    )


def consent_allows(
    record: Any, at_ms: int, recipient: str, source: str, data_class: str
) -> str | None:
    """None if the consent covers this access now; else the stable reason it does not."""
    if not isinstance(record, dict):
        return "unknown_consent"
    if record["status"] != "active":
        return "consent_withdrawn"
    if not record["valid_from_ms"] <= at_ms < record["valid_until_ms"]:
        return "consent_expired" if at_ms >= record["valid_until_ms"] else "consent_not_yet_valid"
    if record["recipient"] != recipient:
        return "not_recipient"
    if record["source"] != source:
        return "wrong_source"
    if data_class not in record["data_classes"]:
        return "out_of_scope"
    if data_class in HEALTH_CLASSES and record["basis"]["type"] != "consent":
        return "statutory_basis_not_allowed"
    return None


RULES = {
    "consent.grant": guarded(grant),
    "consent.grant_assisted": guarded(grant_assisted),
    "consent.withdraw": guarded(withdraw),
}
