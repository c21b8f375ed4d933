"""Erasure (PIPL art. 47): once a resident is erased, nothing about them is processed.

``resident.erase`` ends the resident's active consents and proofs of insurance, closes their
open health cases and withdraws their pension applications whose account has not moved; their
key is revoked (the common checks answer ``resident_erased`` to anything it signs). Every later transaction that
names them, by a ``resident`` or ``pseudonym`` field or by a case or consent of theirs, is
refused as ``resident_erased`` before its rule runs. One exception, by rule: a pension
transfer whose account already left the sending bureau (its funds, or within one pooling area
its relation and file) finishes (docs/domain.md says why).

To find a resident's records at erasure without scanning state, every record that names a
resident is indexed when it is created (``records/<pseudonym>/<seq>``).
"""

from typing import Any

from contracts.acting import principal
from contracts.fields import guarded, hex64, only, require
from contracts.residents import key_setters, resident
from contracts.rules import (
    Applied,
    BlockContext,
    Outcome,
    Rejected,
    Rule,
    erased_signer,
    signer_key,
)
from contracts.state import Overlay, StateView
from contracts.tx import SignatureCheck, Transaction

ERASED_CODE = "resident_erased"
CREATES: dict[str, tuple[str, str]] = {
    "consent.grant": ("consent/", "consent_id"),
    "consent.grant_assisted": ("consent/", "consent_id"),
    "health.request": ("share/", "case_id"),
    "pension.apply": ("pension/", "case_id"),
    "proof.issue": ("proof/", "proof_id"),
    "rights.copy_request": ("rights/copy/", "request_id"),
    "rights.correct_request": ("rights/correction/", "request_id"),
    "guardian.record": ("guardianship/", "guardianship_id"),
    "delegation.grant": ("delegation/", "delegation_id"),
    "delegation.grant_assisted": ("delegation/", "delegation_id"),
    "health.emergency": ("emergency/", "emergency_id"),
    "basis.record": ("basis/", "basis_id"),
}
"""Transaction type -> (state prefix, body field) of the record naming a resident it creates."""
CASES = {"health.": "share/", "pension.": "pension/"}
"""Where the ``case_id`` of a type's namespace points."""
OPEN_SHARES = {"REQUESTED", "AUTHORIZED", "RELEASED"}
UNMOVED = {"APPLIED", "ACCEPTED"}
ACCOUNT_MOVED = {"TRANSFERRED_OUT", "DISPUTED"}
"""The sending bureau has cleared the account: its funds moved (``inter_area``, and the
individual account in a ``scheme_link``), or its relation and file (``intra_area``)."""
FINISHING = {"pension.transfer_out", "pension.complete"}
"""The steps that finish a transfer whose account moved: 转出地 corrects a disputed transfer,
转入地 completes it."""
REKEY_ERASE_HOLD_MS = 15 * 86_400_000
"""No erasure, by anyone, until this long after an assisted re-key: erasure is final, and a
counter that re-keyed a resident under a key it made could otherwise erase her at once
(as her last key setter, or signing as her). In that time she sees the re-key in her access
log and is re-keyed at another counter, which takes both powers away from it."""


def is_erased(state: StateView, pseudonym: str) -> bool:
    record = state.get(f"resident/{pseudonym}")
    return isinstance(record, dict) and record.get("status") == "erased"


def _record(state: StateView, key: str) -> dict[str, Any] | None:
    value = state.get(key)
    return value if isinstance(value, dict) else None


def _named(state: StateView, tx: Transaction) -> list[tuple[str, dict[str, Any] | None]]:
    """The residents a transaction names, each with the record that names them (None when
    named directly). Total on any body: what is not a string names nobody."""
    body = tx.body
    named: list[tuple[str, dict[str, Any] | None]] = []
    if tx.signer.startswith("resident:"):
        named.append((tx.signer.removeprefix("resident:"), None))
    for name in ("resident", "pseudonym", "on_behalf_of"):
        if isinstance(body.get(name), str):
            named.append((body[name], None))
    if isinstance(body.get("consent_id"), str):
        consent = _record(state, f"consent/{body['consent_id']}")
        if consent is not None and isinstance(consent.get("resident"), str):
            named.append((consent["resident"], consent))
    if tx.type.startswith("proof.") and isinstance(body.get("proof_id"), str):
        proof = _record(state, f"proof/{body['proof_id']}")
        if proof is not None and isinstance(proof.get("resident"), str):
            named.append((proof["resident"], proof))
    if tx.type == "rights.correct_decide" and isinstance(body.get("request_id"), str):
        request = _record(state, f"rights/correction/{body['request_id']}")
        if request is not None and isinstance(request.get("resident"), str):
            named.append((request["resident"], request))
    prefix = next((p for ns, p in CASES.items() if tx.type.startswith(ns)), None)
    if prefix is not None and isinstance(body.get("case_id"), str):
        case = _record(state, f"{prefix}{body['case_id']}")
        if case is not None and isinstance(case.get("resident"), str):
            named.append((case["resident"], case))
    return named


