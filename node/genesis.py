"""Genesis (what every node of a network agrees on from the start) and per-node config files."""

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from consensus.machine import TimeoutConfig
from consensus.validators import ValidatorSet
from contracts.calendar import GENESIS_CALENDAR, genesis_calendar
from contracts.policy import ConsentPolicy, RightsPolicy
from node.blocks import MAX_BLOCK_BYTES
from signing.http_signatures import normalize_authority
from tlog.note import Verifier

LOOPBACK_OR_ANY = frozenset({"127.0.0.1", "localhost", "0.0.0.0", "::", "::1", ""})


def default_public_names(host: str, port: int) -> list[str]:
    """What a node listening on ``host:port`` is called when nobody says otherwise: its
    address, or, for a loopback or wildcard address, the loopback names a client on the same
    machine (or a published container port) uses."""
    if host in LOOPBACK_OR_ANY:
        return [f"127.0.0.1:{port}", f"localhost:{port}"]
    return [f"{host}:{port}"]


@dataclass(frozen=True)
class ConsensusParams:
    """Every input of block validity that is not in the replicated state: the same on every
    node because it is in the genesis (a node's own config must never decide validity)."""

    max_block_txs: int = 2_000
    max_block_bytes: int = MAX_BLOCK_BYTES
    """Encoded size, at most ``MAX_BLOCK_BYTES`` (a proposal must fit a peer envelope)."""
    precision_ms: int = 500
    """PBTS: how far apart two honest clocks may read at one instant (NTP-synced)."""
    message_delay_ms: int = 10_000
    """PBTS: how late a fresh proposal may arrive; grows by a tenth each round (CometBFT's
    adaptive synchrony parameters), so a network slower than this still decides."""
    max_evidence_age: int = 100_000
    """Heights after which evidence of equivocation may no longer be put into a block."""

    def to_json(self) -> dict[str, int]:
        return {
            "max_block_txs": self.max_block_txs,
            "max_block_bytes": self.max_block_bytes,
            "precision_ms": self.precision_ms,
            "message_delay_ms": self.message_delay_ms,
            "max_evidence_age": self.max_evidence_age,
        }

    @staticmethod
    def from_json(d: dict[str, Any]) -> "ConsensusParams":
        defaults = ConsensusParams().to_json()
        unknown = set(d) - set(defaults)
        if unknown:
            raise ValueError(f"unknown consensus params: {', '.join(sorted(unknown))}")
        values = {**defaults, **d}
        if not all(
            isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in values.values()
        ):
            raise ValueError("consensus params are positive integers")
        if values["max_block_bytes"] > MAX_BLOCK_BYTES:
            raise ValueError(f"max_block_bytes is at most {MAX_BLOCK_BYTES}")
        return ConsensusParams(**values)


@dataclass(frozen=True)
class Genesis:
    chain_id: str
    origin: str
    """The checkpoint origin line: names this log for auditors."""
    validators: tuple[Verifier, ...]
    agencies: tuple[dict[str, Any], ...]
    timeouts: TimeoutConfig = field(default_factory=TimeoutConfig)
    genesis_time_ms: int = 0
    contract_version: int = 4
    params: ConsensusParams = field(default_factory=ConsensusParams)
    consent_policy: ConsentPolicy = field(default_factory=ConsentPolicy)
    """Limits the contracts apply (``contracts/policy.py``), written into the genesis state."""
    calendar: tuple[dict[str, Any], ...] = GENESIS_CALENDAR
    rights_policy: RightsPolicy = field(default_factory=RightsPolicy)
    """Residents' requests (``contracts/policy.py``: a correction's working days)."""
    """The working-day arrangements the network starts with (``contracts/calendar.py``),
    written into the genesis state as ``calendar/<year>``; governance sets later years."""

    @property
    def validator_set(self) -> ValidatorSet:
        return ValidatorSet(self.validators)

    def to_json(self) -> dict[str, Any]:
        return {
            "chain_id": self.chain_id,
            "origin": self.origin,
            "genesis_time_ms": self.genesis_time_ms,
            "contract_version": self.contract_version,
            "quorum": self.validator_set.quorum,
            "validators": [{"name": v.name, "verifier_key": v.encode()} for v in self.validators],
            "agencies": list(self.agencies),
            "timeouts": {
                "propose": self.timeouts.propose,
                "prevote": self.timeouts.prevote,
                "precommit": self.timeouts.precommit,
                "delta": self.timeouts.delta,
            },
            "consensus_params": self.params.to_json(),
            "consent_policy": self.consent_policy.to_json(),
            "calendar": list(self.calendar),
            "rights_policy": self.rights_policy.to_json(),
        }

    @staticmethod
    def from_json(d: dict[str, Any]) -> "Genesis":
        t = d.get("timeouts", {})
        return Genesis(
            chain_id=str(d["chain_id"]),
            origin=str(d["origin"]),
            validators=tuple(Verifier.parse(v["verifier_key"]) for v in d["validators"]),
            agencies=tuple(d.get("agencies", [])),
            timeouts=TimeoutConfig(**{k: float(v) for k, v in t.items()}),
            genesis_time_ms=int(d.get("genesis_time_ms", 0)),
            contract_version=int(d.get("contract_version", 1)),
            params=ConsensusParams.from_json(d.get("consensus_params", {})),
            consent_policy=ConsentPolicy.from_json(d.get("consent_policy", {})),
            calendar=genesis_calendar(d["calendar"]) if "calendar" in d else GENESIS_CALENDAR,
            rights_policy=RightsPolicy.from_json(d.get("rights_policy", {})),
        )

    @staticmethod
    def load(path: Path) -> "Genesis":
        return Genesis.from_json(json.loads(path.read_text()))


