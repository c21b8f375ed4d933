"""Admission of pre-signed anchors on one node, not started (no consensus, no peers): what a
submission costs a node before it is queued. ``python -m bench.admission``.

Prints the per-transaction time of ``Node.submit`` over several rounds (the fastest round, the
least disturbed on a shared machine, and the median), and of the stateless checks alone
(decoding the envelope, and the shape and personal-data checks where the code has them) of
anchors and of self-granted consents. Run it with ``PYTHONPATH`` at a checkout of other code
to compare the two side by side."""

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


def _consents(net: Path, count: int) -> list[dict[str, Any]]:
    """Self-granted consents: the type with the most strings, and 13-digit times, so the
    personal-number guard scans the whole body (anchors pass its prefilter)."""
    me = read_signer(net / "agencies" / "ssb-330825.key")  # any key: no signature is checked
    pseudonym = hashlib.sha256(b"bench").hexdigest()
    return [
        sign_transaction(
            {"type": "consent.grant", "chain_id": "shanhe-quzhou-dev",
             "signer": f"resident:{pseudonym}", "nonce": f"c{i}", "consent_id": f"c-{i}",
             "grantor": {"type": "self"}, "basis": {"type": "consent"}, "purpose": "TREAT",
             "data_classes": ["test_result"], "source": "hosp-330824",
             "recipient": "hosp-330881", "valid_from_ms": 1_780_000_000_000 + i,
             "valid_until_ms": 1_790_000_000_000 + i},
            me,
        ).to_json()
        for i in range(count)
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
        submit, stateless, consents = [], [], []
        for r in range(ROUNDS):
            raws = _anchors(net, r * PER_ROUND, PER_ROUND)
            stateless.append(_stateless(raws))
            consents.append(_stateless(_consents(net, PER_ROUND)))
            started = time.perf_counter()
            for raw in raws:
                node.submit(raw)
            submit.append((time.perf_counter() - started) / PER_ROUND)
        for what, times in (
            ("Node.submit (anchor)", submit),
            ("stateless checks (anchor)", stateless),
            ("stateless checks (consent.grant)", consents),
        ):
            print(f"{what}: fastest round {min(times) * 1e6:.1f} us, "
                  f"median {statistics.median(times) * 1e6:.1f} us")  # fmt: skip


if __name__ == "__main__":
    asyncio.run(_main())
