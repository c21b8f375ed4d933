"""``shanhe log audit`` finds rows edited behind the node's back."""

import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from node import logstore
from node.cli import main
from node.db import open_database, sqlite_url
from tests.memtree import numbered_leaves
from tlog import layout
from tlog.checkpoint import Checkpoint
from tlog.hashing import leaf_hash
from tlog.note import Signer, signature_line

LEAVES = numbered_leaves(40, "a-")
SIGNER = Signer.generate("node-a")


def _build(engine: Engine, batches: tuple[int, ...] = (10, 30)) -> None:
    start = 0
    for count in batches:
        with engine.begin() as conn:
            size, root = logstore.append_leaves(conn, LEAVES[start : start + count])
            body = Checkpoint("test/log", size, root).body()
            logstore.add_checkpoint(conn, size, body)
            logstore.add_cosignature(conn, size, SIGNER.name, signature_line(body, SIGNER))
        start += count


def _keys(tmp_path: Path, signer: Signer = SIGNER) -> str:
    path = tmp_path / "keys.txt"
    path.write_text(signer.verifier().encode() + "\n")
    return str(path)


def _audit(url: str, *extra: str) -> int:
    return main(["log", "audit", "--db", url, *extra])


def test_clean_log_passes_on_both_engines(
    db_url: str, engine: Engine, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _build(engine)
    assert _audit(db_url, "--keys", _keys(tmp_path)) == 0
    out = capsys.readouterr().out
    assert "40 leaves, 2 checkpoints match" in out and "signed by node-a" in out


def test_unknown_signer_fails_signature_check(db_url: str, engine: Engine, tmp_path: Path) -> None:
    _build(engine)
    assert _audit(db_url, "--keys", _keys(tmp_path, Signer.generate("node-a"))) == 1


@pytest.fixture
def sqlite_log(tmp_path: Path) -> str:
    path = tmp_path / "node.db"
    engine = open_database(sqlite_url(path))
    _build(engine)
    engine.dispose()
    return str(path)


def _tamper(path: str, *statements: tuple[str, tuple[object, ...]]) -> None:
    """Edit the database file directly, as someone with the file would: triggers first."""
    db = sqlite3.connect(path)
    for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'").fetchall():
        db.execute(f"DROP TRIGGER {name}")
    for sql, params in statements:
        db.execute(sql, params)
    db.commit()
    db.close()


def _fail_message(capsys: pytest.CaptureFixture[str]) -> str:
    return capsys.readouterr().err.strip()


def test_edited_leaf_is_reported_with_its_index(
    sqlite_log: str, capsys: pytest.CaptureFixture[str]
) -> None:
    _tamper(sqlite_log, ("UPDATE log_leaves SET data = ? WHERE leaf_index = 17", (b"forged",)))
    assert _audit(sqlite_url(Path(sqlite_log))) == 1
    message = _fail_message(capsys)
    assert message.startswith("audit failed: leaf 17:") and "\n" not in message


def test_edited_interior_hash_is_reported(
    sqlite_log: str, capsys: pytest.CaptureFixture[str]
) -> None:
    index = layout.stored_hash_index(2, 3)  # covers leaves 12..15, completed by leaf 15
    _tamper(sqlite_log, ("UPDATE log_hashes SET hash = ? WHERE hash_index = ?", (bytes(32), index)))
    assert _audit(sqlite_url(Path(sqlite_log))) == 1
    assert _fail_message(capsys).startswith(f"audit failed: leaf 15: stored hash {index}")


def test_deleted_leaf_is_reported(sqlite_log: str, capsys: pytest.CaptureFixture[str]) -> None:
    _tamper(sqlite_log, ("DELETE FROM log_leaves WHERE leaf_index = 3", ()))
    assert _audit(sqlite_url(Path(sqlite_log))) == 1
    assert "leaf 3" in _fail_message(capsys)


def test_consistent_rewrite_is_caught_by_the_signed_checkpoint(
    sqlite_log: str, capsys: pytest.CaptureFixture[str]
) -> None:
    forged = [*LEAVES[:7], b"forged", *LEAVES[8:]]
    frontier = layout.Frontier()
    rewrites: list[tuple[str, tuple[object, ...]]] = [
        ("UPDATE log_leaves SET data = ? WHERE leaf_index = 7", (b"forged",))
    ]
    for leaf in forged:
        for index, h in frontier.append(leaf_hash(leaf)):
            rewrites.append(("UPDATE log_hashes SET hash = ? WHERE hash_index = ?", (h, index)))
    _tamper(sqlite_log, *rewrites)
    assert _audit(sqlite_url(Path(sqlite_log))) == 1
    assert _fail_message(capsys).startswith("audit failed: checkpoint at size 10:")


def test_edited_checkpoint_fails_signature(
    sqlite_log: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _tamper(
        sqlite_log, ("UPDATE log_checkpoints SET body = body || 'ext\n' WHERE tree_size = 40", ())
    )
    assert _audit(sqlite_url(Path(sqlite_log)), "--keys", _keys(tmp_path)) == 1
    assert "no_quorum" in _fail_message(capsys)


def test_missing_database_is_a_usage_error(tmp_path: Path) -> None:
    assert _audit(sqlite_url(tmp_path / "nothing.db")) == 2


@pytest.mark.postgres
def test_postgres_tampering_is_caught(
    postgres_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    engine = open_database(postgres_url)
    try:
        _build(engine)
        with engine.begin() as conn:
            conn.execute(text("ALTER TABLE log_leaves DISABLE TRIGGER USER"))
            conn.execute(text("UPDATE log_leaves SET data = 'x' WHERE leaf_index = 33"))
    finally:
        engine.dispose()
    assert _audit(postgres_url) == 1
    assert _fail_message(capsys).startswith("audit failed: leaf 33:")
