"""Guardians (监护人, #13 item 2): a recorded relation that lets one enrolled adult act for a
minor or for an adult a court declared without full capacity.

``guardian.record`` — a counter, the ward and the guardian present: who (both pseudonyms), on
what (``basis``: the article the guardianship rests on, 民法典 arts. 27-33; ``document``: the
kind and hash of the 户口簿, 出生医学证明, court judgment ... it saw), until when, the operator
and how identity was verified (refused ``identity_not_verified`` otherwise). A minor's
guardianship rests on a minor's basis; an adult's only on a court's declaration (民法典 art.
24: ``document.kind`` ``court_judgment``) with the capacity it declared (arts. 21-22).
``guardian.revoke`` — a counter ends it, with the reason (民法典 arts. 36, 39).

What it allows (``contracts.acting.principal``): under 14, only a guardian consents or acts
(PIPL art. 31; 民法典 art. 20: the child's own signature is refused ``guardian_required``);
14 to 17 the minor acts herself and her guardian, her legal representative (民法典 art. 23),
may too: PIPL art. 31 asks a guardian's consent only under 14, and nothing in the PIPL makes
a 14-17's health consent the guardian's (our reading; the minor sees her guardian's acts in
her log and may withdraw them). On her 18th birthday a minor's guardianship ends by itself
(民法典 arts. 17, 39(1)): every check computes her class from the block's time, and
``begin_block`` records the end and tells both.
"""

import datetime as dt
from typing import Any

from contracts import authority, provenance
from contracts.access_log import record_access
from contracts.ages import (
    ADULT,
    MINOR_14_17,
    THROUGH,
    UNDER_14,
    adult_on,
    due_key,
    effective_class,
)
from contracts.ages import register as register_day
from contracts.calendar import ONE_DAY, cst_date
from contracts.fields import guarded, require
from contracts.residents import key_setters, resident
from contracts.rules import Applied, BlockContext, Outcome, Rule
from contracts.state import Overlay, StateView
from contracts.tx import Transaction
from contracts.vocabulary import GUARDIAN_BASES

MAX_GUARDIANS = 4
"""Guardianships in force for one ward at most (two parents, and room for a change)."""
AGENT = "ledger"
"""The agent of an access-log entry no one signed: a block's own step at a class end."""


def _ids(state: StateView, ward: str) -> list[str]:
    ids = state.get(f"guardians/{ward}")
    return [str(i) for i in ids] if isinstance(ids, list) else []


def of_ward(state: StateView, ward: str) -> list[tuple[str, dict[str, Any]]]:
    """The ward's guardianships not ended or revoked (some may have expired since)."""
    found = [(gid, state.get(f"guardianship/{gid}")) for gid in _ids(state, ward)]
    return [(gid, g) for gid, g in found if isinstance(g, dict) and g.get("status") == "active"]


def for_minor(guardianship: dict[str, Any]) -> bool:
    return "capacity" not in guardianship


def problem(guardianship: Any, ward: Any, now_ms: int) -> str | None:
    """None if the guardianship is in force at ``now_ms``; else the stable reason."""
    if not isinstance(guardianship, dict) or not isinstance(ward, dict):
        return "not_acting_for"
    if guardianship.get("status") != "active":
        return f"guardianship_{guardianship.get('status')}"
    if now_ms >= guardianship["valid_until_ms"]:
        return "guardianship_expired"
    if for_minor(guardianship) and effective_class(ward, now_ms) == ADULT:
        return "guardianship_ended"  # she turned 18 (民法典 arts. 17, 39(1))
    return None


def of_pair(state: StateView, ward: str, guardian: str) -> dict[str, Any] | None:
    gid = state.get(f"guardian_pair/{ward}/{guardian}")
    record = state.get(f"guardianship/{gid}") if isinstance(gid, str) else None
    return record if isinstance(record, dict) else None


def capacity(state: StateView, pseudonym: str, now_ms: int) -> str:
    """``full``, ``limited`` or ``none``: by her age class (民法典 arts. 17-20), or for an
    adult by a court's declaration recorded in a guardianship in force (arts. 21-22)."""
    record = state.get(f"resident/{pseudonym}")
    if not isinstance(record, dict):
        return "none"
    cls = effective_class(record, now_ms)
    if cls == UNDER_14:
        return "none"
    found = {
        g.get("capacity")
        for _, g in of_ward(state, pseudonym)
        if not for_minor(g) and problem(g, record, now_ms) is None
    }
    if "none" in found:
        return "none"
    return "limited" if cls == MINOR_14_17 or "limited" in found else "full"


