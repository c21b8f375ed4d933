"""Hypothesis fuzz of every decoder that input from clients and peers reaches: arbitrary
bytes, arbitrary JSON-like values (deep ones too) and valid messages with one part replaced.
Each may refuse, only ever with its documented error value or exception; nothing else may
escape (an escaped exception was a 500 at best, and a halted chain at worst).

``SHANHE_FUZZ_EXAMPLES`` sets the examples per test (default 250, about 2,500 in all, run
by ``make test``); a soak: ``SHANHE_FUZZ_EXAMPLES=20000 .venv/bin/python -m pytest -q
tests/test_fuzz_inputs.py``.
"""

import asyncio
import base64
import contextlib
import hashlib
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.app import create_app
from consensus.messages import (
    CommitCertificate,
    Evidence,
    Proposal,
    Vote,
    VoteType,
    block_id,
    message_from_json,
)
from consensus.validators import ValidatorSet
from contracts.tx import MalformedTransaction, Transaction, sign_transaction
from node.blocks import Block
from node.genesis import NodeConfig
from node.keys import read_signer
from node.mempool import MempoolFull
from node.network_init import init_network
from node.p2p import open_envelope, seal
from node.service import Node, RateLimited, TxRejected
from signing.http_signatures import NonceCache, sign_request
from tlog.note import Signer

EXAMPLES = int(os.environ.get("SHANHE_FUZZ_EXAMPLES", "250"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
CHAIN = "fuzz"
SIGNERS = [Signer(f"v{i}", hashlib.sha256(bytes([i])).digest()) for i in range(4)]
VALIDATORS = ValidatorSet(tuple(s.verifier() for s in SIGNERS))


class Deep:
    """A value nested ``levels`` deep, kept folded so that Hypothesis can print examples
    (its printer recurses); ``unfold`` builds it just before the call."""

    def __init__(self, levels: int, leaf: Any) -> None:
        self.levels, self.leaf = levels, leaf

    def __repr__(self) -> str:
        return f"Deep({self.levels}, {self.leaf!r})"


def unfold(value: Any) -> Any:
    if isinstance(value, Deep):
        leaf = value.leaf
        for i in range(value.levels):
            leaf = [leaf] if i % 2 else {"k": leaf}
        return leaf
    if isinstance(value, dict):
        return {k: unfold(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unfold(v) for v in value]
    return value


scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()  # NaN and infinities too: a Python caller can pass them
    | st.text(max_size=30)
    | st.sampled_from(["", "00" * 32, "vote", "proposal", "prevote", "precommit", "node-1"])
)
json_like = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=12), children, max_size=5)
    ),
    max_leaves=30,
)
deep = st.builds(Deep, st.integers(30, 3000), scalars)
values = json_like | deep


def _replace(base: dict[str, Any], key: str, value: Any, delete: bool) -> dict[str, Any]:
    """``base`` with one member replaced by ``value``, or removed."""
    out = dict(base)
    if delete:
        out.pop(key, None)
    else:
        out[key] = value
    return out


