"""One granted read, one payload fetch: the node whose vault holds a payload records, in its
own database, which granted ``health.access`` entries of the access log a fetch has used, so
each is good for exactly one delivery (a second fetch needs a new ``health.access``)."""

from sqlalchemy import Connection, insert, select
from sqlalchemy.exc import IntegrityError

from node.schema import payload_fetches


def used(conn: Connection, resident: str, seq: int) -> bool:
    return (
        conn.execute(
            select(payload_fetches.c.seq).where(
                payload_fetches.c.resident == resident, payload_fetches.c.seq == seq
            )
        ).first()
        is not None
    )


def use(conn: Connection, resident: str, seq: int, case_id: str, agent: str, now_ms: int) -> bool:
    """Mark the entry used, in the caller's transaction; False if a fetch already used it
    (two fetches racing for one entry: the database's key lets one through)."""
    try:
        with conn.begin_nested():
            conn.execute(
                insert(payload_fetches).values(
                    resident=resident, seq=seq, case_id=case_id, agent=agent, fetched_ms=now_ms
                )
            )
    except IntegrityError:
        return False
    return True
