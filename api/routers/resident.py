"""What residents see of their own records: who accessed what, the consents they gave, and,
apart from them, the statutory bases agencies recorded for them.

Personal data: every request carries an RFC 9421 signature by the resident's own key, and
``api/authz.py`` shows each resident their own records only.
"""

import re
import time

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel

from api.authz import Action, Parties, caller_of, require
from api.problems import SIGNED_RESPONSES, Problem
from api.schemas import AuditEvent, Consent, StatutoryBasis
from contracts.consent import consent_status
from contracts.vocabulary import STATUTORY_BASES
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


async def _own(request: Request, pseudonym: str, action: Action) -> Node:
    if not _PSEUDONYM.match(pseudonym):
        raise Problem(400, "bad-pseudonym", "A pseudonym is 64 lowercase hex digits")
    caller = await caller_of(request)
    require(request, action, caller, Parties(resident=pseudonym))  # before revealing existence
    node: Node = request.app.state.node
    if node.committed_value(f"resident/{pseudonym}") is None:
        raise Problem(404, "unknown-resident", "No resident with that pseudonym")
    return node


@router.get("/{pseudonym}/access", response_model=AccessPage, responses=SIGNED_RESPONSES)
async def list_access(
    request: Request,
    pseudonym: str,
    cursor: str | None = None,
    limit: int = Query(100, ge=1, le=500),
) -> AccessPage:
    """Every release and read of the resident's records, granted or refused, oldest first."""
    node = await _own(request, pseudonym, Action.ACCESS_LOG)
    with node.engine.connect() as conn:
        values, next_cursor = chainstore.state_page(conn, f"access/{pseudonym}/", cursor, limit)
    entries = [AuditEvent.model_validate(v) for v in values]
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
    node = await _own(request, pseudonym, Action.CONSENTS)
    with node.engine.connect() as conn:
        values, next_cursor = chainstore.state_page(conn, "consent/", cursor, limit)
    now = int(time.time() * 1000)
    mine = [
        Consent.model_validate(
            {**v, "status": consent_status(v, now), "recorded_status": v["status"]}
        )
        for v in values
        if isinstance(v, dict) and v.get("resident") == pseudonym
    ]
    return ConsentPage(resident=pseudonym, consents=mine, next_cursor=next_cursor)


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
    node = await _own(request, pseudonym, Action.BASES)
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
