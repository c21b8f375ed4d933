"""Who may do what (#11 item 1): the hostile agencies' attacks of the issue, replayed with only
their own keys, must fail."""

import itertools
import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from contracts.authority import AUTHORITY, Actor, Relation, Who, permits
from contracts.locator import derive
from contracts.policy import ConsentPolicy
from contracts.rules import Rejected
from contracts.vocabulary import AGENCY_KINDS
from node.genesis import Genesis, NodeConfig
from node.network_init import init_network
from node.service import Node
from tests.contract_world import (
    AGENCIES,
    DAY_MS,
    ROLES,
    T0,
    World,
    access_log,
    h,
    ok,
    pseudonym_of,
    refused,
    seeded,
)
from tests.tx_examples import NOTICE

P1, P2 = pseudonym_of(1), pseudonym_of(2)
YEAR_MS = 365 * DAY_MS

ASSISTED = {
    "channel": "counter",
    "operator_id": "op-0042",
    "verification_method": "id_card_reader",
    "verification_result": "verified",
    "form_hash": h("signed paper form"),
}


@pytest.fixture
def w() -> World:
    world = World()
    world.enroll(P1)
    world.enroll(P2)
    return world


def consent(**change: Any) -> dict[str, Any]:
    body = {
        "type": "consent.grant",
        "consent_id": "c-1",
        "grantor": {"type": "self"},
        "basis": {"type": "consent"},
        "notice": NOTICE,
        "separate": True,
        "purpose": "COC",
        "data_classes": ["test_result"],
        "source": "hosp-330824",
        "recipient": "hosp-330881",
        "valid_from_ms": T0,
        "valid_until_ms": T0 + 30 * DAY_MS,
    }
    return {**body, **change}


def assisted(**change: Any) -> dict[str, Any]:
    return consent(type="consent.grant_assisted", resident=P1, assisted=ASSISTED, **change)


def request(case: str = "s-1", by: str = "hosp-330881", **change: Any) -> dict[str, Any]:
    return {"type": "health.request", "case_id": case, "resident": P1, "source": "hosp-330824",
            "data_class": "test_result", "purpose": "COC", **change}  # fmt: skip


INFO = {"contribution_months": h("m"), "individual_account_fen": h("a"), "pooled_fund_fen": h("f")}
PROPOSAL = {"type": "governance.propose", "proposal_id": "g-new", "action": "add_agency",
            "agency": {"id": "hosp-330822", "name": "常山县人民医院", "division": "330822",
                       "kind": "hospital", "roles": [], "key": seeded("hosp-330822").verifier().encode()}}  # fmt: skip
PROOF = {"type": "proof.issue", "proof_id": "pf-new", "resident": P1, "scheme": "employee_pension",
         "expires_ms": T0 + 90 * DAY_MS, "commitment": h("proof")}  # fmt: skip
REFUSAL = {"type": "access.refused", "resident": P1, "agent": "hosp-330802", "entity": "s-rel",
           "data_class": "test_result", "purpose": "api health.case", "reason": "not_party"}  # fmt: skip

GUARDIANSHIP = {"type": "guardian.record", "guardianship_id": "g-new", "resident": P1,
                "guardian": P2, "basis": "adult_incapacity", "capacity": "limited",
                "document": {"kind": "court_judgment", "hash": h("判决书")},
                "valid_until_ms": T0 + YEAR_MS, "assisted": ASSISTED}  # fmt: skip
DELEGATION = {"type": "delegation.grant", "delegation_id": "d-new", "delegate": pseudonym_of(3),
              "actions": ["consent.grant"], "data_classes": ["test_result"],
              "valid_until_ms": T0 + 30 * DAY_MS}  # fmt: skip

READ = {"type": "access.read", "resident": P1, "agent": "hosp-330881", "entity": "s-rel",
        "data_class": "test_result", "purpose": "api health.case"}  # fmt: skip


def test_an_auditor_cannot_withdraw_a_residents_consent(w: World) -> None:
    """The issue: an auditor agency withdrew a resident's consent."""
    ok(w.submit(f"resident:{P1}", consent()))
    withdraw = {"type": "consent.withdraw", "consent_id": "c-1", "assisted": ASSISTED}
    refused(w.submit("audit-330800", withdraw), "wrong_signer")
    refused(w.submit("audit-330881", withdraw), "wrong_signer")  # a counter role changes nothing
    assert w.get("consent/c-1")["status"] == "active"


