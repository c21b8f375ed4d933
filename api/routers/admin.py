"""What the node's operator calls: the state of its peers and mempool. Signed requests by this
node's own validator key (``keyid`` ``node:<name>``); nobody else, not even other validators."""

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from api.authz import Action, Parties, caller_of, require
from api.problems import SIGNED_RESPONSES
from api.schemas import example
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

    model_config = example(
        name="node-330800",
        height=42,
        peers=[
            {
                "name": "node-330802",
                "url": "http://127.0.0.1:8701",
                "queued_votes": 0,
                "queued_gossip": 0,
                "failures": 0,
            }
        ],
        mempool={"size": 0, "capacity": 20000, "oldest": []},
    )


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
