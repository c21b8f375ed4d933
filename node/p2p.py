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
from typing import Any

import httpx

from consensus.validators import ValidatorSet
from tlog.note import Signer

log = logging.getLogger("shanhe.p2p")
DOMAIN = b"shanhe-p2p-v1\n"
MAX_BATCH = 200
QUEUE_LIMIT = 10_000


SIGNATURE_HEADER = "x-shanhe-signature"


def seal(
    signer: Signer, chain_id: str, items: list[dict[str, Any]]
) -> tuple[bytes, dict[str, str]]:
    """The envelope's exact body bytes and the headers that authenticate them."""
    body = json.dumps({"chain_id": chain_id, "from": signer.name, "items": items}).encode()
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