def test_a_pension_bureau_cannot_record_a_health_consent(w: World) -> None:
    """The issue: a pension bureau recorded a health consent. A counter records consents only
    for the data classes its kind keeps, and withdraws only those too."""
    refused(w.submit("ssb-330825", assisted()), "wrong_signer")
    refused(w.submit("ssb-330825", assisted(data_classes=["health_file_summary"])), "wrong_signer")
    assert w.get("consent/c-1") is None
    # nor does a hospital counter record a pension consent
    pension = {"data_classes": ["pension_account"], "source": "ssb-330825",
               "recipient": "ssb-330802", "consent_id": "c-p"}  # fmt: skip
    refused(w.submit("hosp-330824", assisted(**pension)), "wrong_signer")
    ok(w.submit("ssb-330825", assisted(**pension)))  # its own kind: fine
    # and a bureau cannot withdraw the resident's health consent it never recorded
    ok(w.submit(f"resident:{P1}", consent()))
    withdraw = {"type": "consent.withdraw", "consent_id": "c-1", "assisted": ASSISTED}
    refused(w.submit("ssb-330825", withdraw), "wrong_signer")
    ok(w.submit("hosp-330802", withdraw))  # a hospital counter may: health classes
    assert w.get("consent/c-1")["status"] == "withdrawn"


def test_the_medical_insurance_record_is_the_medical_insurance_bureaus(w: World) -> None:
    """#12: a medical-insurance bureau (医保局) keeps the medical-insurance record and records
    consents for it; a social-security bureau keeps the pension classes only."""
    insurance = {"data_classes": ["medical_insurance_record"], "source": "hsa-330800",
                 "recipient": "hosp-330881", "consent_id": "c-mi"}  # fmt: skip
    refused(w.submit("ssb-330825", assisted(**insurance)), "wrong_signer")
    refused(w.submit("hsa-330800", assisted(consent_id="c-tr")), "wrong_signer")  # a test result
    ok(w.submit("hsa-330800", assisted(**insurance)))
    # the bureau is a source of that class, not of a test result
    ok(w.submit("hosp-330881", request("s-mi", source="hsa-330800",
                                       data_class="medical_insurance_record")))  # fmt: skip
    refused(w.submit("hosp-330881", request("s-x", source="hsa-330800")), "unknown_agency")


def test_a_primary_clinic_and_the_health_commission_hold_health_files(w: World) -> None:
    """#12: a primary clinic (基层医疗卫生机构) and the health commission's platform are
    custodians of health files: a case may ask them for one, not for a test result."""
    summary = {"data_class": "health_file_summary"}
    ok(w.submit("hosp-330881", request("s-c", source="clinic-330825", **summary)))
    ok(w.submit("hosp-330881", request("s-h", source="hc-330800", **summary)))
    refused(w.submit("hosp-330881", request("s-t", source="clinic-330825")), "unknown_agency")
    clinic = {"data_classes": ["health_file_summary"], "source": "clinic-330825",
              "recipient": "hosp-330881", "consent_id": "c-cl"}  # fmt: skip
    ok(w.submit("clinic-330825", assisted(**clinic)))
    refused(w.submit("clinic-330825", assisted(consent_id="c-t2")), "wrong_signer")
    authorize = {"type": "health.authorize", "case_id": "s-c", "consent_id": "c-cl"}
    ok(w.submit("clinic-330825", authorize))  # the counter that recorded it
    release = {"type": "health.release", "case_id": "s-c", "commitment": h("file"),
               "locator": derive("s-c", P1, "clinic-330825", h("file"))}  # fmt: skip
    ok(w.submit("clinic-330825", release))
    assert w.get("share/s-c")["status"] == "RELEASED"


def test_a_requesting_hospital_cannot_consent_for_itself_and_authorize_its_own_request(
    w: World,
) -> None:
    """The issue: a requesting hospital granted itself a ten-year assisted consent and
    authorized its own request."""
    ten_years = assisted(consent_id="c-x", valid_until_ms=T0 + 10 * YEAR_MS)
    refused(w.submit("hosp-330881", ten_years), "wrong_signer")  # no counter
    refused(w.submit("hosp-330881", {**ten_years, "valid_until_ms": T0 + DAY_MS}), "wrong_signer")
    ok(w.submit("hosp-330881", request()))
    # with a self-granted consent of the resident, still only she may authorize
    ok(w.submit(f"resident:{P1}", consent()))
    authorize = {"type": "health.authorize", "case_id": "s-1", "consent_id": "c-1"}
    refused(w.submit("hosp-330881", authorize), "wrong_signer")
    refused(w.submit("hosp-330824", authorize), "wrong_signer")  # the source did not record it
    ok(w.submit(f"resident:{P1}", authorize))


