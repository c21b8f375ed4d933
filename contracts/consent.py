"""Consent, in the vocabulary of FHIR Consent and the Kantara consent receipt.

Granted and withdrawn by the resident's key, or at a service counter by an agency operator for
a resident without a smartphone (assisted: channel, operator, how identity was verified and the
hash of the signed paper form; never a biometric template). Only agencies with the ``counter``
role take assisted steps, only for the data classes their kind keeps, and an assisted consent
lasts at most the policy's maximum (``contracts/policy.py``). Withdrawal stops future access
and leaves past, lawful processing as it was (PIPL art. 15). A statutory basis is not a
consent: a consent's ``basis`` is always ``consent`` (the shape refuses another,
``statutory_basis_not_allowed``); the agency holding the duty records a statute as its own
record (``basis.record``, ``contracts/bases.py``), which no transaction withdraws: the
resident's right there is to object or ask for a correction (PIPL arts. 44, 46).

The body's shape was checked before any rule runs (``contracts/shapes.py``).
"""

from typing import Any

from contracts import authority
from contracts.access_log import record_access
from contracts.acting import GRANTOR, principal
from contracts.authority import Relation
from contracts.fields import agency, guarded, require
from contracts.policy import consent_policy
from contracts.residents import key_setters, resident
from contracts.rules import Applied, BlockContext, Outcome
from contracts.state import Overlay
from contracts.tx import Transaction
from contracts.vocabulary import DATA_CLASSES, HEALTH_CLASSES, PENSION_CLASSES

__all__ = ["DATA_CLASSES", "HEALTH_CLASSES", "PENSION_CLASSES", "RULES", "consent_allows"]


def _grant(state: Overlay, tx: Transaction, ctx: BlockContext, assisted: bool) -> Outcome:
    body = tx.body
    classes = sorted(body["data_classes"])
    if assisted:
        authority.check(state, tx.type, tx.signer, classes=classes)
        who, details = body["resident"], body["assisted"]
        longest = consent_policy(state).assisted_max_ms
    else:
        acting = principal(state, tx, ctx, tx.type, classes)
        authority.check(state, tx.type, tx.signer, [acting.relation])
        require(
            acting.by is None or body["grantor"]["type"] == GRANTOR[acting.relation],
            "grantor_mismatch",
            f"signed as her {acting.relation.value}: grantor {GRANTOR.get(acting.relation)}",
        )
        who, details = acting.resident, None
        longest = consent_policy(state).self_max_ms
    enrolled = resident(state, who)
    require(enrolled is not None, "unknown_resident", "resident is not enrolled")
    assert enrolled is not None
    signed_by = resident(state, tx.signer.removeprefix("resident:")) if not assisted else None
    consent_id = body["consent_id"]
    require(state.get(f"consent/{consent_id}") is None, "duplicate_id", "consent_id is taken")
    require(
        details is None or details["verification_result"] == "verified",
        "identity_not_verified",
        "the operator did not verify the resident's identity",
    )
    source, recipient = body["source"], body["recipient"]
    agency(state, source)
    agency(state, recipient)
    own = assisted and recipient == tx.signer
    # the recipient set her key at a counter: it may hold it, and have signed this itself
    # (signed by a guardian or a delegate: her key's setters are the ones that count)
    enroller = recipient in key_setters(signed_by or enrolled)
    if enroller:  # bounded as a counter's consent to itself is
        longest = min(longest, consent_policy(state).assisted_max_ms)
    what = "an assisted consent" if assisted else "a consent"
    if enroller:
        what += " to the agency that set the resident's key"
    require(
        body["valid_until_ms"] - ctx.time_ms <= longest,
        "validity_exceeds_policy",
        f"{what} lasts at most {longest // 86_400_000} days from when it is recorded "
        "(genesis policy)",
    )
    record = {
        "consent_id": consent_id,
        "resident": who,
        "grantor": body["grantor"],
        "basis": body["basis"],
        "purpose": body["purpose"],
        "data_classes": classes,
        "source": source,
        "recipient": recipient,
        "recipient_contact": f"agency/{recipient}",
        "notice": body["notice"],
        "separate": body["separate"],
        "valid_from_ms": body["valid_from_ms"],
        "valid_until_ms": body["valid_until_ms"],
        "status": "active",
        "assisted": assisted,
        "assisted_details": details,
        "counter_is_recipient": own,
        "enroller_is_recipient": enroller,
        "granted_by": tx.signer,
        "granted_ms": ctx.time_ms,
        "height": ctx.height,
    }
    state.put(f"consent/{consent_id}", record)
    if own or enroller:  # the resident sees a consent its recipient may have taken for itself
        record_access(
            state, who, action="C", agent=tx.signer, entity=consent_id,
            data_class=",".join(classes), purpose=body["purpose"], consent_id=consent_id,
            outcome="granted", reason="counter_is_recipient" if own else "enroller_is_recipient",
            time_ms=ctx.time_ms, height=ctx.height,
        )  # fmt: skip
    event = {"type": "consent_granted", "consent_id": consent_id, "resident": who,
             "assisted": assisted}  # fmt: skip
    return Applied(tx.encode(), (event,))


def grant(state: Overlay, tx: Transaction, ctx: BlockContext) -> Outcome:
    return _grant(state, tx, ctx, assisted=False)


def grant_assisted(state: Overlay, tx: Transaction, ctx: BlockContext) -> Outcome:
    return _grant(state, tx, ctx, assisted=True)


def withdraw(state: Overlay, tx: Transaction, ctx: BlockContext) -> Outcome:
    """By the resident, or at a counter (assisted): the one that recorded the consent, or any
    counter of a kind that keeps all its data classes (withdrawing is as easy as granting)."""
    consent_id = tx.body["consent_id"]
    record = state.get(f"consent/{consent_id}")
    require(isinstance(record, dict), "unknown_consent", "no such consent")
    assert isinstance(record, dict)
    relations = []
    if tx.signer.startswith("resident:"):
        acting = principal(state, tx, ctx, tx.type, record["data_classes"])
        if acting.resident == record["resident"]:
            relations.append(acting.relation)
    if tx.signer == record.get("granted_by"):
        relations.append(Relation.RECORDING_COUNTER)
    authority.check(state, tx.type, tx.signer, relations, classes=record["data_classes"])
    details = tx.body.get("assisted")
    require(
        details is None or details["verification_result"] == "verified",
        "identity_not_verified",
        "the operator did not verify the resident's identity",
    )
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


def consent_status(record: dict[str, Any], now_ms: int) -> str:
    """``expired`` once an active consent ran out: what the resident's list shows, so nobody
    reads a consent as in force that no read would honour."""
    if record.get("status") == "active" and now_ms >= record.get("valid_until_ms", now_ms):
        return "expired"
    return str(record.get("status"))


RULES = {
    "consent.grant": guarded(grant),
    "consent.grant_assisted": guarded(grant_assisted),
    "consent.withdraw": guarded(withdraw),
}
