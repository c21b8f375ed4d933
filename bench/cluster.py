"""Cluster benchmark (issue 3). Not a test: prints figures measured side by side in one run.

    .venv/bin/python -m bench.cluster [--seconds 60] [--rate 200] [--latency-seconds 30]

A 4-node local cluster on SQLite, clients submitting signed anchor transactions:
1. the machine's bound: Ed25519 verifications per second x cores / nodes (every node must
   verify every transaction);
2. sustained committed transactions per second, clients submitting as fast as they can;
3. p50/p99 commit latency at a fixed offered load (submission to seen in a committed block).
"""

import argparse
import asyncio
import gc
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

from contracts.tx import Transaction, check_signature
from tests.cluster import Cluster


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux /proc), to report CPU spent per transaction:
    on a shared 2-core machine that is steadier than transactions per second."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_of(c: Cluster) -> list[float]:
    return [cpu_seconds(p.pid) for p in c.procs if p is not None] + [cpu_seconds(os.getpid())]


def ed25519_verifications_per_second(
    samples: list[Transaction], key: object, seconds: float = 2.0
) -> float:
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for tx in samples:
            check_signature(tx, key)  # type: ignore[arg-type]
        count += len(samples)
    return count / (time.perf_counter() - start)


class RawClient:
    """A minimal keep-alive HTTP/1.1 client: the load generator shares the nodes' two cores, so
    it should spend as little of them as it can."""

    def __init__(self, url: str) -> None:
        host, port = url.removeprefix("http://").split(":")
        self.host, self.port = host, int(port)
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, path: str, body: bytes) -> int:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {self.host}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        )
        self.writer.write(head.encode() + body)
        status = int((await self.reader.readline()).split()[1])
        length = 0
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode().partition(":")
            if name.lower() == "content-length":
                length = int(value)
        await self.reader.readexactly(length)
        return status

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


async def flood(
    c: Cluster, txs: list[Transaction], seconds: float, workers: int = 32
) -> tuple[int, float]:
    """Submit as fast as possible; return (committed during the window, window seconds)."""
    bodies = iter([json.dumps(tx.to_json()).encode() for tx in txs])
    async with httpx.AsyncClient(timeout=30) as client:
        start_size = (await client.get(f"{c.urls[0]}/v1/status")).json()["tree_size"]
        stop = time.monotonic() + seconds

        async def worker(n: int) -> None:
            raw = RawClient(c.urls[n % len(c.urls)])
            while time.monotonic() < stop:
                body = next(bodies, None)
                if body is None:
                    break
                if await raw.post("/v1/tx", body) == 503:
                    await asyncio.sleep(0.05)
            await raw.close()

        t0 = time.monotonic()
        await asyncio.gather(*(worker(n) for n in range(workers)))
        elapsed = time.monotonic() - t0
        end_size = (await client.get(f"{c.urls[0]}/v1/status")).json()["tree_size"]
    return end_size - start_size, elapsed


async def latency(c: Cluster, txs: list[Transaction], rate: float, seconds: float) -> list[float]:
    submitted: dict[str, float] = {}
    seen: dict[str, float] = {}
    async with httpx.AsyncClient(timeout=30) as client:
        height = (await client.get(f"{c.urls[0]}/v1/status")).json()["height"]
        done = asyncio.Event()

        async def watch() -> None:
            nonlocal height
            while not done.is_set():
                status = (await client.get(f"{c.urls[0]}/v1/status")).json()
                while height < status["height"]:
                    height += 1
                    path = f"/v1/blocks/{height}"  # the log's content: a signed read
                    headers = c.log_headers(0, path)
                    block = (await client.get(f"{c.urls[0]}{path}", headers=headers)).json()
                    now = time.monotonic()
                    for h in block["tx_hashes"]:
                        seen.setdefault(h, now)
                await asyncio.sleep(0.01)

        watcher = asyncio.create_task(watch())
        interval = 1.0 / rate
        start = time.monotonic()
        tasks = []
        for n, tx in enumerate(txs[: int(rate * seconds)]):
            await asyncio.sleep(max(0.0, start + n * interval - time.monotonic()))
            submitted[tx.hash.hex()] = time.monotonic()
            tasks.append(
                asyncio.create_task(client.post(f"{c.urls[n % 4]}/v1/tx", json=tx.to_json()))
            )
        await asyncio.gather(*tasks)
        deadline = time.monotonic() + 30
        while len(seen.keys() & submitted.keys()) < len(submitted) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        done.set()
        await watcher
    return [seen[h] - t for h, t in submitted.items() if h in seen]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--rate", type=float, default=200)
    parser.add_argument("--latency-seconds", type=float, default=30)
    parser.add_argument(
        "--prepare", type=int, default=160_000, help="transactions to pre-sign for the flood"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        c = Cluster(Path(tmp) / "net").start_all()
        try:
            t0 = time.perf_counter()
            txs = [
                c.anchor(f"bench {n}")
                for n in range(args.prepare + int(args.rate * args.latency_seconds))
            ]
            print(f"pre-signed {len(txs):,} transactions in {time.perf_counter() - t0:.1f} s")
            gc.freeze()  # they live to the end: the load generator's full collections must not
            # rescan them in the middle of the latency run (a stall there counts as latency)
            verifies = ed25519_verifications_per_second(txs[:200], c.agency.verifier())
            cores = os.cpu_count() or 1
            bound = verifies * cores / 4
            print(
                f"Ed25519 verify: {verifies:,.0f}/s per core; bound {verifies:,.0f} x {cores} cores / 4 nodes = {bound:,.0f} tx/s"
            )

            cpu_before = cpu_of(c)
            committed, window = asyncio.run(flood(c, txs[: args.prepare], args.seconds))
            cpu = [after - before for before, after in zip(cpu_before, cpu_of(c), strict=True)]
            if window < args.seconds - 1:
                print(
                    f"WARNING: the flood ran out of transactions after {window:.1f} s: use --prepare"
                )
            print(
                f"sustained: {committed:,} transactions committed in {window:.1f} s = {committed / window:,.0f} tx/s ({committed / window / bound:.3f} of the bound)"
            )
            print(
                f"CPU during the flood: nodes {' + '.join(f'{s:.1f}' for s in cpu[:-1])} s, load generator {cpu[-1]:.1f} s; "
                f"{sum(cpu[:-1]) / max(1, committed) * 1e3:.2f} ms of node CPU per committed transaction"
            )
            c.wait_for(
                lambda: all(c.status(i)["mempool"] == 0 for i in range(4)),
                timeout=300,
                what="backlog drained",
            )
            lat = asyncio.run(latency(c, txs[args.prepare :], args.rate, args.latency_seconds))
            lat.sort()
            expected = int(args.rate * args.latency_seconds)
            if lat:
                p50 = statistics.median(lat)
                p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))]
                print(
                    f"latency at {args.rate:.0f} tx/s offered for {args.latency_seconds:.0f} s: {len(lat):,}/{expected:,} committed, p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms"
                )
            heights = [c.status(i)["height"] for i in range(4)]
            print(
                f"final heights {heights}; blocks hold {sum(c.status(0)['counters'].get(k, 0) for k in ['txs_committed']) / max(1, heights[0]):.1f} tx on average"
            )
        finally:
            c.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
