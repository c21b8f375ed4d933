"""RFC 9421 request signatures, checked against an independent implementation: the
``http-message-signatures`` package (a test oracle only, never imported by shipped code)
verifies what we sign, and we verify what it signs."""

import datetime
import time
from types import SimpleNamespace
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from http_message_signatures import HTTPMessageSigner, HTTPMessageVerifier, algorithms
from http_message_signatures.resolvers import HTTPSignatureKeyResolver

from signing.http_signatures import NonceCache, SignatureError, sign_request, verify_request
from tlog.note import Signer

SIGNER = Signer.generate("resident:ab")
PATH, QUERY = "/v1/residents/ab/access", "limit=2&cursor=x"
COMPONENTS = ("@method", "@path", "@query", "content-digest")


class Keys(HTTPSignatureKeyResolver):
    def resolve_public_key(self, key_id: str) -> Ed25519PublicKey:
        return Ed25519PublicKey.from_public_bytes(SIGNER.public_key)

    def resolve_private_key(self, key_id: str) -> Ed25519PrivateKey:
        return Ed25519PrivateKey.from_private_bytes(SIGNER.seed)


class Headers(dict[str, str]):
    def items(self) -> Any:
        return list(super().items())


def _message(method: str, headers: dict[str, str]) -> Any:
    return SimpleNamespace(
        method=method, url=f"http://node{PATH}?{QUERY}", headers=Headers(headers)
    )


@pytest.mark.parametrize(("method", "body"), [("GET", b""), ("PUT", "检验报告".encode())])
def test_the_oracle_verifies_what_we_sign(method: str, body: bytes) -> None:
    ours = sign_request(SIGNER, "resident:ab", method, PATH, QUERY, body, time.time())
    message = _message(method, {k.title(): v for k, v in ours.items()})
    verifier = HTTPMessageVerifier(signature_algorithm=algorithms.ED25519, key_resolver=Keys())
    [result] = verifier.verify(message)
    assert result.parameters["keyid"] == "resident:ab"
    assert list(result.covered_components) == [f'"{c}"' for c in COMPONENTS] + [
        '"@signature-params"'
    ]
    verifier.verify_body(message, [result], body)  # the content digest matches the body


@pytest.mark.parametrize(("method", "body"), [("GET", b""), ("PUT", b"\x00document")])
def test_we_verify_what_the_oracle_signs(method: str, body: bytes) -> None:
    message = _message(method, {})
    HTTPMessageSigner(signature_algorithm=algorithms.ED25519, key_resolver=Keys()).sign(
        message, key_id="resident:ab", created=datetime.datetime.now(datetime.UTC),
        nonce="oracle-nonce-1234", covered_component_ids=COMPONENTS, body=body,
    )  # fmt: skip
    headers = {k.lower(): v for k, v in message.headers.items()}
    nonces = NonceCache()
    got = verify_request(
        method, PATH, QUERY, body, headers, lambda _: SIGNER.verifier(), nonces, time.time()
    )
    assert got == "resident:ab"
    replay = verify_request(
        method, PATH, QUERY, body, headers, lambda _: SIGNER.verifier(), nonces, time.time()
    )
    assert isinstance(replay, SignatureError) and replay.kind == "signature-replayed"
    other = verify_request(
        method,
        PATH,
        "limit=3",
        body,
        headers,
        lambda _: SIGNER.verifier(),
        NonceCache(),
        time.time(),
    )
    assert isinstance(other, SignatureError) and other.kind == "signature-invalid"


def _verify(headers: dict[str, str], now: float) -> Any:
    return verify_request(
        "GET", PATH, QUERY, b"", headers, lambda _: SIGNER.verifier(), NonceCache(), now
    )


def test_stale_future_and_malformed_signatures_are_refused_with_their_reason() -> None:
    now = time.time()
    headers = sign_request(SIGNER, "resident:ab", "GET", PATH, QUERY, b"", now - 120)
    assert _verify(headers, now).kind == "signature-stale"
    assert _verify(headers, now - 240).kind == "signature-stale"  # from the future
    assert _verify(headers, now - 120) == "resident:ab"
    fresh = sign_request(SIGNER, "resident:ab", "GET", PATH, QUERY, b"", now)
    relabelled = {**fresh, "signature": fresh["signature"].replace("sig1=", "sig2=", 1)}
    assert _verify(relabelled, now).kind == "signature-malformed"
    other_alg = {**fresh, "signature-input": fresh["signature-input"].replace("ed25519", "rsa")}
    assert _verify(other_alg, now).kind == "signature-malformed"
    no_nonce = {**fresh, "signature-input": fresh["signature-input"].split(";nonce=")[0]}
    assert _verify(no_nonce, now).kind == "signature-malformed"
    assert _verify({}, now).kind == "signature-required"
