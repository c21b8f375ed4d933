"""Health-record sharing between hospitals, with the resident's separate consent, or where a
statute provides for it.

REQUESTED (requesting hospital) -> AUTHORIZED (a consent covering it) -> RELEASED (source
hospital commits to the payload, at the locator derived from this very case:
``contracts/locator.py``) -> each read is an ACCESSED event. A read outside an active
consent's scope, period or recipient is refused, and the refusal is recorded too; once the
consent expires or is withdrawn the case reads as EXPIRED or REVOKED.

A test result passes between two designated medical institutions without consent on its
statutory basis (浙江省医疗保障条例 art. 40, ``vocabulary.STATUTORY_SHARING``): the source
hospital, which discloses, authorizes the case citing it, never the requester for itself;
both must hold the ``designated`` role then and at every release and read, each of which is
recorded in the resident's access log with the citation. A consent's withdrawal does not
touch such a case: a statutory basis is not the resident's to withdraw.
"""

from collections.abc import Callable
from typing import Any

from contracts import authority, emergency
from contracts.access_log import record_access
from contracts.acting import principal
from contracts.authority import Relation
from contracts.consent import consent_allows
from contracts.erasure import is_erased
from contracts.fields import agency, guarded, hex64, ident, only, require, text
from contracts.locator import derive
from contracts.residents import key_setters, resident
from contracts.rules import Applied, BlockContext, Outcome, Rejected
from contracts.state import Overlay
from contracts.tx import Transaction
from contracts.vocabulary import SOURCE_KINDS, STATUTORY_SHARING

LOCATOR_OF_OTHER_CASE = "locator_of_other_case"


def _case(state: Overlay, case_id: str) -> dict[str, Any]:
    record = state.get(f"share/{case_id}")
    require(isinstance(record, dict), "unknown_case", "no such sharing case")
    assert isinstance(record, dict)
    return record


def request(state: Overlay, tx: Transaction, ctx: BlockContext) -> Outcome:
    """A hospital asks for a resident's record; with ``emergency_id``, under its own
    break-glass, authorized at once within its scope (``contracts/emergency.py``)."""
    authority.check(state, tx.type, tx.signer)
    case_id, who, source = tx.body["case_id"], tx.body["resident"], tx.body["source"]
    agency(state, source, SOURCE_KINDS[tx.body["data_class"]])
    require(resident(state, who) is not None, "unknown_resident", "resident is not enrolled")
    if "emergency_id" in tx.body:
        return emergency.request(state, tx, ctx)
    require(state.get(f"share/{case_id}") is None, "duplicate_id", "case_id is taken")
    state.put(
        f"share/{case_id}",
        {"case_id": case_id, "status": "REQUESTED", "resident": who, "requester": tx.signer, "source": source,
         "data_class": tx.body["data_class"], "purpose": tx.body["purpose"], "requested_ms": ctx.time_ms,
         "reads": 0},
    )  # fmt: skip
    return Applied(tx.encode(), ({"type": "share_requested", "case_id": case_id},))


def designated(get: Callable[[str], Any], agency_id: str) -> bool:
    """An active agency holding the ``designated`` role (医保定点医疗机构)."""
    record = get(f"agency/{agency_id}")
    return (
        isinstance(record, dict)
        and record.get("status") == "active"
        and authority.DESIGNATED in (record.get("roles") or ())
    )


def statutory_problem(
    get: Callable[[str], Any], basis: Any, requester: str, source: str, data_class: str,
    purpose: str,
) -> str | None:  # fmt: skip
    """None if ``basis`` is a statute that shares this case's class for its purpose between
    these two agencies, both designated; else the stable reason."""
    cited = basis.get("citation") if isinstance(basis, dict) else None
    covered = STATUTORY_SHARING.get(cited) if isinstance(cited, str) else None
    if covered is None or data_class not in covered[0] or purpose not in covered[1]:
        return "statutory_basis_not_allowed"
    if not (designated(get, requester) and designated(get, source)):
        return "not_designated"
    return None


def case_allows(
    get: Callable[[str], Any], case: dict[str, Any], at_ms: int, recipient: str
) -> str | None:
    """None if the case's lawful basis lets ``recipient`` have its record now: its consent
    (``consent_allows``) or its statute (``statutory_problem``: withdrawal and expiry do not
    apply), or its break-glass (``emergency.case_problem``: scope and window); else the
    stable reason. ``get`` reads state: the contracts' or a node's."""
    if emergency.reason_of(case) is not None:
        return emergency.case_problem(get, case, at_ms, recipient)
    if "basis" in case:
        if recipient != case["requester"]:
            return "not_recipient"
        return statutory_problem(get, case["basis"], case["requester"], case["source"],
                                 case["data_class"], case["purpose"])  # fmt: skip
    return consent_allows(
        get(f"consent/{case.get('consent_id')}"), at_ms, recipient, case["source"],
        case["data_class"],
    )  # fmt: skip


