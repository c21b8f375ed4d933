"""Auditor-facing log endpoints: checkpoints, proofs and entries. Public, no personal data."""

import base64
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel
from sqlalchemy import Engine

from api.problems import Problem
from node import logstore


class InclusionProof(BaseModel):
    leaf_index: int
    tree_size: int
    hashes: list[str]


class ConsistencyProof(BaseModel):
    first: int
    second: int
    hashes: list[str]


class Entry(BaseModel):
    leaf_index: int
    data: str
    """Standard base64 of the exact leaf bytes."""


def _b64(hashes: list[bytes]) -> list[str]:
    return [base64.b64encode(h).decode() for h in hashes]


def _engine(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


def _committed_size(engine: Engine) -> int:
    with engine.connect() as conn:
        return logstore.tree_size(conn)


router = APIRouter(prefix="/v1", tags=["auditor"])
NonNegative = Annotated[int, Query(ge=0, le=2**62)]


@router.get(
    "/checkpoint",
    response_class=PlainTextResponse,
    responses={200: {"content": {"text/plain": {}}, "description": "C2SP signed checkpoint"}},
)
def get_checkpoint(request: Request, tree_size: NonNegative | None = None) -> PlainTextResponse:
    """The latest checkpoint with a quorum of validator cosignatures, or the one of a size."""
    with _engine(request).connect() as conn:
        size = logstore.latest_quorum_size(conn)
        if tree_size is not None:
            size = tree_size if logstore.has_quorum(conn, tree_size) else None
        note = None if size is None else logstore.checkpoint_note(conn, size)
    if note is None:
        raise Problem(404, "no-checkpoint", "No quorum-signed checkpoint for that tree size")
    return PlainTextResponse(note)


@router.get("/proof/inclusion", response_model=InclusionProof)
def get_inclusion(
    request: Request, leaf_index: NonNegative, tree_size: NonNegative
) -> InclusionProof:
    engine = _engine(request)
    if not leaf_index < tree_size <= _committed_size(engine):
        raise Problem(
            400, "bad-tree-size", "Need leaf_index < tree_size <= the committed tree size"
        )
    with engine.connect() as conn:
        hashes = logstore.inclusion_proof(conn, leaf_index, tree_size)
    return InclusionProof(leaf_index=leaf_index, tree_size=tree_size, hashes=_b64(hashes))


@router.get("/proof/consistency", response_model=ConsistencyProof)
def get_consistency(request: Request, first: NonNegative, second: NonNegative) -> ConsistencyProof:
    engine = _engine(request)
    if not 0 < first <= second <= _committed_size(engine):
        raise Problem(400, "bad-tree-size", "Need 0 < first <= second <= the committed tree size")
    with engine.connect() as conn:
        hashes = logstore.consistency_proof(conn, first, second)
    return ConsistencyProof(first=first, second=second, hashes=_b64(hashes))


@router.get("/entries/{index}", response_model=Entry)
def get_entry(request: Request, index: int) -> Entry:
    with _engine(request).connect() as conn:
        data = logstore.leaf_at(conn, index) if index >= 0 else None
    if data is None:
        raise Problem(404, "no-entry", "No entry at that index")
    return Entry(leaf_index=index, data=base64.b64encode(data).decode())