def _finishing(tx: Transaction, record: dict[str, Any] | None) -> bool:
    """A step that finishes a pension transfer whose account had moved before erasure."""
    return (
        tx.type in FINISHING
        and record is not None
        and record.get("basis", {}).get("type") == "statutory"
        and record.get("status") in ACCOUNT_MOVED
    )


def erased_subject(state: StateView, tx: Transaction) -> Rejected | None:
    """``resident_erased`` if the transaction names an erased resident, else None."""
    for pseudonym, record in _named(state, tx):
        if is_erased(state, pseudonym) and not _finishing(tx, record):
            return Rejected(ERASED_CODE, f"resident {pseudonym[:12]}… was erased (PIPL art. 47)")
    return None


def read_refusal(state: StateView, pseudonym: str, record: Any) -> str | None:
    """Why a read of ``record`` (a case, or None for the resident's own lists) about
    ``pseudonym`` is refused for erasure, or None: the same rule as for transactions, so the
    two agencies finishing a transfer whose account moved may still read its case."""
    if not is_erased(state, pseudonym):
        return None
    if (
        isinstance(record, dict)
        and record.get("basis", {}).get("type") == "statutory"
        and record.get("status") in ACCOUNT_MOVED
    ):
        return None
    return ERASED_CODE


def admission_refusal(state: StateView, tx: Transaction, check: SignatureCheck) -> Rejected | None:
    """What a node answers at admission, before anything about an erased resident reaches a
    mempool: said only to a transaction its signer's key really signed (an active key, or
    the erased resident's revoked one), so that erasure is not told to strangers."""
    if erased_signer(state, tx, check):
        return Rejected(ERASED_CODE, f"{tx.signer} was erased: its key is revoked")
    key = signer_key(state, tx.signer)
    if key is None or not check(tx, key):
        return None
    return erased_subject(state, tx)


def _index(state: Overlay, tx: Transaction) -> None:
    created = CREATES.get(tx.type)
    if created is None:
        return
    prefix, field = created
    key = f"{prefix}{tx.body[field]}"
    record = _record(state, key)
    assert record is not None and isinstance(record.get("resident"), str), key
    # a guardianship or a delegation also under the one who acts: her erasure ends it too
    # (民法典 arts. 173(4), 39(3); red team 13a)
    acting = record.get("guardian") or record.get("delegate")
    for who in (record["resident"], *([acting] if isinstance(acting, str) else [])):
        count = state.get(f"records_count/{who}") or 0
        assert isinstance(count, int)
        state.put(f"records/{who}/{count:012d}", key)
        state.put(f"records_count/{who}", count + 1)


def records(state: StateView, pseudonym: str) -> list[str]:
    """The state keys of every record naming the resident, oldest first."""
    count = state.get(f"records_count/{pseudonym}") or 0
    assert isinstance(count, int)
    return [str(state.get(f"records/{pseudonym}/{i:012d}")) for i in range(count)]


def guard(rule: Rule) -> Rule:
    """Refuse a transaction naming an erased resident before ``rule`` runs; index the
    record naming a resident that an applied one created."""

    def run(state: Overlay, tx: Transaction, ctx: BlockContext) -> Outcome:
        if (refusal := erased_subject(state, tx)) is not None:
            return refusal
        outcome = rule(state, tx, ctx)
        if isinstance(outcome, Applied) and outcome.refused is None:  # a refusal creates none
            _index(state, tx)
        return outcome

    return run


