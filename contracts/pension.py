"""Basic pension relation transfer between social-security agencies (国办发〔2009〕66号).

APPLIED (resident, or a counter for them) -> ACCEPTED (转入地 sends the 联系函) or REJECTED ->
TRANSFERRED_OUT (转出地: 信息表 and fund transfer, integer fen) -> RECEIVED (转入地 confirms
the commitments match) or DISPUTED (mismatch; 转出地 corrects, back to TRANSFERRED_OUT) ->
COMPLETED. The resident may withdraw until the funds move. Each stage must be acted on within
15 working days; a case past its deadline is overdue. The basis is statutory (PIPL art. 13(3)).
"""

from typing import Any

from contracts.calendar import working_deadline
from contracts.fields import agency, guarded, hex64, ident, integer, only, require, text
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
    deadline = working_deadline(ctx.time_ms, STAGE_DAYS) if status in OPEN else None
    updated = {
        **case,
        **extra,
        "status": status,
        "stage_started_ms": ctx.time_ms,
        "deadline_ms": deadline,
        "history": history,
    }
    state.put(f"pension/{case['case_id']}", updated)
    return Applied(
        tx.encode(), ({"type": "pension_" + status.lower(), "case_id": case["case_id"]},)
    )


def apply(state: Overlay, tx: Transaction, ctx: BlockContext) -> Outcome:
    body = tx.body
    if tx.signer.startswith("resident:"):
        only(body, "case_id", "from_agency", "to_agency")
        who, assisted = tx.signer.removeprefix("resident:"), False
    else:
        only(body, "case_id", "resident", "from_agency", "to_agency")
        agency(state, tx.signer, SSB)
        who, assisted = hex64(body, "resident"), True
    case_id = ident(body, "case_id")
    source, target = ident(body, "from_agency"), ident(body, "to_agency")
    agency(state, source, SSB)
    agency(state, target, SSB)
    require(source != target, "bad_field", "from_agency and to_agency differ")
    require(resident(state, who) is not None, "unknown_resident", "resident is not enrolled")
    require(state.get(f"pension/{case_id}") is None, "duplicate_id", "case_id is taken")
    case = {"case_id": case_id, "resident": who, "from_agency": source, "to_agency": target,
            "basis": BASIS, "assisted": assisted, "history": []}  # fmt: skip
    return _move(state, case, "APPLIED", ctx, tx)


def accept(state: Overlay, tx: Transaction, ctx: BlockContext) -> Outcome:
    only(tx.body, "case_id", "letter_commitment")
    case = _case(state, ident(tx.body, "case_id"))
    require(tx.signer == case["to_agency"], "wrong_signer", "the receiving (转入地) agency accepts")
    require(case["status"] == "APPLIED", "wrong_state", f"case is {case['status']}")
    return _move(
        state, case, "ACCEPTED", ctx, tx, letter_commitment=hex64(tx.body, "letter_commitment")
    )


def reject(state: Overlay, tx: Transaction, ctx: BlockContext) -> Outcome:
    only(tx.body, "case_id", "reason")
    case = _case(state, ident(tx.body, "case_id"))
    require(tx.signer == case["to_agency"], "wrong_signer", "the receiving (转入地) agency rejects")
    require(case["status"] == "APPLIED", "wrong_state", f"case is {case['status']}")
    return _move(state, case, "REJECTED", ctx, tx, reason=text(tx.body, "reason"))


def transfer_out(state: Overlay, tx: Transaction, ctx: BlockContext) -> Outcome:
    only(tx.body, "case_id", "info_commitment", "fund_commitment", "amount_fen")
    case = _case(state, ident(tx.body, "case_id"))
    require(
        tx.signer == case["from_agency"],
        "wrong_signer",
        "the sending (转出地) agency transfers out",
    )
    require(case["status"] in ("ACCEPTED", "DISPUTED"), "wrong_state", f"case is {case['status']}")
    return _move(
        state, case, "TRANSFERRED_OUT", ctx, tx,
        info_commitment=hex64(tx.body, "info_commitment"),
        fund_commitment=hex64(tx.body, "fund_commitment"),
        amount_fen=integer(tx.body, "amount_fen"),
    )  # fmt: skip


def confirm(state: Overlay, tx: Transaction, ctx: BlockContext) -> Outcome:
    """The receiving agency states what it received: RECEIVED if it matches, else DISPUTED."""
    only(tx.body, "case_id", "info_commitment", "fund_commitment", "amount_fen")
    case = _case(state, ident(tx.body, "case_id"))
    require(
        tx.signer == case["to_agency"], "wrong_signer", "the receiving (转入地) agency confirms"
    )
    require(case["status"] == "TRANSFERRED_OUT", "wrong_state", f"case is {case['status']}")
    got = (
        hex64(tx.body, "info_commitment"),
        hex64(tx.body, "fund_commitment"),
        integer(tx.body, "amount_fen"),
    )
    sent = (case["info_commitment"], case["fund_commitment"], case["amount_fen"])
    return _move(state, case, "RECEIVED" if got == sent else "DISPUTED", ctx, tx)


def complete(state: Overlay, tx: Transaction, ctx: BlockContext) -> Outcome:
    only(tx.body, "case_id")
    case = _case(state, ident(tx.body, "case_id"))
    require(
        tx.signer == case["to_agency"], "wrong_signer", "the receiving (转入地) agency completes"
    )
    require(case["status"] == "RECEIVED", "wrong_state", f"case is {case['status']}")
    return _move(state, case, "COMPLETED", ctx, tx)


def withdraw(state: Overlay, tx: Transaction, ctx: BlockContext) -> Outcome:
    only(tx.body, "case_id")
    case = _case(state, ident(tx.body, "case_id"))
    require(
        tx.signer == f"resident:{case['resident']}", "wrong_signer", "only the resident withdraws"
    )
    require(
        case["status"] in ("APPLIED", "ACCEPTED"),
        "wrong_state",
        f"funds already moved: case is {case['status']}",
    )
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
