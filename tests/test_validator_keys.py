"""A validator's key rotation: governance changes the key, the node signs with its next key
from the height the change takes effect, and never with a key the set does not hold."""

import hashlib
import json
import shlex
import time
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from consensus.messages import CommitCertificate, Vote
from contracts.tx import Transaction, sign_transaction
from node.cli import build_parser, main
from node.genesis import NodeConfig
from node.keys import read_signer, write_signer
from node.network_init import init_network
from node.runner import run_node
from node.service import Node
from tests.log_reads import AUTHORITY, log_get
from tlog.note import Signer, Verifier

CHAIN = "shanhe-quzhou-dev"
URL = f"http://{AUTHORITY}"  # the node's own name: signed reads of blocks name it


def _network(tmp_path: Path, db_url: str) -> Path:
    [config] = init_network(tmp_path / "net", 1)
    config.write_text(json.dumps({**json.loads(config.read_text()), "db_url": db_url}))
    return config


def _tx(net: Path, agency: str, body: dict[str, Any]) -> Transaction:
    signer = read_signer(net / "agencies" / f"{agency}.key")
    nonce = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:16]
    return sign_transaction({"chain_id": CHAIN, "signer": agency, "nonce": nonce, **body}, signer)


def _anchor(net: Path, text: str) -> Transaction:
    return _tx(
        net, "hosp-330881", {"type": "anchor", "sha256": hashlib.sha256(text.encode()).hexdigest()}
    )


def _rotation(net: Path, verifier: str) -> Transaction:
    name = verifier.split("+", 1)[0]
    # the one governance agency of a one-validator network: its proposal applies at once
    return _tx(net, "ssb-330800", {"type": "governance.propose", "proposal_id": f"rotate-{verifier.split('+')[1]}",
                                   "action": "rotate_validator_key", "validator": {"name": name, "key": verifier}})  # fmt: skip


def _committed(client: TestClient, tx: Transaction, timeout: float = 15) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status: dict[str, Any] = client.get(f"/v1/tx/{tx.hash.hex()}").json()
        if status.get("status") in ("committed", "rejected"):
            assert status["status"] == "committed", status
            return status
        time.sleep(0.05)
    raise TimeoutError(tx.hash.hex())


def _precommit(client: TestClient, height: int, net: Path) -> Vote:
    block = log_get(client, net, f"/v1/blocks/{height}").json()
    cert = CommitCertificate.from_json(block["certificate"])
    [vote] = cert.precommits
    return vote


def _signs(vote: Vote, key: str) -> bool:
    return Verifier.parse(key).verify(vote.sign_bytes(), vote.signature)


def test_a_validator_signs_with_its_next_key_from_the_height_the_rotation_applies(
    tmp_path: Path, db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _network(tmp_path, db_url)
    net = tmp_path / "net"
    old = read_signer(config.parent / "node.key").verifier().encode()
    assert main(["validator", "rotate-key", "--config", str(config)]) == 0
    printed = capsys.readouterr().out
    new = read_signer(config.parent / "node.next.key").verifier().encode()
    assert f"verifier key {new}" in printed and "rotate_validator_key" in printed
    assert main(["validator", "rotate-key", "--config", str(config)]) == 2  # never overwritten

    with TestClient(create_app(Node(NodeConfig.load(config))), base_url=URL) as client:
        first = _anchor(net, "before")
        client.post("/v1/tx", json=first.to_json())
        _committed(client, first)
        rotate = _rotation(net, new)
        client.post("/v1/tx", json=rotate.to_json())
        applied_at = _committed(client, rotate)["height"]
        assert _signs(_precommit(client, applied_at, net), old)  # that block: the old set's
        after = _anchor(net, "after")
        client.post("/v1/tx", json=after.to_json())
        height = _committed(client, after)["height"]
        assert height == applied_at + 1
        vote = _precommit(client, height, net)
        assert _signs(vote, new) and not _signs(vote, old)
        assert client.get("/v1/network").json()["validators"][0]["verifier_key"] == new

    # restarted, it takes the key the set holds: the next key file's
    node = Node(NodeConfig.load(config))
    assert node.signer.verifier().encode() == new
    with TestClient(create_app(node), base_url=URL) as client:
        later = _anchor(net, "after a restart")
        client.post("/v1/tx", json=later.to_json())
        assert _signs(_precommit(client, _committed(client, later)["height"], net), new)


def test_without_its_next_key_a_rotated_validator_signs_nothing_and_will_not_start(
    tmp_path: Path, db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _network(tmp_path, db_url)
    net = tmp_path / "net"
    elsewhere = Signer.generate(read_signer(config.parent / "node.key").name)  # never on its disk
    node = Node(NodeConfig.load(config))
    with TestClient(create_app(node)) as client:
        rotate = _rotation(net, elsewhere.verifier().encode())
        client.post("/v1/tx", json=rotate.to_json())
        height = _committed(client, rotate)["height"]
        assert node.sm.signer is None  # it follows; a one-validator network now waits for it
        deadline = time.monotonic() + 10
        while node.sm.me is not None and time.monotonic() < deadline:
            time.sleep(0.05)  # the machine takes the new set when it moves to the next height
        stuck = _anchor(net, "while it cannot sign")
        posted = client.post("/v1/tx", json=stuck.to_json())  # it would keep what nobody takes
        assert posted.status_code == 503 and posted.json()["type"].endswith("/not-a-validator")
        time.sleep(1.5)
        assert node.tip.height == height

    assert run_node(config) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"holds the key {elsewhere.verifier().encode()}" in err
    assert "node.next.key" in err

    write_signer(config.parent / "node.next.key", elsewhere)  # the operator puts it in place
    with TestClient(create_app(Node(NodeConfig.load(config))), base_url=URL) as client:
        again = _anchor(net, "with the key in place")
        client.post("/v1/tx", json=again.to_json())
        vote = _precommit(client, _committed(client, again)["height"], net)
        assert _signs(vote, elsewhere.verifier().encode())


def test_the_readme_commands_for_changing_validators_exist() -> None:
    """Every ``shanhe`` command of the README's operator section parses as written."""
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    section = readme.split("## Changing the validators", 1)[1].split("\n## ", 1)[0]
    lines = section.replace("\\\n", " ").splitlines()
    commands = [line.split("#", 1)[0].strip() for line in lines if line.startswith("shanhe ")]
    assert len(commands) >= 5
    for command in commands:
        args = shlex.split(command)[1:]
        build_parser().parse_args(args)  # exits (fails the test) on an unknown command or flag