def authorize(state: Overlay, tx: Transaction, ctx: BlockContext) -> Outcome:
    """The resident, or the counter that recorded the consent (assisted), ties a consent to
    the case: never the requester on its own, unless it is that counter, which the consent
    record then marks (``counter_is_recipient``). Signed with the resident's key for a
    requester that set that key at a counter (``enroller_is_requester``), the case and the
    resident's access log say so: the requester may have signed it itself. With a ``basis``
    instead of a consent, the statutory path (``authorize_statutory``)."""
    case = _case(state, tx.body["case_id"])
    if "basis" in tx.body:
        return authorize_statutory(state, tx, case)
    consent_id = tx.body["consent_id"]
    consent = state.get(f"consent/{consent_id}")
    relations = []
    if tx.signer.startswith("resident:"):
        acting = principal(state, tx, ctx, tx.type, [case["data_class"]])
        if acting.resident == case["resident"]:
            relations.append(acting.relation)
    if isinstance(consent, dict) and consent.get("granted_by") == tx.signer:
        relations.append(Relation.RECORDING_COUNTER)
    authority.check(state, tx.type, tx.signer, relations)
    require(case["status"] == "REQUESTED", "wrong_state", f"case is {case['status']}")
    require(
        isinstance(consent, dict) and consent["resident"] == case["resident"],
        "unknown_consent",
        "no consent of this resident",
    )
    why = consent_allows(
        consent, ctx.time_ms, case["requester"], case["source"], case["data_class"]
    )
    require(why is None, why or "", f"the consent does not cover this case: {why}")
    assert isinstance(consent, dict)
    require(
        consent["purpose"] == case["purpose"],
        "purpose_mismatch",
        f"the case's purpose {case['purpose']} is not the consent's {consent['purpose']} "
        "(PIPL arts. 6, 14: another purpose needs its own consent)",
    )
    # signed with a resident's key (hers, her guardian's or her delegate's): whoever set it
    signed_by = resident(state, tx.signer.removeprefix("resident:"))
    enroller = (
        bool({Relation.SUBJECT, Relation.GUARDIAN, Relation.DELEGATE} & set(relations))
        and signed_by is not None
        and case["requester"] in key_setters(signed_by)
    )
    state.put(
        f"share/{case['case_id']}",
        {**case, "status": "AUTHORIZED", "consent_id": consent_id, "authorized_by": tx.signer,
         "enroller_is_requester": enroller},
    )  # fmt: skip
    if enroller:
        record_access(
            state, case["resident"], action="U", agent=tx.signer, entity=case["case_id"],
            data_class=case["data_class"], purpose=case["purpose"], consent_id=consent_id,
            outcome="granted", reason="enroller_is_requester", time_ms=ctx.time_ms,
            height=ctx.height,
        )  # fmt: skip
    return Applied(tx.encode(), ({"type": "share_authorized", "case_id": case["case_id"]},))


def authorize_statutory(state: Overlay, tx: Transaction, case: dict[str, Any]) -> Outcome:
    """The source hospital, designated, authorizes the case under a statute that shares its
    class for its purpose with a designated requester. The source, not the requester: it is
    the one that discloses (PIPL art. 23), so the requester never authorizes its own case on
    any basis. No consent is consulted; what the resident sees is each release and read."""
    source = [Relation.STATUTORY_SOURCE] if tx.signer == case["source"] else []
    authority.check(state, tx.type, tx.signer, source)
    require(case["status"] == "REQUESTED", "wrong_state", f"case is {case['status']}")
    basis = tx.body["basis"]
    why = statutory_problem(state.get, basis, case["requester"], case["source"],
                            case["data_class"], case["purpose"])  # fmt: skip
    require(why is None, why or "", f"the statute does not cover this case: {why}")
    state.put(
        f"share/{case['case_id']}",
        {**case, "status": "AUTHORIZED", "basis": {"type": "statutory",
         "citation": basis["citation"]}, "authorized_by": tx.signer},
    )  # fmt: skip
    return Applied(tx.encode(), ({"type": "share_authorized", "case_id": case["case_id"]},))


