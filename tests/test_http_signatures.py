"""RFC 9421 request signatures, checked against an independent implementation: the
``http-message-signatures`` package (a test oracle only, never imported by shipped code)
verifies what we sign, and we verify what it signs, ``@authority`` included (the oracle
derives it from the request URL, we from the Host header)."""

import datetime
import time
from types import SimpleNamespace
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from http_message_signatures import HTTPMessageSigner, HTTPMessageVerifier, algorithms
from http_message_signatures.exceptions import InvalidSignature
from http_message_signatures.resolvers import HTTPSignatureKeyResolver

from signing.http_signatures import (
    NonceCache,
    SignatureError,
    authority_of,
    normalize_authority,
    sign_request,
    verify_request,
)
from tlog.note import Signer

SIGNER = Signer.generate("resident:ab")
PATH, QUERY = "/v1/residents/ab/access", "limit=2&cursor=x"
COMPONENTS = ("@method", "@authority", "@path", "@query", "content-digest")
NODE = "node-2.example:8701"
"""The verifier's one name in these tests."""


class Keys(HTTPSignatureKeyResolver):
    def resolve_public_key(self, key_id: str) -> Ed25519PublicKey:
        return Ed25519PublicKey.from_public_bytes(SIGNER.public_key)

    def resolve_private_key(self, key_id: str) -> Ed25519PrivateKey:
        return Ed25519PrivateKey.from_private_bytes(SIGNER.seed)


class Headers(dict[str, str]):
    def items(self) -> Any:
        return list(super().items())


def _message(method: str, headers: dict[str, str], host: str = NODE) -> Any:
    return SimpleNamespace(
        method=method, url=f"http://{host}{PATH}?{QUERY}", headers=Headers(headers)
    )


@pytest.mark.parametrize(("method", "body"), [("GET", b""), ("PUT", "检验报告".encode())])
def test_the_oracle_verifies_what_we_sign(method: str, body: bytes) -> None:
    ours = sign_request(SIGNER, "resident:ab", method, NODE, PATH, QUERY, body, time.time())
    message = _message(method, {k.title(): v for k, v in ours.items()})
    verifier = HTTPMessageVerifier(signature_algorithm=algorithms.ED25519, key_resolver=Keys())
    [result] = verifier.verify(message)
    assert result.parameters["keyid"] == "resident:ab"
    assert list(result.covered_components) == [f'"{c}"' for c in COMPONENTS] + [
        '"@signature-params"'
    ]
    verifier.verify_body(message, [result], body)  # the content digest matches the body


def test_the_oracle_refuses_what_we_signed_for_another_node() -> None:
    ours = sign_request(SIGNER, "resident:ab", "GET", NODE, PATH, QUERY, b"", time.time())
    message = _message("GET", {k.title(): v for k, v in ours.items()}, host="node-3.example:8702")
    verifier = HTTPMessageVerifier(signature_algorithm=algorithms.ED25519, key_resolver=Keys())
    with pytest.raises(InvalidSignature):
        verifier.verify(message)


@pytest.mark.parametrize(("method", "body"), [("GET", b""), ("PUT", b"\x00document")])
def test_we_verify_what_the_oracle_signs(method: str, body: bytes) -> None:
    message = _message(method, {}, host="NODE-2.Example:8701")  # the authority is normalized
    HTTPMessageSigner(signature_algorithm=algorithms.ED25519, key_resolver=Keys()).sign(
        message, key_id="resident:ab", created=datetime.datetime.now(datetime.UTC),
        nonce="oracle-nonce-1234", covered_component_ids=COMPONENTS, body=body,
    )  # fmt: skip
    headers = {k.lower(): v for k, v in message.headers.items()} | {"host": NODE}
    nonces = NonceCache()

    def verify(query: str, headers: dict[str, str], nonces: NonceCache) -> Any:
        key = SIGNER.verifier()
        return verify_request(
            method, PATH, query, body, headers, lambda _: key, nonces, time.time(), {NODE}
        )

    assert verify(QUERY, headers, nonces) == "resident:ab"
    replay = verify(QUERY, headers, nonces)
    assert isinstance(replay, SignatureError) and replay.kind == "signature-replayed"
    other = verify("limit=3", headers, NonceCache())
    assert isinstance(other, SignatureError) and other.kind == "signature-invalid"


def _verify(headers: dict[str, str], now: float, host: str = NODE, names: Any = (NODE,)) -> Any:
    return verify_request(
        "GET", PATH, QUERY, b"", {**headers, "host": host}, lambda _: SIGNER.verifier(),
        NonceCache(), now, set(names),
    )  # fmt: skip


def test_a_request_is_good_at_the_one_node_it_was_signed_for() -> None:
    now = time.time()
    headers = sign_request(SIGNER, "resident:ab", "GET", NODE, PATH, QUERY, b"", now)
    assert _verify(headers, now) == "resident:ab"
    # sent to another node: its Host is that node's, the signature covers ours
    other = "node-3.example:8702"
    assert _verify(headers, now, host=other, names=[other]).kind == "signature-invalid"
    # sent to another node with our Host: that node is not NODE
    assert _verify(headers, now, names=[other]).kind == "signature-wrong-authority"
    assert _verify(headers, now, host="", names=[other]).kind == "signature-wrong-authority"
    # a node with several names answers to each, but the signed one must be the one sent
    assert _verify(headers, now, names=[other, NODE]) == "resident:ab"
    assert _verify(headers, now, host=other, names=[other, NODE]).kind == "signature-invalid"
    # a signature that does not cover @authority is refused outright
    old = {**headers, "signature-input": headers["signature-input"].replace('"@authority" ', "")}
    assert _verify(old, now).kind == "signature-malformed"


@pytest.mark.parametrize(
    ("given", "scheme", "normal"),
    [
        ("Node-1.Example:8700", "http", "node-1.example:8700"),
        ("node-1.example:80", "http", "node-1.example"),
        ("node-1.example:443", "https", "node-1.example"),
        ("node-1.example:443", "http", "node-1.example:443"),
        ("[::1]:80", "http", "[::1]"),
    ],
)
def test_authorities_are_normalized_as_rfc9421_says(given: str, scheme: str, normal: str) -> None:
    assert normalize_authority(given, scheme) == normal
    assert authority_of(f"{scheme}://{given}/v1/x?q=1") == normal
    assert authority_of(f"{scheme}://user@{given}") == normal


def test_stale_future_and_malformed_signatures_are_refused_with_their_reason() -> None:
    now = time.time()
    headers = sign_request(SIGNER, "resident:ab", "GET", NODE, PATH, QUERY, b"", now - 120)
    assert _verify(headers, now).kind == "signature-stale"
    assert _verify(headers, now - 240).kind == "signature-stale"  # from the future
    assert _verify(headers, now - 120) == "resident:ab"
    fresh = sign_request(SIGNER, "resident:ab", "GET", NODE, PATH, QUERY, b"", now)
    relabelled = {**fresh, "signature": fresh["signature"].replace("sig1=", "sig2=", 1)}
    assert _verify(relabelled, now).kind == "signature-malformed"
    other_alg = {**fresh, "signature-input": fresh["signature-input"].replace("ed25519", "rsa")}
    assert _verify(other_alg, now).kind == "signature-malformed"
    no_nonce = {**fresh, "signature-input": fresh["signature-input"].split(";nonce=")[0]}
    assert _verify(no_nonce, now).kind == "signature-malformed"
    assert _verify({}, now).kind == "signature-required"
