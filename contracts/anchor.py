"""``anchor``: an agency commits to a document by its SHA-256, nothing else on the log."""

import re

from contracts.rules import Applied, BlockContext, Outcome, Rejected, Rule
from contracts.state import Overlay
from contracts.tx import Transaction

_SHA256 = re.compile(r"^[0-9a-f]{64}$")


def apply_anchor(state: Overlay, tx: Transaction, ctx: BlockContext) -> Outcome:
    digest = tx.body.get("sha256")
    if not isinstance(digest, str) or not _SHA256.match(digest):
        return Rejected("bad_field", "sha256 must be 64 lowercase hex digits")
    if set(tx.body) - {"type", "chain_id", "signer", "nonce", "sha256"}:
        return Rejected("bad_field", "anchor takes type, chain_id, signer, nonce and sha256")
    state.put(f"anchor/{digest}", {"by": tx.signer, "height": ctx.height})
    return Applied(tx.encode(), ({"type": "anchored", "sha256": digest, "by": tx.signer},))


RULES: dict[str, Rule] = {"anchor": apply_anchor}
