"""Growth benchmark (issue 14). Not a test: figures measured side by side in one run.

    .venv/bin/python -m bench.growth [--sizes 0,100000,1000000] [--db sqlite,postgres]
        [--reps 3] [--rate 200] [--latency-seconds 20] [--block-txs 250] [--work DIR]

1. For each size N, a network (``shanhe init``'s ``init_network``) is grown to N committed
   transactions by the fast path (``build``): one process drives node 1's own code as a
   proposer does, without HTTP or consensus timing: ``Node._execute`` (the contracts, the log
   frontier, the state root: what every validator runs), a ``Block`` with a commit certificate
   of precommits signed by all four validators' keys, ``Node._commit`` (block, results,
   leaves, hashes, state, checkpoint and this node's cosignature in one database
   transaction) and the other three validators' cosignature lines through the path a node's
   early cosignatures take (``Cosignatures.receive``, ``reached``, ``flush``). Every
   transaction is signed by its signer's key and checked when executed. The mix is a
   realistic one: anchors, and residents' whole health-record workflows (enrollment at a
   counter, a self-granted consent, a hospital's request, her authorization, the source's
   release, the recipient's read), so that state grows as in use. The database is then
   copied to the other three nodes (SQLite: the file; PostgreSQL: ``CREATE DATABASE ...
   TEMPLATE``), each with a consensus WAL whose record is at the tip (stale: signing
   resumes at tip + 1).
2. The check that the fast path is honest: a new node (node 4 with an empty database)
   catches up from the other three by block sync (HTTP, certificates checked, every block
   re-executed by consensus' ``commit_certificate``), which also measures the catch-up rate;
   then its database is compared with the fast path's, table by table, row by row in key
   order (SHA-256 over every column of every row): ``blocks`` (height, hash, data,
   certificate), ``tx_results``, ``state_kv``, ``log_leaves``, ``log_hashes``,
   ``log_checkpoints``, ``validator_sets``, ``evidence``, ``pending_erasures``,
   ``node_outbox``, ``payload_fetches`` must be identical; ``log_cosignatures`` and
   ``checkpoint_quorum`` of the caught-up node must be a subset of the fast path's, byte for
   byte (a node that catches up takes cosignatures for its latest head only).
3. Interleaved and repeated (each repetition runs the sizes in a rotated order), each on a
   fresh copy of its grown databases: the four nodes' restart time (process start to
   ``/healthz``) and RSS, then commit latency (p50/p99, submission to seen in a committed
   block) at a fixed offered load and the nodes' CPU per committed transaction (/proc).
"""

import argparse
import asyncio
import base64
import gc
import hashlib
import json
import os
import secrets
import shutil
import statistics
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from bench.cluster import cpu_seconds, flood, latency
from consensus.machine import Decision
from consensus.messages import CommitCertificate, Vote, VoteType, block_id
from consensus.safety import SafetyState
from contracts.locator import derive
from contracts.tx import Transaction, sign_transaction
from node.blocks import Block
from node.genesis import NodeConfig
from node.keys import read_signer
from node.network_init import init_network
from node.schema import metadata
from node.walfile import WalFile
from tests.cluster import Cluster, free_base_port
from tlog.checkpoint import Checkpoint
from tlog.note import Signer, signature_line

