"""Node-to-node transport: signed envelopes over HTTP, one sending queue per peer.

Every envelope is signed by the sending validator's key over RFC 8785 bytes naming the chain;
envelopes from unknown senders or with bad signatures are dropped and counted. Consensus
messages inside carry their own signatures too; replaying an envelope is harmless (all
messages are idempotent).
"""

import asyncio
import contextlib
import logging
from typing import Any

import httpx

from consensus.validators import ValidatorSet
from signing.canonical import canonical_json
from tlog.note import Signer

log = logging.getLogger("shanhe.p2p")
DOMAIN = b"shanhe-p2p-v1\n"
MAX_BATCH = 200
QUEUE_LIMIT = 10_000


def _sign_bytes(chain_id: str, sender: str, items: list[dict[str, Any]]) -> bytes:
    return DOMAIN + canonical_json({"chain_id": chain_id, "from": sender, "items": items})


def seal(signer: Signer, chain_id: str, items: list[dict[str, Any]]) -> dict[str, Any]:
    sig = signer.sign(_sign_bytes(chain_id, signer.name, items))
    return {"from": signer.name, "items": items, "signature": sig.hex()}


def open_envelope(
    envelope: Any, validators: ValidatorSet, chain_id: str
) -> tuple[str, list[dict[str, Any]]] | str:
    """(sender, items), or the reason it was dropped."""
    if not isinstance(envelope, dict) or not isinstance(envelope.get("items"), list):
        return "malformed"
    sender, items, sig = envelope.get("from"), envelope["items"], envelope.get("signature")
    if not isinstance(sender, str) or not isinstance(sig, str):
        return "malformed"
    key = validators.by_name(sender)
    if key is None:
        return "unknown_sender"
    try:
        signature = bytes.fromhex(sig)
        message = _sign_bytes(chain_id, sender, items)
    except ValueError:
        return "malformed"
    if not key.verify(message, signature):
        return "bad_signature"
    if not all(isinstance(i, dict) for i in items):
        return "malformed"
    return sender, items


class Peer:
    """Sends batches of items to one peer; drops on failure (consensus re-sends)."""

    def __init__(self, name: str, url: str, signer: Signer, chain_id: str) -> None:
        self.name, self.url = name, url.rstrip("/")
        self.signer, self.chain_id = signer, chain_id
        self.queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(QUEUE_LIMIT)
        self.client = httpx.AsyncClient(timeout=5.0)
        self.task: asyncio.Task[None] | None = None
        self.failures = 0

    def send(self, item: dict[str, Any]) -> None:
        with contextlib.suppress(asyncio.QueueFull):
            self.queue.put_nowait(item)

    def start(self) -> None:
        self.task = asyncio.create_task(self._run(), name=f"peer-{self.name}")

    async def _run(self) -> None:
        while True:
            items = [await self.queue.get()]
            while not self.queue.empty() and len(items) < MAX_BATCH:
                items.append(self.queue.get_nowait())
            envelope = seal(self.signer, self.chain_id, items)
            try:
                r = await self.client.post(f"{self.url}/v1/p2p", json=envelope)
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
