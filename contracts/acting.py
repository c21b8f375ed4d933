"""Who a resident-signed transaction acts for: the signer herself, or a resident she acts for
as a registered guardian (民法典 arts. 27-33, PIPL art. 31) or a delegate (民法典 art. 165).

The one place rules ask it (``principal``), so that every resident step, old and new, checks
an age class, a guardianship or a delegation the same way at the block it lands in.
"""

from collections.abc import Iterable
from dataclasses import dataclass

from contracts.authority import Relation
from contracts.formats import BadField
from contracts.rules import BlockContext
from contracts.state import Overlay
from contracts.tx import Transaction


@dataclass(frozen=True)
class Acting:
    resident: str
    """The pseudonym of the resident the transaction acts for."""
    relation: Relation
    """``SUBJECT`` when she signs herself (later: a guardian or a delegate)."""
    by: str | None = None
    """The acting resident's pseudonym when it is not the subject herself."""


def principal(
    state: Overlay,
    tx: Transaction,
    ctx: BlockContext,
    action: str,
    classes: Iterable[str] = (),
) -> Acting:
    """The resident a resident-signed ``tx`` acts for, doing ``action`` (a transaction type)
    on ``classes``; raises ``BadField`` when the signer may not act for her."""
    del state, ctx, action, classes
    if not tx.signer.startswith("resident:"):
        raise BadField("wrong_signer", f"{tx.type} is signed by a resident")
    if "on_behalf_of" in tx.body:
        raise BadField("not_acting_for", "no delegation or guardianship is recorded")
    return Acting(tx.signer.removeprefix("resident:"), Relation.SUBJECT)
