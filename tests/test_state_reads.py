"""Reads of committed state (issue 14): ``chainstore.state_prefix``, exactly the keys under a
prefix, in key order, paged, on SQLite through the key index (a range), not a scan of the whole
state; ``DBState.get``, a point read straight from the driver, the value or None."""

from typing import Any

from sqlalchemy import Engine, event

from node import chainstore

KEYS = [
    "access/p1/000000000000", "access/p1/000000000001", "access/p1/000000000002",
    "access/p1", "access/p10/000000000000", "access/p1.x", "access/p1-", "access/p10",
    "access/p2/000000000000", "access/", "accesS/p1/000000000003", "ACCESS/p1/000000000004",
    "a%/1", "a%b/2", "a_/1", "ab/1", "z/\u00e9t\u00e9", "z/\U0001f600", "z0", "z.",
]  # fmt: skip


def _fill(engine: Engine) -> None:
    with engine.begin() as conn:
        chainstore._upsert(conn, {k: {"k": k} for k in KEYS})


def test_exactly_the_keys_under_the_prefix_in_order_and_paged(engine: Engine) -> None:
    _fill(engine)
    with engine.connect() as conn:
        for prefix in ["access/p1/", "access/p1", "access/", "a%/", "a_/", "z/", "accesS/", "q/"]:
            want = sorted(k for k in KEYS if k.startswith(prefix))
            got = [k for k, _ in chainstore.state_prefix(conn, prefix, None, 100)]
            assert got == want, prefix
            assert all(v == {"k": k} for k, v in chainstore.state_prefix(conn, prefix))
            pages, cursor = [], None
            while True:
                values, cursor = chainstore.state_page(conn, prefix, cursor, 2)
                pages += [v["k"] for v in values]
                if cursor is None:
                    break
            assert pages == want, prefix
        after = [
            k for k, _ in chainstore.state_prefix(conn, "access/p1/", "access/p1/000000000000")
        ]
        assert after == ["access/p1/000000000001", "access/p1/000000000002"]


def test_a_page_searches_the_key_index_instead_of_scanning_the_state(engine: Engine) -> None:
    _fill(engine)
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            conn.exec_driver_sql(
                "SET enable_seqscan = off"
            )  # a table this small: a scan is cheapest
            conn.exec_driver_sql("SET enable_bitmapscan = off")
            statement = "SELECT key FROM state_kv WHERE key LIKE 'access/p1/%%' ORDER BY key"
            before = " ".join(str(r[0]) for r in conn.exec_driver_sql("EXPLAIN " + statement))
            assert "Index" in before, before  # the column's collation "C": even a LIKE may
            rows = chainstore.state_prefix(conn, "access/p1/", None, 10)
            assert [k for k, _ in rows][:1] == ["access/p1/000000000000"]
            assert chainstore._keys_in_byte_order(conn)
        return
    seen: list[tuple[str, Any]] = []

    def capture(_c: Any, _cur: Any, statement: str, params: Any, *_: Any) -> None:
        if "FROM state_kv" in statement:
            seen.append((statement, params))

    event.listen(engine, "before_cursor_execute", capture)
    try:
        with engine.connect() as conn:
            chainstore.state_prefix(conn, "access/p1/", None, 10)
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    ((statement, params),) = seen
    with engine.connect() as conn:
        plan = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, params).fetchall()
    detail = " ".join(str(row[-1]) for row in plan)
    assert "SEARCH" in detail and "SCAN" not in detail, detail


def test_a_point_read_gives_the_value_or_none(engine: Engine) -> None:
    _fill(engine)
    with engine.begin() as conn:
        chainstore._upsert(
            conn, {"n/1": 7, "n/2": [1, {"a": None}], "n/3": "t\u00e9xt", "n/4": None}
        )
    with engine.connect() as conn:
        state = chainstore.DBState(conn)
        assert state.get("access/p1") == {"k": "access/p1"}
        assert state.get("n/1") == 7 and state.get("n/2") == [1, {"a": None}]
        assert state.get("n/3") == "t\u00e9xt" and state.get("n/4") is None
        assert state.get("ACCESS/P1") is None and state.get("access/p1/") is None
        assert state.get("a%/1") == {"k": "a%/1"} and state.get("a_/1") == {"k": "a_/1"}
        assert state.get("'; DROP TABLE state_kv; --") is None
        assert state.get("z/\U0001f600") == {"k": "z/\U0001f600"}
