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
        raise refused(dropped)
    return Response(status_code=204)


def refused(why: str) -> Problem:
    """The answer to an envelope dropped for ``why`` (a ``node.p2p`` reason)."""
    return Problem(
        400 if why == "malformed" else 401, f"peer-{why.replace('_', '-')}", "Envelope refused"
    )
