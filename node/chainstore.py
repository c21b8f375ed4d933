"""Blocks, their certificates, transaction results and contract state in the node database.

A decided block is stored in one transaction with its log leaves, state writes and the
checkpoint of the new tree head, so a crash leaves either all of it or none.
"""

import json
import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, insert, select, update

from consensus.messages import CommitCertificate, Evidence
from consensus.validators import ValidatorSet
from contracts.state import GENESIS_STATE_ROOT, JSON, next_state_root
from node import logstore
from node.blocks import GENESIS_PARENT, Block
from node.executor import Execution
from node.schema import blocks, evidence, state_kv, tx_results, validator_sets
from signing.canonical import canonical_json
from tlog.checkpoint import Checkpoint
from tlog.note import Verifier


class DBState:
    """The committed contract state, read through the caller's connection."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def get(self, key: str) -> JSON | None:
        """One point read straight from the driver: executing a block reads every key its
        prefetch did not (a resident's counters and records), one by one, and SQLAlchemy's
        statement building cost several times the lookup (docs/benchmarks.md, "Growth")."""
        row = logstore.driver_fetchone(conn=self.conn, sql=_STATE_GET, params=(key,))
        return None if row is None else json.loads(row[0])


_STATE_GET = "SELECT value FROM state_kv WHERE key = ?"


class StateCache:
    """Committed state as this node has read it, kept write-through by ``apply``.

    Only this node's commits change its state, so cached values, and cached absences, stay
    true until a commit writes the key.
    """

    def __init__(self, limit: int = 200_000) -> None:
        self.limit = limit
        self.values: dict[str, JSON | None] = {}

    def view(self, conn: Connection) -> "CachedView":
        return CachedView(self, DBState(conn))

    def prefetch(self, conn: Connection, keys: list[str]) -> None:
        """Read the keys not cached yet in batched queries, remembering absences too."""
        missing = list({k for k in keys if k not in self.values})
        if len(self.values) + len(missing) > self.limit:
            self.values.clear()
        for start in range(0, len(missing), 500):
            chunk = missing[start : start + 500]
            query = select(state_kv.c.key, state_kv.c.value).where(state_kv.c.key.in_(chunk))
            found = {str(k): str(v) for k, v in conn.execute(query)}
            for key in chunk:
                self.values[key] = json.loads(found[key]) if key in found else None

    def apply(self, writes: Mapping[str, JSON]) -> None:
        if len(self.values) + len(writes) > self.limit:
            self.values.clear()
        self.values.update(writes)


class CachedView:
    def __init__(self, cache: StateCache, db: DBState) -> None:
        self.cache, self.db = cache, db

    def get(self, key: str) -> JSON | None:
        values = self.cache.values
        if key not in values:
            if len(values) >= self.cache.limit:
                values.clear()
            values[key] = self.db.get(key)
        return values[key]


def _upsert(conn: Connection, writes: Mapping[str, JSON]) -> None:
    if not writes:
        return
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    conn.exec_driver_sql(
        f"INSERT INTO state_kv (key, value) VALUES ({mark}, {mark}) "
        "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        [(k, canonical_json(v).decode()) for k, v in writes.items()],
    )


@dataclass(frozen=True)
class Tip:
    height: int
    hash: str
    time_ms: int
    state_root: bytes


def genesis_tip(genesis_writes: Mapping[str, JSON], genesis_time_ms: int) -> Tip:
    return Tip(
        0, GENESIS_PARENT, genesis_time_ms, next_state_root(GENESIS_STATE_ROOT, 0, genesis_writes)
    )


def ensure_genesis(conn: Connection, genesis_writes: Mapping[str, JSON]) -> None:
    """Load the genesis state into an empty database."""
    has_state = conn.execute(select(state_kv.c.key).limit(1)).first() is not None
    if not has_state and tip_height(conn) == 0:
        _upsert(conn, genesis_writes)
    if validators_at(conn, 1) is None and "validators" in genesis_writes:
        _record_validators(conn, 1, genesis_writes["validators"])


def _record_validators(conn: Connection, from_height: int, value: JSON) -> None:
    conn.execute(
        insert(validator_sets).values(
            from_height=from_height, validators=canonical_json(value).decode()
        )
    )


def validators_at(conn: Connection, height: int) -> JSON | None:
    """The validator list (as in state) that signed at ``height``, or None if unknown."""
    row = conn.execute(
        select(validator_sets.c.validators)
        .where(validator_sets.c.from_height <= height)
        .order_by(validator_sets.c.from_height.desc())
        .limit(1)
    ).first()
    return None if row is None else json.loads(row.validators)


def tip_height(conn: Connection) -> int:
    row = conn.execute(select(blocks.c.height).order_by(blocks.c.height.desc()).limit(1)).first()
    return 0 if row is None else int(row.height)


def tip(conn: Connection, genesis: Tip) -> Tip:
    row = conn.execute(
        select(blocks.c.height, blocks.c.hash, blocks.c.data)
        .order_by(blocks.c.height.desc())
        .limit(1)
    ).first()
    if row is None:
        return genesis
    block = Block.decode(bytes(row.data))
    return Tip(
        int(row.height), bytes(row.hash).hex(), block.time_ms, bytes.fromhex(block.state_root)
    )


def block_at(conn: Connection, height: int) -> tuple[bytes, CommitCertificate] | None:
    row = conn.execute(
        select(blocks.c.data, blocks.c.certificate).where(blocks.c.height == height)
    ).first()
    if row is None:
        return None
    return bytes(row.data), CommitCertificate.from_json(json.loads(row.certificate))


def store_block(
    conn: Connection,
    data: bytes,
    block: Block,
    certificate: CommitCertificate,
    execution: Execution,
    origin: str,
) -> Checkpoint | None:
    """Store a decided block and apply its execution; return the new checkpoint, if any."""
    conn.execute(
        insert(blocks).values(
            height=block.height,
            hash=certificate.block_hash,
            data=data,
            certificate=canonical_json(certificate.to_json()).decode(),
        )
    )
    logstore.bulk_insert(
        conn,
        "tx_results",
        ("tx_hash", "height", "leaf_index", "code", "message"),
        [
            (r.tx_hash, block.height, r.leaf_index, r.code, _storable(r.message))
            for r in execution.results
        ],
    )
    before = logstore.tree_size(conn)
    size, root = logstore.append_leaves(conn, list(execution.leaves))
    if size != block.tree_size:
        raise RuntimeError(
            f"log size {size} after block {block.height}, block says {block.tree_size}"
        )
    _upsert(conn, execution.writes)
    if "validators" in execution.writes:
        _record_validators(conn, block.height + 1, execution.writes["validators"])
    for ev in block.evidence:
        key = canonical_json(list(Evidence.from_json(ev).key())).decode()
        record_evidence(conn, Evidence.from_json(ev))
        conn.execute(
            update(evidence).where(evidence.c.key == key).values(included_height=block.height)
        )
    if size == before and before > 0:
        return None
    checkpoint = Checkpoint(origin, size, root)
    logstore.add_checkpoint(conn, size, checkpoint.body())
    return checkpoint


def _storable(message: str) -> str:
    """A refusal's message may quote what a client sent; PostgreSQL text holds no NUL (and
    admission refuses control characters anyway: this is the second line)."""
    return message.replace("\x00", "\\u0000")


def tx_result(conn: Connection, tx_hash: bytes) -> dict[str, Any] | None:
    """A decided transaction's result, with its ``outcome``: ``applied``, ``refused`` (on the
    log with a leaf, what it asked refused: ``code`` says why) or ``rejected`` (no leaf,
    nothing changed: ``code`` says why)."""
    row = logstore.driver_fetchone(
        conn,
        "SELECT height, leaf_index, code, message FROM tx_results WHERE tx_hash = ?",
        (tx_hash,),
    )
    if row is None:
        return None
    height, leaf_index, code, message = row
    outcome = "rejected" if leaf_index is None else "refused" if code else "applied"
    return {
        "height": int(height),
        "leaf_index": None if leaf_index is None else int(leaf_index),
        "code": code,
        "message": message,
        "outcome": outcome,
    }


def committed(conn: Connection, tx_hashes: list[bytes]) -> set[bytes]:
    if not tx_hashes:
        return set()
    rows = conn.execute(select(tx_results.c.tx_hash).where(tx_results.c.tx_hash.in_(tx_hashes)))
    return {bytes(r[0]) for r in rows}


def record_evidence(conn: Connection, ev: Evidence) -> bool:
    """Keep evidence once; True if it was new."""
    key = canonical_json(list(ev.key())).decode()
    if conn.execute(select(evidence.c.key).where(evidence.c.key == key)).first() is not None:
        return False
    conn.execute(
        insert(evidence).values(
            key=key,
            offender=ev.offender,
            height=ev.first.height,
            data=canonical_json(ev.to_json()).decode(),
        )
    )
    return True


def pending_evidence(
    conn: Connection, below_height: int, limit: int = 10
) -> list[tuple[str, dict[str, Any]]]:
    """(key, evidence) not yet in a block, of heights already decided (includable now)."""
    rows = conn.execute(
        select(evidence.c.key, evidence.c.data)
        .where(evidence.c.included_height.is_(None), evidence.c.height < below_height)
        .order_by(evidence.c.key)
        .limit(limit)
    )
    return [(str(r.key), json.loads(r.data)) for r in rows]


def discard_evidence(conn: Connection, key: str) -> None:
    """Never offer this evidence again (it can never be put into a block): ``included_height``
    0, which no block has."""
    conn.execute(update(evidence).where(evidence.c.key == key).values(included_height=0))


def evidence_included(conn: Connection, ev: Evidence) -> bool:
    key = canonical_json(list(ev.key())).decode()
    row = conn.execute(select(evidence.c.included_height).where(evidence.c.key == key)).first()
    return row is not None and row.included_height is not None


def evidence_page(
    conn: Connection, after: str | None, limit: int
) -> list[tuple[str, dict[str, Any]]]:
    """(key, evidence with the height of the block that recorded it), in key order."""
    query = select(evidence.c.key, evidence.c.data, evidence.c.included_height)
    if after is not None:
        query = query.where(evidence.c.key > after)
    rows = conn.execute(query.order_by(evidence.c.key).limit(limit))
    return [
        (str(r.key), {**json.loads(r.data), "included_height": r.included_height}) for r in rows
    ]


def state_page(
    conn: Connection, prefix: str, cursor: str | None, limit: int
) -> tuple[list[JSON], str | None]:
    """One page of the values under ``prefix`` and the cursor of the next (None at the end):
    cursors are the keys without the prefix, so a client never sees other keys."""
    rows = state_prefix(conn, prefix, None if cursor is None else prefix + cursor, limit)
    next_cursor = rows[-1][0].removeprefix(prefix) if len(rows) == limit else None
    return [value for _, value in rows], next_cursor


def state_prefix(
    conn: Connection, prefix: str, after: str | None = None, limit: int = 100
) -> list[tuple[str, JSON]]:
    """State entries whose key starts with ``prefix``, in key order, for cursor pagination.

    The keys are also bounded by the range ``[prefix, prefix with its last character raised)``
    where the key index is in byte order (SQLite; PostgreSQL with the key column in collation
    "C", as ``node.schema`` creates it, or a database in a byte-order locale): a ``LIKE``
    alone never used the index (SQLite's is case-insensitive; PostgreSQL's, under a locale's
    collation, cannot either) and scanned every key of the state, one row per transaction and
    growing with the log (80-100 ms a page at 100,000 transactions, docs/benchmarks.md,
    "Growth"). The ``LIKE`` stays: it is what decides."""
    query = select(state_kv.c.key, state_kv.c.value).where(
        state_kv.c.key.startswith(prefix, autoescape=True)
    )
    if prefix and _keys_in_byte_order(conn):
        upper = prefix[:-1] + chr(ord(prefix[-1]) + 1)
        query = query.where(state_kv.c.key >= prefix, state_kv.c.key < upper)
    if after is not None:
        query = query.where(state_kv.c.key > after)
    rows = conn.execute(query.order_by(state_kv.c.key).limit(limit))
    return [(str(k), json.loads(v)) for k, v in rows]


_BYTE_ORDER_COLLATIONS = frozenset({"C", "POSIX", "C.UTF-8", "C.utf8", "ucs_basic"})
_byte_order: "weakref.WeakKeyDictionary[Engine, bool]" = weakref.WeakKeyDictionary()


def _keys_in_byte_order(conn: Connection) -> bool:
    """Whether ``state_kv.key``'s index orders keys as bytes (code points): then a prefix is a
    key range. SQLite's BINARY collation does; on PostgreSQL the column's collation says (a
    database created before the column had collation "C" uses its default), asked once."""
    if conn.dialect.name == "sqlite":
        return True
    known = _byte_order.get(conn.engine)
    if known is None:
        row = conn.exec_driver_sql(
            "SELECT coalesce(c.collation_name, d.datcollate) FROM information_schema.columns c, "
            "pg_database d WHERE c.table_schema = current_schema() AND c.table_name = 'state_kv' "
            "AND c.column_name = 'key' AND d.datname = current_database()"
        ).first()
        known = row is not None and str(row[0]) in _BYTE_ORDER_COLLATIONS
        _byte_order[conn.engine] = known
    return known


def validator_set(value: Any) -> ValidatorSet | str:
    """The validator set a state value lists, or why no node could use it. Total: it reads
    replicated state, and a node must stop on a bad one with a reason, never a stack trace."""
    if not isinstance(value, list) or not value:
        return "it lists no validator"
    keys = []
    for entry in value:
        if not isinstance(entry, dict):
            return "an entry is not an object"
        name, key = entry.get("name"), entry.get("key")
        try:
            verifier = Verifier.parse(key) if isinstance(key, str) else None
        except ValueError:
            verifier = None
        if verifier is None or verifier.name != name:
            return f"{name!r} has no verifier key carrying its name"
        keys.append(verifier)
    names = [k.name for k in keys]
    if len(set(names)) != len(names):
        twice = sorted({n for n in names if names.count(n) > 1})
        return f"validator names must be unique: {', '.join(twice)} more than once"
    if len({k.public_key for k in keys}) != len(keys):
        return "two validators hold the same key"
    return ValidatorSet(tuple(keys))
