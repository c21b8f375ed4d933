"""The resident-visible access log, in the fields of a FHIR AuditEvent.

Every release and every read of a resident's records, granted or refused, gets an entry under
the resident's pseudonym, so the resident can list who accessed what, why, and on what basis.
"""

from typing import Any

from contracts.fields import guarded, hex64, ident, only, require, text
from contracts.rules import Applied, BlockContext, Outcome, Rule
from contracts.state import Overlay
from contracts.tx import Transaction


def record_access(
    state: Overlay,
    resident: str,
    *,
    action: str,
    agent: str,
    entity: str,
    data_class: str,
    purpose: str,
    consent_id: str | None,
    outcome: str,
    reason: str | None,
    time_ms: int,
    height: int,
    basis: str | None = None,
    acting_as: str | None = None,
    emergency_reason: str | None = None,
) -> dict[str, Any]:
    """Append an entry; ``basis``, the statute cited when no consent is (a sharing case
    authorized on a statutory basis), appears only in such entries; ``acting_as``
    (``guardian`` or ``delegate``) only in entries of a step another resident took for her,
    whose ``agent`` is then that resident (``resident:<pseudonym>``); ``emergency_reason``
    (a code of ``EMERGENCY_REASONS``) only in entries of a break-glass and of its cases'
    steps (``contracts/emergency.py``)."""
    count = state.get(f"access_count/{resident}") or 0
    assert isinstance(count, int)
    entry = {
        "seq": count,
        "action": action,  # FHIR AuditEvent.action: R(ead) for reads, E(xecute) for releases
        "agent": agent,  # who
        "on_behalf_of": resident,
        "entity": entity,  # what: the case
        "data_class": data_class,
        "purpose": purpose,
        "consent_id": consent_id,
        "outcome": outcome,  # granted | refused
        "reason": reason,
        "recorded_ms": time_ms,
        "height": height,
    }
    if basis is not None:
        entry["basis"] = basis
    if acting_as is not None:
        entry["acting_as"] = acting_as
    if emergency_reason is not None:
        entry["emergency_reason"] = emergency_reason
    state.put(f"access/{resident}/{count:012d}", entry)
    state.put(f"access_count/{resident}", count + 1)
    return entry


def refused(state: Overlay, tx: Transaction, ctx: BlockContext) -> Outcome:
    """A validator node refused a read of a resident's data at its API (no consent, not a
    party): the refusal goes into the resident's access log like any other."""
    only(tx.body, "resident", "agent", "entity", "data_class", "purpose", "reason")
    who = hex64(tx.body, "resident")
    enrolled = isinstance(state.get(f"resident/{who}"), dict)
    require(enrolled, "unknown_resident", "resident is not enrolled")
    entry = record_access(
        state, who, action="R", agent=text(tx.body, "agent"), entity=ident(tx.body, "entity"),
        data_class=text(tx.body, "data_class"), purpose=text(tx.body, "purpose"),
        consent_id=None, outcome="refused", reason=ident(tx.body, "reason"),
        time_ms=ctx.time_ms, height=ctx.height,
    )  # fmt: skip
    return Applied(tx.encode(), ({"type": "access_refused", "resident": who, "seq": entry["seq"]},))


CASE_PARTIES = {"share/": ("requester", "source"), "pension/": ("from_agency", "to_agency"),
                "rights/correction/": ("agency",)}  # fmt: skip
"""Where a case file an agency reads lives, and which of its fields name the agencies party."""


def _share_citation(case: dict[str, Any]) -> str | None:
    """A sharing case's statute, if it was authorized on one (pension cases' own basis is
    recorded with their steps, not here)."""
    basis = case.get("basis") if "requester" in case else None
    return str(basis["citation"]) if isinstance(basis, dict) and "citation" in basis else None


def _emergency_reason(case: dict[str, Any]) -> str | None:
    """A sharing case opened under a break-glass: its reason code (``contracts/emergency.py``)."""
    basis = case.get("basis")
    return (
        str(basis["reason"])
        if isinstance(basis, dict) and basis.get("type") == "emergency"
        else None
    )


def read(state: Overlay, tx: Transaction, ctx: BlockContext) -> Outcome:
    """A validator node granted an agency's read of a resident's case file at its API: the
    read goes into the resident's access log (one read, one entry). The entity must be a case
    of that resident with the agent a party to it: what the API could have granted."""
    only(tx.body, "resident", "agent", "entity", "data_class", "purpose")
    who, agent, entity = (
        hex64(tx.body, "resident"),
        text(tx.body, "agent"),
        ident(tx.body, "entity"),
    )
    enrolled = isinstance(state.get(f"resident/{who}"), dict)
    require(enrolled, "unknown_resident", "resident is not enrolled")
    cases = [
        case
        for prefix, fields in CASE_PARTIES.items()
        if isinstance(case := state.get(prefix + entity), dict)
        and case.get("resident") == who
        and agent in {case.get(f) for f in fields}
    ]
    require(
        bool(cases),
        "unknown_case",
        "the entity is not a case of this resident to which the agent is a party",
    )
    case = cases[0]
    entry = record_access(
        state, who, action="R", agent=agent, entity=entity,
        data_class=text(tx.body, "data_class"), purpose=text(tx.body, "purpose"),
        consent_id=case.get("consent_id"), outcome="granted", reason=None,
        time_ms=ctx.time_ms, height=ctx.height, basis=_share_citation(case),
        emergency_reason=_emergency_reason(case),
    )  # fmt: skip
    return Applied(tx.encode(), ({"type": "access_read", "resident": who, "seq": entry["seq"]},))


RULES: dict[str, Rule] = {"access.refused": guarded(refused), "access.read": guarded(read)}
