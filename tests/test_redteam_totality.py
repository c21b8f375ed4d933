"""Red team: peer envelope items that make ``Node.on_envelope`` raise (totality).

``on_envelope`` catches ``KeyError, TypeError, ValueError, TxRejected`` per item, but
``message_from_json`` calls ``.get`` on whatever ``item["message"]`` is (AttributeError for a
list or a string), and ``int(item["tree_size"])`` of ``Infinity`` (accepted by Python's JSON
parser) raises OverflowError. Either escapes the peer route as an HTTP 500 with a logged stack
trace, and the items after it in the envelope are never read."""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from node.genesis import NodeConfig
from node.network_init import init_network
from node.p2p import seal
from node.service import Node


@pytest.fixture
def node(tmp_path: Path) -> Iterator[Node]:
    [path] = init_network(tmp_path / "net", 1)
    n = Node(NodeConfig.load(path))
    yield n
    n.wal.close()
    n.engine.dispose()
    n.vault.engine.dispose()


ITEMS: dict[str, bytes] = {
    "message-list": b'{"kind":"consensus","message":[]}',
    "message-string": b'{"kind":"consensus","message":"vote"}',
    "cosig-infinity": b'{"kind":"cosig","tree_size":Infinity,"line":"x"}',
}


def test_control_a_malformed_item_is_counted_not_raised(node: Node) -> None:
    body, headers = seal(
        node.signer, node.chain_id, [b'{"kind":"consensus","message":{}}'], min(node.authorities)
    )
    headers["host"] = min(node.authorities)  # as an HTTP client sends it
    assert node.on_envelope(body, headers) is None
    assert node.counters["dropped:malformed_item"] == 1


@pytest.mark.parametrize("item", sorted(ITEMS))
def test_no_peer_item_makes_on_envelope_raise(node: Node, item: str) -> None:
    body, headers = seal(node.signer, node.chain_id, [ITEMS[item]], min(node.authorities))
    headers["host"] = min(node.authorities)  # as an HTTP client sends it
    outcome: Any
    try:
        outcome = node.on_envelope(body, headers)
    except Exception as exc:  # the promise: never an exception on peer input
        outcome = exc
    if item == "cosig-infinity":  # not JSON at all: the bounded decoder refuses the envelope
        assert outcome == "malformed", outcome
    else:  # a bad item is counted, and the rest of the envelope is read
        assert outcome is None and node.counters["dropped:malformed_item"] == 1, outcome


def test_early_cosignatures_are_bounded_in_bytes(tmp_path: Path) -> None:
    import tracemalloc

    from node.keys import read_signer

    paths = init_network(tmp_path / "net", 4)
    node = Node(NodeConfig.load(paths[0]))
    other = NodeConfig.load(paths[1])
    byzantine = read_signer(other.path(other.key_file))
    line = "x" * (1024 * 1024)  # any length: a line is not checked until its head is reached
    tracemalloc.start()
    try:
        before, _ = tracemalloc.get_traced_memory()
        for k in range(64):  # far-future tree sizes, which this node never reaches
            item = {"kind": "cosig", "tree_size": 10**12 + k, "line": line}
            body, headers = seal(byzantine, node.chain_id, [item], min(node.authorities))
            headers["host"] = min(node.authorities)  # as an HTTP client sends it
            assert node.on_envelope(body, headers) is None
        kept = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
        node.wal.close()
        node.engine.dispose()
        node.vault.engine.dispose()
    assert kept < 16 * 1024 * 1024, f"{kept / 2**20:.0f} MiB kept after 64 envelopes"
