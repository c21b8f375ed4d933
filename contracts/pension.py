"""Basic pension transfer between social-security bureaus, as the rules have it.

Three kinds (``kind``; ``vocabulary.PENSION_KINDS``): ``inter_area``, between pooling areas
(社会保险法 art. 19, 国办发〔2009〕66号 art. 8): relation, file and funds move; ``intra_area``,
within one pooling area (浙江省职工基本养老保险条例 art. 28): relation and file, no funds;
``scheme_link``, the urban-rural residents' scheme <-> the employees' scheme at retirement age
(人社部发〔2014〕17号, with its ``direction``): the individual account moves, no pooled fund.

All three have the same three windows, one per party and step (66号 art. 8; 17号 art. 7):

- APPLIED: the receiving bureau (转入地; for a link 待遇领取地) reviews within 15 working days and
  issues the 联系函 (``pension.accept`` -> ACCEPTED) or refuses with a reason code
  (``pension.reject`` -> REJECTED);
- ACCEPTED: the sending bureau (转出地) within 15 working days of the 联系函 clears the account,
  sends the 信息表 and moves the funds (``pension.transfer_out`` -> TRANSFERRED_OUT);
- TRANSFERRED_OUT: the receiving bureau within 15 working days of receipt finishes and tells
  the person (``pension.complete`` -> COMPLETED), stating the receipts of what it received
  (``receipt``: computable only with the values and salt, never copied from the log);
  if their locks do not match the commitments sent the case is DISPUTED (the fields named) and goes back to the
  sending bureau, which corrects it (``pension.transfer_out`` again) within 15 working days.

The 信息表 values (contribution months, individual account and pooled fund in integer fen)
are personal data about a pseudonymous person (PIPL art. 4): the log carries one salted
commitment per value (``info_commitment``), the values and salt travel between the bureaus
with the 信息表. Every step is a notice in the resident's access log (经办条例 art. 16). The
resident may withdraw until the account leaves the sending bureau. Deadlines come from the
calendar in state (``contracts/calendar.py``), provisional while they reach into a year not
set yet and recomputed in the block that sets it (``recompute_deadlines``). The basis is
statutory (PIPL art. 13(3)) with the rules of the case's kind. Who signs each step is in
``contracts/authority.py``; the body's shape was checked before.
"""

import hashlib
from typing import Any

from contracts import authority, calendar
from contracts.access_log import record_access
from contracts.acting import principal
from contracts.authority import Relation
from contracts.fields import agency, guarded, require
from contracts.residents import resident
from contracts.rules import Applied, BlockContext, Outcome
from contracts.state import Overlay
from contracts.tx import Transaction
from contracts.vocabulary import PENSION_KINDS
from signing.canonical import canonical_json

SSB = {"social_security_bureau"}
STAGE_DAYS = 15
OPEN = {"APPLIED", "ACCEPTED", "TRANSFERRED_OUT", "DISPUTED"}
WINDOWS = {
    "APPLIED": ("to_agency", "review"),
    "ACCEPTED": ("from_agency", "transfer"),
    "TRANSFERRED_OUT": ("to_agency", "finish"),
    "DISPUTED": ("from_agency", "correct"),
}
"""Whose 15 working days an open status is, and for which step."""
INFO_FIELDS = ("contribution_months", "individual_account_fen", "pooled_fund_fen")
"""The 信息表's values (integers): contribution months, the individual account's balance and
the pooled fund moved, in fen."""
FUNDS = {"inter_area": INFO_FIELDS, "intra_area": INFO_FIELDS[:2], "scheme_link": INFO_FIELDS[:2]}
"""The values a kind's 信息表 commits to: the pooled fund moves only between pooling areas
(66号 art. 3; 17号 arts. 4-5 move the individual account only; within one area nothing
moves but the record, 浙江 art. 28)."""
DATA_CLASS, PURPOSE = "pension_account", "MEMADMIN"


def receipt(salt: bytes, case_id: str, field: str, value: int) -> str:
    """Hex SHA-256(salt ‖ RFC 8785 {case_id, field, value}): what only a holder of the
    信息表 (its value and salt) can compute; the receiving bureau states it in
    ``pension.complete``. Never on the log before then."""
    return hashlib.sha256(
        salt + canonical_json({"case_id": case_id, "field": field, "value": value})
    ).hexdigest()


def lock(receipt_hex: str) -> str:
    """Hex SHA-256 of a receipt's 32 bytes: the commitment the log carries. A receiving bureau
    that copies it from the log has no receipt (red team 12b: a copy completed the case)."""
    return hashlib.sha256(bytes.fromhex(receipt_hex)).hexdigest()


def info_commitment(salt: bytes, case_id: str, field: str, value: int) -> str:
    """One 信息表 value's commitment, bound to its case and field, hidden by the salt that
    travels with the 信息表: the lock of its receipt."""
    return lock(receipt(salt, case_id, field, value))


