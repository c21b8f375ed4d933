"""Membership changes in real processes, under a steady trickle of transactions: a fifth
validator joins from the genesis and its join data, one leaves, one rotates its key; nothing
acknowledged is lost. And the governance wedge of #10: the same validator added twice."""

import base64
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from consensus.messages import Vote
from node.cli import main
from node.keys import read_signer
from tests.cluster import Cluster, free_base_port
from tlog.note import Signer, Verifier

pytestmark = pytest.mark.timeout(600)

GOVERNORS = ["ssb-330800", "ssb-330802", "ssb-330803"]  # three of the four: a quorum


class Trickle:
    """One transaction every ``interval`` seconds to the target nodes in turn, from a thread;
    remembers every one a node acknowledged (202)."""

    def __init__(self, cluster: Cluster, targets: list[int], interval: float = 0.1) -> None:
        self.c, self.targets, self.interval = cluster, list(targets), interval
        self.acknowledged: list[str] = []
        self.refused: list[str] = []
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with httpx.Client(timeout=5) as client:
            n = 0
            while not self.stopping.wait(self.interval):
                i = self.targets[n % len(self.targets)]
                tx = self.c.anchor(f"trickle {n}")
                n += 1
                try:
                    r = client.post(f"{self.c.urls[i]}/v1/tx", json=tx.to_json())
                except httpx.HTTPError as exc:
                    self.refused.append(f"node {i}: {exc!r}")
                    continue
                if r.status_code == 202:
                    self.acknowledged.append(tx.hash.hex())
                else:
                    self.refused.append(f"node {i}: {r.status_code} {r.text}")

    def __enter__(self) -> "Trickle":
        self.thread.start()
        return self

    def __exit__(self, *_: Any) -> None:
        self.stopping.set()
        self.thread.join()


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    c = Cluster(tmp_path / "net").start_all()
    yield c
    c.stop()


def governance(c: Cluster, proposal_id: str, action: str, subject: dict[str, str]) -> int:
    """Propose and approve through the operator's CLI; the height that applied it."""
    propose(c, proposal_id, action, subject)
    return approve(c, proposal_id)


def _keys(c: Cluster) -> list[str]:
    return [str(c.dir / "agencies" / f"{agency}.key") for agency in GOVERNORS]


def _common(c: Cluster, proposal_id: str) -> list[str]:
    return ["--node", c.urls[0], "--set", f"proposal_id={proposal_id}", "--wait"]


def propose(c: Cluster, proposal_id: str, action: str, subject: dict[str, str]) -> None:
    """The first governance agency proposes (and so approves) the change: one of three."""
    args = ["tx", "governance.propose", "--key", _keys(c)[0], *_common(c, proposal_id)]
    args += ["--set", f"action={action}", "--set-json", f"validator={json.dumps(subject)}"]
    assert main(args) == 0


def approve(c: Cluster, proposal_id: str) -> int:
    """The other two approve; the height that applied the change."""
    for key in _keys(c)[1:]:
        assert main(["tx", "governance.approve", "--key", key, *_common(c, proposal_id)]) == 0
    return height_of_last_approval(c, proposal_id)


def height_of_last_approval(c: Cluster, proposal_id: str) -> int:
    """The height of the block holding this proposal's latest transaction, from node 0."""
    tip = c.status(0)["height"]
    for height in range(tip, 0, -1):
        block = c.read(0, f"/v1/blocks/{height}").json()
        txs = json.loads(base64.b64decode(block["block"]))["txs"]
        if any(t["body"].get("proposal_id") == proposal_id for t in txs):
            return height
    raise AssertionError(f"no block holds {proposal_id}")


def validators(c: Cluster, i: int) -> dict[str, str]:
    return {v["name"]: v["verifier_key"] for v in c.get(i, "/v1/network").json()["validators"]}


def precommit_by(block: dict[str, Any], name: str) -> Vote | None:
    for raw in block["certificate"]["precommits"]:
        if raw["validator"] == name:
            return Vote.from_json(raw)
    return None


def signed_by(vote: Vote | None, key: str) -> bool:
    return vote is not None and Verifier.parse(key).verify(vote.sign_bytes(), vote.signature)


def blocks_after(c: Cluster, nodes: list[int], height: int) -> Iterator[dict[str, Any]]:
    """Every block above ``height`` as each of these nodes stores it (its own certificate)."""
    for i in nodes:
        for h in range(height + 1, c.status(i)["height"] + 1):
            r = c.read(i, f"/v1/blocks/{h}")
            if r.status_code == 200:
                yield r.json()


