"""Field formats shared by the shape checks and the rules: each returns the value or raises
``BadField``. Pure: no state, so the same checks run at admission and in block validation.

Raising stays inside ``contracts``: ``shapes.malformed`` and ``fields.guarded`` turn it into a
value at their edge, so checks read as a list of requirements.
"""

import re
from collections.abc import Iterable
from typing import Any

from tlog.note import Verifier

HEX64 = re.compile(r"^[0-9a-f]{64}$")
IDENT = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
COMMON = frozenset({"type", "chain_id", "signer", "nonce"})
"""What every body holds (``Transaction.from_json`` checks them)."""


class BadField(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def require(condition: bool, code: str, message: str) -> None:
    if not condition:
        raise BadField(code, message)


def hex64(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not HEX64.fullmatch(value):
        raise BadField("bad_field", f"{name} must be 64 lowercase hex digits")
    return value


def ident(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not IDENT.fullmatch(value):
        raise BadField("bad_field", f"{name} must be 1-64 letters, digits or ._:-")
    return value


def text(body: dict[str, Any], name: str, limit: int = 200) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value or len(value) > limit:
        raise BadField("bad_field", f"{name} must be a non-empty string of at most {limit}")
    return value


def matching(body: dict[str, Any], name: str, pattern: re.Pattern[str], what: str) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise BadField("bad_field", f"{name} must be {what}")
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


def obj(body: dict[str, Any], name: str) -> dict[str, Any]:
    value = body.get(name)
    if not isinstance(value, dict):
        raise BadField("bad_field", f"{name} must be an object")
    return value


def verifier(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    try:
        Verifier.parse(str(value))
    except ValueError as exc:
        raise BadField("bad_field", f"{name} must be a signed-note verifier key") from exc
    return str(value)


def only(body: dict[str, Any], *names: str) -> None:
    """The body holds the common fields, these, and nothing else."""
    extra = set(body) - COMMON - set(names)
    if extra:
        raise BadField("bad_field", f"unexpected fields: {', '.join(sorted(extra))}")


def exactly(body: dict[str, Any], *names: str, optional: Iterable[str] = ()) -> None:
    """The body holds the common fields, each of ``names``, maybe ``optional``, nothing else."""
    only(body, *names, *optional)
    missing = [n for n in names if n not in body]
    if missing:
        raise BadField("bad_field", f"missing fields: {', '.join(missing)}")


def members(value: dict[str, Any], name: str, *names: str) -> None:
    """A nested object with exactly these members."""
    if set(value) != set(names):
        raise BadField("bad_field", f"{name} takes exactly {', '.join(sorted(names))}")
