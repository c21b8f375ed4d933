"""Red team 13a: a representative's standing is checked when she reads, not when she asked.

A delegate (or a guardian) who asked for a resident's copy (PIPL art. 45) or a correction
(art. 46) read it as the resident while she stood for her. Once the delegation is revoked
(民法典 art. 173(2)), or the ward turned 18, the copy, built afresh from the state at each
fetch, must not be served to her any more: it would hand a former delegate everything the
resident did since. One node, in process."""

import hashlib
import itertools
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.auth import sign_request
from contracts.tx import sign_transaction
from contracts.vocabulary import DATA_CLASSES
from node.genesis import NodeConfig
from node.network_init import init_network
from node.service import Node
from tlog.note import Signer

CHAIN = "shanhe-quzhou-dev"
FATHER = hashlib.sha256(b"rt13a father").hexdigest()
DAUGHTER = hashlib.sha256(b"rt13a daughter").hexdigest()
F, D = f"resident:{FATHER}", f"resident:{DAUGHTER}"


class One:
    def __init__(self, client: TestClient) -> None:
        self.client = client
        self.keys = {F: Signer.generate("father"), D: Signer.generate("daughter")}
        self.n = itertools.count()

    def tx(self, signer: str, key: Signer, body: dict[str, Any]) -> dict[str, Any]:
        full = {"chain_id": CHAIN, "signer": signer, "nonce": f"rt{next(self.n)}", **body}
        tx = sign_transaction(full, key)
        assert self.client.post("/v1/tx", json=tx.to_json()).status_code == 202
        for _ in range(300):
            status: dict[str, Any] = self.client.get(f"/v1/tx/{tx.hash.hex()}").json()
            if status.get("status") in ("committed", "rejected"):
                assert status["status"] == "committed", status
                return status
            time.sleep(0.02)
        raise AssertionError("not committed")

    def get(self, caller: str, path: str) -> Any:
        headers = sign_request(self.keys[caller], caller, "GET", path, "", b"",
                               authority="127.0.0.1:8700")  # fmt: skip
        return self.client.get(path, headers=headers)

    def copy(self, caller: str, request_id: str) -> Any:
        for _ in range(100):
            got = self.get(caller, f"/v1/rights/copies/{request_id}")
            if got.status_code != 409:
                return got
            time.sleep(0.05)
        raise AssertionError("no checkpoint")


@pytest.fixture(scope="module")
def one(tmp_path_factory: pytest.TempPathFactory) -> Iterator[One]:
    net = tmp_path_factory.mktemp("rt13a") / "net"
    [config_path] = init_network(net, 1)
    config = json.loads(config_path.read_text())
    config_path.write_text(json.dumps({**config, "reads_per_client": 100_000}))
    from node.keys import read_signer

    counter = read_signer(net / "agencies" / "ssb-330825.key")
    with TestClient(create_app(Node(NodeConfig.load(config_path))),
                    base_url="http://127.0.0.1:8700") as client:  # fmt: skip
        w = One(client)
        for p, who in ((FATHER, F), (DAUGHTER, D)):
            w.tx("ssb-330825", counter, {"type": "resident.enroll", "pseudonym": p,
                                         "key": w.keys[who].verifier().encode(),
                                         "age_class": "adult"})  # fmt: skip
        yield w


def test_a_revoked_delegate_no_longer_fetches_the_copy_she_asked_for(one: One) -> None:
    now = int(time.time() * 1000)
    one.tx(F, one.keys[F], {"type": "delegation.grant", "delegation_id": "rt-d1",
                            "delegate": DAUGHTER,
                            "actions": ["rights.copy_request", "rights.correct_request"],
                            "data_classes": sorted(DATA_CLASSES),
                            "valid_until_ms": now + 30 * 86_400_000})  # fmt: skip
    one.tx(D, one.keys[D], {"type": "rights.copy_request", "request_id": "rt-copy",
                            "on_behalf_of": FATHER})  # fmt: skip
    one.tx(D, one.keys[D], {"type": "rights.correct_request", "request_id": "rt-corr",
                            "on_behalf_of": FATHER, "agency": "ssb-330825",
                            "record": {"type": "enrollment"}, "ground": "inaccurate",
                            "content_commitment": "ab" * 32})  # fmt: skip
    assert one.copy(D, "rt-copy").status_code == 200  # she stands for him: served
    assert one.get(D, "/v1/rights/corrections/rt-corr").status_code == 200
    one.tx(F, one.keys[F], {"type": "delegation.revoke", "delegation_id": "rt-d1"})
    assert one.copy(F, "rt-copy").status_code == 200  # he still reads his own
    late = one.copy(D, "rt-copy")
    assert late.status_code == 403, late.status_code
    assert one.get(D, "/v1/rights/corrections/rt-corr").status_code == 403
