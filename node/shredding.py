"""Erasures the vault still owes: a durable queue in the node's database.

The block that erases a resident and the row saying their vault key material must go are
written in one database transaction, so a crash between the commit and the shredding cannot
lose the erasure: the node carries out what is pending after each commit, at start and
every few seconds until done (``Node._shred``). The vault's own steps are idempotent.
"""

from collections.abc import Iterable, Mapping

from sqlalchemy import Connection, delete, insert, select

from node.schema import pending_erasures


def erased_in(events: Iterable[Mapping[str, object]]) -> list[str]:
    """The residents a block's events erase."""
    return [str(e["resident"]) for e in events if e.get("type") == "resident_erased"]


def enqueue(conn: Connection, height: int, residents: Iterable[str]) -> int:
    """Record in the block's own transaction that these residents' key material must go."""
    rows = [{"resident": r, "height": height} for r in sorted(set(residents))]
    if rows:
        conn.execute(insert(pending_erasures), rows)
    return len(rows)


def pending(conn: Connection) -> list[str]:
    return list(
        conn.execute(select(pending_erasures.c.resident).order_by(pending_erasures.c.resident))
        .scalars()
        .all()
    )


def done(conn: Connection, residents: Iterable[str]) -> None:
    conn.execute(delete(pending_erasures).where(pending_erasures.c.resident.in_(list(residents))))
