"""Agency-facing case views: pension transfers past their 15-working-day deadline."""

import time
from typing import Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel

from contracts.pension import is_overdue
from node import chainstore
from node.service import Node

router = APIRouter(prefix="/v1/pension", tags=["agency"])


class OverduePage(BaseModel):
    as_of_ms: int
    cases: list[dict[str, Any]]
    next_cursor: str | None


@router.get("/overdue", response_model=OverduePage)
def list_overdue(
    request: Request, cursor: str | None = None, limit: int = Query(100, ge=1, le=500)
) -> OverduePage:
    """Open transfer cases whose current stage is past its deadline (weekends and holidays
    excluded), with who has to act next. Scans in pages of ``limit`` cases."""
    node: Node = request.app.state.node
    now = int(time.time() * 1000)
    with node.engine.connect() as conn:
        rows = chainstore.state_prefix(
            conn, "pension/", None if cursor is None else "pension/" + cursor, limit
        )
    cases = [case for _, case in rows if isinstance(case, dict) and is_overdue(case, now)]
    next_cursor = rows[-1][0].removeprefix("pension/") if len(rows) == limit else None
    return OverduePage(as_of_ms=now, cases=cases, next_cursor=next_cursor)
