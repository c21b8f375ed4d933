"""Basic pension relation transfer between social-security agencies (国办发〔2009〕66号).

APPLIED (resident, or a counter for them) -> ACCEPTED (转入地 sends the 联系函) or REJECTED ->
TRANSFERRED_OUT (转出地: 信息表 and fund transfer, integer fen) -> RECEIVED (转入地 confirms
the commitments match) or DISPUTED (mismatch; 转出地 corrects, back to TRANSFERRED_OUT) ->
COMPLETED. The resident may withdraw until the funds move. Each stage must be acted on within
15 working days (art. 8; ``contracts/calendar.py``); a case past its deadline is overdue. A
deadline that reaches into a year whose arrangement is not set yet is provisional, and is
recomputed in the block that sets the year (``recompute_deadlines``). The basis is statutory (PIPL art. 13(3)).
Who signs each step is in ``contracts/authority.py``; the body's shape was checked before.
"""

from typing import Any

from contracts import authority, calendar
from contracts.authority import Relation
from contracts.fields import agency, guarded, require
from contracts.residents import resident
from contracts.rules import Applied, BlockContext, Outcome
from contracts.state import Overlay
from contracts.tx import Transaction

SSB = {"social_security_bureau"}
STAGE_DAYS = 15
BASIS = {"type": "statutory", "citation": "PIPL art. 13(3); 国办发〔2009〕66号"}
OPEN = {"APPLIED", "ACCEPTED", "TRANSFERRED_OUT", "DISPUTED", "RECEIVED"}


def _case(state: Overlay, case_id: str) -> dict[str, Any]:
    record = state.get(f"pension/{case_id}")
    require(isinstance(record, dict), "unknown_case", "no such transfer case")
    assert isinstance(record, dict)
    return record


def _move(
    state: Overlay,
    case: dict[str, Any],
    status: str,
    ctx: BlockContext,
    tx: Transaction,
    **extra: Any,
) -> Outcome:
    history = [
        *case["history"],
        {"status": status, "by": tx.signer, "at_ms": ctx.time_ms, "height": ctx.height},
    ]
    updated = {**case, **extra, "status": status, "stage_started_ms": ctx.time_ms,
               "history": history}  # fmt: skip
    _put_with_deadline(state, case, updated)
    return Applied(
        tx.encode(), ({"type": "pension_" + status.lower(), "case_id": case["case_id"]},)
    )


def _put_with_deadline(state: Overlay, before: dict[str, Any], case: dict[str, Any]) -> None:
    """Write ``case`` with the deadline of its stage: the end of the 15th working day after the
    stage began, provisional while it reaches into a year not set yet (``deadline_awaits``:
    that year; the case is listed under it once)."""
    key = f"pension/{case['case_id']}"
    if case["status"] in OPEN:
        deadline = calendar.working_deadline(state, case["stage_started_ms"], STAGE_DAYS)
        ms, awaits = deadline.ms, deadline.awaits
    else:
        ms, awaits = None, None
    if awaits is not None and awaits != before.get("deadline_awaits"):
        calendar.await_year(state, awaits, key)
    state.put(key, {**case, "deadline_ms": ms, "deadline_provisional": awaits is not None,
                    "deadline_awaits": awaits})  # fmt: skip


def recompute_deadlines(state: Overlay, year: int) -> int:
    """Once ``year`` is set: recompute the deadline of every open case that awaited it, in the
    order they were listed (the same on every node). How many changed."""
    changed = 0
    for key in calendar.awaiting(state, year):
        case = state.get(key)
        if (
            isinstance(case, dict)
            and case.get("status") in OPEN
            and case.get("deadline_awaits") == year
        ):
            _put_with_deadline(state, case, case)
            changed += 1
    return changed


