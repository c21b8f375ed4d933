"""Agency-facing transaction submission and status."""

from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field

from api.problems import Problem
from node.mempool import MempoolFull
from node.p2p import SIGNATURE_HEADER
from node.ratelimit import retry_after
from node.service import Node, RateLimited, TxRejected

router = APIRouter(prefix="/v1", tags=["agency"])


class TransactionIn(BaseModel):
    body: dict[str, Any] = Field(description="type, chain_id, signer, nonce and the type's fields")
    signature: str = Field(
        description="hex Ed25519 signature over b'shanhe-tx-v1\\n' + RFC 8785(body)"
    )


class TxAccepted(BaseModel):
    tx_hash: str
    status: str


class TxStatus(BaseModel):
    tx_hash: str
    status: str
    height: int | None = None
    leaf_index: int | None = None
    reason: str | None = None
    message: str | None = None


@router.post("/tx", response_model=TxAccepted, status_code=202)
async def post_tx(request: Request, tx: TransactionIn) -> TxAccepted:
    node: Node = request.app.state.node
    try:
        submitted = node.submit(tx.model_dump())
    except TxRejected as exc:
        raise Problem(400, exc.code.replace("_", "-"), "Transaction refused", str(exc)) from exc
    except RateLimited as exc:
        raise Problem(
            429, "rate-limited", "Too many requests", str(exc), retry_after=retry_after(exc.wait)
        ) from exc
    except MempoolFull as exc:
        raise Problem(503, "mempool-full", "Mempool is full", str(exc), retry_after=1) from exc
    return TxAccepted(tx_hash=submitted.tx_hash, status=submitted.status)


@router.get("/tx/{tx_hash}", response_model=TxStatus, response_model_exclude_none=True)
async def get_tx(request: Request, tx_hash: str) -> TxStatus:
    try:
        raw = bytes.fromhex(tx_hash)
    except ValueError:
        raw = b""
    if len(raw) != 32:
        raise Problem(400, "bad-tx-hash", "A transaction hash is 64 hex digits")
    node: Node = request.app.state.node
    status = node.tx_status(raw)
    if status is None:
        raise Problem(404, "no-tx", "No such transaction on this node")
    return TxStatus(**status)


p2p = APIRouter(prefix="/v1", tags=["peers"])


@p2p.post("/p2p", status_code=204, include_in_schema=True)
async def post_p2p(request: Request) -> Response:
    """Signed envelopes from other validators (consensus messages, transactions, cosignatures)."""
    node: Node = request.app.state.node
    dropped = node.on_envelope(await request.body(), request.headers.get(SIGNATURE_HEADER))
    if dropped is not None:
        raise Problem(
            401 if dropped != "malformed" else 400,
            f"peer-{dropped.replace('_', '-')}",
            "Envelope refused",
        )
    return Response(status_code=204)