PG_SERVER = os.environ.get(
    "SHANHE_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
NOTICE = {"hash": hashlib.sha256(b"notice shown").hexdigest(), "version": "notice-2026-1"}
DAY_MS = 86_400_000
WORKFLOW = 6
"""Transactions of one resident's health-record workflow."""


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


# ----------------------------------------------------------------------------- the mix
@dataclass
class Mix:
    """Signed transactions as agencies and residents send them: anchors, and whole workflows
    of residents (six steps, in order, within one block: later ones see earlier writes)."""

    chain_id: str
    agencies: dict[str, Signer]
    workflow_share: float
    residents: int = 0
    tag: str = field(default_factory=lambda: secrets.token_hex(4))

    def tx(self, signer: str, key: Signer, body: dict[str, Any]) -> Transaction:
        full = {"chain_id": self.chain_id, "signer": signer, "nonce": secrets.token_hex(8), **body}
        return sign_transaction(full, key)

    def anchor(self) -> Transaction:
        digest = secrets.token_hex(32)
        return self.tx(
            "ssb-330825", self.agencies["ssb-330825"], {"type": "anchor", "sha256": digest}
        )

    def workflow(self, time_ms: int) -> list[Transaction]:
        n = self.residents
        self.residents += 1
        p = hashlib.sha256(f"growth {self.tag} {n}".encode()).hexdigest()
        key = Signer(f"resident-{p[:16]}", hashlib.sha256(p.encode()).digest())
        me = f"resident:{p}"
        case, consent = f"s-{self.tag}-{n}", f"c-{self.tag}-{n}"
        commitment = hashlib.sha256(f"payload {p}".encode()).hexdigest()
        source, requester = "hosp-330824", "hosp-330881"
        a = self.agencies
        return [
            self.tx("ssb-330825", a["ssb-330825"], {"type": "resident.enroll", "pseudonym": p,
                    "key": key.verifier().encode(), "age_class": "adult"}),
            self.tx(me, key, {"type": "consent.grant", "consent_id": consent,
                    "grantor": {"type": "self"}, "basis": {"type": "consent"}, "notice": NOTICE,
                    "separate": True, "purpose": "COC", "data_classes": ["test_result"],
                    "source": source, "recipient": requester, "valid_from_ms": time_ms - 1000,
                    "valid_until_ms": time_ms + 30 * DAY_MS}),
            self.tx(requester, a[requester], {"type": "health.request", "case_id": case,
                    "resident": p, "source": source, "data_class": "test_result",
                    "purpose": "COC"}),
            self.tx(me, key, {"type": "health.authorize", "case_id": case, "consent_id": consent}),
            self.tx(source, a[source], {"type": "health.release", "case_id": case,
                    "commitment": commitment, "locator": derive(case, p, source, commitment)}),
            self.tx(requester, a[requester], {"type": "health.access", "case_id": case}),
        ]  # fmt: skip

    def block(self, count: int, time_ms: int) -> list[Transaction]:
        out: list[Transaction] = []
        workflows = round(count * self.workflow_share / WORKFLOW)
        for _ in range(workflows):
            out += self.workflow(time_ms)
        while len(out) < count:
            out.append(self.anchor())
        return out


# ------------------------------------------------------------------------ databases
def pg_url(name: str) -> str:
    return make_url(PG_SERVER).set(database=name).render_as_string(hide_password=False)


def pg_admin() -> Engine:
    return create_engine(PG_SERVER, isolation_level="AUTOCOMMIT")


def pg_copy(source: str, target: str) -> None:
    admin = pg_admin()
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{target}" WITH (FORCE)'))
        if source:
            conn.execute(text(f'CREATE DATABASE "{target}" TEMPLATE "{source}"'))
        else:
            conn.execute(text(f'CREATE DATABASE "{target}"'))
    admin.dispose()


def sqlite_checkpoint(path: Path) -> None:
    """Fold the WAL into the main file, so that copying the file copies the database."""
    if path.exists():
        import sqlite3

        con = sqlite3.connect(path)
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        con.close()


def _cell(value: Any) -> bytes:
    if value is None:
        return b"N"
    if isinstance(value, memoryview | bytes | bytearray):
        return b"b" + bytes(value)
    if isinstance(value, int):
        return b"i" + str(value).encode()
    return b"s" + str(value).encode()


def table_rows(url: str, table: str) -> Iterator[bytes]:
    """Every row of ``table`` in primary-key order, each as canonical bytes."""
    t = metadata.tables[table]
    keys = [c.name for c in t.primary_key.columns]
    cols = [c.name for c in t.columns]
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            result = conn.execution_options(stream_results=True, yield_per=5000).execute(
                text(f"SELECT {', '.join(cols)} FROM {table} ORDER BY {', '.join(keys)}")
            )
            for row in result:
                yield b"\x00".join(len(c).to_bytes(4, "big") + c for c in map(_cell, row))
    finally:
        engine.dispose()


IDENTICAL = ("blocks", "tx_results", "state_kv", "log_leaves", "log_hashes", "log_checkpoints",
             "validator_sets", "evidence", "pending_erasures", "node_outbox", "payload_fetches")  # fmt: skip
SUBSET = ("log_cosignatures", "checkpoint_quorum")


def digest(url: str) -> dict[str, tuple[int, str]]:
    out = {}
    for table in IDENTICAL:
        h, n = hashlib.sha256(), 0
        for row in table_rows(url, table):
            h.update(len(row).to_bytes(4, "big") + row)
            n += 1
        out[table] = (n, h.hexdigest())
    return out


def compare(fast: str, caught_up: str) -> list[str]:
    """Differences between the fast path's database and a caught-up node's (empty: none)."""
    problems = []
    a, b = digest(fast), digest(caught_up)
    for table in IDENTICAL:
        if a[table] != b[table]:
            problems.append(
                f"{table}: fast path {a[table][0]} rows, caught-up {b[table][0]}, contents differ"
            )
    for table in SUBSET:
        theirs = set(table_rows(caught_up, table))
        ours = set(table_rows(fast, table))
        if not theirs <= ours:
            problems.append(
                f"{table}: {len(theirs - ours)} rows of the caught-up node not in the fast path's"
            )
    return problems


def size_of(urls: list[str]) -> int:
    total = 0
    for url in urls:
        if url.startswith("sqlite"):
            path = Path(make_url(url).database or "")
            total += sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))
        else:
            name = make_url(url).database
            with pg_admin().connect() as conn:
                total += int(conn.execute(text(f"SELECT pg_database_size('{name}')")).scalar() or 0)
    return total


