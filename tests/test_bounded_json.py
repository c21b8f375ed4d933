"""The bounded JSON decoder: total on any bytes, exact on what it accepts, and its limits hold
however hostile the input (deep, wide, escaped, not UTF-8)."""

import json
import math
import time
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from signing.bounded_json import JsonRefused, Limits, decode

LIMITS = Limits(max_bytes=1 << 20, max_depth=32, max_items=10_000)

json_like = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=6) | st.dictionaries(st.text(), children, max_size=6)
    ),
    max_leaves=40,
)


def _nested(levels: int) -> Any:
    value: Any = []
    for _ in range(levels - 1):
        value = [value]
    return value


def _depth(value: Any) -> int:
    deepest, stack = 0, [(value, 0)]
    while stack:
        v, d = stack.pop()
        if isinstance(v, list | dict):
            deepest = max(deepest, d + 1)
            stack.extend((c, d + 1) for c in (v.values() if isinstance(v, dict) else v))
    return deepest


@settings(max_examples=300)
@given(
    st.binary(max_size=300)
    | st.text(max_size=200).map(lambda s: s.encode("utf-8", "surrogatepass"))
)
def test_any_bytes_decode_or_are_refused_never_raise(data: bytes) -> None:
    result = decode(data, LIMITS)
    if not isinstance(result, JsonRefused):
        assert json.loads(data) == result  # what is accepted is what the standard parser reads


@settings(max_examples=300)
@given(json_like, st.booleans())
def test_json_values_round_trip(value: Any, ascii_only: bool) -> None:
    data = json.dumps(value, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")
    result = decode(data, LIMITS)
    lone = isinstance(result, JsonRefused) and result.kind == "json-lone-surrogate"
    if lone:  # st.text() makes lone surrogates: they can never be signed
        with pytest.raises(UnicodeEncodeError):
            json.dumps(value, ensure_ascii=False).encode("utf-8")
        return
    assert not isinstance(result, JsonRefused), result
    assert json.dumps(result) == json.dumps(value)  # floats too, exactly


def _items(value: Any) -> int:
    """Commas and opening brackets of the value's JSON: one per container, one per item past
    each container's first."""
    count, stack = 0, [value]
    while stack:
        v = stack.pop()
        if isinstance(v, list | dict):
            count += max(len(v) - 1, 0) + 1
            stack.extend(v.values() if isinstance(v, dict) else v)
    return count


@settings(max_examples=200)
@given(json_like, st.integers(1, 6), st.integers(1, 40))
def test_depth_and_items_limits_are_exact_on_the_value(value: Any, depth: int, items: int) -> None:
    data = json.dumps(value).encode()
    deep = decode(data, Limits(1 << 20, depth, 10_000))
    assert isinstance(deep, JsonRefused) == (_depth(value) > depth)
    assert not isinstance(deep, JsonRefused) or deep.kind == "json-too-deep"
    wide = decode(data, Limits(1 << 20, 64, items))
    assert isinstance(wide, JsonRefused) == (_items(value) > items)
    assert not isinstance(wide, JsonRefused) or wide.kind == "json-too-many-items"


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (b"[" * 100_000 + b"]" * 100_000, "json-too-deep"),
        (b'{"a":' * 1_000 + b"1" + b"}" * 1_000, "json-too-deep"),
        (b'{"a":' * 100_000 + b"1" + b"}" * 100_000, "json-too-many-items"),
        (b"[" * 100_000, "json-malformed"),
        (b"[}", "json-malformed"),
        (b"]", "json-malformed"),
        (b"", "json-malformed"),
        (b"\xef\xbb\xbf{}", "json-malformed"),  # a byte-order mark
        (b'{"a": 1, "a": 2}', "json-duplicate-key"),
        (b'[{"b": {"x": 1, "x": 1}}]', "json-duplicate-key"),
        (b"NaN", "json-not-finite"),
        (b"[-Infinity]", "json-not-finite"),
        (b"[1e999]", "json-not-finite"),
        (b'"\\ud800"', "json-lone-surrogate"),
        (b'{"\\udc00": 1}', "json-lone-surrogate"),
        (b'"\xed\xa0\x80"', "json-malformed"),  # a surrogate encoded in UTF-8
        (b'"\xff"', "json-malformed"),
        ('"{}"'.encode("utf-16"), "json-malformed"),
        (b"[" + b"0," * 10_000 + b"0]", "json-too-many-items"),
        (b"[" + b'"",' * 20_000 + b'""]', "json-too-many-items"),
        (b" " * (1 << 20) + b"1", "json-too-large"),
    ],
)
def test_refusals_have_stable_kinds(data: bytes, kind: str) -> None:
    result = decode(data, LIMITS)
    assert isinstance(result, JsonRefused) and result.kind == kind, result


@pytest.mark.parametrize(
    ("data", "value"),
    [
        (b'"\\ud83d\\ude00"', "\U0001f600"),  # a surrogate pair is one character
        (b'{"a": "[[[[{{{"}', {"a": "[[[[{{{"}),  # brackets in strings are not structure
        (b'["\\\\", "\\"]", "\\\\\\""]', ["\\", '"]', '\\"']),  # escapes before quotes
        (b"[" * 32 + b"]" * 32, _nested(32)),
        (b"[1.5, -0, 2e10]", [1.5, 0, 2e10]),
        (b'"\\\\ud800"', "\\ud800"),  # an escaped backslash, not an escape
    ],
)
def test_edge_cases_that_are_json(data: bytes, value: Any) -> None:
    assert decode(data, LIMITS) == value


def test_nesting_counts_arrays_and_objects_alike() -> None:
    assert decode(b'{"a": [{"b": []}]}', Limits(100, 4, 100)) == {"a": [{"b": []}]}
    refused = decode(b'{"a": [{"b": []}]}', Limits(100, 3, 100))
    assert isinstance(refused, JsonRefused) and refused.kind == "json-too-deep"


def test_items_bound_what_decoding_builds() -> None:
    assert decode(b"[[], [], []]", Limits(100, 4, 6)) == [[], [], []]  # 2 commas, 4 opening
    refused = decode(b"[[], [], []]", Limits(100, 4, 5))
    assert isinstance(refused, JsonRefused) and refused.kind == "json-too-many-items"


@pytest.mark.parametrize(
    "data",
    [
        b'"' + b'\\"' * 500_000,  # an unterminated string of escaped quotes
        b'"' + b'\\"' * 500_000 + b"\\",
        b'"a",' * 250_000,
        b"[" * 500_000 + b"]" * 500_000,
        b"[]" * 500_000,
        b"\\" * (1 << 20),
    ],
)
def test_hostile_megabytes_take_milliseconds(data: bytes) -> None:
    start = time.perf_counter()
    result = decode(data, Limits(1 << 21, 32, 1 << 20))
    assert isinstance(result, JsonRefused)
    assert time.perf_counter() - start < 0.5  # a regex scan of these took minutes


def test_floats_are_decoded_exactly_and_finite() -> None:
    value = decode(b"[0.1, 1e308, 5e-324]", LIMITS)
    assert value == [0.1, 1e308, 5e-324] and all(math.isfinite(v) for v in value)
