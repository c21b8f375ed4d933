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