@dataclass(frozen=True)
class NodeConfig:
    name: str
    base_dir: Path
    genesis_file: str = "../genesis.json"
    key_file: str = "node.key"
    next_key_file: str = "node.next.key"
    """Where the node finds its next validator key: it signs with it from the height at which
    governance rotates its key to it (``rotate_validator_key``), and after restarts."""
    db_url: str | None = None
    wal_file: str = "consensus.wal"
    vault_url: str | None = None
    vault_key_file: str = "vault.key"
    host: str = "127.0.0.1"
    port: int = 8700
    peers: dict[str, str] = field(default_factory=dict)
    """Validator name -> base URL of its HTTP API."""
    public_names: list[str] = field(default_factory=list)
    """``host[:port]`` under which clients and peers reach this node: a signed request must be
    signed for one of them (RFC 9421 ``@authority``), so it is good at this node only. Empty:
    ``host:port``, or the loopback names for a wildcard or loopback ``host``."""
    mempool_size: int = 20_000
    max_block_txs: int = 2_000
    """At most this many transactions in a block this node proposes (the genesis limit, which
    decides validity for everyone, may be higher; never lower it for others)."""
    rate_per_signer: float = 2_000.0
    """Transactions a second one signer may submit to this node (burst: two seconds' worth)."""
    reads_per_client: float = 1_000.0
    """GET requests a second one client address may make (burst: two seconds' worth)."""
    reads_per_key: float = 100.0
    """Signed reads a second one key may make, wherever it calls from (burst: two seconds')."""
    block_interval: float = 0.1
    """Least seconds between the starts of two heights (CometBFT's ``timeout_commit`` plays
    this part). Each height costs every node a fixed amount (votes, cosignatures, a database
    commit) however few transactions it holds: at light load heights would follow each
    other as fast as that work allows and take the whole machine for a trickle of
    transactions. A loaded height takes longer than this anyway. Not part of consensus."""

    def path(self, relative: str) -> Path:
        return (self.base_dir / relative).resolve()

    @property
    def authorities(self) -> frozenset[str]:
        """This node's names as a signature's ``@authority`` must give one (normalized)."""
        names = self.public_names or default_public_names(self.host, self.port)
        return frozenset(normalize_authority(n) for n in names)

    @property
    def database_url(self) -> str:
        return self.db_url or f"sqlite+pysqlite:///{self.path('node.db')}"

    @property
    def vault_database_url(self) -> str:
        return self.vault_url or f"sqlite+pysqlite:///{self.path('vault.db')}"

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "genesis_file": self.genesis_file,
            "key_file": self.key_file,
            "next_key_file": self.next_key_file,
            "db_url": self.db_url,
            "wal_file": self.wal_file,
            "vault_url": self.vault_url,
            "vault_key_file": self.vault_key_file,
            "host": self.host,
            "port": self.port,
            "peers": self.peers,
            "public_names": self.public_names,
            "mempool_size": self.mempool_size,
            "max_block_txs": self.max_block_txs,
            "rate_per_signer": self.rate_per_signer,
            "reads_per_client": self.reads_per_client,
            "reads_per_key": self.reads_per_key,
            "block_interval": self.block_interval,
        }

    @staticmethod
    def load(path: Path) -> "NodeConfig":
        d = json.loads(path.read_text())
        return NodeConfig(base_dir=path.parent.resolve(), **d)
