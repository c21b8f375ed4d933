"""Defense in depth: no string of a transaction (value or field name) may hold a GB 11643 ID
number or a mainland mobile number, whatever the field. Admission refuses such a transaction,
and a block carrying one is invalid, so a user's mistake never reaches the public log.

A number counts as people write it: alone, grouped by spaces or dashes (``139 1234 5678``,
``330824-19380917-002X``), glued to a word (``tel13912345678``, ``ID3308…``), split by an
invisible character, or in any script's digits (full-width ``３３０８…``, Arabic-Indic …).
What never counts is a run of digits inside a hex token (letters a-f only, as in a digest,
a key id or ``secrets.token_hex``), unless it is the whole token: a digest may hold any run
of digits.
"""

import re
import unicodedata
from typing import Any

WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
CHECK = "10X98765432"

_IN_TEXT = re.compile(
    r"(?<![0-9A-Za-z])(?:([0-9]{17}[0-9Xx])|(?:0086|86)?(1[3-9][0-9]{9}))(?![0-9A-Za-z])"
)
"""A number standing alone (not part of a longer run of letters and digits)."""
_IN_WORD = re.compile(r"(?<![0-9])(?:([0-9]{17}[0-9Xx])|(?:0086|86)?(1[3-9][0-9]{9}))(?![0-9])")
"""A number inside a word that is not hex (``tel13912345678``): bounded by non-digits."""
_WORD = re.compile(r"[0-9A-Za-z]{12,}")
_NOT_HEX = re.compile(r"[G-Zg-z]")
"""A word with a letter beyond a-f is no digest, key id or hex token."""
_GROUPED = re.compile(r"(?<=[0-9])[ \-\u2010-\u2015](?=[0-9])")
"""One space or dash between two digits: how numbers are grouped on cards and forms."""


def _token_table() -> bytes:
    table = bytearray(b" " * 256)
    for c in b"0123456789":
        table[c] = ord("0")
    for c in b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz":
        table[c] = ord("a")
    for c in b"ABCDEFabcdef":
        table[c] = ord("h")
    table[ord(" ")] = table[ord("-")] = ord("-")
    return bytes(table)


_TOKENS = _token_table()
"""Digits to 0, hex letters to h, other letters to a, a space or dash to -, anything else to a
space (a word of ``found_in`` is a run of 0, h and a)."""
_RUN = b"0" * 11
_NOT_DIGITS = bytes(c for c in range(256) if not chr(c).isdigit() or c > 127)


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


def _plain(text: str) -> str:
    """NFKC (full-width to ASCII), every decimal digit as its ASCII digit, and no invisible
    format characters (zero-width space, word joiner, soft hyphen…)."""
    text = unicodedata.normalize("NFKC", text)
    out = []
    for ch in text:
        if ch.isascii():
            out.append(ch)
        elif (category := unicodedata.category(ch)) == "Nd":
            out.append(str(unicodedata.decimal(ch)))
        elif category != "Cf":
            out.append(ch)
    return "".join(out)


def _which(match: re.Match[str]) -> str | None:
    if match.group(2) is not None:
        return "a mobile number"
    if valid_id_number(match.group(1)):
        return "a GB 11643 ID number"
    return None


def found_in(text: str) -> str | None:
    """What personal number ``text`` holds ("a GB 11643 ID number", "a mobile number"), or
    None. The number itself is never repeated: an error message may end up in a log."""
    if text.isascii():
        raw = text.encode()
        if len(raw.translate(None, _NOT_DIGITS)) < 11:  # most strings: no number fits
            return None
        if not may_hold(b" " + raw + b" "):  # the rest but a few: byte searches only
            return None
    else:
        text = _plain(text)
    variants = [text]
    if (ungrouped := _GROUPED.sub("", text)) != text:
        variants.append(ungrouped)
    for variant in variants:
        for match in _IN_TEXT.finditer(variant):
            if (what := _which(match)) is not None:
                return what
        for word in _WORD.finditer(variant):
            if _NOT_HEX.search(word.group()):
                for match in _IN_WORD.finditer(word.group()):
                    if (what := _which(match)) is not None:
                        return what
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
    """False when the RFC 8785 bytes of a value surely hold no personal number, as
    ``found_in`` sees one: all ASCII, no two digits apart by one space or dash (a grouped
    number), no run of 11 digits after a space, dash or quote (the start of a standalone
    number; a 13-digit time or the start of a hex digest may be one), and none in a word with
    a letter beyond a-f. Only byte searches, linear in the input: a few microseconds for a
    transaction, as it runs on every admission before the signature is checked."""
    if not encoded.isascii():
        return True
    tokens = encoded.translate(_TOKENS)
    if b"0-0" in tokens or b" " + _RUN in tokens or b"-" + _RUN in tokens:
        return True
    words = tokens.replace(b"-", b" ")
    at = words.find(_RUN)
    while at >= 0:  # a run inside a word: a word holding a non-hex letter may hide one
        end = words.find(b" ", at)
        end = len(words) if end < 0 else end
        if b"a" in words[words.rfind(b" ", 0, at) + 1 : end]:
            return True
        at = words.find(_RUN, end)
    return False
