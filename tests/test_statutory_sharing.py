"""Test results shared between designated hospitals on their statutory basis (#12 item 4;
浙江省医疗保障条例 art. 40): authorized by the source hospital citing the statute instead of a
consent, only between two hospitals holding the ``designated`` role, each release and read in
the resident's access log with the citation; no consent to withdraw. Refused: a hospital that
is not designated claiming the basis, the requester authorizing its own case, the basis for a
health file summary or for a purpose it does not cover."""

from typing import Any

import pytest

from contracts.health import case_status
from contracts.locator import derive
from tests.contract_world import DAY_MS, T0, World, access_log, h, ok, pseudonym_of, refused
from tests.tx_examples import NOTICE

P1 = pseudonym_of(1)
ART_40 = "浙江省医疗保障条例 art. 40"
STATUTE = {"type": "statutory", "citation": ART_40}


@pytest.fixture
def w() -> World:
    world = World()
    world.enroll(P1)
    return world


def request(w: World, case: str = "t-1", by: str = "hosp-330881", **change: Any) -> None:
    body = {"type": "health.request", "case_id": case, "resident": P1, "source": "hosp-330824",
            "data_class": "test_result", "purpose": "TREAT", **change}  # fmt: skip
    ok(w.submit(by, body))


def authorize(case: str = "t-1", basis: Any = STATUTE) -> dict[str, Any]:
    return {"type": "health.authorize", "case_id": case, "basis": basis}


def release(w: World, case: str = "t-1", source: str = "hosp-330824") -> Any:
    body = {"type": "health.release", "case_id": case, "commitment": h("检验报告"),
            "locator": derive(case, P1, source, h("检验报告"))}  # fmt: skip
    return w.submit(source, body)


def test_the_source_shares_a_test_result_on_the_statute_and_the_log_says_so(w: World) -> None:
    request(w)
    ok(w.submit("hosp-330824", authorize()))
    case = w.get("share/t-1")
    assert case["status"] == "AUTHORIZED" and case["basis"] == STATUTE
    assert "consent_id" not in case and case["authorized_by"] == "hosp-330824"
    ok(release(w))
    read = ok(w.submit("hosp-330881", {"type": "health.access", "case_id": "t-1"}))
    assert read.refused is None and w.get("share/t-1")["reads"] == 1
    log = access_log(w)
    assert [(e["action"], e["agent"], e["outcome"], e["basis"], e["consent_id"]) for e in log] == [
        ("E", "hosp-330824", "granted", ART_40, None),
        ("R", "hosp-330881", "granted", ART_40, None),
    ]
    # no consent's period runs out: a year on, the case still stands and still reads
    w.advance(366)
    assert ok(w.submit("hosp-330881", {"type": "health.access", "case_id": "t-1"})).refused is None
    assert case_status(w.get("share/t-1"), None, w.time_ms) == "RELEASED"


def test_a_withdrawal_of_consent_does_not_reach_a_statutory_case(w: World) -> None:
    """The resident had also consented to the same sharing, and withdraws: the statutory
    case is no consent's, and reads go on (recorded); there is nothing of it to withdraw."""
    consent = {"type": "consent.grant", "consent_id": "c-1", "grantor": {"type": "self"},
               "basis": {"type": "consent"}, "notice": NOTICE, "separate": True, "purpose": "TREAT", "data_classes": ["test_result"],
               "source": "hosp-330824", "recipient": "hosp-330881", "valid_from_ms": T0,
               "valid_until_ms": T0 + 30 * DAY_MS}  # fmt: skip
    ok(w.submit(f"resident:{P1}", consent))
    request(w)
    ok(w.submit("hosp-330824", authorize()))
    ok(release(w))
    ok(w.submit(f"resident:{P1}", {"type": "consent.withdraw", "consent_id": "c-1"}))
    assert ok(w.submit("hosp-330881", {"type": "health.access", "case_id": "t-1"})).refused is None
    assert access_log(w)[-1]["basis"] == ART_40
    # nor may the resident tie her (withdrawn) consent to the authorized case instead
    refused(
        w.submit(f"resident:{P1}", {"type": "health.authorize", "case_id": "t-1",
                                    "consent_id": "c-1"}),
        "wrong_state",
    )  # fmt: skip


