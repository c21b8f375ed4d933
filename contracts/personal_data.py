"""Defense in depth: no string of a transaction (value or field name) may hold a GB 11643 ID
number or a mainland mobile number, whatever the field. Admission refuses such a transaction,
and a block carrying one is invalid, so a user's mistake never reaches the public log.

A number counts when it stands alone: not part of a longer run of letters and digits, so a
hex digest or a key, which may hold any run of digits, never trips it. Digits typed full-width
(``３３０８…``) count too (NFKC).
"""

import re
import unicodedata
from typing import Any

WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
CHECK = "10X98765432"

_IN_TEXT = re.compile(
    r"(?<![0-9A-Za-z])(?:([0-9]{17}[0-9Xx])|(?:0086|86)?(1[3-9][0-9]{9}))(?![0-9A-Za-z])"
)


def _token_table() -> bytes:
    table = bytearray(b" " * 256)
    for c in b"0123456789":
        table[c] = ord("0")
    for c in b"ABCDEFGHIJKLMNOPQRSTUVWYZabcdefghijklmnopqrstuvwyz":
        table[c] = ord("a")
    table[ord("X")] = table[ord("x")] = ord("X")
    return bytes(table)


_TOKENS = _token_table()
"""Digits to 0, X to X, other letters to a, anything else to a space: a standalone number of
``n`` digits becomes a space, ``n`` zeros and a space."""
_CANDIDATE = b" " + b"0" * 11
"""How every personal number starts (a mobile number has 11 digits, with 86 or 0086 before
it 13 or 15; an ID number 18): a standalone run of at least 11 digits."""


def check_digit(first17: str) -> str:
    """GB 11643 check character of an ID number's first 17 digits."""
    return CHECK[sum(int(d) * w for d, w in zip(first17, WEIGHTS, strict=True)) % 11]


def valid_id_number(id_number: str) -> bool:
    """18 characters: 17 ASCII digits and the check character of GB 11643 (ISO 7064 MOD 11-2)."""
    return (
        len(id_number) == 18
        and id_number[:17].isascii()
        and id_number[:17].isdigit()
        and id_number[17].upper() == check_digit(id_number[:17])
    )


def found_in(text: str) -> str | None:
    """What personal number ``text`` holds ("a GB 11643 ID number", "a mobile number"), or
    None. The number itself is never repeated: an error message may end up in a log."""
    if not text.isascii():
        text = unicodedata.normalize("NFKC", text)
    for match in _IN_TEXT.finditer(text):
        if match.group(2) is not None:
            return "a mobile number"
        if valid_id_number(match.group(1)):
            return "a GB 11643 ID number"
    return None


def found_in_json(body: Any) -> str | None:
    """The first string of a decoded JSON value (keys included) holding a personal number:
    which one and where, or None. Iterative: the value's depth does not matter."""
    stack: list[tuple[str, Any]] = [("body", body)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, str):
            if (what := found_in(value)) is not None:
                return f"{path} holds {what}"
        elif isinstance(value, dict):
            for key, item in value.items():
                if isinstance(key, str) and (what := found_in(key)) is not None:
                    return f"a field name in {path} holds {what}"
                stack.append((f"{path}.{key}", item))
        elif isinstance(value, list):
            stack.extend((f"{path}[{i}]", item) for i, item in enumerate(value))
    return None


def may_hold(encoded: bytes) -> bool:
    """False when the RFC 8785 bytes of a value surely hold no personal number: all ASCII and
    no standalone run of 11 digits or more (one outside any string, a 13-digit time, or the
    start of a hex digest may be one; ``found_in_json`` decides). About a microsecond for a
    transaction: it runs on every admission."""
    if not encoded.isascii():
        return True
    return _CANDIDATE in encoded.translate(_TOKENS)
