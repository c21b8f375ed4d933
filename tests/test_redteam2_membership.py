"""Red team, round 2: membership changes as an operator carries them out from the README."""

from pathlib import Path

from consensus.validators import ValidatorSet
from node import p2p
from node.genesis import NodeConfig
from node.keys import read_signer
from node.network_init import init_network, join_network
from signing.http_signatures import authority_of
from tlog.note import Verifier


def test_a_validator_joined_as_the_readme_says_hears_its_peers(tmp_path: Path) -> None:
    """README, "A validator joins a running network": ``join ... --host 0.0.0.0 --port 8700
    --url http://10.0.0.7:8700``, then governance adds it with that URL, and the others
    seal every envelope for ``@authority`` 10.0.0.7:8700 (node/p2p.py). ``init`` puts each
    node's peer URL authority into its ``public_names``; ``join`` does not, so the new node
    answers only to 127.0.0.1:8700 and localhost:8700 and drops every envelope of its peers
    (``dropped_envelope:wrong_authority``). It catches up by block sync but never hears a
    proposal or a vote in time: a five-validator set (quorum four) then has one deaf member
    and tolerates no fault at all, silently; signed reads sent to its URL are refused too."""
    net = tmp_path / "net"
    init_network(net, 4, base_port=18700)
    joined = join_network(
        net / "genesis.json",
        {"node-330800": "http://10.0.0.1:8700"},
        tmp_path / "node-330881",
        name="node-330881",
        host="0.0.0.0",
        port=8700,
        url="http://10.0.0.7:8700",
    )
    config = NodeConfig.load(joined.config)
    peer = NodeConfig.load(net / "node-1" / "config.json")
    sender = read_signer(peer.path(peer.key_file))
    validators = ValidatorSet((sender.verifier(), Verifier.parse(joined.verifier)))
    _, headers = p2p.seal(sender, "shanhe-quzhou-dev", [], authority_of(joined.url))
    headers["host"] = authority_of(joined.url)  # what an HTTP client sends
    assert authority_of(joined.url) in config.authorities, sorted(config.authorities)
    assert p2p.check_sender(headers, validators, config.authorities) is None
