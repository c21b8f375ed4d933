"""HTTP Message Signatures (RFC 9421, ``ed25519``) for reads of non-public data.

The signature covers ``@method``, ``@path``, ``@query`` and ``content-digest`` (RFC 9530, of
the body, empty for GETs) with ``created``, ``keyid``, ``alg`` and a ``nonce``. ``keyid`` names
a key registered on the ledger: an agency id or ``resident:<pseudonym>``. A request older than
the window, or a nonce seen before, is refused: signed requests cannot be replayed.
"""

import base64
import hashlib
import re
import secrets
import time
from collections.abc import Callable

from api.problems import Problem
from tlog.note import Signer, Verifier

WINDOW_SECONDS = 60
COMPONENTS = '("@method" "@path" "@query" "content-digest")'
_INPUT = re.compile(
    r'^sig1=\("@method" "@path" "@query" "content-digest"\);created=(\d+);keyid="([^"]+)";alg="ed25519";nonce="([A-Za-z0-9_-]{8,64})"$'
)
_SIGNATURE = re.compile(r"^sig1=:([A-Za-z0-9+/=]+):$")


def content_digest(body: bytes) -> str:
    return f"sha-256=:{base64.b64encode(hashlib.sha256(body).digest()).decode()}:"


def _base(method: str, path: str, query: str, digest: str, params: str) -> bytes:
    lines = [
        f'"@method": {method.upper()}',
        f'"@path": {path}',
        f'"@query": ?{query}',
        f'"content-digest": {digest}',
        f'"@signature-params": {params}',
    ]
    return "\n".join(lines).encode()


def sign_request(
    signer: Signer, keyid: str, method: str, path: str, query: str = "", body: bytes = b""
) -> dict[str, str]:
    """The headers that authenticate one request (what the client SDK sends)."""
    params = f'{COMPONENTS};created={int(time.time())};keyid="{keyid}";alg="ed25519";nonce="{secrets.token_urlsafe(16)}"'
    digest = content_digest(body)
    signature = signer.sign(_base(method, path, query, digest, params))
    return {
        "content-digest": digest,
        "signature-input": f"sig1={params}",
        "signature": f"sig1=:{base64.b64encode(signature).decode()}:",
    }


class NonceCache:
    def __init__(self) -> None:
        self.seen: dict[str, float] = {}

    def fresh(self, nonce: str, now: float) -> bool:
        if len(self.seen) > 100_000:
            self.seen = {n: t for n, t in self.seen.items() if t > now}
        if nonce in self.seen:
            return False
        self.seen[nonce] = now + 2 * WINDOW_SECONDS
        return True


def verify_request(
    method: str,
    path: str,
    query: str,
    body: bytes,
    headers: dict[str, str],
    key_of: Callable[[str], Verifier | None],
    nonces: NonceCache,
) -> str:
    """The verified ``keyid``; raises ``Problem`` 401 with a stable type otherwise."""
    signature_input, signature = headers.get("signature-input"), headers.get("signature")
    if not signature_input or not signature:
        raise Problem(
            401, "signature-required", "This read needs an HTTP Message Signature (RFC 9421)"
        )
    parsed, sig = _INPUT.match(signature_input), _SIGNATURE.match(signature)
    if parsed is None or sig is None:
        raise Problem(
            401, "signature-malformed", "Signature-Input or Signature is not in the expected form"
        )
    created, keyid, nonce = int(parsed.group(1)), parsed.group(2), parsed.group(3)
    now = time.time()
    if abs(now - created) > WINDOW_SECONDS:
        raise Problem(401, "signature-stale", f"created must be within {WINDOW_SECONDS} s of now")
    digest = content_digest(body)
    if headers.get("content-digest", digest) != digest:
        raise Problem(401, "content-digest-mismatch", "Content-Digest does not match the body")
    key = key_of(keyid)
    if key is None:
        raise Problem(401, "unknown-key", f"{keyid} is not a key registered on the ledger")
    params = signature_input.removeprefix("sig1=")
    if not key.verify(_base(method, path, query, digest, params), base64.b64decode(sig.group(1))):
        raise Problem(401, "signature-invalid", "The signature does not verify")
    if not nonces.fresh(nonce, now):
        raise Problem(401, "signature-replayed", "This signed request was already used")
    return keyid
