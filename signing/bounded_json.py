"""The one JSON decoder for bytes that enter a node: from clients, from peers, in blocks.

``json.loads`` alone is not safe on hostile bytes: nesting recurses (a deep document raises
``RecursionError``, how deep depending on the caller's own stack, so two nodes can disagree),
duplicate keys are silently merged, ``NaN`` and ``1e999`` are accepted, a lone surrogate
becomes a string that no encoder can sign, and a small document of ``[]``s grows into a great
many objects. ``decode`` checks size, the number of items and nesting on the bytes, without
recursion and before anything is built, then decodes; every failure is a ``JsonRefused``
value with a stable ``kind`` (the problem type at the HTTP edge). Pure.
"""

import json
import math
import re
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Limits:
    max_bytes: int
    max_depth: int
    """Arrays and objects nested in one another: 1 for ``[1, 2]``, 2 for ``{"a": []}``."""
    max_items: int
    """Commas and opening brackets outside strings: at least the number of array items and
    object members, so it bounds how many values decoding builds."""


@dataclass(frozen=True)
class JsonRefused:
    kind: str
    """json-too-large | json-too-many-items | json-too-deep | json-malformed |
    json-duplicate-key | json-not-finite | json-lone-surrogate"""
    message: str


class _Refusal(Exception):
    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


_BRACKETS = bytes.maketrans(b"{}", b"[]")
"""Objects nest like arrays; a crossed ``[}`` is left for the parser to refuse."""
_NOT_BRACKET = bytes(b for b in range(256) if b not in b"[]{}")
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


def _skeleton(data: bytes, max_items: int) -> bytes | None:
    """``data`` with its strings taken out (all in C: no per-character Python), or None when
    it holds more strings than ``max_items`` items can. A string is a key or a value, each
    counted as an item, so there are at most 2 x items + 1 of them."""
    # Escapes pair a backslash with the next character, left to right: drop escaped
    # backslashes, then escaped quotes; the quotes left delimit strings.
    plain = data.replace(b"\\\\", b"").replace(b'\\"', b"")
    if plain.count(b'"') > 4 * max_items + 2:
        return None
    return b"".join(plain.split(b'"')[::2])  # unterminated: the rest is dropped, and refused


def _too_deep(brackets: bytes, limit: int) -> bool | None:
    """True if the brackets (``[`` and ``]`` only) nest deeper than ``limit``, False if not,
    None if they do not balance. Each pass removes every innermost pair, one level, so
    ``limit`` passes empty any document within the limit, however deep the input: no
    recursion, and no Python code per bracket."""
    for _ in range(limit):
        if not brackets:
            return False
        shorter = brackets.replace(b"[]", b"")
        if len(shorter) == len(brackets):
            return None  # no innermost pair: unbalanced
        brackets = shorter
    return bool(brackets)


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _Refusal("json-duplicate-key", f"object key {key[:40]!r} appears twice")
            seen.add(key)
    return obj


def _constant(name: str) -> Any:
    raise _Refusal("json-not-finite", f"{name} is not JSON")


def _float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _Refusal("json-not-finite", f"{text[:40]} is out of range")
    return value


_DECODER = json.JSONDecoder(object_pairs_hook=_pairs, parse_constant=_constant, parse_float=_float)


def decode(data: bytes, limits: Limits) -> Any:
    """The JSON value of ``data`` (UTF-8, RFC 8259), or a ``JsonRefused``. Never raises."""
    if len(data) > limits.max_bytes:
        return JsonRefused("json-too-large", f"at most {limits.max_bytes} bytes")
    skeleton = _skeleton(data, limits.max_items)
    if skeleton is None:
        return JsonRefused("json-too-many-items", f"at most {limits.max_items} items")
    deeper = _too_deep(skeleton.translate(_BRACKETS, _NOT_BRACKET), limits.max_depth)
    if deeper:
        return JsonRefused("json-too-deep", f"at most {limits.max_depth} levels of nesting")
    if deeper is None:
        return JsonRefused("json-malformed", "brackets do not balance")
    if skeleton.count(b",") + skeleton.count(b"[") + skeleton.count(b"{") > limits.max_items:
        return JsonRefused("json-too-many-items", f"at most {limits.max_items} items")
    try:
        value = _DECODER.decode(data.decode("utf-8"))  # strict: no UTF-8-encoded surrogates
    except _Refusal as exc:
        return JsonRefused(exc.kind, str(exc))
    except UnicodeDecodeError:
        return JsonRefused("json-malformed", "not UTF-8")
    except (ValueError, RecursionError) as exc:  # RecursionError: not past the depth check
        return JsonRefused("json-malformed", str(exc)[:200])
    if _SURROGATE_ESCAPE.search(data) and not _encodable(value):
        return JsonRefused("json-lone-surrogate", "a \\u escape is half a surrogate pair")
    return value


def _encodable(value: Any) -> bool:
    """No lone surrogate in any string (checked only when the bytes hold such an escape)."""
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
