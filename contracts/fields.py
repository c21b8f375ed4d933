"""Field checks shared by the transaction types: each returns the value or raises ``BadField``.

Raising stays inside ``contracts``: ``guarded`` turns it into a ``Rejected`` value at the rule's
edge, so rules read as a list of requirements.
"""

import re
from collections.abc import Callable, Iterable
from typing import Any

from contracts.rules import BlockContext, Outcome, Rejected, Rule
from contracts.state import Overlay
from contracts.tx import Transaction
from tlog.note import Verifier

_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


class BadField(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def hex64(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not _HEX64.match(value):
        raise BadField("bad_field", f"{name} must be 64 lowercase hex digits")
    return value


def ident(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not _ID.match(value):
        raise BadField("bad_field", f"{name} must be 1-64 letters, digits or ._:-")
    return value


def text(body: dict[str, Any], name: str, limit: int = 200) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value or len(value) > limit:
        raise BadField("bad_field", f"{name} must be a non-empty string of at most {limit}")
    return value


def integer(body: dict[str, Any], name: str, minimum: int = 0) -> int:
    value = body.get(name)
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise BadField("bad_field", f"{name} must be an integer >= {minimum}")
    return value


def choice(body: dict[str, Any], name: str, allowed: Iterable[str]) -> str:
    value = body.get(name)
    options = sorted(allowed)
    if value not in options:
        raise BadField("bad_field", f"{name} must be one of {', '.join(options)}")
    return str(value)


def verifier(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    try:
        Verifier.parse(str(value))
    except ValueError as exc:
        raise BadField("bad_field", f"{name} must be a signed-note verifier key") from exc
    return str(value)


def only(body: dict[str, Any], *names: str) -> None:
    extra = set(body) - {"type", "chain_id", "signer", "nonce", *names}
    if extra:
        raise BadField("bad_field", f"unexpected fields: {', '.join(sorted(extra))}")


def agency(state: Overlay, agency_id: str, kinds: Iterable[str] | None = None) -> dict[str, Any]:
    record = state.get(f"agency/{agency_id}")
    if not isinstance(record, dict) or record.get("status") != "active":
        raise BadField("unknown_agency", f"{agency_id} is not an active agency")
    if kinds is not None and record.get("kind") not in set(kinds):
        raise BadField("wrong_signer", f"{agency_id} is not a {' or '.join(sorted(kinds))}")
    return record


def require(condition: bool, code: str, message: str) -> None:
    if not condition:
        raise BadField(code, message)


def guarded(rule: Callable[[Overlay, Transaction, BlockContext], Outcome]) -> Rule:
    """Rules check everything first and write last, so a ``BadField`` leaves no writes."""

    def run(state: Overlay, tx: Transaction, ctx: BlockContext) -> Outcome:
        try:
            return rule(state, tx, ctx)
        except BadField as exc:
            return Rejected(exc.code, str(exc))

    return run