def info_commitments(salt: bytes, case_id: str, values: dict[str, int]) -> dict[str, str]:
    """The commitments of a 信息表's values, as ``pension.transfer_out`` carries them."""
    return {f: info_commitment(salt, case_id, f, v) for f, v in values.items()}


def receipts(salt: bytes, case_id: str, values: dict[str, int]) -> dict[str, str]:
    """The receipts of the values received, as ``pension.complete`` carries them."""
    return {f: receipt(salt, case_id, f, v) for f, v in values.items()}


def _case(state: Overlay, case_id: str) -> dict[str, Any]:
    record = state.get(f"pension/{case_id}")
    require(isinstance(record, dict), "unknown_case", "no such transfer case")
    assert isinstance(record, dict)
    return record


def _notify(state: Overlay, case: dict[str, Any], reason: str, tx: Transaction,
            ctx: BlockContext, action: str = "U") -> None:  # fmt: skip
    """The step as a notice in the resident's access log (经办条例 art. 16): who, which case,
    what (the step's code, or a refusal's reason). Not for an erased resident, whose log gets
    nothing new (a transfer that finishes after erasure finishes silently)."""
    record = state.get(f"resident/{case['resident']}")
    if isinstance(record, dict) and record.get("status") == "active":
        record_access(
            state, case["resident"], action=action, agent=tx.signer, entity=case["case_id"],
            data_class=DATA_CLASS, purpose=PURPOSE, consent_id=None, outcome="granted",
            reason=reason, time_ms=ctx.time_ms, height=ctx.height,
        )  # fmt: skip


def _move(
    state: Overlay,
    case: dict[str, Any],
    status: str,
    ctx: BlockContext,
    tx: Transaction,
    notice: str | None = None,
    **extra: Any,
) -> Outcome:
    """Write the step, with its deadline, and tell the resident (``notice``: the reason code
    of the entry; by default ``pension_<status>``)."""
    reason = notice or "pension_" + status.lower()
    history = [
        *case["history"],
        {"status": status, "by": tx.signer, "at_ms": ctx.time_ms, "height": ctx.height},
    ]
    updated = {**case, **extra, "status": status, "stage_started_ms": ctx.time_ms,
               "history": history}  # fmt: skip
    _put_with_deadline(state, case, updated)
    _notify(state, updated, reason, tx, ctx, "C" if status == "APPLIED" else "U")
    event = {"type": "pension_" + status.lower(), "case_id": case["case_id"]}
    if notice is not None:
        event["reason"] = notice
    return Applied(tx.encode(), (event,))


def _put_with_deadline(state: Overlay, before: dict[str, Any], case: dict[str, Any]) -> None:
    """Write ``case`` with its window (whose step it is) and the deadline of its stage: the end
    of the 15th working day after the stage began, provisional while it reaches into a year not
    set yet (``deadline_awaits``: that year; the case is listed under it once)."""
    key = f"pension/{case['case_id']}"
    window = WINDOWS.get(case["status"])
    if window is not None:
        deadline = calendar.working_deadline(state, case["stage_started_ms"], STAGE_DAYS)
        ms, awaits = deadline.ms, deadline.awaits
    else:
        ms, awaits = None, None
    if awaits is not None and awaits != before.get("deadline_awaits"):
        calendar.await_year(state, awaits, key)
    state.put(key, {**case, "deadline_ms": ms, "deadline_provisional": awaits is not None,
                    "deadline_awaits": awaits,
                    "window": window[1] if window else None,
                    "window_agency": case[window[0]] if window else None})  # fmt: skip


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
    """The resident, or a bureau party to the transfer at its counter, for the resident; a
    scheme link is applied for at the bureau where benefits will be drawn (17号 art. 7(1))."""
    body = tx.body
    source, target, kind = body["from_agency"], body["to_agency"], body["kind"]
    assisted = not tx.signer.startswith("resident:")
    acting = None if assisted else principal(state, tx, ctx, tx.type, [DATA_CLASS])
    relations = [acting.relation] if acting is not None else []
    relations += [r for r, a in ((Relation.FROM_AGENCY, source), (Relation.TO_AGENCY, target))
                  if a == tx.signer]  # fmt: skip
    authority.check(state, tx.type, tx.signer, relations)
    require(
        not (assisted and kind == "scheme_link" and tx.signer != target),
        "wrong_signer",
        "a scheme link is applied for at the bureau where benefits will be drawn (to_agency)",
    )
    who = body["resident"] if acting is None else acting.resident
    case_id = body["case_id"]
    agency(state, source, SSB)
    agency(state, target, SSB)
    require(resident(state, who) is not None, "unknown_resident", "resident is not enrolled")
    require(state.get(f"pension/{case_id}") is None, "duplicate_id", "case_id is taken")
    basis = {"type": "statutory", "citation": "PIPL art. 13(3)",
             "rules": list(PENSION_KINDS[kind][2])}  # fmt: skip
    link = {"direction": body["direction"]} if kind == "scheme_link" else {}
    case = {"case_id": case_id, "kind": kind, **link, "resident": who, "from_agency": source,
            "to_agency": target, "basis": basis, "assisted": assisted,
            "history": []}  # fmt: skip
    return _move(state, case, "APPLIED", ctx, tx)