# ------------------------------------------------------------------------ the fast path
def configs_of(net: Path) -> list[Path]:
    return sorted(net.glob("node-*/config.json"))


def set_db_urls(net: Path, urls: list[str] | None) -> None:
    wanted: list[str | None] = list(urls) if urls else [None] * 4
    for path, url in zip(configs_of(net), wanted, strict=True):
        data = json.loads(path.read_text())
        data["db_url"] = url
        path.write_text(json.dumps(data, indent=2))


def write_wal(config: NodeConfig, height: int) -> None:
    """A consensus WAL whose last record is at ``height`` (the tip: stale, so the validator
    signs from tip + 1, as after a clean stop). Without one, a node whose database holds
    blocks guards against a lost WAL and signs nothing at tip + 1."""
    path = config.path(config.wal_file)
    path.unlink(missing_ok=True)
    wal = WalFile(path)
    if height > 0:
        wal.append(SafetyState(height, 0, 0, -1, None, -1, None, ()))
    wal.close()


def build(net: Path, target: int, block_txs: int, workflow_share: float) -> dict[str, Any]:
    """Grow node 1's database to ``target`` committed transactions (see the module's doc)."""
    from node.service import Node  # the node's own code, as ``shanhe node run`` loads it

    configs = [NodeConfig.load(p) for p in configs_of(net)]
    node = Node(configs[0])
    node.peers = []  # nobody to send cosignatures to: the other validators are keys here
    validators = [read_signer(c.path(c.key_file)) for c in configs]
    agencies = {p.stem: read_signer(p) for p in (net / "agencies").glob("*.key")}
    mix = Mix(node.chain_id, agencies, workflow_share)
    t0, signing, executing, committing = time.perf_counter(), 0.0, 0.0, 0.0
    committed = 0
    window: list[float] = [0.0, 0.0, 0]
    curve: list[tuple[int, float, float]] = []
    """(committed, execute us/tx, commit us/tx) per 200 blocks: the node's own commit path
    as the log grows, in one process."""
    while committed < target:
        height = node.tip.height + 1
        time_ms = max(int(time.time() * 1000), node.tip.time_ms + 1)
        s = time.perf_counter()
        txs = [tx.to_json() for tx in mix.block(min(block_txs, target - committed), time_ms)]
        e = time.perf_counter()
        execution = node._execute(txs, height, time_ms)
        if execution.invalid or any(r.code is not None for r in execution.results):
            bad = [r for r in execution.results if r.code is not None][:3]
            raise RuntimeError(f"height {height}: {execution.invalid} {bad}")
        block = Block(
            chain_id=node.chain_id,
            height=height,
            prev_hash=node.tip.hash,
            proposer=node.validators.proposer(height, 0),
            time_ms=time_ms,
            txs=tuple(txs),
            evidence=(),
            tree_size=execution.tree_size,
            tree_root=execution.tree_root,
            state_root=execution.state_root.hex(),
        )
        data = block.encode()
        bid = block_id(data)
        c = time.perf_counter()
        votes = tuple(
            Vote(node.chain_id, VoteType.PRECOMMIT, height, 0, bid, v.name).signed(v)
            for v in validators
        )
        root = base64.b64decode(execution.tree_root)
        head = Checkpoint(node.genesis.origin, execution.tree_size, root).body()
        for v in validators[1:]:  # their cosignatures arrive before we reach the head
            node.cosigs.receive(v.name, execution.tree_size, signature_line(head, v),
                                node.frontier.size, node.validators.size)  # fmt: skip
        node.exec_cache[bid] = (block, execution)
        node._commit(Decision(height, 0, data, CommitCertificate(height, 0, bid, votes)))
        d = time.perf_counter()
        signing += e - s
        executing += c - e
        committing += d - c
        committed += len(txs)
        window[0] += c - e
        window[1] += d - c
        window[2] += len(txs)
        if height % 200 == 0:
            ex, co, n = window
            curve.append((committed, ex / n * 1e6, co / n * 1e6))
            log(f"  built {committed:,}/{target:,} at height {height} ({committed / (d - t0):,.0f} tx/s; "
                f"last 200 blocks: execute {ex / n * 1e6:.0f} us/tx, commit {co / n * 1e6:.0f} us/tx)")  # fmt: skip
            window = [0.0, 0.0, 0]
    tip = node.tip.height
    node.wal.close()
    node.engine.dispose()
    node.vault.engine.dispose()
    for config in configs:
        write_wal(config, tip)
    return {"seconds": time.perf_counter() - t0, "sign": signing, "execute": executing,
            "commit": committing, "height": tip, "residents": mix.residents, "curve": curve}  # fmt: skip


