"""Records a node signs about reads at its API (``access.refused``, ``access.read``): each is
written to this durable outbox in the node's database before it is submitted, and stays there
until a block has it. A full mempool, a crash or a restart delays such a record; nothing
drops it (``Node._flush_outbox`` submits what is pending every second and at start).

Rows hold the unsigned body; it is signed with the node's current key when submitted, so a
key rotation in between changes nothing (the body's nonce makes a second copy a replay).
"""

import json
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select

from node.schema import node_outbox


def put(conn: Connection, body: dict[str, Any], now_ms: int) -> None:
    conn.execute(
        insert(node_outbox).values(
            nonce=str(body["nonce"]), body=json.dumps(body, sort_keys=True), created_ms=now_ms
        )
    )


def pending(conn: Connection, limit: int) -> list[dict[str, Any]]:
    """The oldest ``limit`` bodies still owed to the log."""
    rows = conn.execute(
        select(node_outbox.c.body).order_by(node_outbox.c.id).limit(limit)
    ).scalars()
    return [json.loads(row) for row in rows]


def done(conn: Connection, nonces: list[str]) -> None:
    if nonces:
        conn.execute(delete(node_outbox).where(node_outbox.c.nonce.in_(nonces)))


def count(conn: Connection) -> int:
    return int(conn.execute(select(func.count()).select_from(node_outbox)).scalar() or 0)
