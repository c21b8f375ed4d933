"""Node-to-node transport: signed envelopes over HTTP, one sending queue per peer.

Each envelope is a POST signed with RFC 9421 (``signing/http_signatures.py``) by the sending
validator's key, key id ``node:<name>``: the signature covers the body through its digest, a
``created`` time and a single-use nonce, so envelopes from unknown senders, with bad
signatures, stale or replayed are dropped and counted. Consensus messages inside carry their
own signatures too. Traffic is authenticated, not encrypted (no TLS between nodes yet).
"""

import asyncio
import contextlib
import json
import logging
import time
from collections import deque
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any

import httpx

from consensus.validators import ValidatorSet
from contracts.tx import MAX_TX_DEPTH, MAX_TX_ITEMS, Transaction
from node.http_post import KeepAlivePoster, PostError
from signing.bounded_json import JsonRefused, Limits, decode
from signing.http_signatures import (
    NonceCache,
    SignatureError,
    authority_of,
    sign_request,
    verify_headers,
    verify_request,
)
from tlog.note import Signer, Verifier

log = logging.getLogger("shanhe.p2p")
MAX_BATCH = 200
QUEUE_LIMIT = 10_000
PATH = "/v1/p2p"
MAX_ENVELOPE_BYTES = 16 * 1024 * 1024
"""A proposal of MAX_BLOCK_BYTES in base64 plus a batch of votes, or 200 gossiped
transactions of 16 KiB: both far above a client's limit, both needed for liveness."""
ENVELOPE_JSON = Limits(
    MAX_ENVELOPE_BYTES, MAX_TX_DEPTH + 3, MAX_BATCH * (2 * MAX_TX_ITEMS + 16) + 16
)
"""An envelope holds items, an item a transaction (whose own limits apply again when it is
decoded): an honest batch of valid transactions always fits, and no envelope can nest past
what a transaction may or build more than a batch of them can."""


def encode_item(item: dict[str, Any]) -> bytes:
    """An item's JSON, encoded once however many peers it goes to."""
    return json.dumps(item, separators=(",", ":")).encode()


def tx_item(tx: Transaction) -> bytes:
    """A gossiped transaction: its RFC 8785 bytes are already at hand, so nothing is encoded."""
    return b'{"kind":"tx","tx":' + tx.encode() + b"}"


def seal(
    signer: Signer, chain_id: str, items: Sequence[dict[str, Any] | bytes], authority: str
) -> tuple[bytes, dict[str, str]]:
    """The envelope's exact body bytes and the RFC 9421 headers that authenticate them (key id
    ``node:<name>``) to the one peer reached as ``authority``: the same request signatures
    agencies and residents use."""
    parts = [i if isinstance(i, bytes) else encode_item(i) for i in items]
    head = encode_item({"chain_id": chain_id, "from": signer.name})[:-1]
    body = head + b',"items":[' + b",".join(parts) + b"]}"
    keyid = f"node:{signer.name}"
    headers = sign_request(signer, keyid, "POST", authority, PATH, "", body, time.time())
    return body, {"content-type": "application/json", **headers}


def _validator_key(validators: ValidatorSet) -> Callable[[str], Verifier | None]:
    def key_of(keyid: str) -> Verifier | None:
        return (
            validators.by_name(keyid.removeprefix("node:")) if keyid.startswith("node:") else None
        )

    return key_of


def check_sender(
    headers: Mapping[str, str], validators: ValidatorSet, authorities: Collection[str]
) -> str | None:
    """Why an envelope is refused on its headers alone, or None: a validator's fresh
    signature, for this node (one of ``authorities``), over the Content-Digest it announces,
    checked before its body (up to 16 MiB) is read. ``open_envelope`` checks the body against
    it and spends the nonce."""
    checked = verify_headers(
        "POST", PATH, "", None, headers, _validator_key(validators), time.time(), authorities
    )
    return _REASONS.get(checked.kind, "malformed") if isinstance(checked, SignatureError) else None


_REASONS = {"unknown-key": "unknown_sender", "signature-invalid": "bad_signature",
            "signature-replayed": "replayed", "signature-stale": "stale",
            "signature-wrong-authority": "wrong_authority"}  # fmt: skip


def open_envelope(
    body: bytes,
    headers: Mapping[str, str],
    validators: ValidatorSet,
    chain_id: str,
    nonces: NonceCache,
    authorities: Collection[str],
) -> tuple[str, list[dict[str, Any]]] | str:
    """(sender, items), or the reason the envelope was dropped: only a validator of the
    current set, signing fresh, once and for this node, is heard."""
    key_of = _validator_key(validators)
    now = time.time()
    verified = verify_request("POST", PATH, "", body, headers, key_of, nonces, now, authorities)
    if isinstance(verified, SignatureError):
        return _REASONS.get(verified.kind, "malformed")
    sender = verified.removeprefix("node:")
    envelope = decode(body, ENVELOPE_JSON)
    if isinstance(envelope, JsonRefused):
        return "malformed"
    if (
        not isinstance(envelope, dict)
        or envelope.get("from") != sender
        or envelope.get("chain_id") != chain_id
        or not isinstance(envelope.get("items"), list)
        or not all(isinstance(i, dict) for i in envelope["items"])
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
        self.authority = authority_of(self.url)
        self.signer, self.chain_id = signer, chain_id
        self.urgent: deque[bytes] = deque(maxlen=QUEUE_LIMIT)
        self.gossip: deque[bytes] = deque()
        self.ready = asyncio.Event()
        self.client = httpx.AsyncClient(timeout=5.0)  # block sync's reads
        self.poster = KeepAlivePoster(self.url)
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
            body, headers = seal(self.signer, self.chain_id, items, self.authority)
            try:
                if await self.poster.post(PATH, body, headers) >= 400:
                    self.failures += 1
            except PostError:
                self.failures += 1
                await asyncio.sleep(0.2)

    async def close(self) -> None:
        if self.task:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
        await self.poster.close()
        await self.client.aclose()
