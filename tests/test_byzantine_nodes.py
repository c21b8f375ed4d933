"""Four real nodes in one process (tests/inprocess_cluster.py), one of them Byzantine or
misconfigured: what the issue "Hardening I" showed halting or splitting the network."""

import json
from functools import partial
from pathlib import Path

import pytest

from consensus.messages import Evidence, Vote, VoteType
from node import chainstore
from node.blocks import Block
from node.service import Node, NotAValidator, now_ms
from tests.inprocess_cluster import envelope_messages, local_network, run

SETTLE = 30.0


def _blocks(node: Node) -> list[Block]:
    with node.engine.connect() as conn:
        out = []
        for h in range(1, node.tip.height + 1):
            stored = chainstore.block_at(conn, h)
            assert stored is not None
            out.append(Block.decode(stored[0]))
        return out


def test_a_block_stamped_ahead_and_sent_early_to_one_node_stalls_nobody(tmp_path: Path) -> None:
    """The Byzantine proposer's clock runs 30.2 s ahead and its proposals reach one honest
    node 0.5 s before the others. Once that node alone refused such a block forever (its
    clock was more than 30 s behind), while the others committed it. Now timeliness decides
    prevotes only: every honest node prevotes nil, the next proposer's block commits, and no
    block on the chain is stamped ahead of the clocks that committed it."""
    byz, favoured = 1, 2
    with local_network(tmp_path / "net") as net:
        net.nodes[byz].clock = lambda: now_ms() + 30_200

        def hook(src: int, dst: int, body: bytes) -> float:
            proposal = any(m.get("kind") == "proposal" for m in envelope_messages(body))
            return 0.5 if src == byz and proposal and dst != favoured else 0.0

        net.hook = hook

        async def scenario() -> None:
            await net.start()
            for i in range(8):  # eight heights: the Byzantine node proposes round 0 of two
                tx = net.anchor(f"document {i}")
                net.nodes[i % 4].submit(tx.to_json())
                await net.until(partial(net.committed_on, tx, net.nodes), SETTLE, f"tx {i}")
            await net.stop()

        run(scenario)
        honest = [n for i, n in enumerate(net.nodes) if i != byz]
        assert sum(n.counters["untimely_proposal"] for n in honest) >= 3
        chains = [[b.encode() for b in _blocks(n)] for n in net.nodes]
        assert all(c == chains[0] for c in chains)
        assert all(
            b.time_ms <= now_ms() + net.nodes[0].params.precision_ms for b in _blocks(honest[0])
        )
        assert all(b.proposer != net.names[byz] for b in _blocks(honest[0]))


def test_a_node_configured_for_small_blocks_still_accepts_larger_ones(tmp_path: Path) -> None:
    """Validity comes from the genesis, not a node's config: a node set to propose at most
    one transaction a block accepts others' larger blocks, so with one more node down the
    remaining three still make a quorum (once it refused them, and nothing committed)."""
    limited, down = 2, 3
    with local_network(tmp_path / "net", configs={limited: {"max_block_txs": 1}}) as net:

        async def scenario() -> None:
            await net.start(skip={down})
            txs = [net.anchor(f"batch {i}") for i in range(6)]
            for tx in txs:
                net.nodes[0].submit(tx.to_json())
            up = net.up()
            await net.until(lambda: all(net.committed_on(t, up) for t in txs), SETTLE, "batch")
            await net.stop()

        run(scenario)
        blocks = _blocks(net.nodes[limited])
        assert max(len(b.txs) for b in blocks) >= 2
        assert all(len(b.txs) <= 1 for b in blocks if b.proposer == net.names[limited])
        assert net.nodes[limited].counters["invalid_block:too many transactions"] == 0