# ------------------------------------------------------------------------ networks
@dataclass
class Grown:
    """A network grown to ``size`` committed transactions: its directory and databases."""

    db: str
    size: int
    net: Path
    urls: list[str]
    """Node databases (SQLite: inside ``net``)."""
    build: dict[str, Any]


def db_names(db: str, label: str) -> list[str] | None:
    return None if db == "sqlite" else [f"shanhe_growth_{label}_{i}" for i in range(4)]


def urls_of(net: Path, names: list[str] | None) -> list[str]:
    if names is not None:
        return [pg_url(n) for n in names]
    return [NodeConfig.load(p).database_url for p in configs_of(net)]


def grow(work: Path, db: str, size: int, block_txs: int, workflow_share: float) -> Grown:
    net = work / f"{db}-{size}" / "net"
    shutil.rmtree(net.parent, ignore_errors=True)
    init_network(net, 4, base_port=free_base_port(4))
    names = db_names(db, f"g{size}")
    if names:
        for name in names:
            pg_copy("", name)
    set_db_urls(net, [pg_url(n) for n in names] if names else None)
    stats = build(net, size, block_txs, workflow_share) if size else {"seconds": 0.0, "height": 0}
    if size == 0:
        for p in configs_of(net):
            write_wal(NodeConfig.load(p), 0)
    urls = urls_of(net, names)
    if names:  # the fast path grew node 1's database: the others are copies
        for name in names[1:]:
            pg_copy(names[0], name)
    elif size:
        sqlite_checkpoint(Path(make_url(urls[0]).database or ""))
        for url in urls[1:]:
            shutil.copyfile(make_url(urls[0]).database or "", make_url(url).database or "")
    return Grown(db, size, net, urls, stats)