def test_a_counter_that_is_the_recipient_is_limited_and_marked(w: World) -> None:
    """Two colluding agencies, one a hospital with a counter: at most the policy's validity,
    and the record and the resident's access log say that the counter was the recipient."""
    own = assisted(consent_id="c-own", recipient="hosp-330802", valid_until_ms=T0 + 10 * YEAR_MS)
    refused(w.submit("hosp-330802", own), "validity_exceeds_policy")
    refused(
        w.submit("hosp-330802", {**own, "valid_until_ms": T0 + 30 * DAY_MS + 1}),
        "validity_exceeds_policy",
    )
    ok(w.submit("hosp-330802", {**own, "valid_until_ms": T0 + 30 * DAY_MS}))
    record = w.get("consent/c-own")
    assert record["assisted"] is True and record["counter_is_recipient"] is True
    assert record["assisted_details"]["form_hash"] == ASSISTED["form_hash"]
    [entry] = access_log(w)
    assert (entry["action"], entry["agent"], entry["entity"]) == ("C", "hosp-330802", "c-own")
    assert entry["reason"] == "counter_is_recipient"
    # a consent recorded for another hospital is not marked and not in the access log
    ok(w.submit("hosp-330824", assisted(consent_id="c-other")))
    assert w.get("consent/c-other")["counter_is_recipient"] is False and len(access_log(w)) == 1


def test_only_the_counter_that_recorded_a_consent_authorizes_with_it(w: World) -> None:
    ok(w.submit("hosp-330824", assisted(consent_id="c-a")))
    ok(w.submit("hosp-330881", request()))
    authorize = {"type": "health.authorize", "case_id": "s-1", "consent_id": "c-a"}
    refused(w.submit("hosp-330802", authorize), "wrong_signer")  # another counter
    refused(w.submit("hc-330800", authorize), "wrong_signer")
    refused(w.submit("audit-330881", authorize), "wrong_signer")
    ok(w.submit("hosp-330824", authorize))
    assert w.get("share/s-1")["authorized_by"] == "hosp-330824"


def test_assisted_steps_need_the_counter_role(w: World) -> None:
    refused(w.submit("hosp-330881", assisted(recipient="hosp-330824", source="hosp-330802")),
            "wrong_signer")  # fmt: skip
    ok(w.submit("hosp-330824", assisted(consent_id="c-a")))
    withdraw = {"type": "consent.withdraw", "consent_id": "c-a", "assisted": ASSISTED}
    refused(w.submit("hosp-330881", withdraw), "wrong_signer")  # no counter
    # a pension application on a resident's behalf: a bureau party to it, with a counter
    apply = {"type": "pension.apply", "case_id": "p-1", "kind": "inter_area", "resident": P1,
             "from_agency": "ssb-330825", "to_agency": "ssb-330802"}  # fmt: skip
    refused(w.submit("ssb-330822", apply), "wrong_signer")  # no counter
    refused(w.submit("ssb-330803", apply), "wrong_signer")  # a counter, not a party
    ok(w.submit("ssb-330802", apply))


def test_a_self_granted_consent_lasts_at_most_a_year(w: World) -> None:
    me = f"resident:{P1}"
    refused(w.submit(me, consent(valid_until_ms=T0 + YEAR_MS + 1)), "validity_exceeds_policy")
    ok(w.submit(me, consent(valid_until_ms=T0 + YEAR_MS)))


def test_an_auditor_changes_no_case(w: World) -> None:
    ok(w.submit("hosp-330881", request()))
    ok(w.submit(f"resident:{P1}", consent()))
    for body in (
        request(case="s-2"),
        {"type": "health.authorize", "case_id": "s-1", "consent_id": "c-1"},
        {"type": "health.release", "case_id": "s-1", "commitment": h("p"), "locator": "vault:1"},
        {"type": "pension.apply", "case_id": "p-1", "kind": "inter_area", "resident": P1,
         "from_agency": "ssb-330825", "to_agency": "ssb-330802"},
        assisted(consent_id="c-9"),
    ):  # fmt: skip
        for auditor in ("audit-330800", "audit-330881"):
            refused(w.submit(auditor, body), "wrong_signer")
    assert w.get("share/s-1")["status"] == "REQUESTED" and w.get("share/s-2") is None


