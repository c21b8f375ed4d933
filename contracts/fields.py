"""Field checks of the rules: the pure formats (``contracts.formats``) and the checks that read
state (an active agency), and ``guarded``, the rules' edge.

Raising stays inside ``contracts``: ``guarded`` turns a ``BadField`` into a ``Rejected`` value
at the rule's edge, so rules read as a list of requirements.
"""

from collections.abc import Callable, Iterable
from typing import Any

from contracts.formats import (
    BadField,
    choice,
    hex64,
    ident,
    integer,
    only,
    require,
    text,
    verifier,
)
from contracts.rules import BlockContext, Outcome, Rejected, Rule
from contracts.state import Overlay
from contracts.tx import Transaction

__all__ = [
    "BadField",
    "agency",
    "choice",
    "guarded",
    "hex64",
    "ident",
    "integer",
    "only",
    "require",
    "text",
    "verifier",
]


def agency(state: Overlay, agency_id: str, kinds: Iterable[str] | None = None) -> dict[str, Any]:
    """An agency a transaction names (not its signer: ``contracts/authority.py`` decides who
    signs), active and of one of ``kinds``."""
    record = state.get(f"agency/{agency_id}")
    if not isinstance(record, dict) or record.get("status") != "active":
        raise BadField("unknown_agency", f"{agency_id} is not an active agency")
    if kinds is not None and record.get("kind") not in set(kinds):
        raise BadField("unknown_agency", f"{agency_id} is not a {' or '.join(sorted(kinds))}")
    return record


def guarded(rule: Callable[[Overlay, Transaction, BlockContext], Outcome]) -> Rule:
    """Rules check everything first and write last, so a ``BadField`` leaves no writes."""

    def run(state: Overlay, tx: Transaction, ctx: BlockContext) -> Outcome:
        try:
            return rule(state, tx, ctx)
        except BadField as exc:
            return Rejected(exc.code, str(exc))

    return run