def _tell(state: Overlay, who: str, agent: str, entity: str, reason: str, ctx: BlockContext,
          action: str = "U") -> str:  # fmt: skip
    """Append to her access log; the entry's key."""
    entry = record_access(
        state, who, action=action, agent=agent, entity=entity, data_class="-", purpose="-",
        consent_id=None, outcome="granted", reason=reason, time_ms=ctx.time_ms,
        height=ctx.height,
    )  # fmt: skip
    return f"access/{who}/{entry['seq']:012d}"


def _check_verified(tx: Transaction) -> None:
    require(
        tx.body["assisted"]["verification_result"] == "verified",
        "identity_not_verified",
        "the operator did not verify the identities",
    )


def record(state: Overlay, tx: Transaction, ctx: BlockContext) -> Outcome:
    """A counter records a guardianship, the ward's and the guardian's identities verified and
    the document seen (its hash here, the paper with the counter)."""
    authority.check(state, tx.type, tx.signer)
    _check_verified(tx)
    body = tx.body
    gid, ward_id, guardian_id = body["guardianship_id"], body["resident"], body["guardian"]
    ward, guardian = resident(state, ward_id), resident(state, guardian_id)
    require(ward is not None and guardian is not None, "unknown_resident",
            "the ward and the guardian are enrolled residents")  # fmt: skip
    assert ward is not None and guardian is not None
    require(guardian["status"] == "active", "resident_erased", "the guardian was erased")
    require(state.get(f"guardianship/{gid}") is None, "duplicate_id", "guardianship_id is taken")
    require(
        capacity(state, guardian_id, ctx.time_ms) == "full",
        "guardian_not_capable",
        "a guardian is an adult of full capacity (民法典 arts. 27-28: 具有监护能力)",
    )
    minor = effective_class(ward, ctx.time_ms) != ADULT
    whose = GUARDIAN_BASES[body["basis"]][0]
    require(
        whose == "any" or (whose == "minor") == minor,
        "basis_not_for_ward",
        f"{body['basis']} is a basis for {'an adult' if whose == 'adult' else 'a minor'}'s "
        "guardian",
    )
    if minor:
        require("capacity" not in body, "bad_field", "a minor's capacity is her age's")
    else:
        require(
            "capacity" in body and body["document"]["kind"] == "court_judgment",
            "court_declaration_required",
            "an adult has a guardian only once a court declared her without full capacity "
            "(民法典 art. 24): capacity and the court's judgment",
        )
    require(body["valid_until_ms"] > ctx.time_ms, "bad_field", "valid_until_ms is past")
    current = of_pair(state, ward_id, guardian_id)
    require(
        current is None or problem(current, ward, ctx.time_ms) is not None,
        "already_guardian",
        "this guardianship is recorded and in force",
    )
    active = [i for i, g in of_ward(state, ward_id) if problem(g, ward, ctx.time_ms) is None]
    require(len(active) < MAX_GUARDIANS, "too_many_guardians",
            f"at most {MAX_GUARDIANS} guardianships in force for one ward")  # fmt: skip
    keyed = tx.signer in key_setters(guardian)
    state.put(
        f"guardianship/{gid}",
        {"guardianship_id": gid, "resident": ward_id, "guardian": guardian_id,
         "basis": body["basis"], "citation": GUARDIAN_BASES[body["basis"]][1],
         "document": body["document"], **({"capacity": body["capacity"]} if not minor else {}),
         "valid_until_ms": body["valid_until_ms"], "status": "active", "recorded_by": tx.signer,
         "assisted": body["assisted"], "counter_keyed_guardian": keyed,
         "recorded_ms": ctx.time_ms, "height": ctx.height, "tx_hash": tx.hash.hex()},
    )  # fmt: skip
    # only those in force stay listed (red team 13a): expired ones would pile up, and every
    # step of hers reads the list (``capacity``); their records and pair keys stay
    state.put(f"guardians/{ward_id}", [*active, gid])
    state.put(f"guardian_pair/{ward_id}/{guardian_id}", gid)
    state.put(f"guardian_of/{guardian_id}/{ward_id}", gid)
    reason = "counter_keyed_guardian" if keyed else "guardian_recorded"
    _tell(state, ward_id, tx.signer, gid, reason, ctx, "C")
    _tell(state, guardian_id, tx.signer, gid, "guardian_recorded", ctx, "C")
    event = {"type": "guardian_recorded", "guardianship_id": gid, "resident": ward_id}
    return Applied(tx.encode(), (event,))


def end(state: Overlay, gid: str, guardianship: dict[str, Any], reason: str,
        ctx: BlockContext, status: str = "ended") -> None:  # fmt: skip
    """Close it (``ended`` at 18, ``revoked`` at a counter) and take it off the ward's list."""
    ward = guardianship["resident"]
    state.put(f"guardianship/{gid}", {**guardianship, "status": status, "ended_reason": reason,
                                      "ended_ms": ctx.time_ms, "ended_height": ctx.height})  # fmt: skip
    state.put(f"guardians/{ward}", [i for i in _ids(state, ward) if i != gid])


