"""Shared fixtures: known-answer vectors and a fresh database on each engine."""

import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, make_url, text

from node.db import open_database, sqlite_url

VECTORS = Path(__file__).parent / "vectors"
POSTGRES_URL = os.environ.get("SHANHE_TEST_POSTGRES_URL")


def load_vectors(name: str) -> Any:
    return json.loads((VECTORS / name).read_text())


@pytest.fixture(scope="session")
def tlog_vectors() -> Any:
    return load_vectors("merkle-tlog.json")


@pytest.fixture(scope="session")
def note_vectors() -> Any:
    return load_vectors("signed-note.json")


def _fresh_postgres(url: str) -> Iterator[str]:
    """A new, empty database on the test server, dropped afterwards."""
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    name = f"shanhe_t_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _postgres_server() -> str:
    if POSTGRES_URL:
        return POSTGRES_URL
    if os.environ.get("SHANHE_REQUIRE_POSTGRES"):
        pytest.fail("SHANHE_REQUIRE_POSTGRES is set but SHANHE_TEST_POSTGRES_URL is not")
    pytest.skip("SHANHE_TEST_POSTGRES_URL is not set")


@pytest.fixture
def postgres_url() -> Iterator[str]:
    yield from _fresh_postgres(_postgres_server())


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield sqlite_url(tmp_path / "node.db")
    else:
        yield from _fresh_postgres(_postgres_server())


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    eng = open_database(db_url)
    yield eng
    eng.dispose()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--seeds", type=int, default=300, help="consensus simulation seeds (soak: more)"
    )