def test_a_hospital_that_is_not_designated_cannot_claim_the_basis(w: World) -> None:
    """Threat model: hosp-330802 holds no ``designated`` role. As the requester its case is
    refused by the source's authorization (``not_designated``); as a source it may not sign
    one (``wrong_signer``)."""
    request(w, "t-2", by="hosp-330802")
    refused(w.submit("hosp-330824", authorize("t-2")), "not_designated")
    request(w, "t-3", source="hosp-330802")
    out = refused(w.submit("hosp-330802", authorize("t-3")), "wrong_signer")
    assert "designated" in out.message
    assert w.get("share/t-2")["status"] == w.get("share/t-3")["status"] == "REQUESTED"
    assert access_log(w) == []


def test_only_the_source_authorizes_on_the_statute(w: World) -> None:
    """The requester never authorizes its own case, on any basis; nor the resident or a
    counter on a statute (theirs is the consent path); nor a designated hospital that is not
    the case's source."""
    request(w)
    for signer in ("hosp-330881", f"resident:{P1}", "hsa-330800", "hosp-330802"):
        refused(w.submit(signer, authorize()), "wrong_signer")
    assert w.get("share/t-1")["status"] == "REQUESTED"


@pytest.mark.parametrize(
    ("data_class", "source", "purpose"),
    [
        ("health_file_summary", "hosp-330824", "TREAT"),  # no statute shares a health file
        ("test_result", "hosp-330824", "HPAYMT"),  # the statute is for care, not payment
    ],
)
def test_the_statute_covers_test_results_for_care_only(
    w: World, data_class: str, source: str, purpose: str
) -> None:
    request(w, data_class=data_class, source=source, purpose=purpose)
    refused(w.submit(source, authorize()), "statutory_basis_not_allowed")


@pytest.mark.parametrize(
    "basis",
    [
        {"type": "statutory", "citation": "PIPL art. 13(3)"},  # a pension basis, not sharing
        {"type": "statutory", "citation": "浙江省医疗保障条例 art. 17"},
        {"type": "consent", "citation": ART_40},
        {"type": "statutory"},
        {"type": "statutory", "citation": ART_40, "note": "x"},
        ART_40,
    ],
)
def test_only_a_listed_statute_is_a_basis(w: World, basis: Any) -> None:
    request(w)
    refused(w.submit("hosp-330824", authorize(basis=basis)), "bad_field")
    both = {**authorize(), "consent_id": "c-1"}
    refused(w.submit("hosp-330824", both), "bad_field")
    assert w.get("share/t-1")["status"] == "REQUESTED"


def test_reads_stop_once_a_party_is_no_longer_designated(w: World) -> None:
    """The basis holds while both are designated institutions: once the source leaves the
    network, a later read is refused and recorded, with the citation."""
    request(w)
    ok(w.submit("hosp-330824", authorize()))
    ok(release(w))
    remove = {"type": "governance.propose", "proposal_id": "g-rm", "action": "remove_agency",
              "agency": {"id": "hosp-330824"}}  # fmt: skip
    ok(w.submit("ssb-330825", remove))
    for member in ("ssb-330802", "ssb-330803"):
        ok(w.submit(member, {"type": "governance.approve", "proposal_id": "g-rm"}))
    assert w.get("agency/hosp-330824")["status"] != "active"
    read = ok(w.submit("hosp-330881", {"type": "health.access", "case_id": "t-1"}))
    assert read.refused == "not_designated"
    assert access_log(w)[-1]["reason"] == "not_designated" and access_log(w)[-1]["basis"] == ART_40


def test_a_replay_computes_the_same_state(w: World) -> None:
    request(w)
    ok(w.submit("hosp-330824", authorize()))
    ok(release(w))
    ok(w.submit("hosp-330881", {"type": "health.access", "case_id": "t-1"}))
    assert w.replay().root == w.root
