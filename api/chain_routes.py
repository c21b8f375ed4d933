"""Public chain endpoints: the network, node status, blocks and equivocation evidence."""

import base64
import hashlib
from typing import Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel

from api.problems import Problem
from consensus.messages import block_id
from node import chainstore, logstore
from node.blocks import Block
from node.service import Node
from signing.canonical import canonical_json

router = APIRouter(prefix="/v1", tags=["auditor"])


def _node(request: Request) -> Node:
    node: Node = request.app.state.node
    return node


class ValidatorInfo(BaseModel):
    name: str
    verifier_key: str


class Network(BaseModel):
    chain_id: str
    origin: str
    quorum: int
    validators: list[ValidatorInfo]


class Status(BaseModel):
    chain_id: str
    name: str
    height: int
    tree_size: int
    checkpoint_size: int | None
    mempool: int
    peers: int
    counters: dict[str, int]


class BlockOut(BaseModel):
    height: int
    hash: str
    header: dict[str, Any]
    tx_hashes: list[str]
    evidence: list[dict[str, Any]]
    certificate: dict[str, Any]
    block: str
    """Standard base64 of the exact block bytes (RFC 8785 JSON); SHA-256 of them is ``hash``."""


@router.get("/network", response_model=Network)
def get_network(request: Request) -> Network:
    node = _node(request)
    return Network(
        chain_id=node.chain_id,
        origin=node.genesis.origin,
        quorum=node.validators.quorum,
        validators=[
            ValidatorInfo(name=v.name, verifier_key=v.encode()) for v in node.validators.validators
        ],
    )


@router.get("/status", response_model=Status)
def get_status(request: Request) -> Status:
    node = _node(request)
    with node.engine.connect() as conn:
        tree_size = logstore.tree_size(conn)
        checkpoint_size = logstore.latest_quorum_size(conn)
    return Status(
        chain_id=node.chain_id,
        name=node.signer.name,
        height=node.tip.height,
        tree_size=tree_size,
        checkpoint_size=checkpoint_size,
        mempool=len(node.mempool),
        peers=len(node.peers),
        counters=dict(node.counters),
    )


@router.get("/blocks/{height}", response_model=BlockOut)
def get_block(request: Request, height: int) -> BlockOut:
    node = _node(request)
    with node.engine.connect() as conn:
        stored = chainstore.block_at(conn, height) if height > 0 else None
    if stored is None:
        raise Problem(404, "no-block", "No block at that height")
    data, cert = stored
    block = Block.decode(data)
    return BlockOut(
        height=height,
        hash=block_id(data).hex(),
        header=block.header(),
        tx_hashes=[hashlib.sha256(canonical_json(t)).hexdigest() for t in block.txs],
        evidence=list(block.evidence),
        certificate=cert.to_json(),
        block=base64.b64encode(data).decode(),
    )


class EvidencePage(BaseModel):
    evidence: list[dict[str, Any]]
    next_cursor: str | None


@router.get("/evidence", response_model=EvidencePage)
def get_evidence(
    request: Request, cursor: str | None = None, limit: int = Query(100, ge=1, le=500)
) -> EvidencePage:
    """Conflicting signed messages seen from validators, and the block that recorded them."""
    with _node(request).engine.connect() as conn:
        rows = chainstore.evidence_page(conn, cursor, limit)
    return EvidencePage(
        evidence=[e for _, e in rows], next_cursor=rows[-1][0] if len(rows) == limit else None
    )
