"""Statutory bases kept apart from consents (#13 item 5; PIPL art. 13(1)(3)): recorded by the
agency holding the duty with a citation code, never withdrawn, shown to the resident. A
consent.grant can no longer carry one. The attacks first."""

from typing import Any

import pytest

from contracts.vocabulary import STATUTORY_BASES
from tests.contract_world import DAY_MS, T0, World, access_log, ok, pseudonym_of, refused
from tests.tx_examples import NOTICE

P1 = pseudonym_of(1)


@pytest.fixture
def w() -> World:
    world = World()
    world.enroll(P1)
    return world


def basis(**change: Any) -> dict[str, Any]:
    return {"type": "basis.record", "basis_id": "b-1", "resident": P1, "citation": "sil_pension",
            "data_classes": ["pension_account", "contribution_history"], **change}  # fmt: skip


def test_the_pension_bureau_records_its_duty_and_she_is_told(w: World) -> None:
    ok(w.submit("ssb-330825", basis()))
    record = w.get("basis/b-1")
    assert record["type"] == "statutory" and record["citation"] == "sil_pension"
    assert record["holder"] == "ssb-330825" and record["status"] == "in_force"
    assert w.get("consent/b-1") is None  # kept apart from consents
    entry = access_log(w)[-1]
    assert (entry["action"], entry["entity"], entry["reason"], entry["basis"]) == (
        "C", "b-1", "statutory_basis", "sil_pension")  # fmt: skip
    zh, en, _, _ = STATUTORY_BASES["sil_pension"]
    assert "社会保险法" in zh and "13(1)(3)" in en


@pytest.mark.parametrize("signer", ["hosp-330824", "hsa-330800", "audit-330800", "resident"])
def test_only_the_agency_holding_the_duty_records_it(w: World, signer: str) -> None:
    if signer == "resident":
        signer = f"resident:{P1}"
    refused(w.submit(signer, basis()), "wrong_signer")


def test_a_basis_cites_a_code_and_covers_only_its_classes(w: World) -> None:
    refused(w.submit("ssb-330825", basis(citation="PIPL art. 13(3)")), "bad_field")
    refused(w.submit("ssb-330825", basis(citation="because we say so")), "bad_field")
    refused(w.submit("ssb-330825", basis(data_classes=["test_result"])), "bad_field")
    refused(w.submit("ssb-330825", basis(resident="ab" * 32)), "unknown_resident")
    ok(w.submit("ssb-330825", basis()))
    refused(w.submit("ssb-330802", basis()), "duplicate_id")


def test_no_transaction_withdraws_a_statutory_basis(w: World) -> None:
    ok(w.submit("ssb-330825", basis()))
    me = f"resident:{P1}"
    refused(w.submit(me, {"type": "consent.withdraw", "consent_id": "b-1"}), "unknown_consent")
    assisted = {"channel": "counter", "operator_id": "op-1",
                "verification_method": "id_card_reader", "verification_result": "verified",
                "form_hash": "ab" * 32}  # fmt: skip
    refused(w.submit("ssb-330825", {"type": "consent.withdraw", "consent_id": "b-1",
                                    "assisted": assisted}), "unknown_consent")  # fmt: skip
    assert w.get("basis/b-1")["status"] == "in_force"


def test_a_consent_grant_can_no_longer_carry_a_statute(w: World) -> None:
    body = {"type": "consent.grant", "consent_id": "c-stat", "grantor": {"type": "self"},
            "basis": {"type": "statutory", "citation": "PIPL art. 13(3)"}, "notice": NOTICE,
            "separate": False, "purpose": "MEMADMIN", "data_classes": ["pension_account"],
            "source": "ssb-330825", "recipient": "ssb-330802", "valid_from_ms": T0,
            "valid_until_ms": T0 + 30 * DAY_MS}  # fmt: skip
    out = refused(w.submit(f"resident:{P1}", body), "statutory_basis_not_allowed")
    assert "basis.record" in out.message
    refused(w.submit(f"resident:{P1}", {**body, "basis": {"type": "legal_obligation"}}),
            "bad_field")  # fmt: skip
    ok(w.submit(f"resident:{P1}", {**body, "basis": {"type": "consent"}}))


def test_erasure_ends_a_basis_and_nothing_names_her_after(w: World) -> None:
    ok(w.submit("ssb-330825", basis()))
    ok(w.submit(f"resident:{P1}", {"type": "resident.erase"}))
    assert w.get("basis/b-1")["status"] == "erased"
    refused(w.submit("ssb-330825", basis(basis_id="b-2")), "resident_erased")
