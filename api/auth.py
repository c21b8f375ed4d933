"""RFC 9421 request signatures at the HTTP edge: ``signing/http_signatures.py`` decides,
this module answers a refusal with problem+json 401 and signs with the current time."""

import time
from collections.abc import Callable, Collection, Mapping

from api.problems import Problem
from signing import http_signatures
from signing.http_signatures import WINDOW_SECONDS, NonceCache, SignatureError
from tlog.note import Signer, Verifier

__all__ = ["WINDOW_SECONDS", "NonceCache", "sign_request", "verify_request"]


def sign_request(
    signer: Signer,
    keyid: str,
    method: str,
    path: str,
    query: str = "",
    body: bytes = b"",
    *,
    authority: str,
) -> dict[str, str]:
    """The headers that authenticate one request to the node reached as ``authority``
    (``host[:port]`` of its URL): what the client SDK sends."""
    return http_signatures.sign_request(
        signer, keyid, method, authority, path, query, body, time.time()
    )


def verify_request(
    method: str,
    path: str,
    query: str,
    body: bytes,
    headers: Mapping[str, str],
    key_of: Callable[[str], Verifier | None],
    nonces: NonceCache,
    authorities: Collection[str],
) -> str:
    """The verified ``keyid``; raises ``Problem`` 401 with a stable type otherwise."""
    result = http_signatures.verify_request(
        method, path, query, body, headers, key_of, nonces, time.time(), authorities
    )
    if isinstance(result, SignatureError):
        raise Problem(401, result.kind, result.message)
    return result
