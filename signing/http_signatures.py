"""HTTP Message Signatures (RFC 9421, ``ed25519``): what callers and validator nodes sign.

The signature covers ``@method``, ``@path``, ``@query`` and ``content-digest`` (RFC 9530, of
the body, empty for GETs) with ``created``, ``keyid``, ``alg`` and a ``nonce``. ``keyid`` names
a key registered on the ledger: an agency id, ``resident:<pseudonym>`` or ``node:<validator>``.
A request outside the ``created`` window, or with a nonce seen before, is refused: signed
requests cannot be replayed. Pure: the clock and the key lookup are the caller's; failures are
values (``SignatureError``), the HTTP edge turns them into problems.
"""

import base64
import hashlib
import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from tlog.note import Signer, Verifier

WINDOW_SECONDS = 60
COMPONENTS = '("@method" "@path" "@query" "content-digest")'
_INPUT = re.compile(
    r'^sig1=\("@method" "@path" "@query" "content-digest"\);created=(\d+);keyid="([^"]+)";alg="ed25519";nonce="([A-Za-z0-9_-]{8,64})"$'
)
_SIGNATURE = re.compile(r"^sig1=:([A-Za-z0-9+/=]+):$")


@dataclass(frozen=True)
class SignatureError:
    kind: str
    """Stable reason: signature-required, -malformed, -stale, -invalid, -replayed,
    content-digest-mismatch, unknown-key."""
    message: str


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
    signer: Signer,
    keyid: str,
    method: str,
    path: str,
    query: str,
    body: bytes,
    now: float,
) -> dict[str, str]:
    """The headers that authenticate one request."""
    params = f'{COMPONENTS};created={int(now)};keyid="{keyid}";alg="ed25519";nonce="{secrets.token_urlsafe(16)}"'
    digest = content_digest(body)
    signature = signer.sign(_base(method, path, query, digest, params))
    return {
        "content-digest": digest,
        "signature-input": f"sig1={params}",
        "signature": f"sig1=:{base64.b64encode(signature).decode()}:",
    }


class NonceCache:
    """Nonces seen within twice the window (older requests are refused as stale anyway)."""

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
    headers: Mapping[str, str],
    key_of: Callable[[str], Verifier | None],
    nonces: NonceCache,
    now: float,
) -> str | SignatureError:
    """The verified ``keyid``, or why the request is not authenticated."""
    signature_input, signature = headers.get("signature-input"), headers.get("signature")
    if not signature_input or not signature:
        return SignatureError(
            "signature-required", "This needs an HTTP Message Signature (RFC 9421)"
        )
    parsed, sig = _INPUT.match(signature_input), _SIGNATURE.match(signature)
    if parsed is None or sig is None:
        return SignatureError(
            "signature-malformed", "Signature-Input or Signature is not in the expected form"
        )
    created, keyid, nonce = int(parsed.group(1)), parsed.group(2), parsed.group(3)
    if abs(now - created) > WINDOW_SECONDS:
        return SignatureError(
            "signature-stale", f"created must be within {WINDOW_SECONDS} s of now"
        )
    digest = content_digest(body)
    if headers.get("content-digest", digest) != digest:
        return SignatureError("content-digest-mismatch", "Content-Digest does not match the body")
    key = key_of(keyid)
    if key is None:
        return SignatureError("unknown-key", f"{keyid} is not a key registered on the ledger")
    params = signature_input.removeprefix("sig1=")
    if not key.verify(_base(method, path, query, digest, params), base64.b64decode(sig.group(1))):
        return SignatureError("signature-invalid", "The signature does not verify")
    if not nonces.fresh(nonce, now):
        return SignatureError("signature-replayed", "This signed request was already used")
    return keyid
