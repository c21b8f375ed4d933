"""HTTP Message Signatures (RFC 9421, ``ed25519``): what callers and validator nodes sign.

The signature covers ``@method``, ``@authority``, ``@path``, ``@query`` and ``content-digest``
(RFC 9530, of the body, empty for GETs) with ``created``, ``keyid``, ``alg`` and a ``nonce``.
``keyid`` names a key registered on the ledger: an agency id, ``resident:<pseudonym>`` or
``node:<validator>``. A request outside the ``created`` window, or with a nonce seen before, is
refused: signed requests cannot be replayed. Nonces are remembered per node, so a request also
names the one node it is for: ``@authority`` (the Host it was sent to) must be one of the
verifier's own names, else it is refused whatever its signature. Pure: the clock, the key
lookup and the names are the caller's; failures are values (``SignatureError``), the HTTP edge
turns them into problems.

Written here rather than taken from the ``http-message-signatures`` package: that package
verifies through request objects and ``cryptography``, while nodes verify raw ASGI requests on
the hot path with PyNaCl, and it leaves created windows and nonces to the caller anyway. It is
this module's test oracle instead: each verifies what the other signs (any label, any order
of parameters).
"""

import base64
import hashlib
import re
import secrets
from collections import deque
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from tlog.note import Signer, Verifier

WINDOW_SECONDS = 60
COMPONENTS = '("@method" "@authority" "@path" "@query" "content-digest")'
_LABEL = r"[a-z*][a-z0-9_.*-]{0,63}"
_INPUT = re.compile(
    rf'^({_LABEL})=\("@method" "@authority" "@path" "@query" "content-digest"\)((?:;[a-z]+=(?:"[^"]*"|\d+))+)$'
)
_PARAM = re.compile(r';([a-z]+)=("[^"]*"|\d+)')
_SIGNATURE = re.compile(rf"^({_LABEL})=:([A-Za-z0-9+/=]+):$")
_NONCE = re.compile(r"^[A-Za-z0-9_-]{8,64}$")


@dataclass(frozen=True)
class SignatureError:
    kind: str
    """Stable reason: signature-required, -malformed, -stale, -wrong-authority, -invalid,
    -replayed, content-digest-mismatch, unknown-key."""
    message: str


def content_digest(body: bytes) -> str:
    return f"sha-256=:{base64.b64encode(hashlib.sha256(body).digest()).decode()}:"


def normalize_authority(authority: str, scheme: str = "http") -> str:
    """RFC 9421 section 2.2.3: the host in lower case, with the port unless it is the
    scheme's default (what the oracle package and HTTP clients derive from a URL)."""
    authority = authority.strip().lower()
    default = {"http": ":80", "https": ":443"}.get(scheme.lower())
    if default and authority.endswith(default):
        authority = authority.removesuffix(default)
    return authority


def authority_of(url: str) -> str:
    """The ``@authority`` a request to ``url`` carries: ``host[:port]``, normalized (a bare
    ``host[:port]`` is taken as it is)."""
    if "://" not in url:
        return normalize_authority(url)
    parts = urlsplit(url)
    return normalize_authority(parts.netloc.rpartition("@")[2], parts.scheme)


def _base(method: str, authority: str, path: str, query: str, digest: str, params: str) -> bytes:
    lines = [
        f'"@method": {method.upper()}',
        f'"@authority": {authority}',
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
    authority: str,
    path: str,
    query: str,
    body: bytes,
    now: float,
) -> dict[str, str]:
    """The headers that authenticate one request to the node reached as ``authority``
    (``host[:port]`` of the URL it is sent to)."""
    params = f'{COMPONENTS};created={int(now)};keyid="{keyid}";alg="ed25519";nonce="{secrets.token_urlsafe(16)}"'
    digest = content_digest(body)
    signature = signer.sign(
        _base(method, normalize_authority(authority), path, query, digest, params)
    )
    return {
        "content-digest": digest,
        "signature-input": f"sig1={params}",
        "signature": f"sig1=:{base64.b64encode(signature).decode()}:",
    }


