"""Emergency access, break-glass (#13 item 4): a hospital reads a resident's health class
without her consent because it is necessary to protect her life or health in an emergency
(PIPL art. 13(1)(4); 民法典 art. 1220: when the patient's life is in danger and neither she
nor a close relative can be asked, the medical institution acts at once).

``health.emergency``, signed by a hospital (any hospital: the duty to treat a critically ill
patient at once, 医疗机构管理条例, is every medical institution's, not only a 医保定点 one's),
names the resident, the source, the health classes and a reason code (``EMERGENCY_REASONS``):
it opens ``emergency/<id>`` for the genesis policy's window (``emergency_window_ms``). Within
it, that hospital opens one sharing case per named class (``health.request`` with
``emergency_id``: AUTHORIZED at once, purpose ``ETREAT``), which the source releases and the
hospital reads through the consented path's machinery (``contracts/health.py``: release,
locator binding, ``read_seq``, one payload fetch per granted read), scope-limited: another
class, another source, another hospital, or a step after the window is refused and recorded.

The resident sees it at once and afterwards (PIPL art. 18 para 2: notified once the emergency
is over): the break-glass and every release and read of its cases are entries in her access
log with reason ``emergency`` and ``emergency_reason`` (the code). It is no consent: there is
nothing she could withdraw, and no transaction withdraws it. Auditors see each hospital's
rate of emergency reads (``hospital_reads/<day>/<hospital>``); governance caps break-glasses
per hospital a rolling day (``set_emergency_limit``; 0 suspends it), past which one is
refused ``emergency_limit`` and recorded. Every check reads a fixed number of keys: the
limit looks at one entry of the hospital's own index (``emergency_by/<hospital>/<seq>``).
"""

from collections.abc import Callable
from typing import Any

from contracts import authority
from contracts.access_log import record_access
from contracts.calendar import cst_date
from contracts.fields import agency, guarded, require
from contracts.policy import DAY_MS, consent_policy
from contracts.residents import resident
from contracts.rules import Applied, BlockContext, Outcome
from contracts.state import Overlay, StateView
from contracts.tx import Transaction
from contracts.vocabulary import SOURCE_KINDS

EMERGENCY = "emergency"
"""The access-log reason of a granted step under a break-glass."""
WINDOW_CLOSED = "emergency_window_closed"
LIMIT = "emergency_limit"
NETWORK = "*"
"""The ``set_emergency_limit`` target that applies to every hospital without its own."""
COUNTERS = ("reads", "emergency_reads", "refused_reads", "break_glass", "break_glass_refused",
            "cases_read", "emergency_cases_read")  # fmt: skip
"""``cases_read``: the cases a hospital read (its first granted read of each), of which
``emergency_cases_read`` under a break-glass: what its rate is made of (``rate``)."""


def rate(row: dict[str, Any]) -> float | None:
    """A hospital's emergency rate: the share of the cases it read that it read under a
    break-glass (None: it read none). Per case, not per read: re-reading one consented case
    is a transaction each and would otherwise dilute any rate to nothing (red team 13b)."""
    cases = int(row.get("cases_read", 0))
    return int(row.get("emergency_cases_read", 0)) / cases if cases else None


def limit_key(target: str) -> str:
    return f"emergency_limit/{target}"


def limit_of(get: Callable[[str], Any], hospital: str) -> int | None:
    """Break-glasses ``hospital`` may open a rolling day: its own limit, else the network's,
    else none. ``get`` reads state: the contracts' or a node's."""
    for target in (hospital, NETWORK):
        value = get(limit_key(target))
        if isinstance(value, dict) and isinstance(value.get("max_per_day"), int):
            return int(value["max_per_day"])
    return None


def over_limit(state: StateView, hospital: str, now_ms: int) -> int | None:
    """The limit, if ``hospital`` reached it: ``limit`` break-glasses in the last day. One
    read: the ``limit``-th most recent of its index."""
    limit = limit_of(state.get, hospital)
    if limit is None:
        return None
    count = state.get(f"emergency_count/{hospital}") or 0
    assert isinstance(count, int)
    if limit == 0:
        return 0
    if count < limit:
        return None
    opened = state.get(f"emergency_by/{hospital}/{count - limit:012d}")
    return limit if isinstance(opened, int) and opened > now_ms - DAY_MS else None


