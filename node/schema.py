"""Every table the node keeps, in one place, and the append-only guard on the log's tables."""

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    Text,
    text,
)

metadata = MetaData()

log_leaves = Table(
    "log_leaves",
    metadata,
    Column("leaf_index", BigInteger, primary_key=True, autoincrement=False),
    Column("data", LargeBinary, nullable=False),
)

log_hashes = Table(
    "log_hashes",
    metadata,
    # Go sumdb/tlog stored-hash index (tlog.layout.stored_hash_index).
    Column("hash_index", BigInteger, primary_key=True, autoincrement=False),
    Column("hash", LargeBinary(32), nullable=False),
)

log_checkpoints = Table(
    "log_checkpoints",
    metadata,
    Column("tree_size", BigInteger, primary_key=True, autoincrement=False),
    Column("body", Text, nullable=False),
)

log_cosignatures = Table(
    "log_cosignatures",
    metadata,
    Column("tree_size", BigInteger, nullable=False),
    Column("signer", Text, nullable=False),
    Column("line", Text, nullable=False),
    PrimaryKeyConstraint("tree_size", "signer"),
)

checkpoint_quorum = Table(
    "checkpoint_quorum",
    metadata,
    # sizes whose checkpoint has gathered a quorum of valid cosignatures
    Column("tree_size", BigInteger, primary_key=True, autoincrement=False),
)

blocks = Table(
    "blocks",
    metadata,
    Column("height", BigInteger, primary_key=True, autoincrement=False),
    Column("hash", LargeBinary(32), nullable=False, unique=True),
    Column("data", LargeBinary, nullable=False),
    Column("certificate", Text, nullable=False),
)

tx_results = Table(
    "tx_results",
    metadata,
    Column("tx_hash", LargeBinary(32), primary_key=True),
    Column("height", BigInteger, nullable=False),
    Column("leaf_index", BigInteger, nullable=True),
    Column("code", Text, nullable=True),
    Column("message", Text, nullable=False, default=""),
)

evidence = Table(
    "evidence",
    metadata,
    Column("key", Text, primary_key=True),
    Column("offender", Text, nullable=False),
    Column("height", BigInteger, nullable=False),
    Column("data", Text, nullable=False),
    Column("included_height", BigInteger, nullable=True),
)

validator_sets = Table(
    "validator_sets",
    metadata,
    # the validator set that signs from this height on (genesis: 1), kept so that evidence and
    # certificates of past heights are checked against the set of their own height
    Column("from_height", BigInteger, primary_key=True, autoincrement=False),
    Column("validators", Text, nullable=False),
)

state_kv = Table(
    "state_kv",
    metadata,
    # current contract state; committed to by each block's state root, rebuilt by replay.
    # Keys in byte order on PostgreSQL too (collation "C"), as on SQLite: a prefix is then a
    # range of the key index (``chainstore.state_prefix``), whatever the database's locale
    Column("key", Text().with_variant(Text(collation="C"), "postgresql"), primary_key=True),
    Column("value", Text, nullable=False),
)

pending_erasures = Table(
    "pending_erasures",
    metadata,
    # residents erased by a committed block whose vault key material is still to be destroyed:
    # written in the block's transaction, removed once the vault has done it (node/shredding.py)
    Column("resident", Text, primary_key=True),
    Column("height", BigInteger, nullable=False),
)

node_outbox = Table(
    "node_outbox",
    metadata,
    # records this node signs about reads at its API (access.refused, access.read), kept from
    # before they are submitted until a block has them (node/outbox.py)
    Column("id", Integer, primary_key=True, autoincrement=True),  # submission order
    Column("nonce", Text, nullable=False, unique=True),
    Column("body", Text, nullable=False),
    Column("created_ms", BigInteger, nullable=False),
)

payload_fetches = Table(
    "payload_fetches",
    metadata,
    # granted health.access entries (resident, seq) a payload fetch at this node has used:
    # each is good for one fetch (node/fetches.py)
    Column("resident", Text, nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("case_id", Text, nullable=False),
    Column("agent", Text, nullable=False),
    Column("fetched_ms", BigInteger, nullable=False),
    PrimaryKeyConstraint("resident", "seq"),
)

APPEND_ONLY = (
    log_leaves,
    log_hashes,
    log_checkpoints,
    log_cosignatures,
    checkpoint_quorum,
    blocks,
    tx_results,
    validator_sets,
)

_PG_FUNCTION = """
CREATE OR REPLACE FUNCTION shanhe_append_only() RETURNS trigger AS $$
BEGIN
  RAISE EXCEPTION 'table % is append-only', TG_TABLE_NAME;
END
$$ LANGUAGE plpgsql
"""


def install_append_only_guards(conn: Connection) -> None:
    """Database triggers that refuse UPDATE and DELETE (and TRUNCATE) on the log's tables."""
    dialect = conn.dialect.name
    if dialect == "postgresql":
        conn.execute(text(_PG_FUNCTION))
    for table in APPEND_ONLY:
        name = table.name
        if dialect == "sqlite":
            for op in ("UPDATE", "DELETE"):
                conn.execute(
                    text(
                        f"CREATE TRIGGER IF NOT EXISTS {name}_no_{op.lower()} BEFORE {op} ON {name} "
                        f"BEGIN SELECT RAISE(ABORT, '{name} is append-only'); END"
                    )
                )
        elif dialect == "postgresql":
            conn.execute(
                text(
                    f"CREATE OR REPLACE TRIGGER {name}_append_only BEFORE UPDATE OR DELETE "
                    f"ON {name} FOR EACH ROW EXECUTE FUNCTION shanhe_append_only()"
                )
            )
            conn.execute(
                text(
                    f"CREATE OR REPLACE TRIGGER {name}_no_truncate BEFORE TRUNCATE "
                    f"ON {name} FOR EACH STATEMENT EXECUTE FUNCTION shanhe_append_only()"
                )
            )
        else:
            raise ValueError(f"unsupported database {dialect!r}: use SQLite or PostgreSQL")
