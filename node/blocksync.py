"""Catching up: a node behind its peers fetches each missing block with its commit
certificate, checks the certificate against the validator set of that height (ours, as we
apply each block), has consensus adopt it (the block is re-executed: the same tree head and
state root) and takes cosignatures for its tree head from a peer's served checkpoint.

A peer's answers are hostile input: each is read no further than a byte cap and decoded with
the bounded decoder; any failure is counted and the next peer is asked. A mixin of
``node.service.Node``.

Blocks are the log's content, read only by signed callers with a role (``api/authz.py``): a
node asks for them with RFC 9421 requests signed by its own key (``node:<name>``), and
answers a node's such request if the current set lists that key, or, for a node not in the
set yet, if an open ``add_validator`` proposal names it with that key (a candidate: it
catches up while governance approves it). A node behind a rotation of its own key signs
with the key it holds for the set it has applied; refused, it tries its next key file.
"""

import asyncio
import base64
import contextlib
import logging
import time
from collections import Counter
from collections.abc import Sequence
from typing import Any

import httpx
from sqlalchemy import Engine

from consensus.machine import Ready, Tendermint
from consensus.messages import CommitCertificate, verify_certificate
from consensus.validators import ValidatorSet
from node import chainstore, cosigning, logstore
from node.chainstore import Tip
from node.genesis import NodeConfig
from node.keys import KeyFileError, read_signer
from node.p2p import MAX_ENVELOPE_BYTES, Peer
from signing.bounded_json import JsonRefused, Limits
from signing.bounded_json import decode as decode_json
from signing.http_signatures import sign_request
from tlog import layout
from tlog.note import Signer, Verifier

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
    config: NodeConfig
    signer: Signer
    _candidates: tuple[int, dict[str, Verifier]] = (-1, {})
    """(height, name -> key) of the open ``add_validator`` proposals, read once a height."""

    def handle(self, ready: Ready, pace: bool = True) -> None:
        raise NotImplementedError

    def key_of(self, signer: str) -> Verifier | None:
        raise NotImplementedError

    def log_reader_key(self, keyid: str) -> Verifier | None:
        """The key a signed read of the log's content must verify with: what ``key_of`` knows
        (agencies, residents, validators of the current set) and, for a ``node:<name>`` the
        set does not hold, the key an open ``add_validator`` proposal names for it, so that a
        node started before governance adds it (README, "Changing the validators") syncs
        while the approvals gather. Two open proposals for one name: the first by id counts."""
        key = self.key_of(keyid)
        if key is not None or not keyid.startswith("node:"):
            return key
        return self._candidate_keys().get(keyid.removeprefix("node:"))

    def _candidate_keys(self) -> dict[str, Verifier]:
        height, keys = self._candidates
        if height == self.tip.height:
            return keys
        keys, after, page = {}, None, 500
        with self.engine.connect() as conn:
            while rows := chainstore.state_prefix(conn, "proposal/", after, page):
                for _, proposal in rows:
                    name, key = _candidate(proposal)
                    if name is not None and key is not None and name not in keys:
                        keys[name] = key
                if len(rows) < page:
                    break
                after = rows[-1][0]
        self._candidates = (self.tip.height, keys)
        return keys

    def _sync_signers(self) -> list[Signer]:
        """Our key, then (if refused) our next key file's: a node that missed the block
        rotating its key to it is asked for that key by peers that applied it."""
        signers = [self.signer]
        path = self.config.path(self.config.next_key_file)
        try:
            following = read_signer(path) if path.exists() else None
        except KeyFileError:
            following = None
        if following is not None and following.verifier() != self.signer.verifier():
            signers.append(following)
        return signers

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
            path = f"/v1/blocks/{height}"
            payload = await _get_json(peer, path, BLOCK_ANSWER_JSON, self._sync_signers())
            if payload is None:
                self.counters["sync_not_served"] += 1
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


def _candidate(proposal: Any) -> tuple[str | None, Verifier | None]:
    """(name, key) of an open ``add_validator`` proposal whose key carries its name."""
    if not isinstance(proposal, dict) or proposal.get("status") != "open":
        return None, None
    subject = proposal.get("agency")  # every proposal keeps its subject there
    if proposal.get("action") != "add_validator" or not isinstance(subject, dict):
        return None, None
    name, key = subject.get("name"), subject.get("key")
    try:
        verifier = Verifier.parse(key) if isinstance(key, str) else None
    except ValueError:
        return None, None
    if verifier is None or verifier.name != name:
        return None, None
    return name, verifier


def _signed(peer: Peer, signer: Signer, path: str) -> dict[str, str]:
    """RFC 9421 headers for a GET of ``path`` at ``peer``, by this node's key."""
    keyid = f"node:{signer.name}"
    headers = sign_request(signer, keyid, "GET", peer.authority, path, "", b"", time.time())
    return {"host": peer.authority, **headers}


async def _get(
    peer: Peer, path: str, max_bytes: int, signers: Sequence[Signer] = ()
) -> bytes | None:
    """A peer's answer to GET ``path``, read no further than ``max_bytes`` (a Byzantine peer
    chooses its size); None if it is not a 200. ``signers``: sign the request, with the next
    one when the peer answers 401 to one (unsigned when there are none)."""
    attempts: Sequence[Signer | None] = signers or [None]
    for n, signer in enumerate(attempts):
        headers = {} if signer is None else _signed(peer, signer, path)
        async with peer.client.stream("GET", f"{peer.url}{path}", headers=headers) as r:
            if r.status_code == 401 and n + 1 < len(attempts):
                continue
            if r.status_code != 200:
                return None
            chunks, size = [], 0
            async for chunk in r.aiter_bytes():
                size += len(chunk)
                if size > max_bytes:
                    raise SyncAnswerRefused(f"{path}: answer past {max_bytes} bytes")
                chunks.append(chunk)
        return b"".join(chunks)
    return None


async def _get_json(peer: Peer, path: str, limits: Limits, signers: Sequence[Signer] = ()) -> Any:
    """A peer's JSON answer, decoded with the bounded decoder; None if it is not a 200."""
    data = await _get(peer, path, limits.max_bytes, signers)
    if data is None:
        return None
    value = decode_json(data, limits)
    if isinstance(value, JsonRefused):
        raise SyncAnswerRefused(f"{path}: {value.kind}")
    return value
