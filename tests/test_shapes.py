"""The shape of every transaction type (#11 item 5): each registered type has one, it is total,
it refuses what is missing, unexpected or free text, and no string of any type may hold an ID
or mobile number, whichever field it is in."""

import hashlib
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contracts.authority import AUTHORITY
from contracts.personal_data import check_digit, found_in, found_in_json, may_hold, valid_id_number
from contracts.registry import RULES
from contracts.shapes import SHAPES, malformed
from contracts.tx import Transaction
from contracts.vocabulary import PENSION_REJECTIONS, PURPOSES, VERIFICATION_METHODS
from tests.tx_examples import EXAMPLES, full_body, replaced, string_paths

ID_NUMBER = "33082419380917002" + check_digit("33082419380917002")
CASES = [(t, i) for t, examples in EXAMPLES.items() for i in range(len(examples))]


def shape_of(tx_type: str, signer: str, fields: dict[str, Any]) -> Any:
    return malformed(Transaction(full_body(tx_type, signer, fields), b""))


def test_every_type_has_a_shape_a_row_in_the_authority_table_and_an_example() -> None:
    assert set(SHAPES) == set(RULES) == set(AUTHORITY) == set(EXAMPLES)


@pytest.mark.parametrize(("tx_type", "i"), CASES)
def test_every_example_has_its_types_shape(tx_type: str, i: int) -> None:
    signer, fields = EXAMPLES[tx_type][i]
    assert shape_of(tx_type, signer, fields) is None


@pytest.mark.parametrize(("tx_type", "i"), CASES)
def test_a_missing_or_unexpected_field_is_malformed(tx_type: str, i: int) -> None:
    signer, fields = EXAMPLES[tx_type][i]
    assert shape_of(tx_type, signer, {**fields, "comment": "x"}).code == "bad_field"
    for name in fields:
        if name in ("note_hash", "capacity"):  # optional: a reason but "other"; a minor ward
            continue
        less = {k: v for k, v in fields.items() if k != name}
        assert shape_of(tx_type, signer, less).code == "bad_field", name


@pytest.mark.parametrize(("tx_type", "i"), CASES)
def test_an_id_or_mobile_number_in_any_string_of_any_type_is_personal_data(
    tx_type: str, i: int
) -> None:
    """The mistakes a user makes: a number pasted into a field, whole, inside other text,
    typed full-width, or as a field's name."""
    signer, fields = EXAMPLES[tx_type][i]
    body = full_body(tx_type, signer, fields)
    paths = string_paths(body)
    assert len(paths) >= 8  # type, chain_id, signer, nonce and their names at least
    fullwidth = ID_NUMBER.translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    for path, where in paths:
        for number in (ID_NUMBER, f"ID:{ID_NUMBER}", f"患者{fullwidth}", "+8613912345678"):
            mistake = replaced(body, path, where, number)
            problem = malformed(Transaction(mistake, b""))
            assert problem is not None and problem.code == "personal_data", (path, where, number)
            assert ID_NUMBER not in problem.message and "13912345678" not in problem.message


def test_free_text_is_not_a_code() -> None:
    signer, consent = EXAMPLES["consent.grant"][0]
    for purpose in ("continuity of care", "coc", "TREAT "):
        assert (
            shape_of("consent.grant", signer, {**consent, "purpose": purpose}).code == "bad_field"
        )
    signer, reject = EXAMPLES["pension.reject"][0]
    assert shape_of("pension.reject", signer, {**reject, "reason": "no record"}).code == "bad_field"
    other = {**reject, "reason": "other"}  # a reason in words goes to the vault: its hash here
    assert shape_of("pension.reject", signer, other).code == "bad_field"
    assert shape_of("pension.reject", signer, {**other, "note_hash": "ab" * 32}) is None
    signer, assisted = EXAMPLES["consent.grant_assisted"][0]
    how = {**assisted["assisted"], "verification_method": "second-generation ID card reader"}
    assert (
        shape_of("consent.grant_assisted", signer, {**assisted, "assisted": how}).code
        == "bad_field"
    )
    statutory = {**consent, "basis": {"type": "statutory", "citation": "because"}}
    assert (  # a statute is no consent: recorded as basis.record, with a citation code
        shape_of("consent.grant", "resident:" + "ab" * 32, statutory).code
        == "statutory_basis_not_allowed"
    )
    signer, recorded = EXAMPLES["basis.record"][0]
    assert shape_of("basis.record", signer, {**recorded, "citation": "because"}).code == "bad_field"
    signer, glass = EXAMPLES["health.emergency"][0]
    assert shape_of("health.emergency", signer, {**glass, "reason": "urgent"}).code == "bad_field"


