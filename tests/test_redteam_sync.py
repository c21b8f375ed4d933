"""Red team: a Byzantine validator answers honest nodes' block-sync reads with JSON that is
not what they expect, and their block sync stops for good.

``Node._sync_loop`` catches only ``httpx.HTTPError, ValueError, KeyError, TypeError`` around
``_sync_from``. A Byzantine validator controls its own HTTP answers: ``{"height": Infinity}``
(Python's JSON parser accepts it) makes ``int(status["height"])`` raise ``OverflowError``, and
deeply nested JSON makes ``r.json()`` raise ``RecursionError``; either ends the sync task, which
nothing restarts. ``Ready.lagging`` is never acted on, so block sync is the only way a node
that fell behind catches up: once an honest node falls behind, it never comes back, and with
the Byzantine validator silent the other two honest validators have no quorum."""

import asyncio
from collections.abc import AsyncIterator
from functools import partial
from pathlib import Path

import httpx
import pytest

from tests.inprocess_cluster import local_network, run

SETTLE = 30.0
BYZ, LAGGARD = 3, 2
ANSWERS = {
    "infinity": b'{"height": Infinity}',
    "deep": b'{"height": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
}


def _scenario(tmp_path: Path, answer: bytes | None) -> None:
    with local_network(tmp_path / "net") as net:
        byz_name = net.names[BYZ]
        if answer is not None:

            def byzantine_http(request: httpx.Request) -> httpx.Response:
                return httpx.Response(200, content=answer)

            for i, node in enumerate(net.nodes):
                if i != BYZ:
                    for peer in node.peers:
                        if peer.name == byz_name:
                            peer.client = httpx.AsyncClient(
                                transport=httpx.MockTransport(byzantine_http)
                            )
        cut: set[int] = set()
        net.hook = lambda src, dst, body: None if {src, dst} & cut else 0.0

        async def scenario() -> None:
            await net.start()
            first = net.anchor("before")
            net.nodes[0].submit(first.to_json())
            await net.until(partial(net.committed_on, first, net.nodes), SETTLE, "first")
            await asyncio.sleep(2.5)  # a few sync rounds against the Byzantine's answers
            # The laggard's consensus traffic is lost for a while (a partition, a restart):
            # the others, the Byzantine included, commit without it.
            cut.add(LAGGARD)
            others = [n for i, n in enumerate(net.nodes) if i != LAGGARD]
            for k in range(3):
                tx = net.anchor(f"while cut {k}")
                net.nodes[0].submit(tx.to_json())
                await net.until(partial(net.committed_on, tx, others), SETTLE, f"cut {k}")
            # The network heals; the Byzantine validator goes silent.
            cut.clear()
            cut.add(BYZ)
            honest = [n for i, n in enumerate(net.nodes) if i != BYZ]
            last = net.anchor("after")
            net.nodes[0].submit(last.to_json())
            try:
                await net.until(partial(net.committed_on, last, honest), SETTLE, "after")
            finally:
                dead = [
                    t.exception()
                    for n in honest
                    for t in n.tasks
                    if t.get_name() == "sync" and t.done() and not t.cancelled()
                ]
                await net.stop()
            assert not dead, dead

        run(scenario)


def test_control_a_lagging_honest_node_catches_up_by_block_sync(tmp_path: Path) -> None:
    _scenario(tmp_path, None)


@pytest.mark.parametrize("answer", sorted(ANSWERS))
def test_a_byzantine_sync_answer_cannot_end_honest_block_sync(tmp_path: Path, answer: str) -> None:
    _scenario(tmp_path, ANSWERS[answer])


def test_a_byzantine_sync_answer_cannot_grow_an_honest_nodes_memory(tmp_path: Path) -> None:
    import tracemalloc

    from node.genesis import NodeConfig
    from node.network_init import init_network
    from node.p2p import Peer
    from node.service import Node

    size = 64 * 1024 * 1024  # once nothing bounded it

    async def body() -> AsyncIterator[bytes]:
        yield b'{"height": 0, "pad": "'
        chunk = b"x" * (1024 * 1024)
        for _ in range(size // len(chunk)):
            yield chunk
        yield b'"}'

    def byzantine_http(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=body())

    paths = init_network(tmp_path / "net", 4)
    node = Node(NodeConfig.load(paths[0]))
    peer = Peer("byzantine", "http://byzantine", node.signer, node.chain_id)
    peer.client = httpx.AsyncClient(transport=httpx.MockTransport(byzantine_http))

    async def sync_once() -> None:
        from node.blocksync import SyncAnswerRefused

        with pytest.raises(SyncAnswerRefused):  # refused at the cap (_sync_loop counts it)
            await node._sync_from(peer)
        await peer.client.aclose()

    tracemalloc.start()
    try:
        asyncio.run(sync_once())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        node.engine.dispose()
        node.vault.engine.dispose()
        node.wal.close()
    assert peak < 16 * 1024 * 1024, f"one sync read peaked at {peak / 2**20:.0f} MiB"