def _step(state: Overlay, tx: Transaction, ctx: BlockContext, *statuses: str) -> dict[str, Any]:
    """The case, once the table allows the signer (by its side of the transfer, or as the
    resident, her guardian or her delegate) and the case is in one of ``statuses``."""
    case = _case(state, tx.body["case_id"])
    relations = [r for r, who in ((Relation.FROM_AGENCY, case["from_agency"]),
                                  (Relation.TO_AGENCY, case["to_agency"]))
                 if who == tx.signer]  # fmt: skip
    if tx.signer.startswith("resident:"):
        acting = principal(state, tx, ctx, tx.type, [DATA_CLASS])
        if acting.resident == case["resident"]:
            relations.append(acting.relation)
    authority.check(state, tx.type, tx.signer, relations)
    require(
        case["status"] in statuses,
        "wrong_state",
        f"case is {case['status']}"
        + (": the account has left the sending bureau" if tx.type == "pension.withdraw" else ""),
    )
    return case


def accept(state: Overlay, tx: Transaction, ctx: BlockContext) -> Outcome:
    """The receiving bureau's review found the case in order: its 联系函 (hash) to the sender."""
    case = _step(state, tx, ctx, "APPLIED")
    return _move(state, case, "ACCEPTED", ctx, tx, letter_commitment=tx.body["letter_commitment"])


def reject(state: Overlay, tx: Transaction, ctx: BlockContext) -> Outcome:
    """With a reason code (the resident's notice carries it); a note, if any, goes to the vault
    and only its hash here."""
    case = _step(state, tx, ctx, "APPLIED")
    note = {"note_hash": tx.body["note_hash"]} if "note_hash" in tx.body else {}
    reason = tx.body["reason"]
    return _move(state, case, "REJECTED", ctx, tx, notice=reason, reason=reason, **note)


def _committed(tx: Transaction, field: str, case: dict[str, Any]) -> dict[str, str]:
    """The body's commitments, exactly the values the case's kind moves."""
    commitments = tx.body[field]
    assert isinstance(commitments, dict)
    wanted = FUNDS[case["kind"]]
    require(
        set(commitments) == set(wanted),
        "wrong_kind",
        f"a {case['kind']} 信息表 commits to {', '.join(wanted)}"
        + ("" if "pooled_fund_fen" in wanted else " (no pooled fund moves)"),
    )
    return dict(commitments)


def transfer_out(state: Overlay, tx: Transaction, ctx: BlockContext) -> Outcome:
    """The sending bureau cleared the account and sent the 信息表 (and, but within one pooling
    area, the funds): the commitments of its values go on the log."""
    case = _step(state, tx, ctx, "ACCEPTED", "DISPUTED")
    sent = _committed(tx, "info_commitments", case)
    return _move(state, case, "TRANSFERRED_OUT", ctx, tx, info_commitments=sent, mismatched=[])


def complete(state: Overlay, tx: Transaction, ctx: BlockContext) -> Outcome:
    """The receiving bureau states the receipts of what it received (``receipt``): COMPLETED
    (the person told) if each one's lock is the commitment sent, else DISPUTED with the fields
    that do not match, back to the sending bureau. The commitments themselves, copied from the
    log, do not match: only the holder of the values and the salt computes a receipt."""
    case = _step(state, tx, ctx, "TRANSFERRED_OUT")
    got = _committed(tx, "received_commitments", case)
    mismatched = [f for f in FUNDS[case["kind"]] if lock(got[f]) != case["info_commitments"][f]]
    if mismatched:
        return _move(state, case, "DISPUTED", ctx, tx, notice="commitment_mismatch",
                     mismatched=mismatched)  # fmt: skip
    return _move(state, case, "COMPLETED", ctx, tx)


def withdraw(state: Overlay, tx: Transaction, ctx: BlockContext) -> Outcome:
    """The resident may withdraw until the account leaves the sending bureau."""
    case = _step(state, tx, ctx, "APPLIED", "ACCEPTED")
    return _move(state, case, "WITHDRAWN", ctx, tx)


def is_overdue(case: dict[str, Any], now_ms: int) -> bool:
    return case.get("deadline_ms") is not None and now_ms > case["deadline_ms"]


RULES = {
    "pension.apply": guarded(apply),
    "pension.accept": guarded(accept),
    "pension.reject": guarded(reject),
    "pension.transfer_out": guarded(transfer_out),
    "pension.complete": guarded(complete),
    "pension.withdraw": guarded(withdraw),
}
