"""Merkle log benchmark (issue 2). Not a test: prints figures and ratios measured in one run.

    .venv/bin/python -m bench.merkle [--leaves 1000000] [--compare 10000,100000]

1. append N leaves into the SQLite store in batches of 1,000, reading the root from the
   database after each batch; peak RSS after that phase;
2. inclusion and consistency proof generation (from the database) and verification at tree
   sizes 1k, 100k and N: median and p99;
3. the same "root after every batch of 1,000" workload at 10k and 100k leaves with pymerkle 7
   (in memory and its SQLite backend) and merkletools (installed with --no-deps), side by side.
"""

import argparse
import gc
import random
import resource
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from functools import partial
from pathlib import Path

from node import logstore
from node.db import open_database, sqlite_url
from tlog.hashing import leaf_hash
from tlog.verify import verify_consistency, verify_inclusion

BATCH = 1000


def _leaves(start: int, count: int) -> list[bytes]:
    return [f"entry-{i:012d}".encode() for i in range(start, start + count)]


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _quantiles(samples: list[float]) -> tuple[float, float]:
    samples = sorted(samples)
    return statistics.median(samples), samples[min(len(samples) - 1, int(len(samples) * 0.99))]


def ours(path: Path, n: int) -> float:
    engine = open_database(sqlite_url(path))
    start = time.perf_counter()
    for b in range(0, n, BATCH):
        with engine.begin() as conn:
            logstore.append_leaves(conn, _leaves(b, min(BATCH, n - b)))
        with engine.connect() as conn:
            logstore.root_at(conn, min(b + BATCH, n))
    elapsed = time.perf_counter() - start
    engine.dispose()
    return elapsed


def pymerkle_memory(n: int) -> float:
    from pymerkle import InmemoryTree

    tree = InmemoryTree(algorithm="sha256")
    start = time.perf_counter()
    for b in range(0, n, BATCH):
        for leaf in _leaves(b, min(BATCH, n - b)):
            tree.append_entry(leaf)
        tree.get_root()
    return time.perf_counter() - start


def pymerkle_sqlite(path: Path, n: int) -> float:
    from pymerkle import SqliteTree

    tree = SqliteTree(str(path), algorithm="sha256")
    start = time.perf_counter()
    for b in range(0, n, BATCH):
        tree.append_entries(_leaves(b, min(BATCH, n - b)))
        tree.get_root()
    elapsed = time.perf_counter() - start
    tree.close()
    return elapsed


def merkletools_memory(n: int) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import merkletools
    tree = merkletools.MerkleTools(hash_type="sha256")
    start = time.perf_counter()
    for b in range(0, n, BATCH):
        tree.add_leaf([leaf.decode() for leaf in _leaves(b, min(BATCH, n - b))], True)
        tree.make_tree()
        tree.get_merkle_root()
    return time.perf_counter() - start


def pymerkle_sqlite_proof_ms(path: Path, n: int, samples: int, rng: random.Random) -> float:
    from pymerkle import SqliteTree

    tree = SqliteTree(str(path), algorithm="sha256")
    times = []
    for _ in range(samples):
        index = rng.randrange(n)
        t = time.perf_counter()
        tree.prove_inclusion(index + 1, n)
        times.append(time.perf_counter() - t)
    tree.close()
    return statistics.median(times) * 1e3


def proofs(
    path: Path, size: int, samples: int, rng: random.Random
) -> dict[str, tuple[float, float]]:
    engine = open_database(sqlite_url(path), create=False)
    gen_inc: list[float] = []
    gen_con: list[float] = []
    ver_inc: list[float] = []
    ver_con: list[float] = []
    with engine.connect() as conn:
        root = logstore.root_at(conn, size)
        for _ in range(samples):
            index = rng.randrange(size)
            t = time.perf_counter()
            proof = logstore.inclusion_proof(conn, index, size)
            gen_inc.append(time.perf_counter() - t)
            leaf = leaf_hash(_leaves(index, 1)[0])
            t = time.perf_counter()
            ok = verify_inclusion(index, size, leaf, proof, root) is None
            ver_inc.append(time.perf_counter() - t)
            assert ok

            first = rng.randrange(1, size) if size > 1 else 1
            first_root = logstore.root_at(conn, first)
            t = time.perf_counter()
            cproof = logstore.consistency_proof(conn, first, size)
            gen_con.append(time.perf_counter() - t)
            t = time.perf_counter()
            ok = verify_consistency(first, size, first_root, root, cproof) is None
            ver_con.append(time.perf_counter() - t)
            assert ok
    engine.dispose()
    return {
        "inclusion proof": _quantiles(gen_inc),
        "inclusion verify": _quantiles(ver_inc),
        "consistency proof": _quantiles(gen_con),
        "consistency verify": _quantiles(ver_con),
    }


def _compare(label: str, runs: list[tuple[str, Callable[[], float]]]) -> None:
    results = []
    for name, run in runs:
        gc.collect()
        results.append((name, run()))
    base = results[0][1]
    print(f"\n{label}")
    print(f"  {'implementation':<34} {'seconds':>9} {'x ours':>8}")
    for name, seconds in results:
        print(f"  {name:<34} {seconds:>9.2f} {seconds / base:>8.2f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leaves", type=int, default=1_000_000)
    parser.add_argument("--compare", default="10000,100000")
    parser.add_argument("--samples", type=int, default=2000)
    args = parser.parse_args()
    rng = random.Random(9162)
    with tempfile.TemporaryDirectory() as tmp:
        big = Path(tmp) / "big.db"
        rss_before = _peak_rss_mb()
        seconds = ours(big, args.leaves)
        print(
            f"append {args.leaves:,} leaves into SQLite, root after every {BATCH:,}: "
            f"{seconds:.1f} s ({args.leaves / seconds:,.0f} leaves/s); "
            f"peak RSS {_peak_rss_mb():.0f} MB (was {rss_before:.0f} MB before)"
        )
        print(f"database file: {big.stat().st_size / 2**20:.0f} MiB")

        print(f"\nproofs from the database and their verification ({args.samples} samples each)")
        print(f"  {'size':>9}  {'what':<20} {'median ms':>10} {'p99 ms':>8}")
        for size in sorted({1000, 100_000, args.leaves}):
            if size > args.leaves:
                continue
            for what, (median, p99) in proofs(big, size, args.samples, rng).items():
                print(f"  {size:>9,}  {what:<20} {median * 1e3:>10.4f} {p99 * 1e3:>8.4f}")

        for n in (int(x) for x in args.compare.split(",")):
            _compare(
                f"root after every batch of {BATCH:,}, {n:,} leaves (ratio: time / ours)",
                [
                    ("shanhe (SQLite file, durable)", partial(ours, Path(tmp) / f"o{n}.db", n)),
                    ("pymerkle 7 InmemoryTree", partial(pymerkle_memory, n)),
                    ("pymerkle 7 SqliteTree", partial(pymerkle_sqlite, Path(tmp) / f"p{n}.db", n)),
                    ("merkletools 1.0.3 (in memory)", partial(merkletools_memory, n)),
                ],
            )
            theirs = pymerkle_sqlite_proof_ms(Path(tmp) / f"p{n}.db", n, 50, rng)
            mine = proofs(Path(tmp) / f"o{n}.db", n, 50, rng)["inclusion proof"][0] * 1e3
            print(
                f"  inclusion proof at {n:,}, median: shanhe {mine:.3f} ms, "
                f"pymerkle SqliteTree {theirs:.3f} ms ({theirs / mine:.0f}x ours)"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