def erase(state: Overlay, tx: Transaction, ctx: BlockContext) -> Outcome:
    """PIPL art. 47: the resident (or, on request, the agency that last set their key at a
    counter: the enroller, or a counter that re-keyed them since, so that an enroller that
    made the key cannot erase her after she took her identity back; not within
    ``REKEY_ERASE_HOLD_MS`` of an assisted re-key) has the off-log key
    material and salts destroyed (each node's vault, when it commits this) and their
    processing stopped here; the pseudonym stays on the log but identifies nothing."""
    if tx.signer.startswith("resident:"):
        only(tx.body)
        # herself, not under 14 (her guardian asks at the counter that set her key)
        pseudonym = principal(state, tx, ctx, tx.type).resident
    else:
        only(tx.body, "pseudonym")
        pseudonym = hex64(tx.body, "pseudonym")
    record = resident(state, pseudonym)
    require(record is not None, "unknown_resident", "resident is not enrolled")
    assert record is not None
    require(record["status"] == "active", "wrong_state", "resident already erased")
    require(
        tx.signer in (f"resident:{pseudonym}", key_setters(record)[-1]),
        "wrong_signer",
        "the resident, or the agency that last set their key at a counter (enrolled or "
        "re-keyed them), requests erasure",
    )
    rekeys = record.get("rekeys") or []
    held_until = rekeys[-1]["time_ms"] + REKEY_ERASE_HOLD_MS if rekeys else ctx.time_ms
    require(
        ctx.time_ms >= held_until,
        "erasure_held",
        f"erasure is final: not until {REKEY_ERASE_HOLD_MS // 86_400_000} days after the "
        "resident was re-keyed at a counter, so that she can see it and be re-keyed elsewhere",
    )
    closed: dict[str, int] = {"consents": 0, "health_cases": 0, "pension_cases": 0, "proofs": 0,
                              "corrections": 0}  # fmt: skip
    for key in records(state, pseudonym):
        item = _record(state, key)
        if item is None:
            continue
        if key.startswith("consent/") and item["status"] == "active":
            state.put(key, {**item, "status": "erased", "ended_ms": ctx.time_ms,
                            "ended_height": ctx.height})  # fmt: skip
            closed["consents"] += 1
        elif key.startswith("share/") and item["status"] in OPEN_SHARES:
            state.put(key, {**item, "status": "ERASED", "status_at_erasure": item["status"],
                            "closed_ms": ctx.time_ms, "closed_height": ctx.height})  # fmt: skip
            closed["health_cases"] += 1
        elif key.startswith("pension/") and item["status"] in UNMOVED:
            step = {"status": "WITHDRAWN", "by": tx.signer, "at_ms": ctx.time_ms,
                    "height": ctx.height, "erasure": True}  # fmt: skip
            state.put(key, {**item, "status": "WITHDRAWN", "stage_started_ms": ctx.time_ms,
                            "deadline_ms": None, "deadline_provisional": False,
                            "deadline_awaits": None, "window": None, "window_agency": None,
                            "history": [*item["history"], step]})  # fmt: skip
            closed["pension_cases"] += 1
        elif key.startswith(("delegation/", "guardianship/")) and item["status"] == "active":
            # ends with her, as a death ends it (民法典 arts. 173(4), 39(3))
            state.put(key, {**item, "status": "erased", "ended_ms": ctx.time_ms,
                            "ended_height": ctx.height})  # fmt: skip
        elif key.startswith(("emergency/", "basis/")) and item["status"] in ("open", "in_force"):
            state.put(key, {**item, "status": "erased", "ended_ms": ctx.time_ms,
                            "ended_height": ctx.height})  # fmt: skip
        elif key.startswith("proof/") and item["status"] == "active":
            state.put(key, {**item, "status": "erased", "ended_ms": ctx.time_ms,
                            "ended_height": ctx.height})  # fmt: skip
            closed["proofs"] += 1
        elif key.startswith("rights/correction/") and item["status"] == "REQUESTED":
            state.put(key, {**item, "status": "ERASED", "closed_ms": ctx.time_ms,
                            "closed_height": ctx.height})  # fmt: skip
            closed["corrections"] += 1
    state.put(
        f"resident/{pseudonym}",
        {**record, "status": "erased", "erased_height": ctx.height, "erased_by": tx.signer},
    )
    return Applied(
        tx.encode(), ({"type": "resident_erased", "resident": pseudonym, "closed": closed},)
    )


RULES: dict[str, Rule] = {"resident.erase": guarded(erase)}