def rewrite_ports(net: Path) -> int:
    """Give the network free ports (its configs name them: peers and public names)."""
    configs = configs_of(net)
    old = NodeConfig.load(configs[0]).port
    new = free_base_port(len(configs))
    for path in configs:
        data = path.read_text()
        for i in range(len(configs)):
            data = data.replace(f':{old + i}"', f':@{i}@"').replace(
                f'"port": {old + i},', f'"port": @{i}@,'
            )
        for i in range(len(configs)):
            data = data.replace(f"@{i}@", str(new + i))
        path.write_text(data)
    return new


def working_copy(grown: Grown, empty: tuple[int, ...] = ()) -> tuple[Path, list[str]]:
    """A copy of the grown network to run (runs write blocks); nodes in ``empty`` start with
    no database, WAL or vault (a new node)."""
    run = grown.net.parent / "run"
    shutil.rmtree(run, ignore_errors=True)
    shutil.copytree(grown.net, run)
    names = db_names(grown.db, f"r{grown.size}")
    if names:
        for i, name in enumerate(names):
            pg_copy("" if i in empty else make_url(grown.urls[i]).database or "", name)
        set_db_urls(run, [pg_url(n) for n in names])
    for i in empty:
        config = NodeConfig.load(configs_of(run)[i])
        for f in config.path("node.db").parent.glob("*.db*"):
            f.unlink()
        config.path(config.wal_file).unlink(missing_ok=True)
    return run, urls_of(run, names)


def cluster_on(net: Path) -> Cluster:
    """``tests.cluster.Cluster`` on an existing network directory."""
    import httpx

    c = Cluster.__new__(Cluster)
    c.dir = net
    c.base_port = rewrite_ports(net)
    c.configs = configs_of(net)
    c.urls = [f"http://127.0.0.1:{c.base_port + i}" for i in range(len(c.configs))]
    c.procs = [None] * len(c.configs)
    c.client = httpx.Client(timeout=10)
    c.agency = read_signer(net / "agencies" / "ssb-330825.key")
    c.chain_id = json.loads((net / "genesis.json").read_text())["chain_id"]
    return c


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def node_cpu(c: Cluster) -> float:
    return sum(cpu_seconds(p.pid) for p in c.procs if p is not None)


# ------------------------------------------------------------------------ measurements
def measure(
    grown: Grown, rate: float, seconds: float, warmup: float, flood_seconds: float
) -> dict[str, Any]:
    """Restart time and RSS of the four nodes, latency and CPU per transaction at ``rate``
    offered for ``seconds`` (after ``warmup`` seconds at that rate, not counted), then a
    flood of ``flood_seconds``: the sustained commit rate and node CPU per transaction."""
    run, _ = working_copy(grown)
    c = cluster_on(run)
    try:
        starts = []
        for i in range(4):
            t = time.perf_counter()
            c.start(i)
            starts.append(time.perf_counter() - t)
        rss_start = [rss_mb(p.pid) for p in c.procs if p is not None]
        txs = [c.anchor(f"growth {n}") for n in range(int(rate * (warmup + seconds)))]
        gc.freeze()
        if warmup:
            asyncio.run(latency(c, txs[: int(rate * warmup)], rate, warmup))
        size0, cpu0, t0 = c.status(0)["tree_size"], node_cpu(c), time.monotonic()
        lat = sorted(asyncio.run(latency(c, txs[int(rate * warmup) :], rate, seconds)))
        size1, cpu1, t1 = c.status(0)["tree_size"], node_cpu(c), time.monotonic()
        rss_end = [rss_mb(p.pid) for p in c.procs if p is not None]
        heights = c.status(0)["height"]
        sustained, flood_cpu = float("nan"), float("nan")
        if flood_seconds:
            many = [c.anchor(f"flood {n}") for n in range(int(3000 * flood_seconds))]
            cpu2, size2, t2 = node_cpu(c), c.status(0)["tree_size"], time.monotonic()
            asyncio.run(flood(c, many, flood_seconds))
            # counted until the backlog is committed: on a loaded machine a short flood's
            # window can close before its first block does
            c.wait_for(lambda: all(c.status(i)["mempool"] == 0 for i in range(4)), 600, "drain")
            done = c.status(0)["tree_size"] - size2
            sustained = done / (time.monotonic() - t2)
            flood_cpu = (node_cpu(c) - cpu2) / max(1, done) * 1000
    finally:
        c.stop()
        gc.unfreeze()
    p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))] if lat else float("nan")
    return {
        "restart_s": starts,
        "rss_start_mb": rss_start,
        "rss_end_mb": rss_end,
        "committed": len(lat),
        "offered": int(rate * seconds),
        "p50_ms": statistics.median(lat) * 1000 if lat else float("nan"),
        "p99_ms": p99 * 1000,
        "cpu_ms_per_tx": (cpu1 - cpu0) / max(1, size1 - size0) * 1000,
        "cpu_s": cpu1 - cpu0,
        "window_s": t1 - t0,
        "tree_growth": size1 - size0,
        "height": heights,
        "flood_tx_per_s": sustained,
        "flood_cpu_ms_per_tx": flood_cpu,
    }


