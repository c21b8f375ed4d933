"""The stored tree on both engines: appends, roots, proofs, append-only guards."""

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from node import logstore
from node.db import open_database
from tests import reference
from tests.memtree import numbered_leaves
from tlog import layout
from tlog.checkpoint import Checkpoint
from tlog.hashing import EMPTY_ROOT, leaf_hash
from tlog.verify import verify_consistency, verify_inclusion

LEAVES = numbered_leaves(70, "s-")


def _fill(engine: Engine, batches: list[int]) -> None:
    start = 0
    for count in batches:
        with engine.begin() as conn:
            size, root = logstore.append_leaves(conn, LEAVES[start : start + count])
        start += count
        assert size == start
        assert root == (reference.mth(LEAVES[:start]) if start else EMPTY_ROOT)


def test_append_in_uneven_batches_matches_reference(engine: Engine) -> None:
    _fill(engine, [1, 0, 2, 5, 9, 16, 37])
    with engine.connect() as conn:
        assert logstore.tree_size(conn) == 70
        count = conn.execute(text("SELECT count(*) FROM log_hashes")).scalar()
        assert count == layout.stored_hash_count(70)
        for n in (1, 2, 3, 31, 32, 33, 70):
            assert logstore.root_at(conn, n) == reference.mth(LEAVES[:n])
        for m, n in [(0, 1), (3, 7), (31, 70), (69, 70)]:
            proof = logstore.inclusion_proof(conn, m, n)
            assert proof == reference.path(m, LEAVES[:n])
            assert (
                verify_inclusion(m, n, leaf_hash(LEAVES[m]), proof, reference.mth(LEAVES[:n]))
                is None
            )
        for m, n in [(1, 2), (3, 7), (32, 70), (69, 70)]:
            proof = logstore.consistency_proof(conn, m, n)
            assert proof == reference.proof(m, LEAVES[:n])
            assert (
                verify_consistency(
                    m, n, reference.mth(LEAVES[:m]), reference.mth(LEAVES[:n]), proof
                )
                is None
            )
        assert logstore.leaf_at(conn, 5) == LEAVES[5]
        assert logstore.leaf_at(conn, 70) is None
        assert logstore.root_at(conn, 0) == EMPTY_ROOT


def test_a_failed_transaction_leaves_no_trace(engine: Engine) -> None:
    _fill(engine, [4])
    with pytest.raises(RuntimeError), engine.begin() as conn:
        logstore.append_leaves(conn, LEAVES[4:8])
        raise RuntimeError("block rejected")
    with engine.connect() as conn:
        assert logstore.tree_size(conn) == 4
        assert conn.execute(
            text("SELECT count(*) FROM log_hashes")
        ).scalar() == layout.stored_hash_count(4)
    _fill_from = 4
    with engine.begin() as conn:
        size, root = logstore.append_leaves(conn, LEAVES[_fill_from:8])
    assert (size, root) == (8, reference.mth(LEAVES[:8]))


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE log_leaves SET data = :x WHERE leaf_index = 0",
        "DELETE FROM log_leaves WHERE leaf_index = 1",
        "UPDATE log_hashes SET hash = :x WHERE hash_index = 2",
        "DELETE FROM log_hashes",
        "UPDATE log_checkpoints SET body = 'x'",
        "DELETE FROM log_cosignatures",
    ],
)
def test_log_tables_refuse_update_and_delete(engine: Engine, statement: str) -> None:
    _fill(engine, [3])
    with engine.begin() as conn:
        logstore.add_checkpoint(conn, 3, Checkpoint("o", 3, reference.mth(LEAVES[:3])).body())
        logstore.add_cosignature(conn, 3, "n", "— n AAAA\n")
    with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
        conn.execute(text(statement), {"x": b"evil"})
    with engine.connect() as conn:
        assert logstore.root_at(conn, 3) == reference.mth(LEAVES[:3])
        assert logstore.checkpoint_note(conn) is not None


@pytest.mark.postgres
def test_postgres_refuses_truncate(postgres_url: str) -> None:
    engine = open_database(postgres_url)
    try:
        _fill(engine, [2])
        with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
            conn.execute(text("TRUNCATE log_leaves"))
    finally:
        engine.dispose()


def test_checkpoint_notes_gather_cosignatures(engine: Engine) -> None:
    _fill(engine, [2, 3])
    body2 = Checkpoint("o", 2, reference.mth(LEAVES[:2])).body()
    body5 = Checkpoint("o", 5, reference.mth(LEAVES[:5])).body()
    with engine.begin() as conn:
        logstore.add_checkpoint(conn, 2, body2)
        logstore.add_checkpoint(conn, 5, body5)
        logstore.add_cosignature(conn, 5, "b", "— b BBBB\n")
        logstore.add_cosignature(conn, 5, "a", "— a AAAA\n")
    with engine.connect() as conn:
        assert logstore.checkpoint_note(conn) == body5 + "\n— a AAAA\n— b BBBB\n"
        assert logstore.checkpoint_note(conn, 2) == body2 + "\n"
        assert logstore.checkpoint_note(conn, 3) is None
