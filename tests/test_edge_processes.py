"""Attacks on real node processes at the HTTP edge: a signed request replayed at the other
nodes, hostile JSON, and strangers trying to grow a node's memory or hold its connections."""

import hashlib
import json
from collections.abc import Iterator
from typing import Any

import pytest

from api.auth import sign_request
from contracts.tx import sign_transaction
from node.keys import read_signer
from tests.cluster import Cluster
from tlog.note import Signer

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    c = Cluster(tmp_path_factory.mktemp("edge") / "net").start_all()
    yield c
    c.stop()


def _authority(url: str) -> str:
    return url.removeprefix("http://")


def test_a_signed_read_belongs_to_the_node_it_was_signed_for(cluster: Cluster) -> None:
    """Issue 10 item 6: refused as a replay at node 1, the same signed request was answered
    200 by nodes 2-4 (nonces are per node and @authority was not signed)."""
    c = cluster
    agency = read_signer(c.dir / "agencies" / "ssb-330825.key")
    path = "/v1/pension/overdue"
    headers = sign_request(agency, agency.name, "GET", path, authority=_authority(c.urls[0]))
    first = c.client.get(f"{c.urls[0]}{path}", headers=headers)
    assert first.status_code == 200, first.text
    replay = c.client.get(f"{c.urls[0]}{path}", headers=headers)
    assert replay.status_code == 401 and replay.json()["type"].endswith("/signature-replayed")
    for i in (1, 2, 3):
        elsewhere = c.client.get(f"{c.urls[i]}{path}", headers=headers)
        assert elsewhere.status_code == 401, (i, elsewhere.text)
        assert elsewhere.json()["type"].endswith("/signature-invalid")  # signed for node 1
        claimed = {**headers, "host": _authority(c.urls[0])}  # and claiming to be node 1
        posing = c.client.get(f"{c.urls[i]}{path}", headers=claimed)
        assert posing.status_code == 401, (i, posing.text)
        assert posing.json()["type"].endswith("/signature-wrong-authority")
    for i in (1, 2, 3):  # each node answers a request signed for itself
        own = sign_request(agency, agency.name, "GET", path, authority=_authority(c.urls[i]))
        assert c.client.get(f"{c.urls[i]}{path}", headers=own).status_code == 200


def _enrolled_resident(c: Cluster) -> tuple[Signer, str]:
    ssb = read_signer(c.dir / "agencies" / "ssb-330825.key")
    me = Signer.generate("resident-edge")
    pseudonym = hashlib.sha256(b"resident-edge").hexdigest()
    body = {"type": "resident.enroll", "chain_id": c.chain_id, "signer": ssb.name,
            "nonce": "enroll-edge", "pseudonym": pseudonym, "key": me.verifier().encode()}  # fmt: skip
    tx = sign_transaction(body, ssb)
    assert c.submit(0, tx).status_code == 202
    c.wait_for(lambda: c.committed_everywhere([0, 1, 2, 3], tx.hash.hex()), what="enrolment")
    return me, f"resident:{pseudonym}"


def test_a_resident_signed_950_level_transaction_is_refused_by_every_node(
    cluster: Cluster,
) -> None:
    """Issue 10 item 2's attack, as sent: 202, then every validator halted."""
    c = cluster
    me, signer = _enrolled_resident(c)
    deep: Any = "x"
    for _ in range(950):
        deep = {"a": deep}
    body = {"type": "consent.grant", "chain_id": c.chain_id, "signer": signer,
            "nonce": "deep-1", "consent_id": "c-deep", "extra": deep}  # fmt: skip
    signed = me.sign(
        b"shanhe-tx-v1\n" + json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
    )
    data = json.dumps({"body": body, "signature": signed.hex()}).encode()
    for url in c.urls:
        r = c.client.post(
            f"{url}/v1/tx", content=data, headers={"content-type": "application/JSON"}
        )
        assert r.status_code == 400, r.text
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["type"].endswith("/json-too-deep")
    after = c.anchor("after the attack")
    assert c.submit(2, after).status_code == 202
    c.wait_for(lambda: c.committed_everywhere([0, 1, 2, 3], after.hash.hex()), what="commit")
