"""RFC 8785 canonical JSON: the only bytes that are ever hashed or signed.

Floats are refused: amounts are integers (fen), and IEEE-754 rounding must never decide whether
a signature verifies. Without floats, RFC 8785 differs from ``json.dumps(sort_keys=True)`` only
in key order (UTF-16 code units, not code points) when a key holds a character beyond the
Basic Multilingual Plane; such values go through the ``rfc8785`` package, the rest through the
standard library's C encoder (about four times faster; tests check both agree). Values are
first walked without recursion and with a depth limit, so neither encoder ever recurses
deeper than that, whatever the caller's stack.
"""

import json
import sys
from typing import Any

import rfc8785


class NotCanonicalizable(ValueError):
    """The value cannot be signed: it holds a float, a non-string key or a foreign type."""


JSONValue = None | bool | int | str | list["JSONValue"] | dict[str, "JSONValue"]
MAX_SAFE_INTEGER = 2**53 - 1


MAX_DEPTH = 64
"""Nesting of anything signed, unless the caller asks for less: a transaction's body is held
to far less (``contracts/tx.py``), a block holds transactions two levels down."""


class _Refused(Exception):
    """Raised bare by the fast walk; ``_explain`` then finds the path and the reason."""


def _walk(value: Any, max_depth: int, max_items: int) -> bool:
    """Refuse what cannot be signed; return True if a key needs UTF-16 ordering. Iterative
    (an explicit stack), so no input can exhaust the interpreter's stack, and it stops at the
    first container past ``max_depth`` or past ``max_items`` items in all."""
    kind = type(value)
    if kind is not dict and kind is not list and kind is not tuple:
        _scalar_ok(value)
        return False
    slow, items = False, 0
    stack = [(value, 1)]
    while stack:
        container, depth = stack.pop()
        items += len(container)
        if depth > max_depth or items > max_items:
            raise _Refused
        if type(container) is dict:
            for key in container:
                if type(key) is not str:
                    raise _Refused
                if not key.isascii():
                    slow |= any(ord(ch) > 0xFFFF for ch in key)
            children = container.values()
        else:
            children = container
        for item in children:
            kind = type(item)
            if kind is str or kind is bool or item is None:
                continue
            if kind is dict or kind is list or kind is tuple:
                stack.append((item, depth + 1))
            elif kind is not int or not -MAX_SAFE_INTEGER <= item <= MAX_SAFE_INTEGER:
                raise _Refused
    return slow


def _scalar_ok(value: Any) -> None:
    kind = type(value)
    if kind is str or kind is bool or value is None:
        return
    if kind is int and -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
        return
    raise _Refused


def _explain(value: Any, max_depth: int, max_items: int) -> tuple[str | None, bool]:
    """``_walk`` again, in document order, keeping paths and accepting subclasses of the
    JSON types (a ``StrEnum`` is a string): why ``value`` is refused, with the path to the
    first offending part, or None and whether a key needs UTF-16 ordering."""
    items, slow = 0, False
    stack: list[tuple[Any, str, int]] = [(value, "$", 0)]
    while stack:
        v, path, depth = stack.pop()
        if isinstance(v, dict | list | tuple):
            if depth + 1 > max_depth:
                return f"{path}: nested deeper than {max_depth} levels", slow
            items += len(v)
            if items > max_items:
                return f"{path}: more than {max_items} items", slow
            if isinstance(v, dict):
                for key in v:
                    if not isinstance(key, str):
                        return (
                            f"{path}: object keys must be strings, not {type(key).__name__}",
                            slow,
                        )
                    slow |= any(ord(ch) > 0xFFFF for ch in key)
                children = [(item, f"{path}.{key}") for key, item in v.items()]
            else:
                children = [(item, f"{path}[{i}]") for i, item in enumerate(v)]
            stack.extend((item, p, depth + 1) for item, p in reversed(children))
        elif isinstance(v, float):
            return f"{path}: floats are not allowed in signed data, use integers", slow
        elif isinstance(v, int) and not isinstance(v, bool) and abs(v) > MAX_SAFE_INTEGER:
            return f"{path}: integer beyond 2**53 - 1 cannot be exact in JSON", slow
        elif not (v is None or isinstance(v, str | int)):
            return f"{path}: {type(v).__name__} is not JSON", slow
    return None, slow


def canonical_json(
    value: Any, *, max_depth: int = MAX_DEPTH, max_items: int = sys.maxsize
) -> bytes:
    """The RFC 8785 bytes of ``value``; raises ``NotCanonicalizable`` for what cannot be
    signed, nested deeper than ``max_depth`` (1 for ``[1]``) or holding more than
    ``max_items`` array items and object members in all."""
    try:
        slow = _walk(value, max_depth, max_items)
    except _Refused:
        why, slow = _explain(value, max_depth, max_items)
        if why is not None:
            raise NotCanonicalizable(why) from None
    try:
        if slow:
            return bytes(rfc8785.dumps(value))
        return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    except UnicodeEncodeError as exc:
        raise NotCanonicalizable("strings must be valid Unicode (no lone surrogates)") from exc
    except rfc8785.CanonicalizationError as exc:
        raise NotCanonicalizable(str(exc)) from exc