class NonceCache:
    """Nonces seen within twice the window (older requests are refused as stale anyway).
    They expire in the order they came, from the front of a queue: each call costs the same
    however many requests are live (once, past 100,000 live nonces, every call rebuilt the
    whole cache)."""

    def __init__(self) -> None:
        self.seen: dict[str, float] = {}
        self.order: deque[tuple[float, str]] = deque()

    def fresh(self, nonce: str, now: float) -> bool:
        while self.order and self.order[0][0] <= now:
            _, old = self.order.popleft()
            if self.seen.get(old, now + 1) <= now:
                del self.seen[old]
        if nonce in self.seen:
            return False
        expires = now + 2 * WINDOW_SECONDS
        self.seen[nonce] = expires
        self.order.append((expires, nonce))
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
    authorities: Collection[str],
) -> str | SignatureError:
    """The verified ``keyid``, or why the request is not authenticated. ``authorities``: the
    verifier's own names (normalized); ``headers`` must hold the request's ``host``."""
    checked = verify_headers(
        method, path, query, content_digest(body), headers, key_of, now, authorities
    )
    if isinstance(checked, SignatureError):
        return checked
    keyid, nonce = checked
    if not nonces.fresh(nonce, now):
        return SignatureError("signature-replayed", "This signed request was already used")
    return keyid


def verify_headers(
    method: str,
    path: str,
    query: str,
    body_digest: str | None,
    headers: Mapping[str, str],
    key_of: Callable[[str], Verifier | None],
    now: float,
    authorities: Collection[str],
) -> tuple[str, str] | SignatureError:
    """(keyid, nonce) of a well-formed, fresh signature by a known key for one of
    ``authorities``, or why not; the nonce is the caller's to spend. ``body_digest`` None:
    check the signature over the request's own Content-Digest, before reading a body that may
    be large (the body must then be checked against it, as ``verify_request`` does)."""
    signature_input, signature = headers.get("signature-input"), headers.get("signature")
    if not signature_input or not signature:
        return SignatureError(
            "signature-required", "This needs an HTTP Message Signature (RFC 9421)"
        )
    parsed, sig = _INPUT.match(signature_input), _SIGNATURE.match(signature)
    params: dict[str, str] = {} if parsed is None else dict(_PARAM.findall(parsed.group(2)))
    created, keyid, nonce = (params.get(k, "") for k in ("created", "keyid", "nonce"))
    if (
        parsed is None
        or sig is None
        or parsed.group(1) != sig.group(1)  # one signature, the same label in both fields
        or not created.isdigit()
        or not keyid.startswith('"')
        or not _NONCE.match(nonce.strip('"'))
        or params.get("alg", '"ed25519"') != '"ed25519"'
        or (body_digest is None and "content-digest" not in headers)
    ):
        return SignatureError(
            "signature-malformed",
            "Signature-Input must cover @method @authority @path @query content-digest, with "
            "created, keyid and a nonce (alg ed25519)",
        )
    keyid, nonce = keyid.strip('"'), nonce.strip('"')
    if abs(now - int(created)) > WINDOW_SECONDS:
        return SignatureError(
            "signature-stale", f"created must be within {WINDOW_SECONDS} s of now"
        )
    authority = normalize_authority(headers.get("host", ""))
    if authority not in authorities:
        return SignatureError(
            "signature-wrong-authority",
            f"This node is {', '.join(sorted(authorities))}; the request was sent to "
            f"{authority[:100]!r} (sign for the node you send to)",
        )
    digest = headers["content-digest"] if body_digest is None else body_digest
    if headers.get("content-digest", digest) != digest:
        return SignatureError("content-digest-mismatch", "Content-Digest does not match the body")
    key = key_of(keyid)
    if key is None:
        return SignatureError("unknown-key", f"{keyid} is not a key registered on the ledger")
    signed_params = signature_input.removeprefix(f"{parsed.group(1)}=")
    if not key.verify(
        _base(method, authority, path, query, digest, signed_params),
        base64.b64decode(sig.group(2)),
    ):
        return SignatureError("signature-invalid", "The signature does not verify")
    return keyid, nonce
