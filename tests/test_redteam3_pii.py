"""Red team, issue #11 item 5: a GB 11643 ID number or a mobile number written the way people
write them (grouped with spaces or dashes, glued to a word, split by an invisible character,
in another script's digits) slipped past the personal-data check into a block. Each is a
field a user or an agency system fills in: an operator id, a case id, a nonce, an agency's
name, a key's name. Each must be refused at admission and make a block carrying it invalid
(``stateless_checks`` is that one check), and hex digests and ids must still never trip it."""

import uuid
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contracts.personal_data import check_digit, found_in, may_hold
from contracts.rules import stateless_checks
from contracts.tx import Transaction
from tests.tx_examples import EXAMPLES, full_body
from tlog.note import Signer

ID_NUMBER = "33082419380917002" + check_digit("33082419380917002")
ID_X = "11010519491231002X"
MOBILE = "13912345678"
ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")
DEVANAGARI = str.maketrans("0123456789", "०१२३४५६७८९")


def _key(name: str) -> str:
    return Signer(name, b"\x07" * 32).verifier().encode()


def _tx(tx_type: str, i: int, change: dict[str, Any], where: tuple[str, ...] = ()) -> Transaction:
    signer, fields = EXAMPLES[tx_type][i]
    body = full_body(tx_type, signer, fields)
    target = body
    for name in where:
        target[name] = dict(target[name])
        target = target[name]
    target.update(change)
    return Transaction(body, b"\xab" * 64)


ATTACKS: list[tuple[str, Transaction]] = [
    # glued to a word (the check only counted numbers standing alone, for hex digests' sake)
    (
        "operator id ID<number>",
        _tx("consent.grant_assisted", 0, {"operator_id": "ID" + ID_NUMBER}, ("assisted",)),
    ),
    (
        "operator id zhang<number>x",
        _tx("consent.grant_assisted", 0, {"operator_id": "zhang" + ID_X.lower()}, ("assisted",)),
    ),
    ("case id tel<mobile>", _tx("health.request", 0, {"case_id": "tel" + MOBILE})),
    ("case id <mobile>zhang", _tx("pension.apply", 0, {"case_id": MOBILE + "zhang"})),
    ("key name zhangsan<mobile>", _tx("resident.enroll", 0, {"key": _key("zhangsan" + MOBILE)})),
    # grouped with separators, as numbers are printed on cards and forms
    ("nonce 139-1234-5678", _tx("anchor", 0, {"nonce": "139-1234-5678"})),
    (
        "nonce 330824-19380917-002x",
        _tx("anchor", 0, {"nonce": f"{ID_NUMBER[:6]}-{ID_NUMBER[6:14]}-{ID_NUMBER[14:]}"}),
    ),
    ("consent id tel-139-1234-5678", _tx("consent.grant", 0, {"consent_id": "tel-139-1234-5678"})),
    ("locator vault:139-1234-5678", _tx("health.release", 0, {"locator": "vault:139-1234-5678"})),
    (
        "agency name with 139 1234 5678",
        _tx(
            "governance.propose", 0, {"name": "常山县人民医院 联系电话 139 1234 5678"}, ("agency",)
        ),
    ),
    (
        "agency name with +86 139-1234-5678",
        _tx("governance.propose", 0, {"name": "医院(+86 139-1234-5678)"}, ("agency",)),
    ),
    (
        "agency name with an ideographic-space grouped ID",
        _tx(
            "governance.propose",
            0,
            {"name": f"院长{ID_X[:6]}\u3000{ID_X[6:14]}\u3000{ID_X[14:]}"},
            ("agency",),
        ),
    ),
    # split by an invisible character, or written in another script's digits
    (
        "agency name, ID split by a zero-width space",
        _tx(
            "governance.propose", 0, {"name": ID_NUMBER[:9] + "\u200b" + ID_NUMBER[9:]}, ("agency",)
        ),
    ),
    (
        "agency name, mobile split by a word joiner",
        _tx(
            "governance.propose",
            0,
            {"name": "电话" + MOBILE[:3] + "\u2060" + MOBILE[3:]},
            ("agency",),
        ),
    ),
    (
        "agency name, ID in Arabic-Indic digits",
        _tx("governance.propose", 0, {"name": ID_NUMBER.translate(ARABIC_INDIC)}, ("agency",)),
    ),
    (
        "key name, mobile in Devanagari digits",
        _tx("resident.enroll", 0, {"key": _key("tel" + MOBILE.translate(DEVANAGARI))}),
    ),
]


@pytest.mark.parametrize(("name", "tx"), ATTACKS, ids=[a[0] for a in ATTACKS])
def test_a_personal_number_however_written_is_refused_and_invalidates_a_block(
    name: str, tx: Transaction
) -> None:
    problem = stateless_checks(tx)  # admission's 400 and block validation alike
    assert problem is not None and problem.code == "personal_data", (name, problem)
    assert problem.invalidates_block
    assert ID_NUMBER not in problem.message and MOBILE not in problem.message
    assert may_hold(tx.encode()), name  # the fast check lets it through to the full one


def test_harmless_strings_still_pass() -> None:
    """What the tightened check must still let through: ids, times, digests, hex glued to
    hex letters, dates and small numbers grouped with dashes."""
    for harmless in (
        "ab" + ID_NUMBER,
        "fe" + MOBILE,
        "share-9f3a1c2e",
        "pension-" + "1" * 8,
        "op-0042",
        "node-330825",
        "2026-05-28",
        "1779933600000",
        "http://10.0.0.9:8700",
        "hosp-330824",
        "kh-counter-07",
        "12912345678",
        "139123456789",
        "1 2 3 4 5 6 7 8 9 0 1",
        "550e8400-e29b-41d4-a716-446655440000",
        "常山县人民医院",
    ):
        assert found_in(harmless) is None, harmless


@settings(max_examples=500, deadline=None)
@given(st.integers(min_value=0, max_value=2**128 - 1).map(lambda n: uuid.UUID(int=n)))
def test_uuids_never_look_like_personal_numbers(value: uuid.UUID) -> None:
    assert found_in(str(value)) is None and found_in(f"case-{value}") is None


@settings(max_examples=500, deadline=None)
@given(st.binary(min_size=4, max_size=16), st.sampled_from(["share-", "pension-", "consent-", ""]))
def test_ids_of_a_prefix_and_random_hex_never_trip(raw: bytes, prefix: str) -> None:
    """How the SDK and the demo make ids and nonces (``secrets.token_hex``)."""
    assert found_in(prefix + raw.hex()) is None
