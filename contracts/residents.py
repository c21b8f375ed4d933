"""Residents: enrolled by an agency after real-name checks, known on the log only by a keyed
pseudonym (HMAC-SHA256 of the ID number under the agencies' network secret) and a public key."""

from typing import Any

from contracts.fields import agency, guarded, hex64, only, require, verifier
from contracts.rules import Applied, BlockContext, Outcome
from contracts.state import Overlay
from contracts.tx import Transaction

ENROLLING_KINDS = {"social_security_bureau", "hospital", "health_commission"}


def resident_signer(pseudonym: str) -> str:
    return f"resident:{pseudonym}"


def resident(state: Overlay, pseudonym: str) -> dict[str, Any] | None:
    record = state.get(f"resident/{pseudonym}")
    return record if isinstance(record, dict) else None


def enroll(state: Overlay, tx: Transaction, ctx: BlockContext) -> Outcome:
    only(tx.body, "pseudonym", "key")
    agency(state, tx.signer, ENROLLING_KINDS)
    pseudonym = hex64(tx.body, "pseudonym")
    key = verifier(tx.body, "key")
    require(resident(state, pseudonym) is None, "already_enrolled", "resident already enrolled")
    state.put(
        f"resident/{pseudonym}",
        {
            "key": key,
            "status": "active",
            "enrolled_by": tx.signer,
            "height": ctx.height,
            "previous_keys": [],
        },
    )
    return Applied(tx.encode(), ({"type": "resident_enrolled", "resident": pseudonym},))


def rotate_key(state: Overlay, tx: Transaction, ctx: BlockContext) -> Outcome:
    only(tx.body, "key")
    require(tx.signer.startswith("resident:"), "wrong_signer", "only the resident rotates its key")
    pseudonym = tx.signer.removeprefix("resident:")
    record = resident(state, pseudonym)
    assert record is not None  # the signature was checked against it
    key = verifier(tx.body, "key")
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