def test_evidence_against_a_removed_validator_is_checked_against_its_own_set(
    tmp_path: Path,
) -> None:
    """A validator double-prevoted at height 1 and governance then removed it. Every honest
    node holds the evidence; checked against the current set it could never verify, every
    proposal carrying it was refused and the chain halted. It is checked against the set of
    its own height: included once, and the chain goes on."""
    with local_network(tmp_path / "net") as net:
        offender = net.nodes[3]
        signer = offender.signer

        async def scenario() -> None:
            await net.start()
            propose = net.signed(
                "ssb-330800.key",
                {"type": "governance.propose", "proposal_id": "remove-3",
                 "action": "remove_validator", "validator": {"name": signer.name}},
            )  # fmt: skip
            approvals = [
                net.signed(key, {"type": "governance.approve", "proposal_id": "remove-3"})
                for key in ("ssb-330802.key", "ssb-330803.key")
            ]
            for tx in (propose, *approvals):
                net.nodes[0].submit(tx.to_json())
                await net.until(partial(net.committed_on, tx, net.nodes[:3]), SETTLE, "gov")
            honest = net.nodes[:3]
            await net.until(
                lambda: all(n.validators.by_name(signer.name) is None for n in honest),
                SETTLE,
                "removal",
            )
            a = Vote(net.chain_id, VoteType.PREVOTE, 1, 0, None, signer.name).signed(signer)
            b = Vote(net.chain_id, VoteType.PREVOTE, 1, 0, b"\x01" * 32, signer.name)
            ev = Evidence(a, b.signed(signer))
            for node in honest:
                with node.engine.begin() as conn:
                    assert chainstore.record_evidence(conn, ev)
                node.evidence_pending = True
            await net.until(lambda: offender.sm.me is None, SETTLE, "the offender follows")
            with pytest.raises(NotAValidator):  # it follows now: no 202 for what it cannot keep
                offender.submit(net.anchor("to the removed validator").to_json())
            after = net.anchor("after the removal")
            honest[1].submit(after.to_json())
            await net.until(lambda: net.committed_on(after, honest), SETTLE, "commit after")
            await net.until(
                lambda: all(_included(n, ev) for n in honest), SETTLE, "evidence included"
            )
            await net.stop()

        run(scenario)
        assert not any(n.counters["invalid_block:evidence"] for n in net.nodes[:3])


def _included(node: Node, ev: Evidence) -> bool:
    with node.engine.connect() as conn:
        return chainstore.evidence_included(conn, ev)


def test_a_poisoned_proposal_is_refused_while_others_keep_committing(tmp_path: Path) -> None:
    """A Byzantine proposer puts a transaction nested 950 levels deep (as one admitted with
    'Content-Type: application/JSON' once was) into its blocks. Every honest node finds the
    block invalid, without an exception, and other transactions commit within seconds."""
    byz = 1
    with local_network(tmp_path / "net") as net:
        node = net.nodes[byz]

        def poisoned(height: int) -> bytes:
            tx = {"body": {"type": "anchor", "chain_id": net.chain_id, "signer": "x",
                           "nonce": "n", "deep": "DEEP"}, "signature": "00" * 64}  # fmt: skip
            block = {"chain_id": net.chain_id, "height": height, "prev_hash": node.tip.hash,
                     "proposer": node.signer.name, "time_ms": now_ms(), "txs": [tx],
                     "evidence": [], "tree_size": 0, "tree_root": "", "state_root": ""}  # fmt: skip
            deep = "[" * 950 + '"x"' + "]" * 950
            return json.dumps(block, sort_keys=True).replace('"DEEP"', deep).encode()

        node.propose = poisoned  # type: ignore[method-assign]
        node.pending = lambda: True  # type: ignore[method-assign]

        async def scenario() -> None:
            await net.start()
            for i in range(6):
                tx = net.anchor(f"honest {i}")
                net.nodes[0].submit(tx.to_json())
                await net.until(
                    partial(net.committed_on, tx, [net.nodes[j] for j in (0, 2, 3)]),
                    15.0,
                    f"honest tx {i}",
                )
            await net.stop()

        run(scenario)
        for i in (0, 2, 3):
            assert net.nodes[i].counters["invalid_block:malformed"] >= 1, (i, net.nodes[i].counters)
