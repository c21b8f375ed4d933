"""What the node's operator calls: the state of its peers and mempool. Signed requests by this
node's own validator key (``keyid`` ``node:<name>``); nobody else, not even other validators."""

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from api.authz import Action, Parties, caller_of, require
from api.problems import SIGNED_RESPONSES
from node.service import Node

router = APIRouter(prefix="/v1/admin", tags=["admin"])


class PeerState(BaseModel):
    name: str
    url: str
    queued_votes: int = Field(description="consensus messages and cosignatures waiting")
    queued_gossip: int = Field(description="transactions waiting to be gossiped")
    failures: int = Field(description="sends that failed since start")


class MempoolState(BaseModel):
    size: int
    capacity: int
    oldest: list[str] = Field(description="hashes of the oldest waiting transactions (≤ 20)")


class AdminView(BaseModel):
    name: str
    height: int
    peers: list[PeerState]
    mempool: MempoolState


@router.get("", response_model=AdminView, responses=SIGNED_RESPONSES)
async def get_admin(request: Request) -> AdminView:
    """Peers (queues, failures) and the mempool of this node."""
    require(request, Action.ADMIN, await caller_of(request), Parties())
    node: Node = request.app.state.node
    return AdminView(
        name=node.signer.name,
        height=node.tip.height,
        peers=[
            PeerState(
                name=p.name,
                url=p.url,
                queued_votes=len(p.urgent),
                queued_gossip=len(p.gossip),
                failures=p.failures,
            )
            for p in node.peers
        ],
        mempool=MempoolState(
            size=len(node.mempool),
            capacity=node.mempool.capacity,
            oldest=[tx.hash.hex() for tx in node.mempool.take(20)],
        ),
    )
