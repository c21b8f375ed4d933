"""Admission of pre-signed anchors on one node, not started (no consensus, no peers): what a
submission costs a node before it is queued. ``python -m bench.admission``.

Prints the per-transaction time of ``Node.submit`` over several rounds (the fastest round, the
least disturbed on a shared machine, and the median), and of the stateless checks alone
(decoding the envelope, and the shape and personal-data checks where the code has them)."""

import asyncio
import hashlib
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from contracts.tx import Transaction, sign_transaction
from node.genesis import NodeConfig
from node.keys import read_signer
from node.network_init import init_network
from node.service import Node

ROUNDS = 11
PER_ROUND = 2_000


def _anchors(net: Path, start: int, count: int) -> list[dict[str, Any]]:
    signer = read_signer(net / "agencies" / "ssb-330825.key")
    return [
        sign_transaction(
            {"type": "anchor", "chain_id": "shanhe-quzhou-dev", "signer": signer.name,
             "nonce": f"b{i}", "sha256": hashlib.sha256(str(i).encode()).hexdigest()},
            signer,
        ).to_json()
        for i in range(start, start + count)
    ]  # fmt: skip


def _stateless(raws: list[dict[str, Any]]) -> float:
    check = getattr(sys.modules.get("contracts.rules"), "stateless_checks", None)
    started = time.perf_counter()
    for raw in raws:
        tx = Transaction.from_json(raw)
        if check is not None:
            check(tx)
    return (time.perf_counter() - started) / len(raws)


async def _main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        net = Path(tmp) / "net"
        [config_path] = init_network(net, 1)
        config = NodeConfig.load(config_path)
        node = Node(NodeConfig(**{**config.__dict__, "mempool_size": 10**6,
                                  "rate_per_signer": 1e9}))  # fmt: skip
        submit, stateless = [], []
        for r in range(ROUNDS):
            raws = _anchors(net, r * PER_ROUND, PER_ROUND)
            stateless.append(_stateless(raws))
            started = time.perf_counter()
            for raw in raws:
                node.submit(raw)
            submit.append((time.perf_counter() - started) / PER_ROUND)
        for what, times in (("Node.submit (anchor)", submit), ("stateless checks", stateless)):
            print(f"{what}: fastest round {min(times) * 1e6:.1f} us, "
                  f"median {statistics.median(times) * 1e6:.1f} us")  # fmt: skip


if __name__ == "__main__":
    asyncio.run(_main())
