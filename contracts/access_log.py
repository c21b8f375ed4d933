"""The resident-visible access log, in the fields of a FHIR AuditEvent.

Every release and every read of a resident's records, granted or refused, gets an entry under
the resident's pseudonym, so the resident can list who accessed what, why, and on what basis.
"""

from typing import Any

from contracts.state import Overlay


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
) -> dict[str, Any]:
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
    state.put(f"access/{resident}/{count:012d}", entry)
    state.put(f"access_count/{resident}", count + 1)
    return entry
