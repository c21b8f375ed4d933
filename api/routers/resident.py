"""What residents see of their own records: who accessed what, the consents they gave and,
apart from them, the statutory bases agencies recorded for them; and who stands for them (#13).

Personal data: every request carries an RFC 9421 signature by the resident's own key, and
``api/authz.py`` shows each resident their own records only, or to those who stand for her: a
guardian in force (everything), a delegate whose delegation covers the list (only the entries
of her delegated data classes). Case files stay with the parties: a delegate never reads one.
"""

import re
import time
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from api.authz import Action, Parties, caller_of, require
from api.problems import SIGNED_RESPONSES, Problem
from api.schemas import AuditEvent, Consent, StatutoryBasis
from contracts import delegation, guardians
from contracts.acting import reading_scope, relation_of
from contracts.ages import adult_on, effective_class
from contracts.consent import consent_status
from contracts.vocabulary import DELEGABLE_ACTIONS, STATUTORY_BASES
from node import chainstore
from node.service import Node

router = APIRouter(prefix="/v1/residents", tags=["resident"])
_PSEUDONYM = re.compile(r"^[0-9a-f]{64}$")


class AccessPage(BaseModel):
    resident: str
    entries: list[AuditEvent]
    next_cursor: str | None


class ConsentPage(BaseModel):
    resident: str
    consents: list[Consent]
    next_cursor: str | None


class BasisPage(BaseModel):
    resident: str
    bases: list[StatutoryBasis]
    next_cursor: str | None


class _Committed:
    """The node's committed state as the contracts read it."""

    def __init__(self, node: Node) -> None:
        self.node = node

    def get(self, key: str) -> Any:
        return self.node.committed_value(key)


READS = {
    Action.ACCESS_LOG: frozenset(DELEGABLE_ACTIONS),
    Action.CONSENTS: frozenset({"consent.grant", "consent.withdraw"}),
    Action.REPRESENTATION: frozenset(DELEGABLE_ACTIONS),
    Action.BASES: frozenset({"pension.apply", "pension.withdraw"}),
}
"""What a delegation must cover for its delegate to read each list (a guardian reads all)."""


@dataclass(frozen=True)
class Reader:
    node: Node
    relation: str
    """``subject``, ``guardian`` or ``delegate``."""
    classes: frozenset[str] | None
    """The data classes a delegate reads (None: all)."""
    caller: str


async def _own(request: Request, pseudonym: str, action: Action) -> Reader:
    """Herself, her guardian, or her delegate whose delegation covers ``action`` (its data
    classes then filter what is shown); anyone else is refused, and the refusal recorded."""
    if not _PSEUDONYM.match(pseudonym):
        raise Problem(400, "bad-pseudonym", "A pseudonym is 64 lowercase hex digits")
    caller = await caller_of(request)
    node: Node = request.app.state.node
    reps: frozenset[str] = frozenset()
    scope = None
    if caller.id.startswith("resident:") and caller.id != f"resident:{pseudonym}":
        now = int(time.time() * 1000)
        reader = caller.id.removeprefix("resident:")
        scope = reading_scope(_Committed(node), pseudonym, reader, now)
        if scope is not None and scope[0] & READS[action]:
            reps = frozenset({caller.id})
    require(request, action, caller, Parties(resident=pseudonym, representatives=reps))
    if node.committed_value(f"resident/{pseudonym}") is None:
        raise Problem(404, "unknown-resident", "No resident with that pseudonym")
    if not reps:
        return Reader(node, "subject", None, caller.id)
    assert scope is not None
    relation = relation_of(_Committed(node), pseudonym, caller.id.removeprefix("resident:"),
                           int(time.time() * 1000))  # fmt: skip
    guardian = relation is not None and relation.acting_as == "guardian"
    return Reader(node, "guardian" if guardian else "delegate",
                  None if guardian else scope[1], caller.id)  # fmt: skip


def _shown(classes: frozenset[str] | None, data_class: Any, agent: Any, caller: str) -> bool:
    """An entry a delegate sees: of her data classes only (or of none, ``-``), or her own."""
    if classes is None or agent == caller:
        return True
    named = set(str(data_class).split(",")) - {"-", ""}
    return named <= classes


@router.get("/{pseudonym}/access", response_model=AccessPage, responses=SIGNED_RESPONSES)
async def list_access(
    request: Request,
    pseudonym: str,
    cursor: str | None = None,
    limit: int = Query(100, ge=1, le=500),
) -> AccessPage:
    """Every release and read of the resident's records, granted or refused, oldest first."""
    reader = await _own(request, pseudonym, Action.ACCESS_LOG)
    with reader.node.engine.connect() as conn:
        values, next_cursor = chainstore.state_page(conn, f"access/{pseudonym}/", cursor, limit)
    entries = [
        AuditEvent.model_validate(v)
        for v in values
        if _shown(reader.classes, v.get("data_class"), v.get("agent"), reader.caller)
    ]
    return AccessPage(resident=pseudonym, entries=entries, next_cursor=next_cursor)