def test_wrong_signer_is_the_tables_answer_only(w: World) -> None:
    """An agency a body names in the wrong kind is unknown_agency: wrong_signer means the
    signer, and only the authority table says it."""
    refused(w.submit("hosp-330881", request(source="ssb-330825")), "unknown_agency")
    apply = {"type": "pension.apply", "case_id": "p-1", "kind": "inter_area",
             "from_agency": "ssb-330825", "to_agency": "hosp-330824"}  # fmt: skip
    refused(w.submit(f"resident:{P1}", apply), "unknown_agency")


# ---------------------------------------------------------------- the table, exhaustively
SERVICE = {"social_security_bureau", "medical_insurance_bureau", "hospital", "primary_clinic",
           "health_commission"}  # fmt: skip
KEEPS = {  # written out here, apart from contracts/vocabulary.py
    "social_security_bureau": {"pension_account", "contribution_history"},
    "medical_insurance_bureau": {"medical_insurance_record"},  # #12: the 医保局 keeps it
    "hospital": {"health_file_summary", "test_result"},
    "primary_clinic": {"health_file_summary"},
    "health_commission": {"health_file_summary", "test_result"},
    "auditor": set(),
}
HOLDS = {"hospital", "primary_clinic", "health_commission", "medical_insurance_bureau"}
ISSUES = {"social_security_bureau", "medical_insurance_bureau"}
"""Kinds that issue proofs of insurance."""
"""Kinds that may be a sharing case's source (for some data class)."""
HOSPITAL_TYPES = {"health.request", "health.emergency"}
"""A hospital's, any hospital's: a request, or a break-glass (PIPL art. 13(1)(4))."""
RESIDENT_TYPES = {"resident.rotate_key", "resident.erase", "consent.grant", "consent.withdraw",
                  "health.authorize", "pension.apply", "pension.withdraw",
                  "rights.copy_request", "rights.correct_request", "delegation.grant",
                  "delegation.revoke"}  # fmt: skip
ACTING_TYPES = {"consent.grant", "consent.withdraw", "health.authorize", "pension.apply",
                "pension.withdraw", "rights.copy_request", "rights.correct_request"}  # fmt: skip
"""What a guardian or a delegate signs for a resident (#13): never her key or her erasure."""


def expected(tx_type: str, who: str, kind: str | None, counter: bool, rels: set[str]) -> bool:
    """What the issue asks, written out by hand, apart from contracts/authority.py."""
    if who == "validator":
        return tx_type in ("access.refused", "access.read")
    if tx_type == "health.access":  # a hospital's read: recorded, granted to the requester only
        return who == "agency" and kind == "hospital"
    if who == "resident":
        return (
            ("subject" in rels and tx_type in RESIDENT_TYPES)
            or (bool({"guardian", "delegate"} & rels) and tx_type in ACTING_TYPES)
            or (tx_type == "delegation.revoke" and "delegate" in rels)  # renounced
        )
    if tx_type == "anchor":
        return True
    if tx_type.startswith("governance."):
        return "member" in rels
    if kind not in SERVICE:  # auditors (and agencies of no known kind) change nothing
        return False
    bureau, hospital, at_counter = kind == "social_security_bureau", kind == "hospital", counter
    return {
        "resident.enroll": at_counter,
        "resident.rotate_key": at_counter and "never_keyed" in rels,
        "resident.erase": "enroller" in rels,
        "consent.grant_assisted": at_counter and "kind_classes" in rels,
        "consent.withdraw": at_counter and bool({"recording_counter", "kind_classes"} & rels),
        **dict.fromkeys(HOSPITAL_TYPES, hospital),
        "basis.record": bureau,
        "health.authorize": at_counter and "recording_counter" in rels,
        "health.release": kind in HOLDS and "source" in rels,
        "pension.apply": bureau and at_counter and bool({"from_agency", "to_agency"} & rels),
        "pension.accept": bureau and "to_agency" in rels,
        "pension.reject": bureau and "to_agency" in rels,
        "pension.transfer_out": bureau and "from_agency" in rels,
        "pension.complete": bureau and "to_agency" in rels,
        "proof.issue": kind in ISSUES,
        "proof.revoke": kind in ISSUES and "issuer" in rels,
        "rights.correct_decide": "addressee" in rels,  # the agency her request names
        "guardian.record": at_counter,
        "guardian.revoke": at_counter,
        "delegation.grant_assisted": at_counter,
        "delegation.revoke": at_counter,
    }.get(tx_type, False)


ACTORS = [
    Actor(Who.RESIDENT),
    Actor(Who.VALIDATOR),
    Actor(Who.AGENCY),  # an agency of no known kind
    *(
        Actor(Who.AGENCY, kind, frozenset(roles))
        for kind in sorted(AGENCY_KINDS)
        for roles in ((), ("counter",), ("governance",), ("counter", "governance", "health"))
    ),
]
RELATIONS = [r for r in Relation if r is not Relation.ANY]


