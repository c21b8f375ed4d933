"""Real node processes on loopback: commit everywhere, kill -9, catch-up, loss of quorum."""

import base64
import hashlib
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from consensus.messages import Vote, VoteType
from consensus.wal import encode_record
from node.cli import main
from node.keys import read_signer
from node.p2p import seal
from tests.cluster import Cluster
from tlog.checkpoint import Checkpoint, verify_checkpoint
from tlog.hashing import leaf_hash
from tlog.note import Signer, Verifier
from tlog.verify import verify_consistency, verify_inclusion

pytestmark = pytest.mark.timeout(600)


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    c = Cluster(tmp_path / "net").start_all()
    yield c
    c.stop()


def _checkpoint(c: Cluster, i: int) -> tuple[Checkpoint, str]:
    note = c.get(i, "/v1/checkpoint").text
    keys = [Verifier.parse(line) for line in (c.dir / "verifier-keys.txt").read_text().split()]
    result = verify_checkpoint(note, keys, 3)
    assert isinstance(result, tuple), result
    return result[0], note


def test_cluster_commits_survives_crashes_and_loses_nothing(
    cluster: Cluster, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    c = cluster
    everyone = [0, 1, 2, 3]

    # a transaction posted to any node is committed on all, once
    tx = c.anchor("first document")
    r = c.submit(1, tx)
    assert r.status_code == 202 and r.json()["tx_hash"] == tx.hash.hex()
    assert c.submit(2, tx).json()["tx_hash"] == tx.hash.hex()  # same transaction again
    c.wait_for(lambda: c.committed_everywhere(everyone, tx.hash.hex()), what="first commit")
    statuses = [c.get(i, f"/v1/tx/{tx.hash.hex()}").json() for i in everyone]
    assert len({(s["leaf_index"], s["height"]) for s in statuses}) == 1
    assert c.submit(3, tx).json()["status"] == "committed"
    assert max(c.status(i)["tree_size"] for i in everyone) == 1

    # every node serves a checkpoint with >= 3 valid cosignatures, checkable by the CLI
    c.wait_for(lambda: all(c.status(i)["checkpoint_size"] == 1 for i in everyone), what="cosigned")
    first_cp, note = _checkpoint(c, 0)
    (tmp_path / "cp.txt").write_text(note)
    cli = subprocess.run(
        [sys.executable, "-m", "node.cli", "verify", "checkpoint", "--file", str(tmp_path / "cp.txt"),
         "--keys", str(c.dir / "verifier-keys.txt"), "--quorum", "3"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert cli.returncode == 0, cli.stderr

    # kill -9 one node under load: the others keep committing
    sent = []
    for n in range(10):
        sent.append(c.anchor(f"load {n}"))
        assert c.submit(n % 3, sent[-1]).status_code == 202
    c.kill(3)
    for n in range(10, 30):
        sent.append(c.anchor(f"load {n}"))
        assert c.submit(n % 3, sent[-1]).status_code == 202
    c.wait_for(
        lambda: all(c.committed_everywhere([0, 1, 2], t.hash.hex()) for t in sent[-3:]),
        timeout=60, what="commits without node 3",
    )  # fmt: skip

    # it died mid-write: a torn record at the end of its WAL is detected and cut off
    wal = c.configs[3].parent / "consensus.wal"
    with wal.open("ab") as f:
        f.write(encode_record(b"x" * 100)[:50])

    # restart it: it catches up and serves identical checkpoints
    c.start(3)
    assert c.status(3)["counters"]["wal_torn_tails_repaired"] == 1
    c.wait_for(
        lambda: c.status(3)["height"] == c.status(0)["height"]
        and c.status(3)["checkpoint_size"] == c.status(0)["checkpoint_size"],
        timeout=60, what="node 3 catching up",
    )  # fmt: skip
    cps = [_checkpoint(c, i)[0] for i in everyone]
    assert len({(cp.size, cp.root) for cp in cps}) == 1

    # kill two of four: no quorum, nothing commits; one returns: commits resume
    c.kill(2)
    c.kill(3)
    stuck = c.anchor("waiting for quorum")
    assert c.submit(0, stuck).status_code == 202
    time.sleep(4)
    assert c.get(0, f"/v1/tx/{stuck.hash.hex()}").json()["status"] == "pending"
    c.start(3)
    c.wait_for(
        lambda: c.committed_everywhere([0, 1, 3], stuck.hash.hex()), timeout=60, what="resume"
    )
    # node 2 lost its WAL while down: it may have signed at the height after its last block,
    # so it signs nothing there (the double-sign guard), catches up and carries on
    (c.configs[2].parent / "consensus.wal").unlink()
    c.start(2)
    assert c.status(2)["counters"]["wal_double_sign_guard"] == 1
    sent.append(stuck)
    c.wait_for(
        lambda: c.committed_everywhere(everyone, stuck.hash.hex()), timeout=60, what="node 2 back"
    )

    # no committed transaction was lost, and all nodes agree where each one is
    for t in [tx, *sent]:
        where = {tuple(sorted(c.get(i, f"/v1/tx/{t.hash.hex()}").json().items())) for i in everyone}
        assert len(where) == 1 and dict(next(iter(where)))["status"] == "committed"

    # proofs from any node verify against the quorum checkpoint served by another
    c.wait_for(
        lambda: len({c.status(i)["checkpoint_size"] for i in everyone}) == 1, what="same head"
    )
    latest, _ = _checkpoint(c, 1)
    for i in everyone:
        index = c.get(i, f"/v1/tx/{sent[5].hash.hex()}").json()["leaf_index"]
        entry = c.read(i, f"/v1/entries/{index}").json()
        proof = c.get(i, "/v1/proof/inclusion", leaf_index=index, tree_size=latest.size).json()
        hashes = [base64.b64decode(h) for h in proof["hashes"]]
        leaf = leaf_hash(base64.b64decode(entry["data"]))
        assert verify_inclusion(index, latest.size, leaf, hashes, latest.root) is None
        cons = c.get(i, "/v1/proof/consistency", first=first_cp.size, second=latest.size).json()
        hashes = [base64.b64decode(h) for h in cons["hashes"]]
        assert (
            verify_consistency(first_cp.size, latest.size, first_cp.root, latest.root, hashes)
            is None
        )

    # conflicting votes from one validator are detected, served, and recorded in a later block
    height = c.status(0)["height"] + 1
    byzantine = read_signer(c.configs[3].parent / "node.key")
    votes = [
        Vote(c.chain_id, VoteType.PREVOTE, height, 0, h, byzantine.name).signed(byzantine).to_json()
        for h in (b"\x01" * 32, b"\x02" * 32)
    ]
    for i in everyone:
        items = [{"kind": "consensus", "message": v} for v in votes]
        body, headers = seal(byzantine, c.chain_id, items, c.urls[i].removeprefix("http://"))
        assert (
            c.client.post(f"{c.urls[i]}/v1/p2p", content=body, headers=headers).status_code == 204
        )
    c.wait_for(lambda: len(c.get(0, "/v1/evidence").json()["evidence"]) == 1, what="evidence kept")
    assert c.submit(0, c.anchor("after the equivocation")).status_code == 202
    c.wait_for(
        lambda: c.get(1, "/v1/evidence").json()["evidence"][0]["included_height"] is not None,
        what="evidence in a block",
    )
    [ev] = c.get(1, "/v1/evidence").json()["evidence"]
    page = c.get(1, "/v1/evidence", limit=1).json()
    assert page["evidence"] == [ev] and page["next_cursor"] is not None
    assert c.get(1, "/v1/evidence", cursor=page["next_cursor"]).json() == {
        "evidence": [],
        "next_cursor": None,
    }
    assert ev["offender"] == byzantine.name
    recorded = c.read(1, f"/v1/blocks/{ev['included_height']}").json()
    assert recorded["evidence"][0]["offender"] == byzantine.name

    # blocks carry their commit certificates
    block = c.read(2, "/v1/blocks/1").json()
    assert len(block["certificate"]["precommits"]) >= 3

    # peer envelopes from unknown keys are dropped and counted
    stranger = Signer.generate("node-330800")  # right name, wrong key
    body, headers = seal(stranger, c.chain_id, [], c.urls[0].removeprefix("http://"))
    r = c.client.post(f"{c.urls[0]}/v1/p2p", content=body, headers=headers)
    assert r.status_code == 401 and r.json()["type"].endswith("/peer-bad-signature")
    body, headers = seal(
        Signer.generate("mallory"), c.chain_id, [], c.urls[0].removeprefix("http://")
    )
    r = c.client.post(f"{c.urls[0]}/v1/p2p", content=body, headers=headers)
    assert r.status_code == 401
    counters = c.status(0)["counters"]
    assert counters["dropped_envelope:bad_signature"] == 1
    assert counters["dropped_envelope:unknown_sender"] == 1

    # an auditor compares every node, then checks that the log only grew since its last audit
    state = tmp_path / "audit.json"
    audit = [
        "audit",
        *[arg for u in c.urls for arg in ("--node", u)],
        "--keys",
        str(c.dir / "verifier-keys.txt"),
        "--state",
        str(state),
    ]
    assert main(audit) == 0
    last = json.loads(state.read_text())
    more = c.anchor("after the audit")
    c.submit(0, more)
    c.wait_for(lambda: c.committed_everywhere(everyone, more.hash.hex()), what="one more")
    c.wait_for(
        lambda: len({c.status(i)["checkpoint_size"] for i in everyone}) == 1, what="same head again"
    )
    assert main(audit) == 0 and json.loads(state.read_text())["size"] > last["size"]
    forged = {**last, "root": base64.b64encode(b"\x07" * 32).decode()}
    state.write_text(json.dumps(forged))  # a head this log never had: reported, not accepted
    assert main(audit) == 1

    # the operator's CLI signs and submits through the SDK
    key = str(c.dir / "agencies" / "ssb-330825.key")
    assert main(["tx", "anchor", "--node", c.urls[2], "--key", key, "--sha256", "cd" * 32]) == 0
    assert main(["tx", "anchor", "--node", c.urls[2], "--key", key, "--sha256", "CD"]) == 2
    # ... and every other type, here a resident enrolled with a key made by `shanhe keygen`
    pseudonym = hashlib.sha256(b"cli resident").hexdigest()
    resident_key = c.dir / "resident.key"
    assert main(["keygen", "--name", f"resident:{pseudonym}", "--out", str(resident_key)]) == 0
    verifier = capsys.readouterr().out.strip().splitlines()[-1]
    enroll = ["tx", "resident.enroll", "--node", c.urls[1], "--key", key, "--wait"]
    enroll += ["--set", f"pseudonym={pseudonym}", "--set", f"key={verifier}"]
    enroll += ["--set", "age_class=adult"]
    assert main(enroll) == 0
    assert '"status": "committed"' in capsys.readouterr().out
    assert main(enroll) == 1  # the same resident twice: committed as rejected, exit 1
    assert '"reason": "' in capsys.readouterr().out
    assert main(["keygen", "--name", "x", "--out", str(resident_key)]) == 2  # never overwrites
    # signed reads from the shell: the resident's own log, and a refusal for anyone else
    mine = f"/v1/residents/{pseudonym}/access"
    assert main(["request", mine, "--node", c.urls[0], "--key", str(resident_key)]) == 0
    assert json.loads(capsys.readouterr().out)["resident"] == pseudonym
    assert main(["request", mine, "--node", c.urls[0], "--key", key]) == 1
    assert "forbidden" in capsys.readouterr().err
    assert main([*enroll[:-4], "--set", "chain_id=other"]) == 2


def test_after_a_quiet_spell_a_transaction_commits_at_once(cluster: Cluster) -> None:
    """Peers keep their connections between envelopes, and the server closes idle ones after
    5 s: the first envelopes after a quiet spell must not be lost to a dead connection (they
    were, and a transaction then took ~20 s to commit)."""
    c = cluster
    for n in range(2):
        tx = c.anchor(f"quiet spell {n}")
        start = time.monotonic()
        assert c.submit(n, tx).status_code == 202
        c.wait_for(
            lambda tx=tx: all(
                c.get(i, f"/v1/tx/{tx.hash.hex()}").json().get("status") == "committed"
                for i in range(4)
            ),
            timeout=30,
            what="committed on all",
        )
        assert time.monotonic() - start < 2.0
        time.sleep(6)
