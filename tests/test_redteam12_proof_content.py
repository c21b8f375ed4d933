"""Red team 12: a proof's content whose scheme is not a string.

``content_problem`` looked the scheme up in ``PROOF_SCHEMES`` before checking its type: a
list (``"scheme": []``) raised ``TypeError: unhashable type``. A hostile resident's proof
file with such content ended ``shanhe verify proof`` in a traceback (and ``check_proof``
raised) instead of ``malformed_content``; a bureau's ``PUT /v1/proofs/{id}/content`` with it
was a 500 instead of the problem ``malformed-proof-content``."""

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.auth import sign_request
from contracts.proofs import content_problem
from node.genesis import NodeConfig
from node.keys import read_signer
from node.network_init import init_network
from node.service import Node
from tests.contract_world import World
from tests.test_proofs import _file, _issued, check, content, w  # noqa: F401  (fixture)
from tlog.errors import Invalid

BAD_SCHEMES: tuple[object, ...] = ([], {}, ["employee_pension"], 1, None)


def test_a_scheme_of_another_type_is_a_content_problem() -> None:
    for scheme in BAD_SCHEMES:
        assert isinstance(content_problem(content(scheme=scheme)), str), scheme


def test_a_proof_file_with_such_content_is_malformed_content(w: World) -> None:  # noqa: F811
    c, salt, _ = _issued(w)
    for scheme in BAD_SCHEMES:
        got = check(_file(w, {**c, "scheme": scheme}, salt, len(w.log) - 2))
        assert isinstance(got, Invalid) and got.code == "malformed_content", scheme


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, Path]]:
    net = tmp_path_factory.mktemp("rt12") / "net"
    [config_path] = init_network(net, 1)
    app = create_app(Node(NodeConfig.load(config_path)))
    with TestClient(app, base_url="http://127.0.0.1:8700") as client:
        yield client, net


def test_a_deposit_with_such_content_is_a_problem_not_a_500(
    node: tuple[TestClient, Path],
) -> None:
    client, net = node
    key = read_signer(net / "agencies" / "ssb-330825.key")
    path = "/v1/proofs/pf-1/content"
    for scheme in BAD_SCHEMES:
        body = json.dumps(content(scheme=scheme)).encode()
        headers = sign_request(key, "ssb-330825", "PUT", path, "", body,
                               authority="127.0.0.1:8700")  # fmt: skip
        r = client.request("PUT", path, headers=headers, content=body)
        assert r.status_code == 400, (scheme, r.status_code, r.text)
        assert r.json()["type"].endswith("malformed-proof-content"), r.text
