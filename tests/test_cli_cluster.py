"""``shanhe init`` and ``shanhe cluster up`` as a user runs them."""

import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from contracts.registry import CONTRACT_VERSION
from node.cli import main
from tests.cluster import free_base_port


def test_init_writes_a_network(tmp_path: Path) -> None:
    out = tmp_path / "net"
    names = [
        "--public-name",
        "https://node{i}.shanhe.example",
        "--public-name",
        "10.0.0.{i}:{port}",
    ]
    assert (
        main(["init", "--nodes", "4", "--out", str(out), "--chain-id", "test-chain", *names]) == 0
    )
    genesis = json.loads((out / "genesis.json").read_text())
    assert genesis["chain_id"] == "test-chain" and genesis["quorum"] == 3
    assert [v["name"] for v in genesis["validators"]] == [
        "node-330800", "node-330802", "node-330803", "node-330822"
    ]  # fmt: skip
    assert len((out / "verifier-keys.txt").read_text().splitlines()) == 4
    assert {p.stem for p in (out / "agencies").glob("*.key")} >= {"ssb-330825", "hosp-330881"}
    for i in range(1, 5):
        config = json.loads((out / f"node-{i}" / "config.json").read_text())
        port = 8700 + i - 1
        assert config["port"] == port and len(config["peers"]) == 3
        assert config["public_names"] == [  # what signed requests to this node must name
            f"127.0.0.1:{port}", f"localhost:{port}", f"node{i}.shanhe.example", f"10.0.0.{i}:{port}"
        ]  # fmt: skip
        assert (out / f"node-{i}" / "node.key").stat().st_mode & 0o777 == 0o600
    assert main(["init", "--nodes", "4", "--out", str(out)]) == 2  # never overwrites


def test_cluster_up_starts_reuses_and_stops_cleanly(tmp_path: Path) -> None:
    data = tmp_path / "data"
    port = free_base_port(1)
    cmd = [
        sys.executable,
        "-m",
        "node.cli",
        "cluster",
        "up",
        "--nodes",
        "1",
        "--data-dir",
        str(data),
        "--base-port",
        str(port),
    ]
    for attempt in range(2):
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                try:
                    if (
                        httpx.get(f"http://127.0.0.1:{port}/v1/status", timeout=1).status_code
                        == 200
                    ):
                        break
                except httpx.HTTPError:
                    time.sleep(0.2)
            status = httpx.get(f"http://127.0.0.1:{port}/v1/status").json()
            assert status["name"] == "node-330800"
        finally:
            proc.send_signal(signal.SIGINT)
            out, _ = proc.communicate(timeout=30)
        assert proc.returncode == 0, out
        assert f"node-330800: http://127.0.0.1:{port}" in out and "all nodes stopped" in out
        assert ("initialised" in out) == (attempt == 0)  # the second run reuses the network


def test_demo_runs_the_quzhou_scenario_and_writes_nothing_identifying(tmp_path: Path) -> None:
    from api.demo import _id

    data = tmp_path / "demo"
    port = free_base_port(4)
    run = subprocess.run(
        [sys.executable, "-m", "node.cli", "demo", "--data-dir", str(data), "--base-port", str(port)],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.count("[ok]") == 37 and "FAILED" not in run.stdout  # delegation: 7
    ids = [_id("33082519800214003"), _id("33082419380917002"), _id("33080219690305004")]
    for path in data.rglob("*"):
        if path.is_file():
            content = path.read_bytes()
            for id_number in ids:
                assert id_number.encode() not in content, path


def test_a_node_refuses_a_genesis_for_other_contracts(tmp_path: Path, capsys: Any) -> None:
    out = tmp_path / "net"
    main(["init", "--nodes", "1", "--out", str(out)])
    genesis = json.loads((out / "genesis.json").read_text())
    assert genesis["contract_version"] == CONTRACT_VERSION == 4
    (out / "genesis.json").write_text(json.dumps({**genesis, "contract_version": 1}))
    assert main(["node", "run", "--config", str(out / "node-1" / "config.json")]) == 2
    assert "contract version 1" in capsys.readouterr().err