def test_a_validator_joins_one_leaves_one_rotates_its_key_and_nothing_is_lost(
    cluster: Cluster, tmp_path: Path
) -> None:
    c = cluster
    with Trickle(c, [0, 1, 2]) as load:
        marks = []  # transactions acknowledged by the end of each phase: load runs throughout
        # ---- a fifth validator joins: its directory from the join data, started from genesis
        port = free_base_port(1)
        out = tmp_path / "node-5"
        peers = [arg for i in range(4) for arg in ("--peer", f"{c.config(i).name}={c.urls[i]}")]
        join = ["validator", "join", "--genesis", str(c.dir / "genesis.json"), *peers]
        assert main([*join, "--out", str(out), "--name", "node-5", "--port", str(port)]) == 0
        new = c.add(out / "config.json", f"http://127.0.0.1:{port}")
        key5 = read_signer(out / "node.key").verifier().encode()
        # blocks are for signed callers with a role: a node the validators do not know cannot
        # sync; once a governance agency proposes it, it syncs while the approvals gather
        c.start(new)
        time.sleep(2)  # a few sync rounds: every validator refuses its signed block reads
        assert c.status(new)["height"] == 0
        propose(c, "add-node-5", "add_validator",
                {"name": "node-5", "key": key5, "url": c.urls[new]})  # fmt: skip
        c.wait_for(lambda: c.status(new)["height"] >= 3, timeout=60, what="node 5 syncing")
        added = approve(c, "add-node-5")
        assert validators(c, 0)["node-5"] == key5
        # a validator once it has applied its own addition (before, it answers 503
        # not-a-validator: what it took would reach no block): clients may use it then
        c.wait_for(lambda: "node-5" in validators(c, new), what="node 5 a validator to itself")
        load.targets.append(new)
        # it proposes blocks and signs commit certificates (real precommits, its key)
        c.wait_for(
            lambda: any(b["header"]["proposer"] == "node-5" for b in blocks_after(c, [0], added)),
            timeout=60, what="a block proposed by node 5",
        )  # fmt: skip
        c.wait_for(
            lambda: any(
                signed_by(precommit_by(b, "node-5"), key5) for b in blocks_after(c, [0, 1], added)
            ),
            timeout=60, what="node 5's precommit in a certificate",
        )  # fmt: skip

        marks.append(len(load.acknowledged))
        # ---- a genesis validator leaves; the other four go on without it
        leaving = c.config(3).name
        removed = governance(c, "remove-3", "remove_validator", {"name": leaving})
        assert leaving not in validators(c, 0) and len(validators(c, 0)) == 4
        c.kill(3)
        mark = c.status(0)["height"]
        c.wait_for(lambda: c.status(0)["height"] >= mark + 3, timeout=60, what="commits without 3")
        assert all(
            precommit_by(b, leaving) is None for b in blocks_after(c, [0], removed + 1)
        )  # from the height after the change, its votes no longer count

        marks.append(len(load.acknowledged))
        # ---- a validator rotates its key: the running node switches at the height it applies
        rotating = c.config(1)
        assert main(["validator", "rotate-key", "--config", str(c.configs[1])]) == 0
        old = read_signer(c.configs[1].parent / "node.key").verifier().encode()
        fresh = read_signer(c.configs[1].parent / "node.next.key").verifier().encode()
        rotated = governance(c, "rotate-1", "rotate_validator_key",
                             {"name": rotating.name, "key": fresh})  # fmt: skip
        c.wait_for(lambda: validators(c, 2)[rotating.name] == fresh, what="the new key on 2")
        c.wait_for(
            lambda: any(
                signed_by(precommit_by(b, rotating.name), fresh)
                for b in blocks_after(c, [0, 1], rotated)
            ),
            timeout=60, what="a precommit with the new key",
        )  # fmt: skip
        assert not any(
            signed_by(precommit_by(b, rotating.name), old) for b in blocks_after(c, [0], rotated)
        )
        time.sleep(1)
        marks.append(len(load.acknowledged))

    # ---- every acknowledged transaction is committed on every current validator
    current = [0, 1, 2, new]
    assert 0 < marks[0] < marks[1] < marks[2] and load.refused == []
    pending = list(load.acknowledged)
    deadline = time.monotonic() + 60
    while pending and time.monotonic() < deadline:
        pending = [h for h in pending if not c.committed_everywhere(current, h)]
        time.sleep(0.2)
    assert pending == [], f"{len(pending)} acknowledged transactions not committed everywhere"
    heights = {c.status(i)["height"] for i in current}
    assert min(heights) > rotated


def test_two_approved_additions_of_one_validator_leave_the_chain_committing(
    cluster: Cluster,
) -> None:
    """The wedge of #10: before, every node failed in _commit for good and could not even
    restart. Now the second addition is refused when it applies; nodes go on and restart."""
    c = cluster
    first, second = Signer.generate("node-x"), Signer.generate("node-x")
    keys = _keys(c)
    for pid, signer in (("x-1", first), ("x-2", second)):
        subject = {"name": "node-x", "key": signer.verifier().encode(), "url": "http://127.0.0.1:9"}
        assert main(["tx", "governance.propose", "--node", c.urls[0], "--key", keys[0], "--wait",
                     "--set", f"proposal_id={pid}", "--set", "action=add_validator",
                     "--set-json", f"validator={json.dumps(subject)}"]) == 0  # fmt: skip
    for pid in ("x-1", "x-2"):  # both approved by a quorum
        for key in keys[1:]:
            args = ["tx", "governance.approve", "--node", c.urls[1], "--key", key, "--wait"]
            # the approval that closes x-2 is applied, its outcome refused: exit 1, and says so
            closes_x2 = pid == "x-2" and key == keys[-1]
            assert main([*args, "--set", f"proposal_id={pid}"]) == (1 if closes_x2 else 0)
    everyone = [0, 1, 2, 3]
    want = {**validators(c, 1), "node-x": first.verifier().encode()}
    assert len(want) == 5  # node-x once (it is not running: 4 of 5 commit)
    c.wait_for(lambda: all(validators(c, i) == want for i in everyone), what="the same set")
    tx = c.anchor("after both approvals")
    assert c.submit(2, tx).status_code == 202
    c.wait_for(lambda: c.committed_everywhere(everyone, tx.hash.hex()), what="a commit after")
    # every node restarts from that state (the old bug: none could)
    c.kill(3)
    c.start(3)
    tx = c.anchor("after a restart")
    assert c.submit(3, tx).status_code == 202
    c.wait_for(lambda: c.committed_everywhere(everyone, tx.hash.hex()), timeout=60, what="again")
    assert "Traceback" not in c.log(3)
    assert c.status(3)["peers"] == 4  # node-x's sender too: its URL comes from the state