def test_governance_shapes() -> None:
    signer, add = EXAMPLES["governance.propose"][0]
    agency = add["agency"]
    for change in (
        {"roles": ["governance"]},
        {"roles": ["counter", "counter"]},
        {"roles": ["superuser"]},
        {"kind": "auditor", "roles": ["counter"]},  # an auditor runs no counter
        {"division": "Quzhou"},
        {"name": "x" * 101},
    ):
        bad = {**add, "agency": {**agency, **change}}
        assert shape_of("governance.propose", signer, bad).code == "bad_field", change
    signer, validator = EXAMPLES["governance.propose"][3]
    for url in ("u", "ftp://a", "http://a b", "http://a/?q=1"):
        bad = {**validator, "validator": {**validator["validator"], "url": url}}
        assert shape_of("governance.propose", signer, bad).code == "bad_field", url
    wrong_name = {**validator, "validator": {**validator["validator"], "name": "node-8"}}
    assert shape_of("governance.propose", signer, wrong_name).code == "bad_field"
    signer, roles = EXAMPLES["governance.propose"][-1]
    assert (
        roles["action"] == "set_agency_roles"
        and shape_of("governance.propose", signer, roles) is None
    )
    for listed in (["governance"], ["counter", "counter"], ["superuser"], "counter", [1]):
        bad = {**roles, "agency": {**roles["agency"], "roles": listed}}
        assert shape_of("governance.propose", signer, bad).code == "bad_field", listed
    extra = {**roles, "agency": {**roles["agency"], "kind": "hospital"}}
    assert shape_of("governance.propose", signer, extra).code == "bad_field"


def test_vocabularies_have_both_labels() -> None:
    for vocabulary in (PURPOSES, PENSION_REJECTIONS, VERIFICATION_METHODS):
        for code, (zh, en) in vocabulary.items():
            assert code.isascii() and zh and not zh.isascii() and en.isascii() and en


def test_id_numbers_and_mobile_numbers() -> None:
    assert valid_id_number(ID_NUMBER) and check_digit("11010519491231002") == "X"
    assert valid_id_number("11010519491231002x") and not valid_id_number("110105194912310021")
    assert not valid_id_number("１１０１０５１９４９１２３１００２X")  # ASCII digits only
    assert found_in(ID_NUMBER) == "a GB 11643 ID number"
    assert found_in("11010519491231002X") == "a GB 11643 ID number"
    wrong_check = ID_NUMBER[:17] + ("0" if ID_NUMBER[17] != "0" else "1")
    assert found_in(wrong_check) is None
    for mobile in ("13912345678", "+86 13912345678", "8613912345678", "tel:0086-13912345678"):
        assert found_in(mobile.replace(" ", "").replace("-", "")) == "a mobile number", mobile
    for harmless in ("12912345678", "139123456789", "1779933600000", "ab" + ID_NUMBER,
                     ID_NUMBER + "0", "node-330825", "op-0042"):  # fmt: skip
        assert found_in(harmless) is None, harmless


@settings(max_examples=300, deadline=None)
@given(st.binary(min_size=32, max_size=32))
def test_digests_and_keys_never_look_like_personal_numbers(raw: bytes) -> None:
    """A number counts only standing alone, so no hex digest (however many digits it holds in
    a row) is ever refused."""
    digest = raw.hex()
    assert found_in(digest) is None and found_in(f"sha256:{digest}") is None
    assert found_in_json({"sha256": hashlib.sha256(raw).hexdigest()}) is None


def test_the_fast_check_misses_nothing_the_slow_one_finds() -> None:
    signer, fields = EXAMPLES["health.request"][0]
    body = full_body("health.request", signer, fields)
    assert not may_hold(Transaction(body, b"\xab" * 64).encode())
    for path, where in string_paths(body):
        for number in (ID_NUMBER, "13912345678", "8613912345678", "008613912345678"):
            tx = Transaction(replaced(body, path, where, number), b"\xab" * 64)
            assert may_hold(tx.encode()), (path, number)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=500, deadline=None)
@given(st.sampled_from(CASES), st.data())
def test_shapes_are_total(case: tuple[str, int], data: st.DataObject) -> None:
    """Whatever a field holds, the check answers (None or Malformed) and raises nothing."""
    tx_type, i = case
    signer, fields = EXAMPLES[tx_type][i]
    body = full_body(tx_type, signer, fields)
    paths = [p for p, where in string_paths(body) if where == "value"] + [(k,) for k in body]
    path = data.draw(st.sampled_from(paths))
    value = data.draw(json_values)
    mutated = _set(body, path, value)
    if isinstance(mutated, dict):
        malformed(Transaction(mutated, b""))


def _set(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(value, list):
        return [_set(v, rest, new) if i == head else v for i, v in enumerate(value)]
    return {**value, head: _set(value.get(head), rest, new)}
