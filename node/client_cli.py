"""``shanhe tx ...``: build, sign and submit transactions to a node."""

import re
import secrets
import sys
from pathlib import Path

import httpx

from contracts.tx import sign_transaction
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
    base = node_url.rstrip("/")
    try:
        with httpx.Client(timeout=10) as client:
            chain_id = client.get(f"{base}/v1/network").raise_for_status().json()["chain_id"]
            body = {
                "type": "anchor",
                "chain_id": chain_id,
                "signer": signer.name,
                "nonce": nonce or secrets.token_hex(16),
                "sha256": sha256,
            }
            tx = sign_transaction(body, signer)
            r = client.post(f"{base}/v1/tx", json=tx.to_json())
    except httpx.HTTPError as exc:
        print(f"error: cannot reach {base}: {exc}", file=sys.stderr)
        return 1
    if r.status_code != 202:
        detail = r.json() if r.headers.get("content-type", "").endswith("json") else r.text
        print(f"refused ({r.status_code}): {detail}", file=sys.stderr)
        return 1
    print(f"submitted, status {r.json()['status']}, tx {r.json()['tx_hash']}")
    return 0
