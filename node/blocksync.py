"""Catching up: a node behind its peers fetches each missing block with its commit
certificate, checks the certificate against the validator set of that height (ours, as we
apply each block), has consensus adopt it (the block is re-executed: the same tree head and
state root) and takes cosignatures for its tree head from a peer's served checkpoint.

A peer's answers are hostile input: each is read no further than a byte cap and decoded with
the bounded decoder; any failure is counted and the next peer is asked. A mixin of
``node.service.Node``.
"""

import asyncio
import base64
import contextlib
import logging
from collections import Counter
from typing import Any

import httpx
from sqlalchemy import Engine

from consensus.machine import Ready, Tendermint
from consensus.messages import CommitCertificate, verify_certificate
from consensus.validators import ValidatorSet
from node import cosigning, logstore
from node.chainstore import Tip
from node.p2p import MAX_ENVELOPE_BYTES, Peer
from signing.bounded_json import JsonRefused, Limits
from signing.bounded_json import decode as decode_json
from tlog import layout

log = logging.getLogger("shanhe.node")

SYNC_SECONDS = 1.0


class BlockSync:
    chain_id: str
    validators: ValidatorSet
    engine: Engine
    tip: Tip
    frontier: layout.Frontier
    counters: Counter[str]
    peers: list[Peer]
    sync_now: asyncio.Event
    sm: Tendermint

    def handle(self, ready: Ready, pace: bool = True) -> None:
        raise NotImplementedError

    def _on_cosig(self, signer: str, size: int, line: str) -> None:
        raise NotImplementedError

    async def _sync_loop(self) -> None:
        while True:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.sync_now.wait(), SYNC_SECONDS)
            self.sync_now.clear()
            for peer in self.peers:
                try:
                    await self._sync_from(peer)
                except Exception as exc:  # whatever a peer answers, this task goes on
                    self.counters["sync_errors"] += 1
                    expected = isinstance(exc, httpx.HTTPError | SyncAnswerRefused | ValueError)
                    log.log(
                        logging.DEBUG if expected else logging.WARNING,
                        "sync from %s failed: %s: %.200s", peer.name, type(exc).__name__, exc,
                    )  # fmt: skip

    async def _sync_from(self, peer: Peer) -> None:
        status = await _get_json(peer, "/v1/status", STATUS_JSON)
        if type(status) is not dict or type(status.get("height")) is not int:
            raise SyncAnswerRefused("status without a height")
        their_height = status["height"]
        while their_height > self.tip.height:
            height = self.tip.height + 1
            payload = await _get_json(peer, f"/v1/blocks/{height}", BLOCK_ANSWER_JSON)
            if payload is None:
                return
            if type(payload) is not dict or type(payload.get("block")) is not str:
                raise SyncAnswerRefused("block answer without a block")
            data = base64.b64decode(payload["block"], validate=True)
            cert = CommitCertificate.from_json(payload.get("certificate"))
            if verify_certificate(cert, self.validators, self.chain_id) is not None:
                self.counters["sync_bad_certificate"] += 1
                return
            self.handle(self.sm.commit_certificate(data, cert), pace=False)
            if self.tip.height < height:  # refused
                return
        await self._merge_checkpoint(peer)

    async def _merge_checkpoint(self, peer: Peer) -> None:
        """Take cosignatures for our tree head from a peer's latest quorum checkpoint."""
        with self.engine.connect() as conn:
            served = logstore.latest_quorum_size(conn)
        if served is not None and served >= self.frontier.size:
            return
        note = await _get(peer, "/v1/checkpoint", MAX_CHECKPOINT_BYTES)
        signed = None if note is None else cosigning.lines_of(note.decode("utf-8", "replace"))
        if signed is None or signed[0] > self.frontier.size:
            return
        size, lines = signed
        for name, line in lines:
            if self.validators.by_name(name) is not None:
                self._on_cosig(name, size, line)


class SyncAnswerRefused(Exception):
    """A peer's answer during block sync is not what it must be (counted, then the next)."""


STATUS_JSON = Limits(64 * 1024, 4, 4096)
MAX_CHECKPOINT_BYTES = 256 * 1024
"""A checkpoint note: three lines and one signature line per validator."""
BLOCK_ANSWER_JSON = Limits(MAX_ENVELOPE_BYTES, 8, 100_000)
"""A block (4 MiB, base64) with its header, transaction hashes, evidence and certificate."""


async def _get(peer: Peer, path: str, max_bytes: int) -> bytes | None:
    """A peer's answer to GET ``path``, read no further than ``max_bytes`` (a Byzantine peer
    chooses its size); None if it is not a 200."""
    async with peer.client.stream("GET", f"{peer.url}{path}") as r:
        if r.status_code != 200:
            return None
        chunks, size = [], 0
        async for chunk in r.aiter_bytes():
            size += len(chunk)
            if size > max_bytes:
                raise SyncAnswerRefused(f"{path}: answer past {max_bytes} bytes")
            chunks.append(chunk)
    return b"".join(chunks)


async def _get_json(peer: Peer, path: str, limits: Limits) -> Any:
    """A peer's JSON answer, decoded with the bounded decoder; None if it is not a 200."""
    data = await _get(peer, path, limits.max_bytes)
    if data is None:
        return None
    value = decode_json(data, limits)
    if isinstance(value, JsonRefused):
        raise SyncAnswerRefused(f"{path}: {value.kind}")
    return value
