"""RFC 8785 canonical JSON: the only bytes that are ever hashed or signed.

Floats are refused: amounts are integers (fen), and IEEE-754 rounding must never decide whether
a signature verifies.
"""

from typing import Any

import rfc8785


class NotCanonicalizable(ValueError):
    """The value cannot be signed: it holds a float, a non-string key or a foreign type."""


JSONValue = None | bool | int | str | list["JSONValue"] | dict[str, "JSONValue"]


def _check(value: Any, path: str) -> None:
    if value is None or isinstance(value, bool | str):
        return
    if isinstance(value, int):
        return
    if isinstance(value, float):
        raise NotCanonicalizable(f"{path}: floats are not allowed in signed data, use integers")
    if isinstance(value, list | tuple):
        for i, item in enumerate(value):
            _check(item, f"{path}[{i}]")
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise NotCanonicalizable(f"{path}: object keys must be strings, got {key!r}")
            _check(item, f"{path}.{key}")
        return
    raise NotCanonicalizable(f"{path}: {type(value).__name__} is not JSON")


def canonical_json(value: Any) -> bytes:
    """The RFC 8785 bytes of ``value``; raises ``NotCanonicalizable`` for what cannot be signed."""
    _check(value, "$")
    try:
        return bytes(rfc8785.dumps(value))
    except rfc8785.CanonicalizationError as exc:  # e.g. integers beyond 2**53
        raise NotCanonicalizable(str(exc)) from exc
