"""Node-to-node transport: signed envelopes over HTTP, one sending queue per peer.

Every envelope is signed by the sending validator's key over its exact body bytes (which name
the chain and the sender), carried in a header; envelopes from unknown senders or with bad
signatures are dropped and counted. Consensus
messages inside carry their own signatures too; replaying an envelope is harmless (all
messages are idempotent).
"""

import asyncio
import contextlib
import json
import logging
from collections import deque
from collections.abc import Sequence
from typing import Any

import httpx

from consensus.validators import ValidatorSet
from contracts.tx import Transaction
from tlog.note import Signer

log = logging.getLogger("shanhe.p2p")
DOMAIN = b"shanhe-p2p-v1\n"
MAX_BATCH = 200
QUEUE_LIMIT = 10_000


SIGNATURE_HEADER = "x-shanhe-signature"


def encode_item(item: dict[str, Any]) -> bytes:
    """An item's JSON, encoded once however many peers it goes to."""
    return json.dumps(item, separators=(",", ":")).encode()


def tx_item(tx: Transaction) -> bytes:
    """A gossiped transaction: its RFC 8785 bytes are already at hand, so nothing is encoded."""
    return b'{"kind":"tx","tx":' + tx.encode() + b"}"


def seal(
    signer: Signer, chain_id: str, items: Sequence[dict[str, Any] | bytes]
) -> tuple[bytes, dict[str, str]]:
    """The envelope's exact body bytes and the headers that authenticate them."""
    parts = [i if isinstance(i, bytes) else encode_item(i) for i in items]
    head = encode_item({"chain_id": chain_id, "from": signer.name})[:-1]
    body = head + b',"items":[' + b",".join(parts) + b"]}"
    signature = signer.sign(DOMAIN + body).hex()
    return body, {"content-type": "application/json", SIGNATURE_HEADER: signature}


def open_envelope(
    body: bytes, signature: str | None, validators: ValidatorSet, chain_id: str
) -> tuple[str, list[dict[str, Any]]] | str:
    """(sender, items), or the reason the envelope was dropped.

    The signature covers the exact bytes received, so nothing is re-encoded to check it.
    """
    try:
        envelope = json.loads(body)
        sig = bytes.fromhex(signature or "")
    except (ValueError, RecursionError):
        return "malformed"
    if not isinstance(envelope, dict) or not isinstance(envelope.get("items"), list):
        return "malformed"
    sender = envelope.get("from")
    if not isinstance(sender, str):
        return "malformed"
    key = validators.by_name(sender)
    if key is None:
        return "unknown_sender"
    if not key.verify(DOMAIN + body, sig):
        return "bad_signature"
    if envelope.get("chain_id") != chain_id or not all(
        isinstance(i, dict) for i in envelope["items"]
    ):
        return "malformed"
    return sender, envelope["items"]


class Peer:
    """Sends batches of items to one peer; drops on failure (consensus re-sends).

    Two queues, as CometBFT gives its channels priorities: consensus messages and
    cosignatures go first in every batch, so a vote never waits behind a backlog of gossiped
    transactions (under load that backlog is thousands deep and would stretch every round).
    """

    def __init__(self, name: str, url: str, signer: Signer, chain_id: str) -> None:
        self.name, self.url = name, url.rstrip("/")
        self.signer, self.chain_id = signer, chain_id
        self.urgent: deque[bytes] = deque(maxlen=QUEUE_LIMIT)
        self.gossip: deque[bytes] = deque()
        self.ready = asyncio.Event()
        self.client = httpx.AsyncClient(timeout=5.0)
        self.task: asyncio.Task[None] | None = None
        self.failures = 0

    def send(self, item: bytes, *, gossip: bool = False) -> None:
        """Queue an encoded item; ``gossip`` (transactions) yields to everything else."""
        if gossip:
            if len(self.gossip) >= QUEUE_LIMIT:
                return  # the peer will get it in a proposal or from another node
            self.gossip.append(item)
        else:
            self.urgent.append(item)  # a full deque drops the oldest: consensus re-sends
        self.ready.set()

    def next_batch(self) -> list[bytes]:
        items: list[bytes] = []
        for queue in (self.urgent, self.gossip):
            while queue and len(items) < MAX_BATCH:
                items.append(queue.popleft())
        if not self.urgent and not self.gossip:
            self.ready.clear()
        return items

    def start(self) -> None:
        self.task = asyncio.create_task(self._run(), name=f"peer-{self.name}")

    async def _run(self) -> None:
        while True:
            await self.ready.wait()
            items = self.next_batch()
            if not items:
                continue
            body, headers = seal(self.signer, self.chain_id, items)
            try:
                r = await self.client.post(f"{self.url}/v1/p2p", content=body, headers=headers)
                if r.status_code >= 400:
                    self.failures += 1
            except httpx.HTTPError:
                self.failures += 1
                await asyncio.sleep(0.2)

    async def close(self) -> None:
        if self.task:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
        await self.client.aclose()
