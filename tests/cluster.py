"""Real node processes on loopback for end-to-end tests and the cluster benchmark."""

import hashlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from contracts.tx import Transaction, sign_transaction
from node.genesis import NodeConfig
from node.keys import read_signer
from node.network_init import init_network
from signing.http_signatures import authority_of, sign_request


def free_base_port(count: int) -> int:
    """A base port with ``count`` consecutive free ports above it, below Linux's ephemeral
    range (32768 and up): a port chosen there can be taken, between this check and the node's
    bind, by any outgoing connection of the same test run (a CI run failed so)."""
    for _ in range(50):
        base = 20000 + secrets.randbelow(12000)
        ok = True
        for port in range(base, base + count):
            with socket.socket() as s:
                try:
                    s.bind(("127.0.0.1", port))
                except OSError:
                    ok = False
                    break
        if ok:
            return base
    raise RuntimeError("no free ports")


class Cluster:
    def __init__(self, directory: Path, nodes: int = 4, db_urls: list[str] | None = None) -> None:
        self.dir = directory
        self.base_port = free_base_port(nodes)
        self.configs = init_network(directory, nodes, base_port=self.base_port)
        if db_urls:
            import json

            for path, url in zip(self.configs, db_urls, strict=True):
                data = json.loads(path.read_text())
                data["db_url"] = url
                path.write_text(json.dumps(data))
        self.urls = [f"http://127.0.0.1:{self.base_port + i}" for i in range(nodes)]
        self.procs: list[subprocess.Popen[bytes] | None] = [None] * nodes
        self.client = httpx.Client(timeout=10)
        self.agency = read_signer(directory / "agencies" / "ssb-330825.key")
        self.chain_id = ""

    def start(self, i: int) -> None:
        log = open(self.configs[i].parent / "node.log", "ab")  # noqa: SIM115
        self.procs[i] = subprocess.Popen(
            [sys.executable, "-m", "node.cli", "node", "run", "--config", str(self.configs[i])],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        self.wait_up(i)

    def add(self, config: Path, url: str) -> int:
        """Another node process (one that joins the network later); returns its index."""
        self.configs.append(config)
        self.urls.append(url)
        self.procs.append(None)
        return len(self.configs) - 1

    def start_all(self) -> "Cluster":
        for i in range(len(self.configs)):
            self.start(i)
        self.chain_id = self.client.get(f"{self.urls[0]}/v1/network").json()["chain_id"]
        return self

    def wait_up(self, i: int, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            proc = self.procs[i]
            if proc is not None and proc.poll() is not None:
                raise RuntimeError(f"node {i} exited: {self.log(i)[-2000:]}")
            try:
                if self.client.get(f"{self.urls[i]}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise TimeoutError(f"node {i} did not come up")

    def kill(self, i: int) -> None:
        proc = self.procs[i]
        if proc is not None:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            self.procs[i] = None

    def stop(self) -> None:
        for proc in self.procs:
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGINT)
        for i, proc in enumerate(self.procs):
            if proc is not None:
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
                self.procs[i] = None
        self.client.close()

    def log(self, i: int) -> str:
        return (self.configs[i].parent / "node.log").read_text(errors="replace")

    def config(self, i: int) -> NodeConfig:
        return NodeConfig.load(self.configs[i])

    def anchor(self, text: str) -> Transaction:
        body = {
            "type": "anchor",
            "chain_id": self.chain_id,
            "signer": self.agency.name,
            "nonce": secrets.token_hex(8),
            "sha256": hashlib.sha256(text.encode()).hexdigest(),
        }
        return sign_transaction(body, self.agency)

    def submit(self, i: int, tx: Transaction) -> httpx.Response:
        return self.client.post(f"{self.urls[i]}/v1/tx", json=tx.to_json())

    def get(self, i: int, path: str, **params: Any) -> httpx.Response:
        return self.client.get(f"{self.urls[i]}{path}", params=params)

    def read(self, i: int, path: str) -> httpx.Response:
        """A read of the log's content (``/v1/entries/…``, ``/v1/blocks/…``), signed by the
        audit bureau: entries and blocks are for signed callers with a role."""
        return self.client.get(f"{self.urls[i]}{path}", headers=self.log_headers(i, path))

    def log_headers(self, i: int, path: str) -> dict[str, str]:
        auditor = read_signer(self.dir / "agencies" / "audit-330800.key")
        authority = authority_of(self.urls[i])
        return sign_request(auditor, auditor.name, "GET", authority, path, "", b"", time.time())

    def status(self, i: int) -> dict[str, Any]:
        result: dict[str, Any] = self.get(i, "/v1/status").json()
        return result

    def wait_for(self, predicate: Any, timeout: float = 30, what: str = "condition") -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if predicate():
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise TimeoutError(f"timed out waiting for {what}")

    def committed_everywhere(self, nodes: list[int], tx_hash: str) -> bool:
        return all(
            self.get(i, f"/v1/tx/{tx_hash}").json().get("status") == "committed" for i in nodes
        )
