"""Residents: enrolled by an agency after real-name checks, known on the log only by a keyed
pseudonym (HMAC-SHA256 of the ID number under the agencies' network secret) and a public key."""

from typing import Any

from contracts import authority
from contracts.authority import SERVICE, Relation
from contracts.fields import guarded, require
from contracts.rules import Applied, BlockContext, Outcome
from contracts.state import Overlay
from contracts.tx import Transaction

ENROLLING_KINDS = SERVICE


def resident_signer(pseudonym: str) -> str:
    return f"resident:{pseudonym}"


def resident(state: Overlay, pseudonym: str) -> dict[str, Any] | None:
    record = state.get(f"resident/{pseudonym}")
    return record if isinstance(record, dict) else None


def key_setters(record: dict[str, Any]) -> list[str]:
    """The agencies that set a key of this resident at a counter (enrolled or re-keyed her),
    oldest first. Any of them may have made the key and signed with it: a consent to one of
    them, or the authorization of its request, signed with the resident's key cannot be told
    apart from one it signed itself, so it is marked (``enroller_is_recipient``,
    ``enroller_is_requester``) whatever rotations happened since."""
    keyed = record.get("keyed_by")
    return [str(a) for a in keyed] if isinstance(keyed, list) else [str(record["enrolled_by"])]


def enroll(state: Overlay, tx: Transaction, ctx: BlockContext) -> Outcome:
    authority.check(state, tx.type, tx.signer)
    pseudonym, key = tx.body["pseudonym"], tx.body["key"]
    require(resident(state, pseudonym) is None, "already_enrolled", "resident already enrolled")
    state.put(
        f"resident/{pseudonym}",
        {
            "key": key,
            "status": "active",
            "enrolled_by": tx.signer,
            "keyed_by": [tx.signer],
            "height": ctx.height,
            "previous_keys": [],
        },
    )
    return Applied(tx.encode(), ({"type": "resident_enrolled", "resident": pseudonym},))


def rotate_key(state: Overlay, tx: Transaction, ctx: BlockContext) -> Outcome:
    subject = [Relation.SUBJECT] if tx.signer.startswith("resident:") else []
    authority.check(state, tx.type, tx.signer, subject)
    pseudonym = tx.signer.removeprefix("resident:")
    record = resident(state, pseudonym)
    assert record is not None  # the signature was checked against it
    key = tx.body["key"]
    require(key != record["key"], "bad_field", "the new key is the current key")
    state.put(
        f"resident/{pseudonym}",
        {**record, "key": key, "previous_keys": [*record.get("previous_keys", []), record["key"]]},
    )
    return Applied(tx.encode(), ({"type": "resident_key_rotated", "resident": pseudonym},))


RULES = {
    "resident.enroll": guarded(enroll),
    "resident.rotate_key": guarded(rotate_key),
}