def count(state: Overlay, hospital: str, time_ms: int, field: str) -> None:
    """One more ``field`` (``COUNTERS``) for ``hospital`` on the block's day (China Standard
    Time): what the auditor's report adds up, a period at a time."""
    key = f"hospital_reads/{cst_date(time_ms).isoformat()}/{hospital}"
    row = state.get(key)
    row = dict(row) if isinstance(row, dict) else dict.fromkeys(COUNTERS, 0)
    row[field] = int(row.get(field, 0)) + 1
    state.put(key, row)


def break_glass(state: Overlay, tx: Transaction, ctx: BlockContext) -> Outcome:
    """A hospital opens an emergency for a resident: checked, then refused past the limit
    (on the log and in her access log) or opened (in her access log at once)."""
    authority.check(state, tx.type, tx.signer)
    body = tx.body
    emergency_id, who, source = body["emergency_id"], body["resident"], body["source"]
    classes = sorted(body["data_classes"])
    require(resident(state, who) is not None, "unknown_resident", "resident is not enrolled")
    for data_class in classes:
        agency(state, source, SOURCE_KINDS[data_class])
    require(state.get(f"emergency/{emergency_id}") is None, "duplicate_id",
            "emergency_id is taken")  # fmt: skip
    entry = {"action": "C", "agent": tx.signer, "entity": emergency_id,
             "data_class": ",".join(classes), "purpose": "ETREAT", "consent_id": None,
             "time_ms": ctx.time_ms, "height": ctx.height,
             "emergency_reason": body["reason"]}  # fmt: skip
    limit = over_limit(state, tx.signer, ctx.time_ms)
    if limit is not None:
        logged = record_access(state, who, outcome="refused", reason=LIMIT, **entry)
        count(state, tx.signer, ctx.time_ms, "break_glass_refused")
        event = {"type": "emergency_opened", "emergency_id": emergency_id, "outcome": "refused",
                 "reason": LIMIT, "limit": limit, "seq": logged["seq"]}  # fmt: skip
        return Applied(tx.encode(), (event,), refused=LIMIT)
    until = ctx.time_ms + consent_policy(state).emergency_window_ms
    state.put(
        f"emergency/{emergency_id}",
        {"emergency_id": emergency_id, "resident": who, "hospital": tx.signer, "source": source,
         "data_classes": classes, "reason": body["reason"], "opened_ms": ctx.time_ms,
         "until_ms": until, "height": ctx.height, "status": "open", "cases": {}, "reads": 0},
    )  # fmt: skip
    seq = state.get(f"emergency_count/{tx.signer}") or 0
    assert isinstance(seq, int)
    state.put(f"emergency_by/{tx.signer}/{seq:012d}", ctx.time_ms)
    state.put(f"emergency_count/{tx.signer}", seq + 1)
    day = cst_date(ctx.time_ms).isoformat()
    state.put(f"emergency_on/{day}/{emergency_id}", emergency_id)
    count(state, tx.signer, ctx.time_ms, "break_glass")
    logged = record_access(state, who, outcome="granted", reason=EMERGENCY, **entry)
    event = {"type": "emergency_opened", "emergency_id": emergency_id, "resident": who,
             "until_ms": until, "seq": logged["seq"]}  # fmt: skip
    return Applied(tx.encode(), (event,))


def problem(emergency: Any, at_ms: int, hospital: str, source: str, data_class: str) -> str | None:
    """None if the break-glass lets ``hospital`` have ``data_class`` from ``source`` now; else
    the stable reason: the scope is its hospital, source and classes, and its window."""
    if not isinstance(emergency, dict):
        return "unknown_emergency"
    if emergency.get("status") != "open":
        return "emergency_closed"
    if hospital != emergency["hospital"]:
        return "not_recipient"
    if source != emergency["source"]:
        return "wrong_source"
    if data_class not in emergency["data_classes"]:
        return "out_of_scope"
    if at_ms >= emergency["until_ms"]:
        return WINDOW_CLOSED
    return None


def case_problem(get: Callable[[str], Any], case: dict[str, Any], at_ms: int,
                 recipient: str) -> str | None:  # fmt: skip
    """``problem`` for a sharing case opened under a break-glass (``health.case_allows``)."""
    if recipient != case["requester"]:
        return "not_recipient"
    emergency = get(f"emergency/{case['basis']['emergency_id']}")
    return problem(emergency, at_ms, recipient, case["source"], case["data_class"])


