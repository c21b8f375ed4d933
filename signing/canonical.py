"""RFC 8785 canonical JSON: the only bytes that are ever hashed or signed.

Floats are refused: amounts are integers (fen), and IEEE-754 rounding must never decide whether
a signature verifies. Without floats, RFC 8785 differs from ``json.dumps(sort_keys=True)`` only
in key order (UTF-16 code units, not code points) when a key holds a character beyond the
Basic Multilingual Plane; such values go through the ``rfc8785`` package, the rest through the
standard library's C encoder (about four times faster; tests check both agree).
"""

import json
from typing import Any

import rfc8785


class NotCanonicalizable(ValueError):
    """The value cannot be signed: it holds a float, a non-string key or a foreign type."""


JSONValue = None | bool | int | str | list["JSONValue"] | dict[str, "JSONValue"]
MAX_SAFE_INTEGER = 2**53 - 1


def _check(value: Any, path: str) -> bool:
    """Refuse what cannot be signed; return True if a key needs UTF-16 ordering."""
    if value is None or isinstance(value, bool | str):
        return False
    if isinstance(value, int):
        if abs(value) > MAX_SAFE_INTEGER:
            raise NotCanonicalizable(f"{path}: integer beyond 2**53 - 1 cannot be exact in JSON")
        return False
    if isinstance(value, float):
        raise NotCanonicalizable(f"{path}: floats are not allowed in signed data, use integers")
    if isinstance(value, list | tuple):
        slow = False
        for i, item in enumerate(value):
            slow |= _check(item, f"{path}[{i}]")
        return slow
    if isinstance(value, dict):
        slow = False
        for key, item in value.items():
            if not isinstance(key, str):
                raise NotCanonicalizable(f"{path}: object keys must be strings, got {key!r}")
            slow |= not key.isascii() and any(ord(ch) > 0xFFFF for ch in key)
            slow |= _check(item, f"{path}.{key}")
        return slow
    raise NotCanonicalizable(f"{path}: {type(value).__name__} is not JSON")


def _needs_utf16_order(value: Any) -> bool:
    """``_check`` without building paths (the common case: nothing to refuse); raises a bare
    NotCanonicalizable, which the caller replaces by ``_check``'s precise one."""
    kind = type(value)
    if kind is str or kind is bool or value is None:
        return False
    if kind is int:
        if -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
            return False
        raise NotCanonicalizable
    if kind is dict:
        slow = False
        for key, item in value.items():
            if type(key) is not str:
                raise NotCanonicalizable
            if not key.isascii():
                slow |= any(ord(ch) > 0xFFFF for ch in key)
            slow |= _needs_utf16_order(item)
        return slow
    if kind is list or kind is tuple:
        slow = False
        for item in value:
            slow |= _needs_utf16_order(item)
        return slow
    raise NotCanonicalizable


def canonical_json(value: Any) -> bytes:
    """The RFC 8785 bytes of ``value``; raises ``NotCanonicalizable`` for what cannot be signed."""
    try:
        try:
            slow = _needs_utf16_order(value)
        except NotCanonicalizable:
            slow = _check(value, "$")  # raises with the path to the offending value
        if slow:
            return bytes(rfc8785.dumps(value))
        return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    except UnicodeEncodeError as exc:
        raise NotCanonicalizable("strings must be valid Unicode (no lone surrogates)") from exc
    except rfc8785.CanonicalizationError as exc:
        raise NotCanonicalizable(str(exc)) from exc
