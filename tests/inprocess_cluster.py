"""Several real ``Node``s in one process and one event loop, wired through their real peer
senders, envelope signatures and block sync, with a network the test controls: links cut,
envelopes delayed or rewritten. For attacks that need a Byzantine node's timing or clock."""

import asyncio
import json
import time
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from api.app import create_app
from contracts.tx import Transaction, sign_transaction
from node.genesis import NodeConfig
from node.http_post import PostError
from node.keys import read_signer
from node.network_init import init_network
from node.service import Node

Hook = Callable[[int, int, bytes], float | None]
"""(source, destination, envelope body) -> seconds to delay it, or None to drop it."""


class LocalPoster:
    """Stands in for ``KeepAlivePoster``: hands the signed envelope to the destination node
    as its HTTP route would (headers checked first, then the body)."""

    def __init__(self, net: "LocalNetwork", src: int, dst: int, authority: str) -> None:
        self.net, self.src, self.dst = net, src, dst
        self.authority = authority
        """The Host an HTTP client would send (signed as ``@authority``)."""

    async def post(self, path: str, body: bytes, headers: dict[str, str]) -> int:
        if self.dst in self.net.down or self.src in self.net.down:
            raise PostError("down")
        delay = self.net.hook(self.src, self.dst, body)
        if delay is None:
            return 204  # dropped on the way
        if delay:
            await asyncio.sleep(delay)
        target = self.net.nodes[self.dst]
        headers = {**headers, "host": self.authority}
        why = target.check_envelope_headers(headers) or target.on_envelope(body, headers)
        return 204 if why is None else 400

    async def close(self) -> None:
        pass


class LocalNetwork:
    def __init__(
        self, directory: Path, n: int = 4, configs: dict[int, dict[str, Any]] | None = None
    ) -> None:
        paths = init_network(directory, n)
        for i, path in enumerate(paths):
            own = (configs or {}).get(i, {})
            path.write_text(json.dumps({**json.loads(path.read_text()), **own}))
        self.dir = directory
        self.nodes = [Node(NodeConfig.load(p)) for p in paths]
        self.names = [node.signer.name for node in self.nodes]
        self.apps = [create_app(node) for node in self.nodes]
        self.down: set[int] = set()
        self.hook: Hook = lambda src, dst, body: 0.0
        for src, node in enumerate(self.nodes):
            self.wire(src, node)
        self.agency = read_signer(directory / "agencies" / "ssb-330825.key")
        self.chain_id = self.nodes[0].chain_id

    def wire(self, src: int, node: Node) -> None:
        for peer in node.peers:
            dst = self.names.index(peer.name)
            peer.poster = LocalPoster(self, src, dst, peer.authority)  # type: ignore[assignment]
            peer.url = f"http://{peer.name}"
            peer.client = httpx.AsyncClient(
                transport=httpx.ASGITransport(app=self.apps[dst]), timeout=5.0
            )

    async def start(self, skip: set[int] | None = None) -> None:
        for i, node in enumerate(self.nodes):
            if i in (skip or set()):
                self.down.add(i)
            else:
                await node.start()

    async def stop(self) -> None:
        for node in self.nodes:
            await node.stop()

    def anchor(self, text: str, nonce: str | None = None) -> Transaction:
        import hashlib
        import secrets

        body = {
            "type": "anchor",
            "chain_id": self.chain_id,
            "signer": self.agency.name,
            "nonce": nonce or secrets.token_hex(8),
            "sha256": hashlib.sha256(text.encode()).hexdigest(),
        }
        return sign_transaction(body, self.agency)

    def signed(self, key_file: str, body: dict[str, Any]) -> Transaction:
        import secrets

        signer = read_signer(self.dir / "agencies" / key_file)
        full = {"chain_id": self.chain_id, "signer": signer.name, "nonce": secrets.token_hex(8)}
        return sign_transaction({**full, **body}, signer)

    def up(self) -> list[Node]:
        return [n for i, n in enumerate(self.nodes) if i not in self.down]

    async def until(self, condition: Callable[[], bool], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                heights = [n.tip.height for n in self.nodes]
                raise TimeoutError(f"{what}: not within {timeout} s (heights {heights})")
            await asyncio.sleep(0.05)

    def committed_on(self, tx: Transaction, nodes: list[Node]) -> bool:
        return all(
            (s := n.tx_status(tx.hash)) is not None and s["status"] == "committed" for n in nodes
        )


@contextmanager
def local_network(
    directory: Path, n: int = 4, configs: dict[int, dict[str, Any]] | None = None
) -> Iterator[LocalNetwork]:
    net = LocalNetwork(directory, n, configs)
    try:
        yield net
    finally:
        for node in net.nodes:
            node.engine.dispose()


def run(scenario: Callable[[], Coroutine[Any, Any, None]]) -> None:
    asyncio.run(scenario())


def envelope_messages(body: bytes) -> list[dict[str, Any]]:
    """The consensus messages inside a peer envelope."""
    items = json.loads(body).get("items", [])
    return [i["message"] for i in items if isinstance(i, dict) and i.get("kind") == "consensus"]