SMALL, LARGE = 4, 2
"""Relation sets checked: every one of at most ``SMALL`` relations (a grant needs one, the
hand-written rules combine at most two) and every one missing at most ``LARGE`` (more
relations never take a permission away). All 2**14 sets took minutes once #13 added the
guardian and delegate relations."""


def relation_sets() -> list[frozenset[Relation]]:
    sizes = [n for n in range(len(RELATIONS) + 1) if n <= SMALL or n >= len(RELATIONS) - LARGE]
    return [frozenset(c) for n in sizes for c in itertools.combinations(RELATIONS, n)]


def test_every_type_every_signer_every_relation() -> None:
    """The pure table against the hand-written rules: 28 types x 27 signers x the relation sets
    (``relation_sets``); and more relations never take a permission away."""
    checked = 0
    sets = relation_sets()
    for tx_type in AUTHORITY:
        for actor in ACTORS:
            for rels in sets:
                got = permits(tx_type, actor, rels) is not None
                want = expected(
                    tx_type, actor.who.value, actor.kind, "counter" in actor.roles,
                    {r.value for r in rels},
                )  # fmt: skip
                assert got == want, (tx_type, actor, sorted(rels))
                checked += 1
    assert checked == len(AUTHORITY) * len(ACTORS) * len(sets)
    assert len(sets) == sum(
        math.comb(len(RELATIONS), n)
        for n in range(len(RELATIONS) + 1)
        if n <= SMALL or n >= len(RELATIONS) - LARGE
    )


def test_an_auditor_never_changes_a_consent_or_a_case_whatever_its_roles() -> None:
    everything = frozenset(RELATIONS)
    for roles in ((), ("counter",), ("counter", "governance", "health", "pension", "audit")):
        auditor = Actor(Who.AGENCY, "auditor", frozenset(roles))
        allowed = {t for t in AUTHORITY if permits(t, auditor, everything) is not None}
        assert allowed <= {"anchor", "health.access", "governance.propose", "governance.approve"}


def test_the_table_names_who_may_in_its_refusals(w: World) -> None:
    out = refused(w.submit("audit-330800", assisted()), "wrong_signer")
    assert "with the counter role" in out.message and "kind_classes" in out.message


# the cast of the contract world, and the scenes they play in
CAST = {
    "subject": f"resident:{P1}",
    "other resident": f"resident:{P2}",
    "requester": "hosp-330881",
    "source counter": "hosp-330824",
    "hospital counter": "hosp-330802",
    "commission counter": "hc-330800",
    "from bureau": "ssb-330825",  # enrolled the residents; recorded c-pension
    "to bureau": "ssb-330802",
    "bureau counter": "ssb-330803",
    "bureau": "ssb-330822",
    "auditor": "audit-330800",
    "auditor with counter": "audit-330881",
    "medical-insurance bureau": "hsa-330800",
    "clinic": "clinic-330825",
    "validator": "node:node-1",
}
MEMBERS = {"from bureau", "to bureau", "bureau counter", "bureau"}
Body = Callable[[str], dict[str, Any]]


def _either(resident: dict[str, Any], agency: dict[str, Any]) -> Body:
    return lambda signer: resident if signer.startswith("resident:") else agency


def _same(body: dict[str, Any]) -> Body:
    return lambda signer: body


PENSION_CONSENT = {"data_classes": ["pension_account"], "source": "ssb-330825",
                   "recipient": "ssb-330802"}  # fmt: skip
WITHDRAW = {"type": "consent.withdraw", "assisted": ASSISTED}


def _withdraw(consent_id: str) -> Body:
    return _either({"type": "consent.withdraw", "consent_id": consent_id},
                   {**WITHDRAW, "consent_id": consent_id})  # fmt: skip


def _case(tx_type: str, case: str, **fields: Any) -> Body:
    return _same({"type": tx_type, "case_id": case, **fields})


