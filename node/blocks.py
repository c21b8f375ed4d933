"""Blocks: what the validators agree on, as RFC 8785 bytes whose SHA-256 is the block id."""

import base64
from dataclasses import dataclass
from typing import Any

from contracts.tx import MAX_TX_DEPTH
from signing.bounded_json import JsonRefused, Limits, decode
from signing.canonical import canonical_json

GENESIS_PARENT = "0" * 64
MAX_BLOCK_BYTES = 4 * 1024 * 1024
"""A block's encoded size limit, the same on every node (part of validity): a proposal must
fit a peer envelope (``MAX_ENVELOPE_BYTES`` in node/p2p.py) even base64-encoded."""
BLOCK_JSON = Limits(MAX_BLOCK_BYTES, MAX_TX_DEPTH + 2, MAX_BLOCK_BYTES)
"""A block nests its transactions two levels down; its size bounds its items."""


@dataclass(frozen=True)
class Block:
    chain_id: str
    height: int
    prev_hash: str
    """Hex id of the previous block; ``GENESIS_PARENT`` for height 1."""
    proposer: str
    time_ms: int
    txs: tuple[dict[str, Any], ...]
    evidence: tuple[dict[str, Any], ...]
    tree_size: int
    tree_root: str
    """Base64 root of the log after applying the block (as in checkpoints)."""
    state_root: str

    def header(self) -> dict[str, Any]:
        return {
            "chain_id": self.chain_id,
            "height": self.height,
            "prev_hash": self.prev_hash,
            "proposer": self.proposer,
            "time_ms": self.time_ms,
            "tx_count": len(self.txs),
            "evidence_count": len(self.evidence),
            "tree_size": self.tree_size,
            "tree_root": self.tree_root,
            "state_root": self.state_root,
        }

    def encode(self) -> bytes:
        return canonical_json(
            {
                "chain_id": self.chain_id,
                "height": self.height,
                "prev_hash": self.prev_hash,
                "proposer": self.proposer,
                "time_ms": self.time_ms,
                "txs": list(self.txs),
                "evidence": list(self.evidence),
                "tree_size": self.tree_size,
                "tree_root": self.tree_root,
                "state_root": self.state_root,
            }
        )

    @staticmethod
    def decode(data: bytes) -> "Block":
        """Raises ValueError for anything that is not a well-formed block, and nothing else
        (a Byzantine proposer chooses these bytes)."""
        d = decode(data, BLOCK_JSON)
        if isinstance(d, JsonRefused):
            raise ValueError(f"malformed block: {d.kind}: {d.message}")
        try:
            if type(d) is not dict:
                raise TypeError("a block is an object")
            txs, evidence = d["txs"], d["evidence"]
            if type(txs) is not list or type(evidence) is not list:
                raise TypeError("txs and evidence are lists")
            block = Block(
                chain_id=_str(d["chain_id"]),
                height=_int(d["height"]),
                prev_hash=_str(d["prev_hash"]),
                proposer=_str(d["proposer"]),
                time_ms=_int(d["time_ms"]),
                txs=tuple(_obj(t) for t in txs),
                evidence=tuple(_obj(e) for e in evidence),
                tree_size=_int(d["tree_size"]),
                tree_root=_str(d["tree_root"]),
                state_root=_str(d["state_root"]),
            )
            base64.b64decode(block.tree_root, validate=True)
            canonical = block.encode() == data
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"malformed block: {exc}") from exc
        if not canonical:
            raise ValueError("block bytes are not canonical")
        return block


def _str(v: Any) -> str:
    if not isinstance(v, str):
        raise TypeError("want a string")
    return v


def _int(v: Any) -> int:
    if type(v) is not int or v < 0:
        raise TypeError("want a non-negative integer")
    return v


def _obj(v: Any) -> dict[str, Any]:
    if not isinstance(v, dict):
        raise TypeError("want an object")
    return v
