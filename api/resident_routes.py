"""What a resident can see of their own records: who accessed what.

Personal data: every request carries an RFC 9421 signature by the resident's own key.
"""

import re
from typing import Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel

from api.auth import verify_request
from api.problems import Problem
from node import chainstore
from node.service import Node

router = APIRouter(prefix="/v1/residents", tags=["resident"])
_PSEUDONYM = re.compile(r"^[0-9a-f]{64}$")


class AccessPage(BaseModel):
    resident: str
    entries: list[dict[str, Any]]
    next_cursor: str | None


@router.get("/{pseudonym}/access", response_model=AccessPage)
def list_access(
    request: Request,
    pseudonym: str,
    cursor: str | None = None,
    limit: int = Query(100, ge=1, le=500),
) -> AccessPage:
    """Every release and read of the resident's records (FHIR AuditEvent fields), oldest first."""
    if not _PSEUDONYM.match(pseudonym):
        raise Problem(400, "bad-pseudonym", "A pseudonym is 64 lowercase hex digits")
    node: Node = request.app.state.node
    keyid = verify_request(
        request.method, request.url.path, request.url.query, b"", dict(request.headers),
        node.key_of, request.app.state.nonces,
    )  # fmt: skip
    if keyid != f"resident:{pseudonym}":
        raise Problem(403, "forbidden", "A resident's access log is shown to that resident only")
    prefix = f"access/{pseudonym}/"
    after = None if cursor is None else prefix + cursor
    with node.engine.connect() as conn:
        if chainstore.DBState(conn).get(f"resident/{pseudonym}") is None:
            raise Problem(404, "unknown-resident", "No resident with that pseudonym")
        rows = chainstore.state_prefix(conn, prefix, after, limit)
    next_cursor = rows[-1][0].removeprefix(prefix) if len(rows) == limit else None
    return AccessPage(resident=pseudonym, entries=[v for _, v in rows], next_cursor=next_cursor)
