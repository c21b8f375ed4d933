"""Validator-to-validator traffic: envelopes of consensus messages, transactions and
cosignatures, each request signed with RFC 9421 by a validator of the current set (key id
``node:<name>``), fresh and used once."""

from fastapi import APIRouter, Request, Response

from api.problems import Problem
from node.service import Node

router = APIRouter(prefix="/v1", tags=["peers"])


@router.post("/p2p", status_code=204, include_in_schema=True)
async def post_p2p(request: Request) -> Response:
    """Signed envelopes from other validators (consensus messages, transactions, cosignatures)."""
    node: Node = request.app.state.node
    dropped = node.on_envelope(await request.body(), request.headers)
    if dropped is not None:
        raise Problem(
            401 if dropped != "malformed" else 400,
            f"peer-{dropped.replace('_', '-')}",
            "Envelope refused",
        )
    return Response(status_code=204)
