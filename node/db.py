"""Opening the node's database: SQLite by default (WAL, synchronous FULL) or PostgreSQL by URL."""

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event

from node.schema import install_append_only_guards, metadata


def sqlite_url(path: Path) -> str:
    return f"sqlite+pysqlite:///{path}"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def open_database(url: str, *, create: bool = True) -> Engine:
    """An engine for ``url``; with ``create``, the tables and append-only triggers exist after."""
    if url.startswith("sqlite"):
        engine = create_engine(url)
        event.listen(engine, "connect", _sqlite_pragmas)
    else:
        engine = create_engine(url, pool_pre_ping=True)
    if create:
        with engine.begin() as conn:
            metadata.create_all(conn)
            install_append_only_guards(conn)
    return engine
