"""A resident's rights to a copy and to a correction (PIPL arts. 45, 46, 50).

``rights.copy_request`` (PIPL art. 45 查阅、复制): the resident asks for a copy of what the
network holds about her. The request is on the log and in her access log; a node then answers
it with an export signed by its key (``contracts/export.py``): her enrollment record,
consents, cases, proofs of insurance and access log, each item with the log entries it derives
from (``contracts/provenance.py``) and their inclusion proofs to a quorum-cosigned checkpoint.

``rights.correct_request`` (art. 46 更正、补充): she asks the agency that holds a record of hers
to correct or supplement it, with the correction's commitment (its text stays off the log,
with her and the agency) and a ground code. ``rights.correct_decide``: the named agency, and
only it, decides (accepted, partial or refused), a refusal or a partial decision always with
its reason code (art. 50: 拒绝的，应当说明理由), within the genesis policy's working days
(``policy/rights``; no statute sets the number, ``contracts/policy.py``). A decision after the
deadline is taken and marked ``late``: the resident gets her answer, and the lateness stays on
record. Requests and decisions are in her access log.

Every resident-signed step asks ``contracts.acting.principal`` whom it acts for. The body's
shape was checked before (``contracts/shapes.py``).
"""

from typing import Any

from contracts import authority, calendar
from contracts.access_log import record_access
from contracts.acting import Acting, principal
from contracts.authority import SERVICE, Relation
from contracts.fields import agency, guarded, require
from contracts.policy import rights_policy
from contracts.residents import key_setters, resident
from contracts.rules import Applied, BlockContext, Outcome
from contracts.state import Overlay, StateView
from contracts.tx import Transaction
from contracts.vocabulary import DATA_CLASSES, PROOF_SCHEMES

COPY, CORRECTION = "rights/copy/", "rights/correction/"
PURPOSE = "PATRQT"
"""本人申请: what the resident asked for herself (HL7 PurposeOfUse)."""


def _agent(acting: Acting, tx: Transaction) -> tuple[str, str | None]:
    """Who her access log names, and as what (a guardian or a delegate acting for her)."""
    if acting.by is not None:
        return f"resident:{acting.by}", acting.relation.value
    return tx.signer, None


def _acting(state: Overlay, tx: Transaction, ctx: BlockContext, classes: list[str]) -> Acting:
    acting = principal(state, tx, ctx, tx.type, classes)
    authority.check(state, tx.type, tx.signer, [acting.relation])
    require(resident(state, acting.resident) is not None, "unknown_resident",
            "resident is not enrolled")  # fmt: skip
    return acting


def copy_request(state: Overlay, tx: Transaction, ctx: BlockContext) -> Outcome:
    """She (or one acting for her in every data class) asks for her copy: granted by rule,
    a node serves it (``GET /v1/rights/copies/{request_id}``) to her and to the one who asked."""
    acting = _acting(state, tx, ctx, sorted(DATA_CLASSES))
    request_id = tx.body["request_id"]
    require(state.get(COPY + request_id) is None, "duplicate_id", "request_id is taken")
    agent, acting_as = _agent(acting, tx)
    entry = record_access(
        state, acting.resident, action="R", agent=agent, entity=request_id, data_class="-",
        purpose=PURPOSE, consent_id=None, outcome="granted", reason="copy_requested",
        time_ms=ctx.time_ms, height=ctx.height, acting_as=acting_as,
    )  # fmt: skip
    state.put(COPY + request_id,
              {"request_id": request_id, "resident": acting.resident, "by": acting.by,
               "requested_ms": ctx.time_ms, "height": ctx.height, "tx_hash": tx.hash.hex(),
               "notice_seq": entry["seq"]})  # fmt: skip
    return Applied(tx.encode(), ({"type": "copy_requested", "request_id": request_id},))


def held(state: StateView, who: str, record: dict[str, Any]) -> tuple[set[str], str] | None:
    """The agencies that hold the record she names (if it is hers) and its data class; None
    for a record that does not exist or is another resident's (one answer: no probing)."""
    kind = record["type"]
    if kind == "enrollment":
        found = state.get(f"resident/{who}")
        return (set(key_setters(found)), "-") if isinstance(found, dict) else None
    key = {"consent": "consent/", "health_case": "share/", "pension_case": "pension/",
           "proof": "proof/"}[kind] + record["id"]  # fmt: skip
    found = state.get(key)
    if not isinstance(found, dict) or found.get("resident") != who:
        return None
    if kind == "consent":
        return ({found["source"], found["recipient"], found["granted_by"]},
                ",".join(found["data_classes"]))  # fmt: skip
    if kind == "health_case":
        return {found["source"], found["requester"]}, found["data_class"]
    if kind == "pension_case":
        return {found["from_agency"], found["to_agency"]}, "pension_account"
    return {found["issuer"]}, PROOF_SCHEMES[found["scheme"]][3]


