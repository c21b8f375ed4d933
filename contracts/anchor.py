"""``anchor``: an agency commits to a document by its SHA-256, nothing else on the log."""

from contracts import authority
from contracts.fields import guarded
from contracts.rules import Applied, BlockContext, Outcome, Rule
from contracts.state import Overlay
from contracts.tx import Transaction


def apply_anchor(state: Overlay, tx: Transaction, ctx: BlockContext) -> Outcome:
    """The digest's format was checked before (``contracts/shapes.py``)."""
    authority.check(state, tx.type, tx.signer)
    digest = tx.body["sha256"]
    state.put(f"anchor/{digest}", {"by": tx.signer, "height": ctx.height})
    return Applied(tx.encode(), ({"type": "anchored", "sha256": digest, "by": tx.signer},))


RULES: dict[str, Rule] = {"anchor": guarded(apply_anchor)}
