"""One granted read, one payload fetch: the node whose vault holds a payload records, in its
own database, which granted ``health.access`` entries of the access log a fetch has used, so
each is good for exactly one delivery (a second fetch needs a new ``health.access``)."""

from sqlalchemy import Connection, select
from sqlalchemy.dialects import postgresql, sqlite

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
    """Mark the entry used, in the caller's transaction (rolled back with it if no delivery
    is made); False if a fetch already used it: of two fetches racing for one entry, the
    table's key lets one through. No savepoint (pysqlite's would commit early)."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    statement = (
        dialect.insert(payload_fetches)
        .values(resident=resident, seq=seq, case_id=case_id, agent=agent, fetched_ms=now_ms)
        .on_conflict_do_nothing(index_elements=["resident", "seq"])
        .returning(payload_fetches.c.seq)
    )
    return conn.execute(statement).first() is not None
