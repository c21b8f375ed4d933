"""Red team 12: a cosignature line whose signature is not ASCII.

``base64.b64decode(str, validate=True)`` raises a plain ``ValueError`` for a non-ASCII
string, not ``binascii.Error``, and the note parser caught only the latter. One Byzantine
validator (an authenticated peer) sends a cosignature line ``— node-1 é`` for the next tree
head: it waits among the early lines, and when an honest node commits that head its commit
step checks the line, the exception escapes, and the node stops for good ("commit of
height ... failed"). Sent to every peer, it halts the whole network."""

from pathlib import Path

from node.service import Node
from tests.inprocess_cluster import local_network, run
from tlog.note import Signer, open_note

SETTLE = 30.0


def test_a_non_ascii_signature_is_malformed_not_an_exception() -> None:
    signer = Signer("node-1", bytes(32))
    got = open_note("origin\n1\nAAAA\n\n— node-1 é\n", [signer.verifier()])
    assert not isinstance(got, Exception) and getattr(got, "code", None) == "malformed_note"


def test_a_byzantine_cosignature_line_does_not_stop_honest_nodes(tmp_path: Path) -> None:
    byz = 1
    with local_network(tmp_path / "net") as net:

        async def scenario() -> None:
            await net.start()
            first = net.anchor("before")
            net.nodes[0].submit(first.to_json())
            await net.until(lambda: net.committed_on(first, net.nodes), SETTLE, "first")
            sender = net.nodes[byz].signer.name
            for i, node in enumerate(net.nodes):
                if i != byz:  # as on_envelope hands on an authenticated peer's cosig item
                    node._on_cosig(sender, node.frontier.size + 1, f"— {sender} é\n")
            second = net.anchor("after")
            net.nodes[0].submit(second.to_json())
            honest: list[Node] = [n for i, n in enumerate(net.nodes) if i != byz]
            await net.until(lambda: net.committed_on(second, honest), SETTLE, "second")
            await net.stop()

        run(scenario)
        assert all(n.failed is None for n in net.nodes), [n.failed for n in net.nodes]
