"""A node whose commit step fails stops with one clear line and never runs on half-committed;
a node whose stored validator set is unusable refuses to start with the reason (#10 item 4)."""

import hashlib
import json
import logging
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from api.app import create_app
from consensus.validators import ValidatorSet
from contracts.tx import Transaction, sign_transaction
from node import chainstore, executor
from node.chainstore import validator_set as _validator_set
from node.genesis import NodeConfig
from node.keys import read_signer
from node.network_init import init_network
from node.runner import run_node
from node.service import Node
from tests.cluster import Cluster

pytestmark = pytest.mark.timeout(300)


def _network(tmp_path: Path, db_url: str) -> Path:
    [config] = init_network(tmp_path / "net", 1)
    config.write_text(json.dumps({**json.loads(config.read_text()), "db_url": db_url}))
    return config


def _anchor(net: Path, nonce: str) -> Transaction:
    signer = read_signer(net / "agencies" / "hosp-330881.key")
    body = {"type": "anchor", "chain_id": "shanhe-quzhou-dev", "signer": signer.name,
            "nonce": nonce, "sha256": hashlib.sha256(nonce.encode()).hexdigest()}  # fmt: skip
    return sign_transaction(body, signer)


def _wait(condition: Any, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met"
        time.sleep(0.02)


def _database_error(real: Any) -> Any:
    """store_block that writes its rows, then fails as a lost database connection would."""

    def failing(conn: Any, *args: Any) -> Any:
        real(conn, *args)
        raise OperationalError(
            "INSERT INTO blocks ...", {}, Exception("server closed the connection\nunexpectedly")
        )

    return failing


def _bad_validator_set(real: Any) -> Any:
    """execute() whose writes hold a duplicate validator, as governance once wrote them."""

    def bad(*args: Any, **kwargs: Any) -> executor.Execution:
        execution: executor.Execution = real(*args, **kwargs)
        [v] = args[0].get("validators")
        execution.writes["validators"] = [v, v]
        return execution

    return bad


@pytest.mark.parametrize("inject", ["database error", "unusable validator set"])
def test_a_failed_commit_stops_the_node_with_one_fatal_line(
    tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch, inject: str,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    caplog.set_level(logging.INFO, logger="shanhe.node")
    config = _network(tmp_path, db_url)
    net = tmp_path / "net"
    if inject == "database error":
        monkeypatch.setattr(chainstore, "store_block", _database_error(chainstore.store_block))
    else:
        monkeypatch.setattr("node.application.execute", _bad_validator_set(executor.execute))
    node = Node(NodeConfig.load(config))
    stops: list[str | None] = []
    node.on_fatal = lambda: stops.append(node.failed)
    tx = _anchor(net, "n-1")
    with TestClient(create_app(node)) as client:
        assert client.get("/readyz").status_code == 200
        assert client.post("/v1/tx", json=tx.to_json()).status_code == 202
        _wait(lambda: node.failed is not None)
        assert stops == [node.failed]  # the process is told to end, once
        ready = client.get("/readyz")
        assert ready.status_code == 503 and "commit of height" in ready.json()["detail"]
        critical = [r for r in caplog.records if r.levelno >= logging.ERROR]
        assert len(critical) == 1, [r.getMessage() for r in critical]
        line = critical[0].getMessage()
        assert "\n" not in line and critical[0].exc_info is None
        assert line.startswith("FATAL: could not commit the decided block at height 1 (")
        assert ("OperationalError" if inject == "database error" else "RuntimeError") in line
        assert "restart" in line
        # nothing of the block is stored, and the node does nothing more
        with node.engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM blocks")).scalar() == 0
        time.sleep(0.5)
        assert node.tip.height == 0 and node.sm.height == 1 and len(stops) == 1
    # restarted with the cause gone, it resumes from its WAL and commits the same block
    monkeypatch.undo()
    again = Node(NodeConfig.load(config))
    with TestClient(create_app(again)) as client:
        _wait(lambda: client.get(f"/v1/tx/{tx.hash.hex()}").json().get("status") == "committed")
        assert again.tip.height == 1 and again.failed is None


def test_a_stored_validator_set_no_node_can_use_stops_the_start_with_the_reason(
    tmp_path: Path, db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """The state the old governance bug left: the same validator twice."""
    config = _network(tmp_path, db_url)
    node = Node(NodeConfig.load(config))
    [v] = node.committed_value("validators")
    with node.engine.begin() as conn:
        conn.execute(
            text("UPDATE state_kv SET value = :v WHERE key = 'validators'"),
            {"v": json.dumps([v, v])},
        )
    node.engine.dispose()
    node.vault.engine.dispose()
    assert run_node(config) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "holds a validator set no node can use" in err
    assert f"validator names must be unique: {v['name']} more than once" in err


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(["name", "key", "url", "x"]), inner, max_size=4),
    max_leaves=12,
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_reading_a_validator_set_from_state_is_total(value: Any) -> None:
    result = _validator_set(value)
    assert isinstance(result, ValidatorSet | str)


def test_a_node_process_exits_nonzero_when_its_database_fails_a_commit(tmp_path: Path) -> None:
    """Real process, real database error: another process holds the SQLite write lock past
    the node's busy timeout (10 s) when it commits."""
    c = Cluster(tmp_path / "net", nodes=1).start_all()
    try:
        db = sqlite3.connect(c.configs[0].parent / "node.db", isolation_level=None, timeout=1)
        db.execute("BEGIN EXCLUSIVE")
        tx = c.anchor("while the database is locked")
        # a one-validator network decides at once: the answer waits for the commit's lock
        r = c.client.post(f"{c.urls[0]}/v1/tx", json=tx.to_json(), timeout=60)
        assert r.status_code == 202
        proc = c.procs[0]
        assert proc is not None
        assert proc.wait(60) == 1
        db.execute("ROLLBACK")
        db.close()
        log = c.log(0)
        fatal = [line for line in log.splitlines() if "FATAL" in line]
        assert len(fatal) == 1 and "height 1 (OperationalError: " in fatal[0], log
        assert "Traceback" not in log
        # restarted, it commits the block it decided before it stopped
        c.procs[0] = None
        c.start(0)
        c.wait_for(lambda: c.committed_everywhere([0], tx.hash.hex()), what="commit after restart")
    finally:
        c.stop()