def mutated(base: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    keys = [*base, "extra"]
    return st.builds(_replace, st.just(base), st.sampled_from(keys), values, st.booleans())


VOTE = Vote(CHAIN, VoteType.PRECOMMIT, 1, 0, block_id(b"b"), "v1").signed(SIGNERS[1])
PROPOSAL = Proposal(CHAIN, 1, 0, -1, block_id(b"b"), "v0", b"", b"b").signed(SIGNERS[0])
OTHER = Vote(CHAIN, VoteType.PRECOMMIT, 1, 0, None, "v1").signed(SIGNERS[1])
EVIDENCE = Evidence(VOTE, OTHER).to_json()
CERTIFICATE = CommitCertificate(1, 0, block_id(b"b"), (VOTE,)).to_json()
messages = values | mutated(VOTE.to_json()) | mutated(PROPOSAL.to_json())


@FUZZ
@given(messages)
def test_message_decoding_only_ever_raises_value_error(value: Any) -> None:
    with contextlib.suppress(ValueError):
        message_from_json(unfold(value))


@FUZZ
@given(
    values
    | mutated(EVIDENCE)
    | mutated(EVIDENCE).map(lambda e: {**e, "first": e.get("second")})
    | st.builds(lambda m: {"first": m, "second": m}, messages)
)
def test_evidence_decoding_only_ever_raises_value_error(value: Any) -> None:
    with contextlib.suppress(ValueError):
        Evidence.from_json(unfold(value))


@FUZZ
@given(
    values
    | mutated(CERTIFICATE)
    | st.builds(lambda ms: {**CERTIFICATE, "precommits": ms}, st.lists(messages, max_size=4))
)
def test_certificate_decoding_only_ever_raises_value_error(value: Any) -> None:
    with contextlib.suppress(ValueError):
        CommitCertificate.from_json(unfold(value))


TX = sign_transaction(
    {
        "type": "anchor",
        "chain_id": CHAIN,
        "signer": "hosp-330881",
        "nonce": "n",
        "sha256": "ab" * 32,
    },
    Signer.generate("hosp-330881"),
).to_json()
transactions = (
    values
    | mutated(TX)
    | mutated(TX["body"]).map(lambda body: {"body": body, "signature": TX["signature"]})
)


@FUZZ
@given(transactions)
def test_transaction_decoding_only_ever_raises_malformed_transaction(value: Any) -> None:
    with contextlib.suppress(MalformedTransaction):
        Transaction.from_json(unfold(value))


BLOCK = Block(
    CHAIN,
    1,
    "0" * 64,
    "v0",
    1,
    (TX,),
    (EVIDENCE,),
    1,
    base64.b64encode(b"r" * 32).decode(),
    "00" * 32,
)
BLOCK_JSON = json.loads(BLOCK.encode())


def _canonical(value: Any) -> bytes:
    try:
        return json.dumps(
            unfold(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False
        ).encode("utf-8", "surrogatepass")
    except (ValueError, RecursionError):
        return b"{}"


blocks = (
    st.binary(max_size=400)
    | values.map(_canonical)
    | mutated(BLOCK_JSON).map(_canonical)
    | st.builds(lambda txs: {**BLOCK_JSON, "txs": txs}, st.lists(transactions, max_size=3)).map(
        _canonical
    )
    | st.builds(
        lambda evs: {**BLOCK_JSON, "evidence": evs},
        st.lists(values | mutated(EVIDENCE), max_size=3),
    ).map(_canonical)
    | st.integers(1000, 200_000).map(lambda n: b'{"txs":' + b"[" * n + b"]" * n + b"}")
)


@FUZZ
@given(blocks)
def test_block_decoding_only_ever_raises_value_error(data: bytes) -> None:
    with contextlib.suppress(ValueError):
        Block.decode(data)


ITEM_KINDS = ["consensus", "tx", "cosig", "noise"]
items = st.one_of(
    values,
    st.builds(lambda m: {"kind": "consensus", "message": m}, messages),
    st.builds(lambda t: {"kind": "tx", "tx": t}, transactions),
    st.builds(lambda s, line: {"kind": "cosig", "tree_size": s, "line": line}, values, values),
    st.builds(lambda k, v: {"kind": k, **({"x": v})}, st.sampled_from(ITEM_KINDS), values),
)
envelopes = (
    st.binary(max_size=300)
    | values.map(_canonical)
    | st.builds(
        lambda sender, chain, its: _canonical({"chain_id": chain, "from": sender, "items": its}),
        st.sampled_from(["v0", "v1", "nobody"]),
        st.sampled_from([CHAIN, "other"]),
        st.lists(items, max_size=4) | values,
    )
)


@FUZZ
@given(envelopes)
def test_opening_any_signed_envelope_never_raises(body: bytes) -> None:
    """Signed by a validator, so each body gets past the signature to the decoding."""
    headers = sign_request(SIGNERS[0], "node:v0", "POST", "n", "/v1/p2p", "", body, time.time())
    headers["host"] = "n"
    opened = open_envelope(body, headers, VALIDATORS, CHAIN, NonceCache(), {"n"})
    assert isinstance(opened, str | tuple)


# ----------------------------------------------------------------- a node


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("fuzz") / "net"
    init_network(directory, 1)
    return directory


LOOP = asyncio.new_event_loop()


@pytest.fixture(scope="module")
def node(net: Path) -> Iterator[Node]:
    """A node that is not started: admission is all we call."""
    n = Node(NodeConfig.load(net / "node-1" / "config.json"))
    yield n
    n.engine.dispose()
    n.vault.engine.dispose()


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    directory = tmp_path_factory.mktemp("fuzz-app") / "net"
    [config] = init_network(directory, 1, public_names=["testserver"])
    with TestClient(create_app(Node(NodeConfig.load(config)))) as c:
        yield c


def _agency_tx(net: Path) -> dict[str, Any]:
    signer = read_signer(net / "agencies" / "hosp-330881.key")
    body = {"type": "anchor", "chain_id": "shanhe-quzhou-dev", "signer": signer.name,
            "nonce": "n", "sha256": "ab" * 32}  # fmt: skip
    return sign_transaction(body, signer).to_json()


@FUZZ
@given(st.data())
def test_admission_only_ever_refuses_with_its_documented_errors(
    node: Node, net: Path, data: st.DataObject
) -> None:
    real = _agency_tx(net)
    value = data.draw(
        transactions
        | mutated(real)
        | mutated(real["body"]).map(lambda b: {"body": b, "signature": real["signature"]})
    )

    async def submit() -> None:  # an admitted one is handed to consensus, on the node's loop
        with contextlib.suppress(TxRejected, RateLimited, MempoolFull):
            node.submit(unfold(value))

    LOOP.run_until_complete(submit())


content_types = st.sampled_from(
    [
        "application/json",
        "Application/JSON; charset=utf-8",
        "text/plain",
        "application/x-www-form-urlencoded",
        "",
    ]
)
bodies = (
    st.binary(max_size=300)
    | transactions.map(_canonical)
    | st.integers(1000, 100_000).map(lambda n: b"[" * n + b"]" * n)
)


@FUZZ
@given(bodies, content_types)
def test_post_tx_answers_anything_with_a_problem_never_a_500(
    client: TestClient, body: bytes, content_type: str
) -> None:
    headers = {"content-type": content_type} if content_type else {}
    r = client.post("/v1/tx", content=body, headers=headers)
    assert r.status_code in (202, 400, 413, 422, 429, 503), (r.status_code, r.text[:300])
    if r.status_code != 202:
        assert r.headers["content-type"] == "application/problem+json"


@FUZZ
@given(st.lists(items, max_size=4))
def test_a_validators_envelope_of_anything_is_never_a_500(
    client: TestClient, its: list[Any]
) -> None:
    node: Node = client.app.state.node  # type: ignore[attr-defined]
    try:
        body, headers = seal(node.signer, node.chain_id, [_canonical(i) for i in its], "testserver")
    except ValueError:
        return
    r = client.post("/v1/p2p", content=body, headers=headers)
    assert r.status_code in (204, 400), (r.status_code, r.text[:300])
