"""Residents: enrolled by an agency after real-name checks, known on the log only by a keyed
pseudonym (HMAC-SHA256 of the ID number under the agencies' network secret) and a public key."""

from typing import Any

from contracts import ages, authority
from contracts.access_log import record_access
from contracts.authority import SERVICE, Relation
from contracts.fields import guarded, require
from contracts.rules import Applied, BlockContext, Outcome
from contracts.state import Overlay
from contracts.tx import Transaction

ENROLLING_KINDS = SERVICE
MAX_PREVIOUS_KEYS = 64
"""How many rotations a resident signs herself: every revoked key is tried for a signature
her current key does not verify (``revoked_key``, and at admission for an erased resident),
so their number bounds what a forged transaction in her name costs a node."""


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
    """After the counter's real-name check: her key and her age class from the ID (#13 item
    2, ``contracts/ages.py``); a minor's with the day it ends (her 14th or 18th birthday),
    listed so that the block of that day tells her (``guardians.begin_block``)."""
    authority.check(state, tx.type, tx.signer)
    pseudonym, key = tx.body["pseudonym"], tx.body["key"]
    require(resident(state, pseudonym) is None, "already_enrolled", "resident already enrolled")
    age_class, ends = tx.body["age_class"], tx.body.get("class_ends")
    ages.check_enrollment(age_class, ends, ctx.time_ms)
    state.put(
        f"resident/{pseudonym}",
        {
            "key": key,
            "status": "active",
            "enrolled_by": tx.signer,
            "keyed_by": [tx.signer],
            "height": ctx.height,
            "previous_keys": [],
            "age_class": age_class,
            **({"class_ends": ends} if ends is not None else {}),
        },
    )
    if ends is not None:
        ages.register(state, pseudonym, ages.parse_day(ends), ctx.time_ms)
    return Applied(tx.encode(), ({"type": "resident_enrolled", "resident": pseudonym},))


def _herself(state: Overlay, tx: Transaction, ctx: BlockContext) -> str:
    """The resident signing for herself (a child under 14 through her guardian, at a
    counter: ``guardian_required``)."""
    from contracts.acting import principal  # acting reads guardianships, which read residents

    return principal(state, tx, ctx, tx.type).resident


def rotate_key(state: Overlay, tx: Transaction, ctx: BlockContext) -> Outcome:
    """The resident sets her next key with her present one; or, when she lost it or never
    held it (an enroller that registered a key it made), a counter that never set a key of
    hers does, with her present: operator, how identity was verified and the signed form's
    hash on the log, an entry in her access log. The old key is revoked; what was signed
    with it stays as it is (she withdraws a consent with the new key)."""
    details = tx.body.get("assisted")
    if tx.signer.startswith("resident:"):
        pseudonym = _herself(state, tx, ctx)
        authority.check(state, tx.type, tx.signer, [Relation.SUBJECT])
    else:
        pseudonym = tx.body["pseudonym"]
    record = resident(state, pseudonym)
    require(record is not None, "unknown_resident", "resident is not enrolled")
    assert record is not None
    setters = key_setters(record)
    if details is not None:
        fresh = [] if tx.signer in setters else [Relation.NEVER_KEYED]
        authority.check(state, tx.type, tx.signer, fresh)
        require(
            details["verification_result"] == "verified",
            "identity_not_verified",
            "the operator did not verify the resident's identity",
        )
    key = tx.body["key"]
    require(key != record["key"], "bad_field", "the new key is the current key")
    require(
        details is not None or len(record.get("previous_keys", [])) < MAX_PREVIOUS_KEYS,
        "too_many_keys",
        f"a resident signs at most {MAX_PREVIOUS_KEYS} rotations of her key; a counter "
        "that never set a key of hers re-keys her",
    )
    rotated = {**record, "key": key,
               "previous_keys": [*record.get("previous_keys", []), record["key"]]}  # fmt: skip
    if details is not None:
        rekey = {"by": tx.signer, "assisted": details, "time_ms": ctx.time_ms,
                 "height": ctx.height}  # fmt: skip
        rotated |= {"keyed_by": [*setters, tx.signer],
                    "rekeys": [*record.get("rekeys", []), rekey]}  # fmt: skip
        record_access(
            state, pseudonym, action="U", agent=tx.signer, entity="key", data_class="-",
            purpose="-", consent_id=None, outcome="granted", reason="assisted_rekey",
            time_ms=ctx.time_ms, height=ctx.height,
        )  # fmt: skip
    state.put(f"resident/{pseudonym}", rotated)
    event = {"type": "resident_key_rotated", "resident": pseudonym,
             "assisted": details is not None}  # fmt: skip
    return Applied(tx.encode(), (event,))


RULES = {
    "resident.enroll": guarded(enroll),
    "resident.rotate_key": guarded(rotate_key),
}