# (type, scene, the body each signer sends, {cast member: relations to the record}); the
# classes a counter's kind keeps are worked out from the record's data classes
SCENES: list[tuple[str, str, Body, dict[str, set[str]], set[str]]] = [
    ("anchor", "a document", _same({"type": "anchor", "sha256": h("doc")}), {}, set()),
    ("resident.enroll", "a new resident",
     _same({"type": "resident.enroll", "pseudonym": pseudonym_of(3), "age_class": "adult",
            "key": World().resident_key(pseudonym_of(3)).verifier().encode()}), {}, set()),
    ("resident.rotate_key", "own key, or re-keyed at a counter",
     _either({"type": "resident.rotate_key", "key": World().resident_key(P1, 7).verifier().encode()},
             {"type": "resident.rotate_key", "pseudonym": P1, "assisted": ASSISTED,
              "key": World().resident_key(P1, 7).verifier().encode()}),
     {"subject": {"subject"}, "other resident": {"subject"},
      **{name: {"never_keyed"} for name, signer in CAST.items()
         if not signer.startswith(("resident:", "node:")) and name != "from bureau"}}, set()),
    ("resident.erase", "P1", _either({"type": "resident.erase"},
                                     {"type": "resident.erase", "pseudonym": P1}),
     {"subject": {"subject"}, "other resident": {"subject"}, "from bureau": {"enroller"}}, set()),
    ("consent.grant", "own consent", _same(consent(consent_id="c-new")),
     {"subject": {"subject"}, "other resident": {"subject"}}, set()),
    ("consent.grant_assisted", "a health consent", _same(assisted(consent_id="c-new")), {},
     {"test_result"}),
    ("consent.grant_assisted", "a pension consent",
     _same(assisted(consent_id="c-new", **PENSION_CONSENT)), {}, {"pension_account"}),
    ("consent.withdraw", "P1's own consent", _withdraw("c-self"), {"subject": {"subject"}},
     {"test_result"}),
    ("consent.withdraw", "a consent of a hospital counter", _withdraw("c-counter"),
     {"subject": {"subject"}, "source counter": {"recording_counter"}}, {"test_result"}),
    ("consent.withdraw", "a consent of a bureau counter", _withdraw("c-pension"),
     {"subject": {"subject"}, "from bureau": {"recording_counter"}}, {"pension_account"}),
    ("health.request", "a new case", _same(request("s-new")), {}, set()),
    ("health.emergency", "a break-glass",
     _same({"type": "health.emergency", "emergency_id": "em-new", "resident": P1,
            "source": "hosp-330824", "data_classes": ["test_result"], "reason": "unconscious"}),
     {}, set()),
    ("basis.record", "a pension bureau's duty",
     _same({"type": "basis.record", "basis_id": "b-new", "resident": P1,
            "citation": "sil_pension", "data_classes": ["pension_account"]}), {}, set()),
    ("health.authorize", "with P1's own consent",
     _case("health.authorize", "s-req", consent_id="c-self"), {"subject": {"subject"}}, set()),
    ("health.authorize", "with a counter's consent",
     _case("health.authorize", "s-req", consent_id="c-counter"),
     {"subject": {"subject"}, "source counter": {"recording_counter"}}, set()),
    ("health.release", "an authorized case",
     _case("health.release", "s-auth", commitment=h("p"),
           locator=derive("s-auth", P1, "hosp-330824", h("p"))),
     {"source counter": {"source"}, "requester": {"requester"}, "subject": {"subject"}}, set()),
    ("health.access", "a released case", _case("health.access", "s-rel"),
     {"source counter": {"source"}, "requester": {"requester"}, "subject": {"subject"}}, set()),
    ("pension.apply", "a new transfer",
     _either({"type": "pension.apply", "case_id": "p-new", "kind": "inter_area",
              "from_agency": "ssb-330825", "to_agency": "ssb-330802"},
             {"type": "pension.apply", "case_id": "p-new", "kind": "inter_area", "resident": P1,
              "from_agency": "ssb-330825", "to_agency": "ssb-330802"}),
     {"subject": {"subject"}, "other resident": {"subject"}, "from bureau": {"from_agency"},
      "to bureau": {"to_agency"}}, set()),
    ("pension.accept", "APPLIED", _case("pension.accept", "p-applied", letter_commitment=h("l")),
     {"from bureau": {"from_agency"}, "to bureau": {"to_agency"}, "subject": {"subject"}}, set()),
    ("pension.reject", "APPLIED", _case("pension.reject", "p-applied", reason="not_transferable"),
     {"from bureau": {"from_agency"}, "to bureau": {"to_agency"}, "subject": {"subject"}}, set()),
    ("pension.transfer_out", "ACCEPTED",
     _case("pension.transfer_out", "p-accepted", info_commitments=INFO),
     {"from bureau": {"from_agency"}, "to bureau": {"to_agency"}, "subject": {"subject"}}, set()),
    ("pension.complete", "TRANSFERRED_OUT",
     _case("pension.complete", "p-out", received_commitments=INFO),
     {"from bureau": {"from_agency"}, "to bureau": {"to_agency"}, "subject": {"subject"}}, set()),
    ("pension.withdraw", "APPLIED", _case("pension.withdraw", "p-applied"),
     {"from bureau": {"from_agency"}, "to bureau": {"to_agency"}, "subject": {"subject"}}, set()),
    ("proof.issue", "a new proof", _same(PROOF), {}, set()),
    ("proof.revoke", "a bureau's proof",
     _same({"type": "proof.revoke", "proof_id": "pf-1", "reason": "issued_in_error"}),
     {"from bureau": {"issuer"}}, set()),
    ("proof.revoke", "a medical-insurance proof",
     _same({"type": "proof.revoke", "proof_id": "pf-mi", "reason": "superseded"}),
     {"medical-insurance bureau": {"issuer"}}, set()),
    ("governance.propose", "a new agency", _same(PROPOSAL),
     {m: {"member"} for m in MEMBERS}, set()),
    ("governance.approve", "an open proposal",
     _same({"type": "governance.approve", "proposal_id": "g-open"}),
     {m: {"member"} for m in MEMBERS}, set()),
    ("access.refused", "a read refused at an API", _same(REFUSAL), {}, set()),
    ("access.read", "a case file read at an API", _same(READ), {}, set()),
    ("rights.copy_request", "her copy", _same({"type": "rights.copy_request", "request_id": "cp"}),
     {"subject": {"subject"}, "other resident": {"subject"}}, set()),
    ("rights.correct_request", "a correction of her enrollment",
     _same({"type": "rights.correct_request", "request_id": "cr", "agency": "ssb-330825",
            "record": {"type": "enrollment"}, "ground": "inaccurate",
            "content_commitment": h("c")}),
     {"subject": {"subject"}, "other resident": {"subject"}}, set()),
    ("rights.correct_decide", "a correction asked of the source",
     _same({"type": "rights.correct_decide", "request_id": "r-open", "decision": "refused",
            "reason": "record_accurate"}),
     {"source counter": {"addressee"}}, set()),
    ("guardian.record", "P1's guardian, by a court's declaration", _same(GUARDIANSHIP), {}, set()),
    ("guardian.revoke", "a recorded guardianship",
     _same({"type": "guardian.revoke", "guardianship_id": "g-1", "reason": "court_ended",
            "assisted": ASSISTED}), {}, set()),
    ("delegation.grant", "to P3", _same(DELEGATION), {"subject": {"subject"},
                                                      "other resident": {"subject"}}, set()),
    ("delegation.grant_assisted", "P1's, to P3",
     _same({**DELEGATION, "type": "delegation.grant_assisted", "delegation_id": "d-new",
            "resident": P1, "document_hash": h("委托书"), "assisted": ASSISTED}), {}, set()),
    ("delegation.revoke", "P1's to P2",
     _either({"type": "delegation.revoke", "delegation_id": "d-1"},
             {"type": "delegation.revoke", "delegation_id": "d-1", "assisted": ASSISTED}),
     {"subject": {"subject"}, "other resident": {"delegate"}}, set()),
]  # fmt: skip