@router.get("/{pseudonym}/consents", response_model=ConsentPage, responses=SIGNED_RESPONSES)
async def list_consents(
    request: Request,
    pseudonym: str,
    cursor: str | None = None,
    limit: int = Query(100, ge=1, le=500),
) -> ConsentPage:
    """The resident's consents, active or not, each with the status in force now (``expired``
    once past its validity; ``recorded_status`` keeps what the ledger recorded). Scans ``limit`` consents of all residents a
    page (there is no index by resident yet), so a page may hold fewer of the resident's."""
    reader = await _own(request, pseudonym, Action.CONSENTS)
    with reader.node.engine.connect() as conn:
        values, next_cursor = chainstore.state_page(conn, "consent/", cursor, limit)
    now = int(time.time() * 1000)
    mine = [
        Consent.model_validate(
            {**v, "status": consent_status(v, now), "recorded_status": v["status"]}
        )
        for v in values
        if isinstance(v, dict)
        and v.get("resident") == pseudonym
        and _shown(reader.classes, ",".join(v.get("data_classes", [])), None, reader.caller)
    ]
    return ConsentPage(resident=pseudonym, consents=mine, next_cursor=next_cursor)


class Representation(BaseModel):
    resident: str
    age_class: str = Field(
        description="under_14 | 14_17 | adult, now (from the block clock)", examples=["under_14"]
    )
    class_ends: str | None = Field(
        default=None,
        description="a minor's next class end (her 14th or 18th birthday), shown to herself "
        "and her guardians only",
        examples=["2030-02-01"],
    )
    guardians: list[dict[str, Any]] = Field(
        description="her guardianships, each with status (active, revoked, ended, erased) and "
        "in_force now"
    )
    delegations: list[dict[str, Any]] = Field(
        description="the delegations she granted (to a delegate: hers only), each with in_force"
    )
    acting_for: list[dict[str, Any]] = Field(
        description="the guardianships and delegations in which she acts for others (herself only)"
    )


def _listed(reader: Reader, prefix: str, kind: str) -> list[dict[str, Any]]:
    with reader.node.engine.connect() as conn:
        ids, _ = chainstore.state_page(conn, prefix, None, 100)
    out = []
    state, now = _Committed(reader.node), int(time.time() * 1000)
    for i in ids:
        record = reader.node.committed_value(f"{kind}/{i}")
        if not isinstance(record, dict):
            continue
        if kind == "delegation":
            why = delegation.problem(record, now)
        else:
            why = guardians.problem(record, state.get(f"resident/{record['resident']}"), now)
        out.append({**record, "in_force": why is None, "not_in_force": why})
    return out


@router.get(
    "/{pseudonym}/representation", response_model=Representation, responses=SIGNED_RESPONSES
)
async def representation(request: Request, pseudonym: str) -> Representation:
    """Who stands for the resident (#13): her age class now, her guardians, the delegations
    she granted; and, to herself, whom she acts for. Read by herself, her guardian, or her
    delegate (who sees her own delegation only)."""
    reader = await _own(request, pseudonym, Action.REPRESENTATION)
    record = reader.node.committed_value(f"resident/{pseudonym}")
    assert isinstance(record, dict)
    now = int(time.time() * 1000)
    cls = effective_class(record, now)
    delegations = _listed(reader, f"delegation_pair/{pseudonym}/", "delegation")
    if reader.relation == "delegate":
        delegations = [d for d in delegations if reader.caller == f"resident:{d['delegate']}"]
    acting: list[dict[str, Any]] = []
    if reader.relation == "subject":
        acting = _listed(reader, f"guardian_of/{pseudonym}/", "guardianship")
        acting += _listed(reader, f"delegated_to/{pseudonym}/", "delegation")
    ends = None
    if reader.relation != "delegate" and cls != "adult":
        adult = adult_on(record)
        ends = record["class_ends"] if cls == record.get("age_class") else str(adult)
    return Representation(
        resident=pseudonym, age_class=cls, class_ends=ends,
        guardians=_listed(reader, f"guardian_pair/{pseudonym}/", "guardianship"),
        delegations=delegations, acting_for=acting,
    )  # fmt: skip


@router.get("/{pseudonym}/bases", response_model=BasisPage, responses=SIGNED_RESPONSES)
async def list_bases(
    request: Request,
    pseudonym: str,
    cursor: str | None = Query(None, pattern="^[0-9]{1,12}$"),
    limit: int = Query(100, ge=1, le=500),
) -> BasisPage:
    """The statutory bases agencies recorded for the resident (``basis.record``, PIPL art.
    13(1)(3)), each with its citation in Chinese and English: not consents, never withdrawn,
    kept apart from them. Walks ``limit`` of the resident's own records a page (the index
    erasure keeps, ``records/<pseudonym>/<n>``), never all residents'."""
    node = (await _own(request, pseudonym, Action.BASES)).node
    total = node.committed_value(f"records_count/{pseudonym}") or 0
    start = int(cursor) if cursor is not None else 0
    end = min(int(total), start + limit)
    bases = []
    for i in range(start, end):
        key = node.committed_value(f"records/{pseudonym}/{i:012d}")
        record = (
            node.committed_value(key) if isinstance(key, str) and key.startswith("basis/") else None
        )
        if isinstance(record, dict):
            zh, en, _, _ = STATUTORY_BASES.get(record["citation"], (None, None, None, None))
            bases.append(
                StatutoryBasis.model_validate({**record, "citation_zh": zh, "citation_en": en})
            )
    return BasisPage(resident=pseudonym, bases=bases, next_cursor=str(end) if end < total else None)