def catch_up(grown: Grown, check: bool) -> dict[str, Any]:
    """Node 4 starts empty and catches up from the other three by block sync; then (``check``)
    its database is compared with the fast path's."""
    run, urls = working_copy(grown, empty=(3,))
    c = cluster_on(run)
    tip = grown.build["height"]
    try:
        for i in range(3):
            c.start(i)
        t = time.perf_counter()
        c.start(3)
        up = time.perf_counter()
        start_height = c.status(3)["height"]
        c.wait_for(lambda: c.status(3)["height"] >= tip, timeout=24 * 3600, what="catch-up")
        elapsed = time.perf_counter() - up
        rss = rss_mb(c.procs[3].pid) if c.procs[3] is not None else 0.0
    finally:
        c.stop()
    share = (tip - start_height) / tip  # blocks taken after the node answered /healthz
    out: dict[str, Any] = {"start_s": up - t, "seconds": elapsed, "blocks_per_s": (tip - start_height) / elapsed,
                           "tx_per_s": grown.size * share / elapsed, "rss_mb": rss}  # fmt: skip
    if check:
        t = time.perf_counter()
        out["differences"] = compare(grown.urls[0], urls[3])
        out["compare_s"] = time.perf_counter() - t
    return out


def spread(values: list[float]) -> str:
    if not values:
        return "-"
    if len(values) == 1:
        return f"{values[0]:,.0f}"
    return f"{statistics.median(values):,.0f} ({min(values):,.0f}-{max(values):,.0f})"


