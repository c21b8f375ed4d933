import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from signing.canonical import NotCanonicalizable, canonical_json

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53) + 1, 2**53 - 1) | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4)
    ),
    max_leaves=20,
)


def test_rfc8785_key_order_and_no_whitespace() -> None:
    assert canonical_json({"b": 1, "a": [True, None, "é"], "": {}}) == (
        '{"":{},"a":[true,null,"é"],"b":1}'.encode()
    )


@given(json_values)
def test_canonical_bytes_are_stable_json(value: object) -> None:
    encoded = canonical_json(value)
    assert json.loads(encoded) == value
    assert canonical_json(json.loads(encoded)) == encoded


@pytest.mark.parametrize(
    "value", [1.5, {"amount": 0.1}, [1, 2.0], {1: "x"}, b"bytes", 2**60, {"x": {1, 2}}]
)
def test_unsignable_values_are_refused(value: object) -> None:
    with pytest.raises(NotCanonicalizable):
        canonical_json(value)


any_text = st.text(st.characters(codec="utf-8"))
wide_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53) + 1, 2**53 - 1) | any_text,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(any_text, children, max_size=5)
    ),
    max_leaves=25,
)


@given(wide_values)
def test_fast_path_agrees_with_the_rfc8785_package(value: object) -> None:
    import rfc8785

    assert canonical_json(value) == bytes(rfc8785.dumps(value))  # type: ignore[arg-type]


def test_keys_beyond_the_bmp_sort_by_utf16() -> None:
    # U+1F600 is D83D DE00 in UTF-16, so it sorts before U+FF21 although its code point is higher
    assert canonical_json({"\uff21": 1, "\U0001f600": 2}) == '{"\U0001f600":2,"\uff21":1}'.encode()


def test_lone_surrogates_are_refused() -> None:
    with pytest.raises(NotCanonicalizable):
        canonical_json({"x": "\ud800"})


def test_refusals_name_the_offending_path() -> None:
    with pytest.raises(NotCanonicalizable, match=r"\$\.a\[1\]\.b: floats"):
        canonical_json({"a": [0, {"b": 0.5}]})


@given(st.dictionaries(any_text, wide_values, max_size=5), st.binary(min_size=64, max_size=64))
def test_a_transactions_envelope_bytes_are_its_rfc8785_encoding(
    body: dict[str, object], signature: bytes
) -> None:
    from contracts.tx import Transaction

    tx = Transaction(body, signature)
    assert tx.encode() == canonical_json(tx.to_json())


def _nested(levels: int, leaf: object = 1) -> object:
    value = leaf
    for _ in range(levels):
        value = {"a": [value]}
    return value


def test_deep_values_are_refused_without_recursion() -> None:
    with pytest.raises(NotCanonicalizable, match="nested deeper than"):
        canonical_json(_nested(50_000))  # 100,000 levels: no RecursionError
    with pytest.raises(NotCanonicalizable, match=r"\$\.a\[0\]\.a: nested deeper than 3"):
        canonical_json(_nested(2), max_depth=3)
    assert canonical_json(_nested(2), max_depth=4) == b'{"a":[{"a":[1]}]}'


def test_items_are_bounded() -> None:
    assert canonical_json({"a": [1, 2], "b": {}}, max_items=4) == b'{"a":[1,2],"b":{}}'
    with pytest.raises(NotCanonicalizable, match="more than 3 items"):
        canonical_json({"a": [1, 2], "b": {}}, max_items=3)