def revoke(state: Overlay, tx: Transaction, ctx: BlockContext) -> Outcome:
    """A counter ends a guardianship, with the reason (民法典 arts. 36, 39); both are told."""
    authority.check(state, tx.type, tx.signer)
    _check_verified(tx)
    gid = tx.body["guardianship_id"]
    guardianship = state.get(f"guardianship/{gid}")
    require(isinstance(guardianship, dict), "unknown_guardianship", "no such guardianship")
    assert isinstance(guardianship, dict)
    require(guardianship["status"] == "active", "wrong_state",
            f"guardianship is {guardianship['status']}")  # fmt: skip
    end(state, gid, guardianship, tx.body["reason"], ctx, "revoked")
    for who in (guardianship["resident"], guardianship["guardian"]):
        if isinstance(r := resident(state, who), dict) and r["status"] == "active":
            _tell(state, who, tx.signer, gid, "guardian_revoked", ctx)
    event = {"type": "guardian_revoked", "guardianship_id": gid}
    return Applied(tx.encode(), (event,))


# ------------------------------------------------------------------ the block's own step
def _transition(state: Overlay, pseudonym: str, ctx: BlockContext) -> None:
    """Her class changed since her record was written: write the new one, list her 18th
    birthday, tell her and her guardians; at 18 her minor's guardianships end."""
    rec = resident(state, pseudonym)
    if rec is None or rec.get("status") != "active":
        return  # erased: nothing more is processed, nor written in her log (PIPL art. 47)
    now = effective_class(rec, ctx.time_ms)
    if now == rec.get("age_class"):
        return
    updated = {**rec, "age_class": now}
    if now == MINOR_14_17:
        eighteen = adult_on(rec)
        assert eighteen is not None
        updated["class_ends"] = eighteen.isoformat()
        register_day(state, pseudonym, eighteen, ctx.time_ms)
    else:
        updated.pop("class_ends", None)
    state.put(f"resident/{pseudonym}", updated)
    reason = "age_class_14_17" if now == MINOR_14_17 else "age_class_adult"
    told = _tell(state, pseudonym, AGENT, "age_class", reason, ctx)
    # no transaction wrote these: her copy names the enrollment that set the day (red team 13a)
    provenance.derived(state, pseudonym, provenance.enrollment_tx(state, pseudonym), ctx.height,
                       [told, f"resident/{pseudonym}"])  # fmt: skip
    for gid, guardianship in of_ward(state, pseudonym):
        if (resident(state, guardianship["guardian"]) or {}).get("status") == "active":
            key = _tell(state, guardianship["guardian"], AGENT, gid, "ward_" + reason, ctx)
            provenance.derived(state, guardianship["guardian"], guardianship.get("tx_hash"),
                               ctx.height, [key])  # fmt: skip
        if now == ADULT and for_minor(guardianship):
            end(state, gid, guardianship, "ward_of_age", ctx)


MAX_CLASS_ENDS_PER_BLOCK = 256
"""Class ends a block processes at most (red team 13a): many listed under one day (a counter's
crowd of minors) are processed over the next blocks, never all before one block's
transactions. Authority does not wait for them (``effective_class`` reads the block time)."""
NEXT = "ages/next"
"""How many of the day after ``ages/through``'s class ends are processed (absent: none)."""


def begin_block(state: Overlay, ctx: BlockContext) -> None:
    """Before a block's transactions, on every node alike: each CST day since the last one
    processed up to the block's, the class ends listed under it (``ages.register``), in
    listing order, at most ``MAX_CLASS_ENDS_PER_BLOCK`` of them a block, the rest in the next. Reads one key a block when no day has passed; nothing before a minor
    is enrolled. Block time and state only: deterministic."""
    through = state.get(THROUGH)
    if not isinstance(through, str):
        return
    today = cst_date(ctx.time_ms)
    day = dt.date.fromisoformat(through) + ONE_DAY
    if day > today:
        return
    start = state.get(NEXT) or 0
    assert isinstance(start, int)
    budget = MAX_CLASS_ENDS_PER_BLOCK
    while day <= today and budget > 0:
        due = due_key(day)
        count = state.get(due) or 0
        assert isinstance(count, int)
        end = min(count, start + budget)
        for i in range(start, end):
            _transition(state, str(state.get(f"{due}/{i:06d}")), ctx)
        budget -= end - start
        if end < count:
            state.put(NEXT, end)  # the rest of this day in the next block
            return
        state.put(THROUGH, day.isoformat())
        if start:
            state.put(NEXT, 0)
        start = 0
        day += ONE_DAY


RULES: dict[str, Rule] = {
    "guardian.record": guarded(record),
    "guardian.revoke": guarded(revoke),
}