def spread2(values: list[float]) -> str:
    if not values:
        return "-"
    if len(values) == 1:
        return f"{values[0]:.2f}"
    return f"{statistics.median(values):.2f} ({min(values):.2f}-{max(values):.2f})"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes", default="0,20000,100000", help="committed transactions, comma-separated"
    )
    parser.add_argument("--db", default="sqlite", help="sqlite, postgres or both (comma-separated)")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--rate", type=float, default=200)
    parser.add_argument("--latency-seconds", type=float, default=20)
    parser.add_argument("--warmup-seconds", type=float, default=3)
    parser.add_argument("--flood-seconds", type=float, default=10, help="0: no flood")
    parser.add_argument(
        "--block-txs", type=int, default=250, help="transactions a grown block holds"
    )
    parser.add_argument("--workflow-share", type=float, default=0.5,
                        help="share of the grown transactions that are residents' workflows (the rest: anchors)")  # fmt: skip
    parser.add_argument(
        "--work", type=Path, default=Path("bench-growth"), help="where networks are grown (kept)"
    )
    parser.add_argument("--no-check", action="store_true", help="skip the catch-up comparison")
    parser.add_argument("--reuse", action="store_true", help="use networks grown by an earlier run")
    parser.add_argument("--skip-catch-up", action="store_true", help="no catch-up (nor its check)")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    dbs = [d.strip() for d in args.db.split(",")]
    args.work.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {"args": {k: str(v) for k, v in vars(args).items()}, "runs": []}
    out = args.work / "results.json"
    for db in dbs:
        grown: dict[int, Grown] = {}
        for size in sizes:
            meta = args.work / f"{db}-{size}" / "grown.json"
            if args.reuse and meta.exists():
                m = json.loads(meta.read_text())
                grown[size] = Grown(db, size, Path(m["net"]), m["urls"], m["build"])
                continue
            log(f"{db}: growing a network to {size:,} transactions")
            g = grow(args.work, db, size, args.block_txs, args.workflow_share)
            g.build["bytes"] = size_of(g.urls[:1])
            meta.write_text(json.dumps({"net": str(g.net), "urls": g.urls, "build": g.build}))
            grown[size] = g
            log(
                f"{db}: {size:,} in {g.build['seconds']:.0f} s ({g.build}); node database {g.build['bytes'] / 2**20:,.0f} MiB"
            )
            results.setdefault("builds", {})[f"{db}-{size}"] = g.build
        for size in sizes:
            if size == 0 or args.skip_catch_up:
                continue
            log(f"{db}: catch-up of a new node at {size:,}")
            cu = catch_up(grown[size], check=not args.no_check)
            log(f"{db}: catch-up {cu}")
            results.setdefault("catch_up", {})[f"{db}-{size}"] = cu
            out.write_text(json.dumps(results, indent=1))
        for rep in range(args.reps):
            order = sizes[rep % len(sizes) :] + sizes[: rep % len(sizes)]
            for size in order:
                try:
                    m = measure(
                        grown[size],
                        args.rate,
                        args.latency_seconds,
                        args.warmup_seconds,
                        args.flood_seconds,
                    )
                except Exception as exc:  # a run that fails is recorded as such; the rest go on
                    log(f"{db} {size:>9,} rep {rep}: FAILED: {type(exc).__name__}: {exc}")
                    results["runs"].append({"db": db, "size": size, "rep": rep, "error": repr(exc)})
                    continue
                m.update(db=db, size=size, rep=rep)
                results["runs"].append(m)
                out.write_text(json.dumps(results, indent=1))
                log(f"{db} {size:>9,} rep {rep}: p50 {m['p50_ms']:.0f} p99 {m['p99_ms']:.0f} ms, "
                    f"{m['cpu_ms_per_tx']:.2f} ms CPU/tx, {m['committed']}/{m['offered']} committed, "
                    f"flood {m['flood_tx_per_s']:,.0f} tx/s {m['flood_cpu_ms_per_tx']:.2f} ms CPU/tx, "
                    f"restart {max(m['restart_s']):.2f} s, RSS {max(m['rss_start_mb']):.0f}/{max(m['rss_end_mb']):.0f} MB")  # fmt: skip
    print(
        "\n| db | committed before | p50 ms | p99 ms | node CPU ms/tx | flood tx/s | flood CPU ms/tx | restart s (slowest node) | RSS MB after start / after run | catch-up blocks/s (tx/s) | identical |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for db in dbs:
        for size in sizes:
            runs = [
                r
                for r in results["runs"]
                if r["db"] == db and r["size"] == size and "error" not in r
            ]
            cu = results.get("catch_up", {}).get(f"{db}-{size}")
            cu_text = f"{cu['blocks_per_s']:.1f} ({cu['tx_per_s']:,.0f})" if cu else "-"
            same = (
                "-"
                if not cu or "differences" not in cu
                else ("yes" if not cu["differences"] else "NO")
            )
            print(f"| {db} | {size:,} | {spread([r['p50_ms'] for r in runs])} | {spread([r['p99_ms'] for r in runs])} "
                  f"| {spread2([r['cpu_ms_per_tx'] for r in runs])} | {spread([r['flood_tx_per_s'] for r in runs])} "
                  f"| {spread2([r['flood_cpu_ms_per_tx'] for r in runs])} | {spread2([max(r['restart_s']) for r in runs])} "
                  f"| {spread([max(r['rss_start_mb']) for r in runs])} / {spread([max(r['rss_end_mb']) for r in runs])} "
                  f"| {cu_text} | {same} |")  # fmt: skip
    print(f"\nall figures: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
