"""``shanhe audit``: compare every node's checkpoint, check quorum and consistency with the last
audited head (kept in a local state file), and report any two roots for one size as a fork."""

import base64
import json
import sys
from pathlib import Path

import httpx

from api.client import ApiError, NotVerified, ShanheClient
from tlog.checkpoint import Checkpoint
from tlog.note import Verifier


def run_audit(node_urls: list[str], keys: list[Verifier], quorum: int, state_file: Path) -> int:
    heads: list[tuple[str, Checkpoint]] = []
    for url in node_urls:
        try:
            checkpoint, _ = ShanheClient(url).checkpoint(keys, quorum)
        except (ApiError, NotVerified, httpx.HTTPError) as exc:
            print(f"{url}: NOT VERIFIED: {exc}", file=sys.stderr)
            return 1
        print(f"{url}: size {checkpoint.size}, quorum of {quorum} valid")
        heads.append((url, checkpoint))
    by_size: dict[int, set[bytes]] = {}
    for _, cp in heads:
        by_size.setdefault(cp.size, set()).add(cp.root)
    forks = [size for size, roots in by_size.items() if len(roots) > 1]
    if forks:
        print(f"FORK: different roots signed for tree size {forks[0]}", file=sys.stderr)
        return 1
    url, newest = max(heads, key=lambda h: h[1].size)
    client = ShanheClient(url)
    previous = None
    if state_file.exists():
        saved = json.loads(state_file.read_text())
        previous = Checkpoint(saved["origin"], int(saved["size"]), base64.b64decode(saved["root"]))
    try:
        for _, cp in heads:
            client.consistent(cp, newest)
        if previous is not None:
            if previous.origin != newest.origin or previous.size > newest.size:
                raise NotVerified(
                    f"the log shrank or changed origin since the last audit (size {previous.size})"
                )
            client.consistent(previous, newest)
    except (ApiError, NotVerified, httpx.HTTPError) as exc:
        print(f"NOT CONSISTENT: {exc}", file=sys.stderr)
        return 1
    state_file.write_text(json.dumps({"origin": newest.origin, "size": newest.size,
                                      "root": base64.b64encode(newest.root).decode()}) + "\n")  # fmt: skip
    since = "first audit" if previous is None else f"consistent with size {previous.size}"
    print(f"ok: {len(heads)} nodes agree up to size {newest.size}; {since}; state in {state_file}")
    return 0