def _stage() -> World:
    """Every record the scenes act on, each in the state its step needs."""
    w = World()
    w.enroll(P1)
    w.enroll(P2)
    me = f"resident:{P1}"
    ok(w.submit(me, consent(consent_id="c-self")))
    ok(w.submit("hosp-330824", assisted(consent_id="c-counter")))
    ok(w.submit("ssb-330825", assisted(consent_id="c-pension", **PENSION_CONSENT)))
    for case in ("s-req", "s-auth", "s-rel"):
        ok(w.submit("hosp-330881", request(case)))
    for case in ("s-auth", "s-rel"):
        ok(w.submit(me, {"type": "health.authorize", "case_id": case, "consent_id": "c-self"}))
    ok(w.submit("hosp-330824", {"type": "health.release", "case_id": "s-rel",
                                "commitment": h("p"),
                                "locator": derive("s-rel", P1, "hosp-330824", h("p"))}))  # fmt: skip
    steps: list[tuple[str, dict[str, Any]]] = [
             ("ssb-330802", {"type": "pension.accept", "letter_commitment": h("l")}),
             ("ssb-330825", {"type": "pension.transfer_out", "info_commitments": INFO})]  # fmt: skip
    for case, done in (("p-applied", 0), ("p-accepted", 1), ("p-out", 2)):
        ok(w.submit(me, {"type": "pension.apply", "case_id": case, "kind": "inter_area",
                         "from_agency": "ssb-330825", "to_agency": "ssb-330802"}))  # fmt: skip
        for signer, step in steps[:done]:
            ok(w.submit(signer, {**step, "case_id": case}))
    ok(w.submit("ssb-330825", {**PROPOSAL, "proposal_id": "g-open"}))
    ok(w.submit("ssb-330825", {**PROOF, "proof_id": "pf-1"}))
    ok(w.submit("hsa-330800", {**PROOF, "proof_id": "pf-mi", "scheme": "resident_medical"}))
    ok(w.submit(me, {"type": "rights.correct_request", "request_id": "r-open",
                     "agency": "hosp-330824", "record": {"type": "health_case", "id": "s-req"},
                     "ground": "inaccurate", "content_commitment": h("c")}))  # fmt: skip
    w.enroll(pseudonym_of(3))
    ok(
        w.submit(
            "ssb-330802", {**GUARDIANSHIP, "guardianship_id": "g-1", "resident": pseudonym_of(3)}
        )
    )
    ok(w.submit(me, {**DELEGATION, "delegation_id": "d-1", "delegate": P2}))
    w.keys["node:node-1"] = seeded("node-1")
    return w


