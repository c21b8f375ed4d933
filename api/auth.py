"""RFC 9421 request signatures at the HTTP edge: ``signing/http_signatures.py`` decides,
this module answers a refusal with problem+json 401 and signs with the current time.

A signed request is checked on its headers first (the Content-Digest it announces is
signed), and only then is its body read and held against that digest: a stranger's body is
never read at all."""

import time
from collections.abc import Awaitable, Callable, Collection, Mapping

from api.problems import Problem
from signing import http_signatures
from signing.http_signatures import WINDOW_SECONDS, NonceCache, SignatureError, content_digest
from tlog.note import Signer, Verifier

__all__ = ["WINDOW_SECONDS", "NonceCache", "sign_request", "verify_request"]
KeyOf = Callable[[str], Verifier | None]


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


def refusal_before_body(
    method: str,
    path: str,
    query: str,
    headers: Mapping[str, str],
    key_of: KeyOf,
    authorities: Collection[str],
) -> Problem | None:
    """Why a signed request is refused on its headers alone, or None (its nonce is not
    spent: ``verify_request`` does that once the body is in)."""
    checked = http_signatures.verify_headers(
        method, path, query, None, headers, key_of, time.time(), authorities
    )
    return (
        Problem(401, checked.kind, checked.message) if isinstance(checked, SignatureError) else None
    )


async def verify_request(
    method: str,
    path: str,
    query: str,
    body: Callable[[], Awaitable[bytes]],
    headers: Mapping[str, str],
    key_of: KeyOf,
    nonces: NonceCache,
    authorities: Collection[str],
    admit: Callable[[str], None] = lambda keyid: None,
) -> str:
    """The verified ``keyid``; raises ``Problem`` 401 with a stable type otherwise. ``body``
    is read only once the signature over the request's headers holds; ``admit`` (a rate
    limit by key) may refuse before the nonce is kept, so refused requests fill no cache."""
    now = time.time()
    checked = http_signatures.verify_headers(
        method, path, query, None, headers, key_of, now, authorities
    )
    if isinstance(checked, SignatureError):
        raise Problem(401, checked.kind, checked.message)
    keyid, nonce = checked
    admit(keyid)
    if content_digest(await body()) != headers["content-digest"]:
        raise Problem(401, "content-digest-mismatch", "Content-Digest does not match the body")
    if not nonces.fresh(nonce, now):
        raise Problem(401, "signature-replayed", "This signed request was already used")
    return keyid