def reason_of(case: dict[str, Any]) -> str | None:
    """The emergency reason code of a case opened under a break-glass; None for any other."""
    basis = case.get("basis")
    if isinstance(basis, dict) and basis.get("type") == EMERGENCY:
        return str(basis["reason"])
    return None


def request(state: Overlay, tx: Transaction, ctx: BlockContext) -> Outcome:
    """``health.request`` with ``emergency_id``: the hospital that broke the glass opens the
    case for one named class, AUTHORIZED at once (the break-glass is its basis). Any step
    outside the break-glass's scope is an attempted access: on the log, refused, and in the
    resident's access log."""
    body = tx.body
    emergency = state.get(f"emergency/{body['emergency_id']}")
    require(
        isinstance(emergency, dict) and emergency["resident"] == body["resident"],
        "unknown_emergency",
        "no emergency of this resident",
    )
    assert isinstance(emergency, dict)
    require(state.get(f"share/{body['case_id']}") is None, "duplicate_id", "case_id is taken")
    why = problem(emergency, ctx.time_ms, tx.signer, body["source"], body["data_class"])
    if why is None and body["data_class"] in emergency["cases"]:
        why = "duplicate_case"
    if why is not None:
        logged = record_access(
            state, emergency["resident"], action="R", agent=tx.signer, entity=body["case_id"],
            data_class=body["data_class"], purpose=body["purpose"], consent_id=None,
            outcome="refused", reason=why, time_ms=ctx.time_ms, height=ctx.height,
            emergency_reason=emergency["reason"],
        )  # fmt: skip
        event = {"type": "share_requested", "case_id": body["case_id"], "outcome": "refused",
                 "reason": why, "seq": logged["seq"]}  # fmt: skip
        return Applied(tx.encode(), (event,), refused=why)
    case_id = body["case_id"]
    state.put(
        f"share/{case_id}",
        {"case_id": case_id, "status": "AUTHORIZED", "resident": body["resident"],
         "requester": tx.signer, "source": body["source"], "data_class": body["data_class"],
         "purpose": body["purpose"], "requested_ms": ctx.time_ms, "reads": 0,
         "basis": {"type": EMERGENCY, "emergency_id": emergency["emergency_id"],
                   "reason": emergency["reason"]},
         "authorized_by": tx.signer, "until_ms": emergency["until_ms"]},
    )  # fmt: skip
    cases = {**emergency["cases"], body["data_class"]: case_id}
    state.put(f"emergency/{emergency['emergency_id']}", {**emergency, "cases": cases})
    return Applied(tx.encode(), ({"type": "share_requested", "case_id": case_id},
                                 {"type": "share_authorized", "case_id": case_id}))  # fmt: skip


def counted_read(state: Overlay, case: dict[str, Any], hospital: str, granted: bool,
                 time_ms: int) -> None:  # fmt: skip
    """A hospital's ``health.access`` in the per-day counters the auditor's rate is made of
    (the first granted read of a case also in ``cases_read``); a granted emergency read also
    in its break-glass's ``reads``."""
    if not granted:
        count(state, hospital, time_ms, "refused_reads")
        return
    count(state, hospital, time_ms, "reads")
    first = case.get("reads") == 0
    if first:
        count(state, hospital, time_ms, "cases_read")
    if reason_of(case) is not None:
        count(state, hospital, time_ms, "emergency_reads")
        if first:
            count(state, hospital, time_ms, "emergency_cases_read")
        key = f"emergency/{case['basis']['emergency_id']}"
        emergency = state.get(key)
        if isinstance(emergency, dict):
            state.put(key, {**emergency, "reads": int(emergency.get("reads", 0)) + 1})


def set_limit(state: Overlay, payload: dict[str, Any]) -> None:
    """Governance ``set_emergency_limit``, applied by quorum."""
    state.put(limit_key(payload["agency"]), {"max_per_day": payload["max_per_day"]})


def limit_payload(state: Overlay, raw: dict[str, Any]) -> dict[str, Any]:
    """A limit for an active hospital, or for the network (``*``)."""
    target = raw["agency"]
    if target != NETWORK:
        agency(state, target, authority.HOSPITAL)
    return {"agency": target, "max_per_day": raw["max_per_day"]}


RULES = {"health.emergency": guarded(break_glass)}
