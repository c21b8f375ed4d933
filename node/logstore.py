"""The stored Merkle tree: leaves, every complete-subtree hash, checkpoints and cosignatures.

Functions take a SQLAlchemy ``Connection`` so the log is written in the caller's transaction
(a block commits its leaves and its state together, or not at all). Appending n leaves writes
amortized two hashes per leaf; a root or proof reads O(log n) hashes in one query; nothing
loads all leaves or rebuilds the tree.
"""

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, bindparam, func, insert, select

from node.schema import (
    checkpoint_quorum,
    log_checkpoints,
    log_cosignatures,
    log_hashes,
    log_leaves,
)
from tlog import layout
from tlog.hashing import EMPTY_ROOT, leaf_hash

_read_hashes_query = select(log_hashes.c.hash_index, log_hashes.c.hash).where(
    log_hashes.c.hash_index.in_(bindparam("indexes", expanding=True))
)


def hash_reader(conn: Connection) -> layout.HashReader:
    def read(indexes: Sequence[int]) -> list[bytes]:
        if not indexes:
            return []
        rows = conn.execute(_read_hashes_query, {"indexes": list(set(indexes))})
        found = {int(i): bytes(h) for i, h in rows}
        missing = [i for i in indexes if i not in found]
        if missing:
            raise LookupError(f"stored hashes missing at indexes {missing[:5]}")
        return [found[i] for i in indexes]

    return read


def tree_size(conn: Connection) -> int:
    last = conn.execute(select(func.max(log_leaves.c.leaf_index))).scalar()
    return 0 if last is None else int(last) + 1


def bulk_insert(
    conn: Connection, table: str, columns: tuple[str, ...], rows: list[tuple[object, ...]]
) -> None:
    """executemany straight to the driver: the hot path of every commit, too hot for per-row
    SQLAlchemy parameter processing. Table and column names are ours, never input."""
    if not rows:
        return
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join([mark] * len(columns))})"
    conn.exec_driver_sql(sql, rows)


def driver_fetchone(conn: Connection, sql: str, params: tuple[object, ...]) -> Any:
    """One row straight from the driver's cursor, for point reads on a request's hot path
    (SQLAlchemy's statement compilation costs several times the lookup). ``sql`` uses ``?``
    placeholders and is ours, never input."""
    if conn.dialect.paramstyle != "qmark":
        sql = sql.replace("?", "%s")
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(sql, params)
        return cursor.fetchone()
    finally:
        cursor.close()


def append_leaves(conn: Connection, leaves: Sequence[bytes]) -> tuple[int, bytes]:
    """Append leaves in order; return the new tree size and root."""
    size = tree_size(conn)
    frontier = layout.Frontier.load(size, hash_reader(conn))
    leaf_rows: list[tuple[object, ...]] = []
    hash_rows: list[tuple[object, ...]] = []
    for offset, data in enumerate(leaves):
        leaf_rows.append((size + offset, data))
        hash_rows.extend(frontier.append(leaf_hash(data)))
    bulk_insert(conn, "log_leaves", ("leaf_index", "data"), leaf_rows)
    bulk_insert(conn, "log_hashes", ("hash_index", "hash"), hash_rows)
    return frontier.size, frontier.root() if frontier.size else EMPTY_ROOT


def root_at(conn: Connection, size: int) -> bytes:
    return EMPTY_ROOT if size == 0 else layout.tree_hash(size, hash_reader(conn))


def leaf_at(conn: Connection, index: int) -> bytes | None:
    data = conn.execute(select(log_leaves.c.data).where(log_leaves.c.leaf_index == index)).scalar()
    return None if data is None else bytes(data)


def inclusion_proof(conn: Connection, index: int, size: int) -> list[bytes]:
    return layout.inclusion_proof(index, size, hash_reader(conn))


def consistency_proof(conn: Connection, first: int, second: int) -> list[bytes]:
    return layout.consistency_proof(first, second, hash_reader(conn))


def add_checkpoint(conn: Connection, size: int, body: str) -> None:
    conn.execute(insert(log_checkpoints).values(tree_size=size, body=body))


def add_cosignature(conn: Connection, size: int, signer: str, line: str) -> None:
    conn.execute(insert(log_cosignatures).values(tree_size=size, signer=signer, line=line))


def checkpoint_note(conn: Connection, size: int | None = None) -> str | None:
    """The signed note of the checkpoint at ``size`` (default: the latest) with all its cosignatures."""
    query = select(log_checkpoints.c.tree_size, log_checkpoints.c.body)
    if size is None:
        query = query.order_by(log_checkpoints.c.tree_size.desc()).limit(1)
    else:
        query = query.where(log_checkpoints.c.tree_size == size)
    row = conn.execute(query).first()
    if row is None:
        return None
    lines = conn.execute(
        select(log_cosignatures.c.line)
        .where(log_cosignatures.c.tree_size == row.tree_size)
        .order_by(log_cosignatures.c.signer)
    ).scalars()
    return str(row.body) + "\n" + "".join(lines)


def latest_quorum_size(conn: Connection) -> int | None:
    """Largest tree size whose checkpoint carries a quorum of cosignatures."""
    value = conn.execute(select(func.max(checkpoint_quorum.c.tree_size))).scalar()
    return None if value is None else int(value)


def has_quorum(conn: Connection, size: int) -> bool:
    query = select(checkpoint_quorum.c.tree_size).where(checkpoint_quorum.c.tree_size == size)
    return conn.execute(query).first() is not None
