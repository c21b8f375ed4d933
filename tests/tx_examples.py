"""One well-formed body of every transaction type, with who signs it: for the shape and
personal-data tests. Agencies and validators are those of a demo network (``shanhe init``)
and of ``tests/contract_world.py`` alike."""

import hashlib
from typing import Any

from tlog.note import Signer

RESIDENT = hashlib.sha256(b"example resident").hexdigest()
ME = f"resident:{RESIDENT}"
T = 1_779_933_600_000
DAY_MS = 86_400_000


def _h(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _key(name: str) -> str:
    return Signer(name, hashlib.sha256(name.encode()).digest()).verifier().encode()


CALENDAR_2027 = {
    "year": 2027,
    "holidays": ["2027-01-01", "2027-02-06", "2027-02-07", "2027-02-08", "2027-02-09"],
    "workdays": ["2027-02-20"],
    "notice": {
        "issuer": "state_council_general_office",
        "date": "2026-11-04",
        "document": "国办发明电〔2026〕9号",
    },
}
"""A made-up arrangement for 2027 (its notice is not out yet): a shape, not the law."""

ASSISTED = {
    "channel": "counter",
    "operator_id": "kh-counter-07",
    "verification_method": "id_card_reader",
    "verification_result": "verified",
    "form_hash": _h("form"),
}
NOTICE = {"hash": _h("notice shown"), "version": "notice-2026-1"}
"""The notice a consent says the resident was shown: its code and its text's hash."""
CONSENT = {
    "consent_id": "c-1",
    "grantor": {"type": "self"},
    "basis": {"type": "consent"},
    "notice": NOTICE,
    "separate": True,
    "purpose": "COC",
    "data_classes": ["test_result"],
    "source": "hosp-330824",
    "recipient": "hosp-330881",
    "valid_from_ms": T,
    "valid_until_ms": T + 30 * DAY_MS,
}
INFO = {
    "contribution_months": _h("months"),
    "individual_account_fen": _h("account"),
    "pooled_fund_fen": _h("pooled"),
}
RECORD_ONLY = {k: v for k, v in INFO.items() if k != "pooled_fund_fen"}
"""A 信息表 within one pooling area (or a scheme link): no pooled fund moves."""

EXAMPLES: dict[str, list[tuple[str, dict[str, Any]]]] = {
    "anchor": [("hosp-330881", {"sha256": _h("document")})],
    "resident.enroll": [
        ("ssb-330825", {"pseudonym": RESIDENT, "key": _key("resident"), "age_class": "adult"}),
        (
            "ssb-330825",
            {
                "pseudonym": RESIDENT,
                "key": _key("child"),
                "age_class": "under_14",
                "class_ends": "2030-02-01",
            },
        ),
    ],
    "resident.rotate_key": [
        (ME, {"key": _key("resident-2")}),
        ("ssb-330802", {"pseudonym": RESIDENT, "key": _key("resident-3"), "assisted": ASSISTED}),
    ],
    "resident.erase": [(ME, {}), ("ssb-330825", {"pseudonym": RESIDENT})],
    "consent.grant": [
        (ME, CONSENT),
        # a delegate (or a guardian) signs for the resident she acts for (#13)
        (
            f"resident:{_h('daughter')}",
            {**CONSENT, "on_behalf_of": RESIDENT, "grantor": {"type": "proxy"}},
        ),
    ],
    "consent.grant_assisted": [
        (
            "hosp-330824",
            {
                **CONSENT,
                "resident": RESIDENT,
                "assisted": ASSISTED,
                "grantor": {"type": "proxy", "authorization_hash": _h("letter")},
            },
        ),
    ],
    "consent.withdraw": [
        (ME, {"consent_id": "c-1"}),
        ("hosp-330824", {"consent_id": "c-1", "assisted": ASSISTED}),
    ],
    "health.request": [
        (
            "hosp-330881",
            {
                "case_id": "s-1",
                "resident": RESIDENT,
                "source": "hosp-330824",
                "data_class": "test_result",
                "purpose": "TREAT",
            },
        ),
    ],
    "health.authorize": [
        (ME, {"case_id": "s-1", "consent_id": "c-1"}),
        # a test result between designated hospitals, on its statute (no consent)
        (
            "hosp-330824",
            {
                "case_id": "s-1",
                "basis": {"type": "statutory", "citation": "浙江省医疗保障条例 art. 40"},
            },
        ),
    ],
    "health.emergency": [
        (
            "hosp-330881",
            {
                "emergency_id": "em-1",
                "resident": RESIDENT,
                "source": "hosp-330824",
                "data_classes": ["test_result", "health_file_summary"],
                "reason": "unconscious",
            },
        ),
    ],
    "basis.record": [
        (
            "ssb-330825",
            {
                "basis_id": "b-1",
                "resident": RESIDENT,
                "citation": "gbf_2009_66",
                "data_classes": ["pension_account", "contribution_history"],
            },
        ),
    ],
    "health.release": [
        ("hosp-330824", {"case_id": "s-1", "commitment": _h("payload"), "locator": "vault:ab12"})
    ],
    "health.access": [("hosp-330881", {"case_id": "s-1"})],
    "pension.apply": [
        (
            ME,
            {
                "case_id": "p-1",
                "kind": "inter_area",
                "from_agency": "ssb-330825",
                "to_agency": "ssb-330802",
            },
        ),
        (
            "ssb-330825",
            {
                "case_id": "p-1",
                "kind": "intra_area",
                "resident": RESIDENT,
                "from_agency": "ssb-330825",
                "to_agency": "ssb-330802",
            },
        ),
        (
            "ssb-330802",
            {
                "case_id": "p-1",
                "kind": "scheme_link",
                "direction": "employee_to_resident",
                "resident": RESIDENT,
                "from_agency": "ssb-330802",
                "to_agency": "ssb-330802",
            },
        ),
    ],
    "pension.accept": [("ssb-330802", {"case_id": "p-1", "letter_commitment": _h("letter")})],
    "pension.reject": [
        ("ssb-330802", {"case_id": "p-1", "reason": "no_contribution_record"}),
        ("ssb-330802", {"case_id": "p-1", "reason": "other", "note_hash": _h("note")}),
    ],
    "pension.transfer_out": [
        ("ssb-330825", {"case_id": "p-1", "info_commitments": INFO}),
        ("ssb-330825", {"case_id": "p-1", "info_commitments": RECORD_ONLY}),
    ],
    "pension.complete": [("ssb-330802", {"case_id": "p-1", "received_commitments": INFO})],
    "pension.withdraw": [(ME, {"case_id": "p-1"})],
    "governance.propose": [
        (
            "ssb-330825",
            {
                "proposal_id": "g-1",
                "action": "add_agency",
                "agency": {
                    "id": "hosp-330822",
                    "name": "常山县人民医院",
                    "division": "330822",
                    "kind": "hospital",
                    "roles": ["health", "counter"],
                    "key": _key("hosp-330822"),
                },
            },
        ),
        (
            "ssb-330825",
            {"proposal_id": "g-2", "action": "remove_agency", "agency": {"id": "hosp-330802"}},
        ),
        (
            "ssb-330825",
            {
                "proposal_id": "g-3",
                "action": "rotate_agency_key",
                "agency": {"id": "hosp-330802", "key": _key("hosp-330802-2")},
            },
        ),
        (
            "ssb-330825",
            {
                "proposal_id": "g-4",
                "action": "add_validator",
                "validator": {
                    "name": "node-9",
                    "key": _key("node-9"),
                    "url": "http://10.0.0.9:8700",
                },
            },
        ),
        (
            "ssb-330825",
            {"proposal_id": "g-5", "action": "remove_validator", "validator": {"name": "node-1"}},
        ),
        (
            "ssb-330825",
            {
                "proposal_id": "g-6",
                "action": "rotate_validator_key",
                "validator": {"name": "node-1", "key": _key("node-1")},
            },
        ),
        (
            "ssb-330825",
            {
                "proposal_id": "g-7",
                "action": "set_calendar",
                "calendar": CALENDAR_2027,
            },
        ),
        (
            "ssb-330825",
            {
                "proposal_id": "g-9",
                "action": "set_emergency_limit",
                "emergency_limit": {"agency": "hosp-330881", "max_per_day": 3},
            },
        ),
        (
            "ssb-330825",
            {
                "proposal_id": "g-8",
                "action": "set_agency_roles",
                "agency": {"id": "hosp-330824", "roles": ["health", "counter"]},
            },
        ),
    ],
    "governance.approve": [("ssb-330802", {"proposal_id": "g-1"})],
    "proof.issue": [
        (
            "ssb-330825",
            {
                "proof_id": "pf-330825-0001",
                "resident": RESIDENT,
                "scheme": "employee_pension",
                "expires_ms": T + 90 * DAY_MS,
                "commitment": _h("proof content"),
            },
        ),
        (
            "hsa-330825",
            {
                "proof_id": "pf-hsa-0001",
                "resident": RESIDENT,
                "scheme": "resident_medical",
                "expires_ms": T + 90 * DAY_MS,
                "commitment": _h("proof content 2"),
            },
        ),
    ],
    "proof.revoke": [("ssb-330825", {"proof_id": "pf-330825-0001", "reason": "issued_in_error"})],
    "access.refused": [
        (
            "node:node-1",
            {
                "resident": RESIDENT,
                "agent": "hosp-330802",
                "entity": "s-1",
                "data_class": "test_result",
                "purpose": "api health.case",
                "reason": "not_party",
            },
        ),
        (
            "node:node-1",
            {
                "resident": RESIDENT,
                "agent": ME,
                "entity": "resident.access_log",
                "data_class": "-",
                "purpose": "TREAT",
                "reason": "not_own_data",
            },
        ),
    ],
    "guardian.record": [
        (
            "ssb-330825",
            {
                "guardianship_id": "g-1",
                "resident": RESIDENT,
                "guardian": _h("mother"),
                "basis": "parent",
                "document": {"kind": "birth_certificate", "hash": _h("出生医学证明")},
                "valid_until_ms": T + 3650 * DAY_MS,
                "assisted": ASSISTED,
            },
        ),
        (
            "hosp-330824",
            {
                "guardianship_id": "g-2",
                "resident": RESIDENT,
                "guardian": _h("son"),
                "basis": "adult_incapacity",
                "document": {"kind": "court_judgment", "hash": _h("判决书")},
                "capacity": "none",
                "valid_until_ms": T + 3650 * DAY_MS,
                "assisted": ASSISTED,
            },
        ),
    ],
    "guardian.revoke": [
        ("ssb-330825", {"guardianship_id": "g-1", "reason": "court_ended", "assisted": ASSISTED})
    ],
    "delegation.grant": [
        (
            ME,
            {
                "delegation_id": "d-1",
                "delegate": _h("daughter"),
                "actions": ["consent.grant", "consent.withdraw"],
                "data_classes": ["test_result", "health_file_summary"],
                "valid_until_ms": T + 180 * DAY_MS,
            },
        )
    ],
    "delegation.grant_assisted": [
        (
            "ssb-330825",
            {
                "delegation_id": "d-2",
                "resident": RESIDENT,
                "delegate": _h("daughter"),
                "actions": ["pension.apply", "pension.withdraw"],
                "data_classes": ["pension_account"],
                "valid_until_ms": T + 90 * DAY_MS,
                "document_hash": _h("委托书"),
                "assisted": ASSISTED,
            },
        )
    ],
    "delegation.revoke": [
        (ME, {"delegation_id": "d-1"}),
        (f"resident:{_h('daughter')}", {"delegation_id": "d-1"}),
        ("ssb-330825", {"delegation_id": "d-2", "assisted": ASSISTED}),
    ],
    "access.read": [
        (
            "node:node-1",
            {
                "resident": RESIDENT,
                "agent": "hosp-330881",
                "entity": "s-1",
                "data_class": "test_result",
                "purpose": "api health.case",
            },
        ),
    ],
    "rights.copy_request": [(ME, {"request_id": "copy-2026-0001"})],
    "rights.correct_request": [
        (
            ME,
            {
                "request_id": "corr-2026-0001",
                "agency": "hosp-330824",
                "record": {"type": "health_case", "id": "s-1"},
                "ground": "inaccurate",
                "content_commitment": _h("the corrected text, with evidence"),
            },
        ),
        (
            ME,
            {
                "request_id": "corr-2026-0002",
                "agency": "ssb-330825",
                "record": {"type": "enrollment"},
                "ground": "outdated",
                "content_commitment": _h("the new household register page"),
            },
        ),
    ],
    "rights.correct_decide": [
        (
            "hosp-330824",
            {"request_id": "corr-2026-0001", "decision": "refused", "reason": "record_accurate"},
        ),
        (
            "ssb-330825",
            {"request_id": "corr-2026-0002", "decision": "accepted"},
        ),
    ],
}


def full_body(
    tx_type: str, signer: str, fields: dict[str, Any], chain_id: str = "c"
) -> dict[str, Any]:
    return {"type": tx_type, "chain_id": chain_id, "signer": signer, "nonce": "n-1", **fields}


def string_paths(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[tuple[Any, ...], str]]:
    """Every string of a JSON value, keys included: (path, "value" or "key")."""
    out: list[tuple[tuple[Any, ...], str]] = []
    if isinstance(value, str):
        out.append((path, "value"))
    elif isinstance(value, dict):
        for k, v in value.items():
            out.append(((*path, k), "key"))
            out += string_paths(v, (*path, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += string_paths(v, (*path, i))
    return out


def replaced(value: Any, path: tuple[Any, ...], where: str, new: str) -> Any:
    """A copy of ``value`` with the string at ``path`` (or the key naming it) set to ``new``."""
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(value, list):
        return [replaced(v, rest, where, new) if i == head else v for i, v in enumerate(value)]
    assert isinstance(value, dict)
    if where == "key" and not rest:
        return {(new if k == head else k): v for k, v in value.items()}
    return {k: (replaced(v, rest, where, new) if k == head else v) for k, v in value.items()}
