"""Red team: the same equivocation twice in one block.

``_invalid_reason`` refuses "evidence: repeated" by comparing the evidence items' RFC 8785
bytes, but one equivocation has several encodings: ``first`` and ``second`` swapped, a
different (ignored) ``offender`` field, or a third conflicting vote of the same key. A
Byzantine proposer puts the same evidence (one ``Evidence.key()``) in a block several times,
and every honest node accepts the block."""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from consensus.messages import Evidence, Vote, VoteType
from node.blocks import Block
from node.service import Node
from tests.test_node_inprocess import _anchor, _one_node, _wait_status


@pytest.fixture
def node(tmp_path: Path) -> Iterator[Node]:
    n = _one_node(tmp_path)
    with TestClient(create_app(n)) as client:  # commit height 1: evidence needs a past height
        tx = _anchor(tmp_path / "net", "first")
        client.post("/v1/tx", json=tx.to_json())
        _wait_status(client, tx.hash.hex())
        yield n


def _block(node: Node, evidence: list[dict[str, Any]]) -> bytes:
    height, time_ms = node.tip.height + 1, node.tip.time_ms + 1
    execution = node._execute([], height, time_ms)
    return Block(node.chain_id, height, node.tip.hash, node.signer.name, time_ms, (),
                 tuple(evidence), execution.tree_size, execution.tree_root,
                 execution.state_root.hex()).encode()  # fmt: skip


def _evidence(node: Node) -> dict[str, Any]:
    s = node.signer
    a = Vote(node.chain_id, VoteType.PREVOTE, 1, 5, None, s.name).signed(s)
    b = Vote(node.chain_id, VoteType.PREVOTE, 1, 5, b"\x01" * 32, s.name).signed(s)
    return Evidence(a, b).to_json()


def test_control_one_copy_is_valid_and_two_identical_copies_are_not(node: Node) -> None:
    ev = _evidence(node)
    assert node.validate(node.tip.height + 1, _block(node, [ev]))
    assert not node.validate(node.tip.height + 1, _block(node, [ev, ev]))


def test_the_same_equivocation_twice_in_one_block_is_refused(node: Node) -> None:
    ev = _evidence(node)
    swapped = {**ev, "first": ev["second"], "second": ev["first"]}
    assert not node.validate(node.tip.height + 1, _block(node, [ev, swapped]))
