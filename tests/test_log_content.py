"""The log's content is for signed callers with a role (#11 item 5), and block sync still
works: nodes sign their block reads with their own key, a node that is joining syncs with the
key an open ``add_validator`` proposal names, and a node behind its own key rotation tries its
next key. (Roles x endpoints: ``test_authorization.py``; a real join: ``test_membership_
processes.py``.)"""

import asyncio
import time
from functools import partial
from pathlib import Path

import httpx

from node.genesis import NodeConfig
from node.keys import write_signer
from node.network_init import init_network
from node.service import Node
from signing.http_signatures import SignatureError, sign_request, verify_headers
from tests.inprocess_cluster import local_network, run
from tlog.note import Signer


def test_a_node_an_open_add_validator_proposal_names_reads_blocks_and_nobody_else(
    tmp_path: Path,
) -> None:
    with local_network(tmp_path / "net") as net:
        node = net.nodes[0]
        authority = sorted(node.authorities)[0]
        joining, impostor = Signer.generate("node-x"), Signer.generate("node-x")

        async def get(signer: Signer | None, keyid: str, path: str) -> httpx.Response:
            headers = {}
            if signer is not None:
                headers = sign_request(signer, keyid, "GET", authority, path, "", b"", time.time())
            transport = httpx.ASGITransport(app=net.apps[0])
            async with httpx.AsyncClient(transport=transport, base_url=f"http://{authority}") as c:
                return await c.get(path, headers=headers)

        async def kind(signer: Signer | None, keyid: str, path: str) -> str:
            r = await get(signer, keyid, path)
            return "ok" if r.status_code == 200 else str(r.json()["type"]).rsplit("/", 1)[-1]

        async def committed(key_file: str, body: dict[str, object]) -> None:
            tx = net.signed(key_file, body)
            node.submit(tx.to_json())
            await net.until(partial(net.committed_on, tx, [node]), 30, str(body["type"]))

        async def scenario() -> None:
            await net.start()
            await committed("ssb-330825.key", {"type": "anchor", "sha256": "ab" * 32})
            x = "node:node-x"
            # before any proposal names it, a node outside the set is nobody
            assert await kind(joining, x, "/v1/blocks/1") == "unknown-key"
            subject = {"name": "node-x", "key": joining.verifier().encode(),
                       "url": "http://127.0.0.1:9"}  # fmt: skip
            await committed("ssb-330800.key", {"type": "governance.propose", "proposal_id": "add-x",
                                               "action": "add_validator", "validator": subject})  # fmt: skip
            # proposed, one approval of three: a candidate, it may sync
            for path in ("/v1/blocks/1", "/v1/entries/0"):
                assert await kind(joining, x, path) == "ok", path
                assert await kind(impostor, x, path) == "signature-invalid", path
                assert await kind(joining, "node:node-y", path) == "unknown-key", path
                assert await kind(None, x, path) == "signature-required", path
            # and it reads nothing else: its key is no key on the ledger for other reads
            assert await kind(joining, x, "/v1/admin") == "unknown-key"
            assert await kind(joining, x, "/v1/pension/overdue") == "unknown-key"
            block = (await get(joining, x, "/v1/blocks/1")).json()
            assert block["height"] == 1 and block["certificate"]["height"] == 1
            # approved: a validator of the set, still reading
            for member in ("ssb-330802.key", "ssb-330803.key"):
                await committed(member, {"type": "governance.approve", "proposal_id": "add-x"})
            assert any(v.name == "node-x" for v in node.validators.validators)
            assert await kind(joining, x, "/v1/blocks/2") == "ok"
            assert await kind(impostor, x, "/v1/blocks/2") == "signature-invalid"
            await net.stop()

        run(scenario)


def test_block_sync_signs_with_the_nodes_key_then_its_next_one(tmp_path: Path) -> None:
    """A node that missed the block rotating its key is behind peers that applied it: they
    know only its new key, so its reads signed with the old one are refused (401), and it
    asks again with its next key file's."""
    configs = init_network(tmp_path / "net", 2)
    node = Node(NodeConfig.load(configs[0]))
    following = Signer.generate(node.signer.name)
    write_signer(configs[0].parent / "node.next.key", following)
    [peer] = node.peers
    seen: list[tuple[str, str, str]] = []

    def answer(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path == "/v1/status":
            return httpx.Response(200, json={"height": 1})
        headers = {k.lower(): v for k, v in request.headers.items()}
        checked = verify_headers(
            "GET", path, "", None, headers,
            lambda keyid: following.verifier() if keyid == f"node:{node.signer.name}" else None,
            time.time(), {peer.authority},
        )  # fmt: skip
        result = checked.kind if isinstance(checked, SignatureError) else checked[0]
        seen.append((path, headers["host"], result))
        return httpx.Response(401 if isinstance(checked, SignatureError) else 404)

    async def sync_once() -> None:
        await peer.client.aclose()
        peer.client = httpx.AsyncClient(transport=httpx.MockTransport(answer))
        await node._sync_from(peer)
        await peer.client.aclose()

    try:
        asyncio.run(sync_once())
    finally:
        node.engine.dispose()
        node.vault.engine.dispose()
        node.wal.close()
    me = f"node:{node.signer.name}"
    assert seen == [
        ("/v1/blocks/1", peer.authority, "signature-invalid"),  # its current key: not the set's
        ("/v1/blocks/1", peer.authority, me),  # its next key: the one the peer holds
    ]
    assert node.counters["sync_not_served"] == 1  # the 404 that followed: counted, no block
