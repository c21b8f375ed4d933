"""``shanhe tx ...``: build, sign and submit transactions through the client SDK."""

import re
import sys
from pathlib import Path

import httpx

from api.client import ApiError, ShanheClient
from node.keys import KeyFileError, read_signer


def submit_anchor(node_url: str, key_path: Path, sha256: str, nonce: str | None) -> int:
    if not re.fullmatch(r"[0-9a-f]{64}", sha256):
        print("error: --sha256 takes 64 lowercase hex digits", file=sys.stderr)
        return 2
    try:
        signer = read_signer(key_path)
    except KeyFileError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    client = ShanheClient(node_url)
    body = {"type": "anchor", "sha256": sha256, **({"nonce": nonce} if nonce else {})}
    try:
        tx_hash = client.submit(client.sign(signer, body))
    except ApiError as exc:
        print(f"refused: {exc}", file=sys.stderr)
        return 1
    except httpx.HTTPError as exc:
        print(f"error: cannot reach {node_url}: {exc}", file=sys.stderr)
        return 1
    print(f"submitted, tx {tx_hash}")
    return 0
