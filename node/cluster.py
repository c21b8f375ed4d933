"""``shanhe cluster up``: a local cluster, one process per node, stopped cleanly on Ctrl-C."""

import signal
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType

from node.genesis import NodeConfig
from node.network_init import init_network, is_network, node_configs


def cluster_up(data_dir: Path, nodes: int, base_port: int) -> int:
    if not is_network(data_dir):
        init_network(data_dir, nodes, base_port=base_port)
        print(f"initialised a {nodes}-node network in {data_dir}")
    configs = node_configs(data_dir)
    procs: list[tuple[str, subprocess.Popen[bytes]]] = []
    for path in configs:
        config = NodeConfig.load(path)
        log = open(path.parent / "node.log", "ab")  # noqa: SIM115 - kept open for the child
        proc = subprocess.Popen(
            [sys.executable, "-m", "node.cli", "node", "run", "--config", str(path)],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        procs.append((config.name, proc))
        print(
            f"{config.name}: http://{config.host}:{config.port} (log {path.parent / 'node.log'})",
            flush=True,
        )
    print(f"auditors' keys: {data_dir / 'verifier-keys.txt'}; Ctrl-C stops all nodes", flush=True)

    stopping = False

    def stop(signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    reported: set[str] = set()
    while not stopping:
        for name, proc in procs:
            if proc.poll() is not None and name not in reported:
                reported.add(name)
                print(f"{name} exited with code {proc.returncode}; not restarting it", flush=True)
        time.sleep(0.2)
    for _, proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
    deadline = time.monotonic() + 10
    for _, proc in procs:
        try:
            proc.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    print("all nodes stopped", flush=True)
    return 0