def _actor(name: str) -> tuple[str, str | None, bool]:
    signer = CAST[name]
    if signer.startswith("resident:"):
        return "resident", None, False
    if signer.startswith("node:"):
        return "validator", None, False
    return "agency", AGENCIES[signer], "counter" in ROLES[signer]


def test_every_type_every_signer_in_the_contracts() -> None:
    """The rules, not the table: every type in every scene it has, signed by every member of
    the cast. A signer the hand-written rules refuse gets wrong_signer; one they allow gets
    anything but (the step may still be refused for its state)."""
    stage = _stage()
    snapshot = dict(stage.state.data)
    assert {t for t, *_ in SCENES} == set(AUTHORITY)
    for tx_type, scene, body, relations, classes in SCENES:
        for name, signer in CAST.items():
            who, kind, counter = _actor(name)
            rels = set(relations.get(name, set()))
            if classes and kind is not None and classes <= KEEPS[kind]:
                rels.add("kind_classes")
            stage.state.data = dict(snapshot)
            out = stage.submit(signer, body(signer))
            allowed = expected(tx_type, who, kind, counter, rels)
            denied = isinstance(out, Rejected) and out.code == "wrong_signer"
            assert denied != allowed, (tx_type, scene, name, out)


# ---------------------------------------------------------------- the policy, from genesis
def test_the_consent_policy_is_a_genesis_parameter_the_contracts_read_from_state(
    tmp_path: Path,
) -> None:
    short = ConsentPolicy(assisted_max_ms=7 * DAY_MS, self_max_ms=90 * DAY_MS)
    w = World(policy=short)
    w.enroll(P1)
    assert w.get("policy/consent") == {"assisted_max_ms": 7 * DAY_MS, "self_max_ms": 90 * DAY_MS,
                                       "emergency_window_ms": DAY_MS}  # fmt: skip
    eight = assisted(valid_until_ms=T0 + 8 * DAY_MS)
    refused(w.submit("hosp-330824", eight), "validity_exceeds_policy")
    ok(w.submit("hosp-330824", {**eight, "valid_until_ms": T0 + 7 * DAY_MS}))
    refused(w.submit(f"resident:{P1}", consent(consent_id="c-2", valid_until_ms=T0 + 91 * DAY_MS)),
            "validity_exceeds_policy")  # fmt: skip
    # a network's genesis: the defaults, written out; its own values, read back by the node
    [config] = init_network(tmp_path / "net", 1)
    genesis = json.loads((tmp_path / "net" / "genesis.json").read_text())
    assert genesis["consent_policy"] == {"assisted_max_ms": 30 * DAY_MS, "self_max_ms": YEAR_MS,
                                         "emergency_window_ms": DAY_MS}  # fmt: skip
    genesis["consent_policy"] = short.to_json()
    (tmp_path / "net" / "genesis.json").write_text(json.dumps(genesis))
    node = Node(NodeConfig.load(config))
    try:
        assert node.committed_value("policy/consent") == short.to_json()
    finally:
        node.engine.dispose()
        node.vault.engine.dispose()
    bad_values: list[Any] = [{"assisted_max_ms": 0}, {"assisted_max_ms": "30d"}, {"forever": 1}, []]
    for bad in bad_values:
        with pytest.raises(ValueError):
            Genesis.from_json({**genesis, "consent_policy": bad})