def release(state: Overlay, tx: Transaction, ctx: BlockContext) -> Outcome:
    """The source hospital commits to the payload (a salted hash) and says where it lies: at
    the locator derived from this case, its resident, its source and the commitment, the one
    the vault gave at deposit. A locator already bound to another case (release entries are
    public) is the attack of a puppet case fetching another resident's document: refused, and
    recorded in that resident's access log."""
    only(tx.body, "case_id", "commitment", "locator")
    case = _case(state, ident(tx.body, "case_id"))
    source = [Relation.SOURCE] if tx.signer == case["source"] else []
    authority.check(state, tx.type, tx.signer, source)
    commitment, locator = hex64(tx.body, "commitment"), text(tx.body, "locator")
    bound = state.get(f"locator/{locator}")
    if isinstance(bound, str) and bound != case["case_id"]:
        return _locator_of_other_case(state, tx, ctx, case, bound)
    require(case["status"] == "AUTHORIZED", "wrong_state", f"case is {case['status']}")
    require(
        locator == derive(case["case_id"], case["resident"], case["source"], commitment),
        "wrong_locator",
        "the locator is not this case's: deposit the payload for this case and release what "
        "the vault answered",
    )
    why = case_allows(state.get, case, ctx.time_ms, case["requester"])
    require(why is None, why or "", f"the case's basis no longer covers it: {why}")
    urgent = emergency.reason_of(case)
    record_access(
        state, case["resident"], action="E", agent=tx.signer, entity=case["case_id"], data_class=case["data_class"],
        purpose=case["purpose"], consent_id=case.get("consent_id"), outcome="granted",
        reason=urgent and emergency.EMERGENCY, time_ms=ctx.time_ms, height=ctx.height,
        basis=citation(case), emergency_reason=urgent,
    )  # fmt: skip
    state.put(
        f"share/{case['case_id']}",
        {**case, "status": "RELEASED", "commitment": commitment, "locator": locator},
    )
    state.put(f"locator/{locator}", case["case_id"])
    return Applied(tx.encode(), ({"type": "share_released", "case_id": case["case_id"]},))


def _locator_of_other_case(
    state: Overlay, tx: Transaction, ctx: BlockContext, case: dict[str, Any], bound: str
) -> Outcome:
    """Refuse a release naming another case's locator, and put the attempt in the access log
    of the resident whose document it points at: applied (on the log, the case unchanged),
    with the refusal in its event. Not for an erased resident: nothing enters their log."""
    victim = _case(state, bound)
    if is_erased(state, victim["resident"]):
        return Rejected(LOCATOR_OF_OTHER_CASE, f"the locator belongs to case {bound}")
    entry = record_access(
        state, victim["resident"], action="E", agent=tx.signer, entity=case["case_id"],
        data_class=victim["data_class"], purpose=case["purpose"], consent_id=None,
        outcome="refused", reason=LOCATOR_OF_OTHER_CASE, time_ms=ctx.time_ms, height=ctx.height,
    )  # fmt: skip
    event = {"type": "share_released", "case_id": case["case_id"], "outcome": "refused",
             "reason": LOCATOR_OF_OTHER_CASE, "resident": victim["resident"],
             "seq": entry["seq"]}  # fmt: skip
    return Applied(tx.encode(), (event,), refused=LOCATOR_OF_OTHER_CASE)


def access(state: Overlay, tx: Transaction, ctx: BlockContext) -> Outcome:
    """A read by the requesting hospital: granted or refused, and recorded either way (another
    hospital's attempt too). Only hospitals may try (the table): before the case is looked
    up, so that no one else learns which case ids exist."""
    authority.check(state, tx.type, tx.signer)
    only(tx.body, "case_id")
    case = _case(state, ident(tx.body, "case_id"))
    why = None
    if tx.signer != case["requester"]:
        why = "not_recipient"
    elif case["status"] != "RELEASED":
        why = "not_released"
    else:
        why = case_allows(state.get, case, ctx.time_ms, tx.signer)
    outcome = "refused" if why else "granted"
    urgent = emergency.reason_of(case)
    entry = record_access(
        state, case["resident"], action="R", agent=tx.signer, entity=case["case_id"], data_class=case["data_class"],
        purpose=case["purpose"], consent_id=case.get("consent_id"), outcome=outcome,
        reason=why or (urgent and emergency.EMERGENCY), time_ms=ctx.time_ms, height=ctx.height,
        basis=citation(case), emergency_reason=urgent,
    )  # fmt: skip
    emergency.counted_read(state, case, tx.signer, outcome == "granted", ctx.time_ms)
    if outcome == "granted":  # the read a payload fetch may use (one fetch, one read)
        state.put(
            f"share/{case['case_id']}",
            {**case, "reads": case["reads"] + 1, "read_seq": entry["seq"]},
        )
    return Applied(
        tx.encode(),
        (
            {
                "type": "share_accessed",
                "case_id": case["case_id"],
                "outcome": outcome,
                "reason": why,
                "seq": entry["seq"],
            },
        ),
        refused=why,
    )


def citation(case: dict[str, Any]) -> str | None:
    """The statute a case was authorized under, for its access-log entries (None: consent)."""
    basis = case.get("basis")
    return str(basis["citation"]) if isinstance(basis, dict) and "citation" in basis else None


def case_status(case: dict[str, Any], consent: Any, now_ms: int) -> str:
    """REVOKED or EXPIRED once the consent behind an authorized case no longer holds."""
    if case["status"] in ("AUTHORIZED", "RELEASED") and isinstance(consent, dict):
        if consent["status"] == "withdrawn":
            return "REVOKED"
        if now_ms >= consent["valid_until_ms"]:
            return "EXPIRED"
    return str(case["status"])


RULES = {
    "health.request": guarded(request),
    "health.authorize": guarded(authorize),
    "health.release": guarded(release),
    "health.access": guarded(access),
}