def correct_request(state: Overlay, tx: Transaction, ctx: BlockContext) -> Outcome:
    """She names the agency and its record, why (a ground code) and the commitment of the
    correction she hands it off the log; the agency's working days start now."""
    body = tx.body
    acting = _acting(state, tx, ctx, sorted(DATA_CLASSES))
    request_id, named = body["request_id"], body["agency"]
    require(state.get(CORRECTION + request_id) is None, "duplicate_id", "request_id is taken")
    agency(state, named, SERVICE)
    holding = held(state, acting.resident, body["record"])
    require(holding is not None, "unknown_record", "no such record of this resident")
    assert holding is not None
    holders, data_class = holding
    require(named in holders, "not_holder", f"{named} does not hold this record")
    days = rights_policy(state).correction_working_days
    deadline = calendar.working_deadline(state, ctx.time_ms, days)
    key = CORRECTION + request_id
    if deadline.awaits is not None:
        calendar.await_year(state, deadline.awaits, key)
    agent, acting_as = _agent(acting, tx)
    record_access(
        state, acting.resident, action="C", agent=agent, entity=request_id,
        data_class=data_class, purpose=PURPOSE, consent_id=None, outcome="granted",
        reason="correction_requested", time_ms=ctx.time_ms, height=ctx.height,
        acting_as=acting_as,
    )  # fmt: skip
    state.put(key, {
        "request_id": request_id, "resident": acting.resident, "by": acting.by,
        "agency": named, "record": body["record"], "data_class": data_class,
        "ground": body["ground"], "content_commitment": body["content_commitment"],
        "status": "REQUESTED", "requested_ms": ctx.time_ms, "height": ctx.height,
        "working_days": days, "deadline_ms": deadline.ms,
        "deadline_provisional": deadline.awaits is not None, "deadline_awaits": deadline.awaits,
    })  # fmt: skip
    return Applied(tx.encode(), ({"type": "correction_requested", "request_id": request_id},))


def correct_decide(state: Overlay, tx: Transaction, ctx: BlockContext) -> Outcome:
    """The agency the request names decides, once: accepted (maybe with the commitment of the
    corrected record), partial or refused (each with a reason code). After the deadline it is
    still taken, and marked ``late`` for good."""
    body = tx.body
    found = state.get(CORRECTION + body["request_id"])
    require(isinstance(found, dict), "unknown_request", "no such correction request")
    assert isinstance(found, dict)
    named = [Relation.ADDRESSEE] if tx.signer == found["agency"] else []
    authority.check(state, tx.type, tx.signer, named)
    require(found["status"] == "REQUESTED", "wrong_state",
            f"the request was decided: {found['status']}")  # fmt: skip
    decision, reason = body["decision"], body.get("reason")
    late = ctx.time_ms > found["deadline_ms"]
    decided = {
        **found, "status": decision.upper(), "reason": reason,
        "new_commitment": body.get("new_commitment"), "note_hash": body.get("note_hash"),
        "decided_by": tx.signer, "decided_ms": ctx.time_ms, "decided_height": ctx.height,
        "late": late,
    }  # fmt: skip
    if who_active(state, found["resident"]):
        record_access(
            state, found["resident"], action="U", agent=tx.signer, entity=found["request_id"],
            data_class=found["data_class"], purpose=PURPOSE, consent_id=None,
            outcome="refused" if decision == "refused" else "granted",
            reason=reason or "correction_" + decision, time_ms=ctx.time_ms, height=ctx.height,
        )  # fmt: skip
    state.put(CORRECTION + found["request_id"], decided)
    event = {"type": "correction_decided", "request_id": found["request_id"],
             "decision": decision, "late": late}  # fmt: skip
    return Applied(tx.encode(), (event,))


def who_active(state: StateView, pseudonym: str) -> bool:
    record = state.get(f"resident/{pseudonym}")
    return isinstance(record, dict) and record.get("status") == "active"


def is_overdue(request: dict[str, Any], now_ms: int) -> bool:
    """Past its deadline: still undecided, or decided late (which stays on record)."""
    if request.get("status") == "REQUESTED":
        return bool(now_ms > request["deadline_ms"])
    return bool(request.get("late"))


def recompute_deadlines(state: Overlay, year: int) -> int:
    """Once ``year`` is set: recompute the deadline of every undecided correction that awaited
    it, in the order they were listed. How many changed."""
    changed = 0
    for key in calendar.awaiting(state, year):
        found = state.get(key) if key.startswith(CORRECTION) else None
        if (
            isinstance(found, dict)
            and found.get("status") == "REQUESTED"
            and found.get("deadline_awaits") == year
        ):
            deadline = calendar.working_deadline(state, found["requested_ms"],
                                                 found["working_days"])  # fmt: skip
            if deadline.awaits is not None:
                calendar.await_year(state, deadline.awaits, key)
            state.put(key, {**found, "deadline_ms": deadline.ms,
                            "deadline_provisional": deadline.awaits is not None,
                            "deadline_awaits": deadline.awaits})  # fmt: skip
            changed += 1
    return changed


RULES = {
    "rights.copy_request": guarded(copy_request),
    "rights.correct_request": guarded(correct_request),
    "rights.correct_decide": guarded(correct_decide),
}