def apply(state: Overlay, tx: Transaction, ctx: BlockContext) -> Outcome:
    """The resident, or a bureau party to the transfer at its counter, for the resident."""
    body = tx.body
    source, target = body["from_agency"], body["to_agency"]
    assisted = not tx.signer.startswith("resident:")
    relations = [Relation.SUBJECT] if not assisted else []
    relations += [r for r, a in ((Relation.FROM_AGENCY, source), (Relation.TO_AGENCY, target))
                  if a == tx.signer]  # fmt: skip
    authority.check(state, tx.type, tx.signer, relations)
    who = body["resident"] if assisted else tx.signer.removeprefix("resident:")
    case_id = body["case_id"]
    agency(state, source, SSB)
    agency(state, target, SSB)
    require(resident(state, who) is not None, "unknown_resident", "resident is not enrolled")
    require(state.get(f"pension/{case_id}") is None, "duplicate_id", "case_id is taken")
    case = {"case_id": case_id, "resident": who, "from_agency": source, "to_agency": target,
            "basis": BASIS, "assisted": assisted, "history": []}  # fmt: skip
    return _move(state, case, "APPLIED", ctx, tx)


def _step(state: Overlay, tx: Transaction, *statuses: str) -> dict[str, Any]:
    """The case, once the table allows the signer (by its side of the transfer, or as the
    resident) and the case is in one of ``statuses``."""
    case = _case(state, tx.body["case_id"])
    relations = [r for r, who in ((Relation.FROM_AGENCY, case["from_agency"]),
                                  (Relation.TO_AGENCY, case["to_agency"]),
                                  (Relation.SUBJECT, f"resident:{case['resident']}"))
                 if who == tx.signer]  # fmt: skip
    authority.check(state, tx.type, tx.signer, relations)
    require(
        case["status"] in statuses,
        "wrong_state",
        f"case is {case['status']}"
        + (": funds already moved" if tx.type == "pension.withdraw" else ""),
    )
    return case


def accept(state: Overlay, tx: Transaction, ctx: BlockContext) -> Outcome:
    case = _step(state, tx, "APPLIED")
    return _move(state, case, "ACCEPTED", ctx, tx, letter_commitment=tx.body["letter_commitment"])


def reject(state: Overlay, tx: Transaction, ctx: BlockContext) -> Outcome:
    """With a reason code; a note, if any, goes to the vault and only its hash here."""
    case = _step(state, tx, "APPLIED")
    note = {"note_hash": tx.body["note_hash"]} if "note_hash" in tx.body else {}
    return _move(state, case, "REJECTED", ctx, tx, reason=tx.body["reason"], **note)


def transfer_out(state: Overlay, tx: Transaction, ctx: BlockContext) -> Outcome:
    case = _step(state, tx, "ACCEPTED", "DISPUTED")
    return _move(
        state, case, "TRANSFERRED_OUT", ctx, tx,
        info_commitment=tx.body["info_commitment"],
        fund_commitment=tx.body["fund_commitment"],
        amount_fen=tx.body["amount_fen"],
    )  # fmt: skip


def confirm(state: Overlay, tx: Transaction, ctx: BlockContext) -> Outcome:
    """The receiving agency states what it received: RECEIVED if it matches, else DISPUTED."""
    case = _step(state, tx, "TRANSFERRED_OUT")
    got = tuple(tx.body[k] for k in ("info_commitment", "fund_commitment", "amount_fen"))
    sent = (case["info_commitment"], case["fund_commitment"], case["amount_fen"])
    return _move(state, case, "RECEIVED" if got == sent else "DISPUTED", ctx, tx)


def complete(state: Overlay, tx: Transaction, ctx: BlockContext) -> Outcome:
    case = _step(state, tx, "RECEIVED")
    return _move(state, case, "COMPLETED", ctx, tx)


def withdraw(state: Overlay, tx: Transaction, ctx: BlockContext) -> Outcome:
    """The resident may withdraw until the funds move."""
    case = _step(state, tx, "APPLIED", "ACCEPTED")
    return _move(state, case, "WITHDRAWN", ctx, tx)


def is_overdue(case: dict[str, Any], now_ms: int) -> bool:
    return case.get("deadline_ms") is not None and now_ms > case["deadline_ms"]


RULES = {
    "pension.apply": guarded(apply),
    "pension.accept": guarded(accept),
    "pension.reject": guarded(reject),
    "pension.transfer_out": guarded(transfer_out),
    "pension.confirm": guarded(confirm),
    "pension.complete": guarded(complete),
    "pension.withdraw": guarded(withdraw),
}
