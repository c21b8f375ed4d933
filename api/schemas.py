"""Typed shapes of the records the API returns, for the OpenAPI document and its users.

The records themselves are written by the contracts (``docs/domain.md``); these models name
their fields and types and pass through any field a later contract version adds
(``extra="allow"``), so a document generated from them never shows an untyped object.
"""

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

PSEUDONYM = ["9f2c" + "0" * 60]


def example(**values: Any) -> ConfigDict:
    """A whole-object example for a response model's OpenAPI schema."""
    return ConfigDict(json_schema_extra={"examples": [values]})


class Record(BaseModel):
    model_config = ConfigDict(extra="allow")


class AuditEvent(Record):
    """One entry of a resident's access log, in the fields of an HL7 FHIR AuditEvent."""

    seq: int
    action: str = Field(
        description="R (read), E (release), C (a consent whose recipient may have taken it "
        "for itself: the counter that recorded it, or an agency that set the resident's key; "
        "a notice that a bureau issued her a proof of insurance, reason proof_issued), "
        "U (a case authorized for such a requester; the key re-set at a counter; a notice "
        "that the issuer revoked her proof, reason the revocation code)",
        examples=["R"],
    )
    agent: str = Field(description="who: an agency id, a resident:<pseudonym> or node:<validator>")
    on_behalf_of: str = Field(description="the resident's pseudonym", examples=PSEUDONYM)
    entity: str = Field(
        description="the case the data belongs to, or the proof of insurance's serial number",
        examples=["share-1"],
    )
    data_class: str = Field(examples=["test_result"])
    purpose: str = Field(
        description="an HL7 PurposeOfUse code (docs/domain.md), or api <action> for a read a "
        "node's API refused or, for a case file an agency read, granted",
        examples=["COC"],
    )
    consent_id: str | None = None
    basis: str | None = Field(
        default=None,
        description="the statute a release or read was made under when no consent was: a "
        "test result shared between designated hospitals (浙江省医疗保障条例 art. 40)",
        examples=["浙江省医疗保障条例 art. 40"],
    )
    outcome: str = Field(description="granted | refused", examples=["granted"])
    reason: str | None = Field(
        default=None,
        description="why refused; for a granted step: emergency (under a break-glass), "
        "statutory_basis (an agency recorded a statutory basis), and the notices above",
        examples=["consent_withdrawn"],
    )
    emergency_reason: str | None = Field(
        default=None,
        description="an emergency access (PIPL arts. 13(1)(4), 18 para 2): the break-glass's "
        "reason code (docs/domain.md), in the entries of the break-glass (action C) and of "
        "every step of its cases",
        examples=["unconscious"],
    )
    recorded_ms: int
    height: int
    acting_as: str | None = Field(
        default=None,
        description="guardian | delegate: a step another resident (the agent) took for her",
        examples=["delegate"],
    )


class Grantor(Record):
    type: str = Field(description="self | guardian | ...", examples=["self"])


class Basis(Record):
    type: str = Field(
        description="consent (a statutory basis is its own record: StatutoryBasis)",
        examples=["consent"],
    )


class StatutoryBasis(Record):
    """A statutory basis an agency recorded for the resident (``basis.record``, PIPL art.
    13(1)(3)): not a consent, never withdrawn, listed apart from her consents."""

    basis_id: str
    resident: str = Field(examples=PSEUDONYM)
    type: str = Field(examples=["statutory"])
    citation: str = Field(description="a code of STATUTORY_BASES", examples=["sil_pension"])
    citation_zh: str | None = Field(default=None, description="the citation, in Chinese")
    citation_en: str | None = Field(default=None, description="what it says, in English")
    data_classes: list[str]
    holder: str = Field(description="the agency that holds the duty", examples=["ssb-330825"])
    recorded_ms: int
    height: int
    status: str = Field(description="in_force | erased", examples=["in_force"])


class Notice(Record):
    """The notice the resident was shown (PIPL arts. 17, 23, 30); its text stays with the
    recipient or the counter, the ledger keeps its hash."""

    hash: str = Field(description="SHA-256 of the notice text, hex", examples=["ab" * 32])
    version: str = Field(description="the notice's code", examples=["notice-2026-1"])


class Consent(Record):
    """A resident's consent, in the fields of an HL7 FHIR Consent."""

    consent_id: str
    resident: str = Field(examples=PSEUDONYM)
    grantor: Grantor
    basis: Basis
    purpose: str = Field(description="an HL7 PurposeOfUse code", examples=["COC"])
    data_classes: list[str]
    source: str
    recipient: str
    recipient_contact: str | None = Field(
        default=None,
        description="the recipient's agency record (agency/<id>), its contact on record",
        examples=["agency/hosp-330881"],
    )
    notice: Notice | None = Field(default=None, description="what the resident was shown")
    separate: bool | None = Field(
        default=None, description="a separate consent (PIPL art. 29): always, for a health class"
    )
    valid_from_ms: int
    valid_until_ms: int
    status: str = Field(
        description="in force now: active, withdrawn, or expired once past valid_until_ms",
        examples=["active"],
    )
    recorded_status: str = Field(description="as the ledger recorded it", examples=["active"])
    assisted: bool = Field(description="taken at a service counter for the resident")
    assisted_details: dict[str, str] | None = Field(
        default=None, description="channel, operator, how identity was verified, form hash"
    )
    granted_by: str
    counter_is_recipient: bool = Field(
        default=False, description="an assisted consent the counter recorded for itself"
    )
    enroller_is_recipient: bool = Field(
        default=False,
        description="the recipient set the resident's key at a counter (enrolled or re-keyed "
        "them): it may have signed this itself",
    )


class PensionStage(Record):
    status: str = Field(examples=["APPLIED"])
    by: str
    at_ms: int
    height: int


class PensionBasis(Record):
    type: str = Field(examples=["statutory"])
    citation: str = Field(examples=["PIPL art. 13(3)"])
    rules: list[str] = Field(
        description="the rules the case's kind cites (docs/domain.md, pension.*)",
        examples=[["sil_art19", "sia_art12", "sia_art16", "gbf_2009_66_art8"]],
    )


class PensionCase(Record):
    """A basic-pension transfer between two social-security bureaus (or, in a scheme link,
    between the two schemes, possibly at one bureau)."""

    case_id: str
    kind: str = Field(
        description="inter_area (funds move), intra_area (relation and file only) or "
        "scheme_link (城乡居民 <-> 职工养老保险)",
        examples=["inter_area"],
    )
    direction: str | None = Field(
        default=None,
        description="a scheme link's direction: resident_to_employee or employee_to_resident",
    )
    basis: PensionBasis
    resident: str = Field(examples=PSEUDONYM)
    from_agency: str = Field(examples=["ssb-330825"])
    to_agency: str = Field(examples=["ssb-330802"])
    status: str = Field(
        description="APPLIED, ACCEPTED, TRANSFERRED_OUT, DISPUTED; closed: COMPLETED, "
        "REJECTED, WITHDRAWN",
        examples=["APPLIED"],
    )
    window: str | None = Field(
        default=None,
        description="whose step the open stage awaits: review (to_agency, 联系函), transfer "
        "(from_agency: 信息表 and funds), finish (to_agency), correct (from_agency, after a "
        "dispute); none once closed",
        examples=["review"],
    )
    window_agency: str | None = Field(default=None, examples=["ssb-330802"])
    letter_commitment: str | None = Field(default=None, description="the 联系函's hash")
    info_commitments: dict[str, str] | None = Field(
        default=None,
        description="one salted commitment per 信息表 value (contribution_months, "
        "individual_account_fen, pooled_fund_fen when funds move between areas); the values "
        "travel with the 信息表, never on the log",
    )
    mismatched: list[str] | None = Field(
        default=None, description="a dispute: the 信息表 fields whose commitments did not match"
    )
    reason: str | None = Field(default=None, description="a rejection's reason code")
    deadline_ms: int | None = Field(
        description="end (24:00 CST) of the stage's 15 working days (国办发〔2009〕66号 art. 8; "
        "人社部发〔2014〕17号 art. 7)"
    )
    deadline_provisional: bool = Field(
        default=False,
        description="the deadline reaches into a year whose arrangement of days off is not "
        "set yet, so it counts that year's weekends only; it is recomputed in the block that "
        "sets the year",
    )
    deadline_awaits: int | None = Field(
        default=None, description="the year a provisional deadline awaits", examples=[2027]
    )
    stage_started_ms: int
    history: list[PensionStage]


class HealthCase(Record):
    """A health-record sharing case between two hospitals."""

    case_id: str
    resident: str = Field(examples=PSEUDONYM)
    requester: str = Field(examples=["hosp-330881"])
    source: str = Field(examples=["hosp-330824"])
    status: str = Field(
        description="REQUESTED, AUTHORIZED, RELEASED, ERASED as the case's steps left it; "
        "REVOKED once the consent behind it was withdrawn, EXPIRED once it ran out",
        examples=["REVOKED"],
    )
    recorded_status: str | None = Field(
        default=None,
        description="the state the case's last step left it in (REVOKED and EXPIRED are not "
        "steps: the consent changed, not the case)",
        examples=["RELEASED"],
    )
    data_class: str = Field(examples=["test_result"])
    purpose: str
    requested_ms: int
    reads: int
    consent_id: str | None = None
    basis: dict[str, str] | None = Field(
        default=None,
        description="instead of a consent: the statute the source authorized the case under "
        "({type: statutory, citation}), or the break-glass it was opened under ({type: "
        "emergency, emergency_id, reason}: its window and scope apply); no withdrawal applies",
        examples=[{"type": "statutory", "citation": "浙江省医疗保障条例 art. 40"}],
    )
    enroller_is_requester: bool = Field(
        default=False,
        description="authorized with the resident's key for a requester that set that key",
    )
    commitment: str | None = Field(default=None, description="hex SHA-256(salt ‖ payload)")
    locator: str | None = Field(
        default=None,
        description="vault: ‖ hex SHA-256 of the case, resident, source and commitment "
        "(contracts/locator.py): the payload of this case only",
    )


class BlockHeader(BaseModel):
    chain_id: str
    height: int
    prev_hash: str
    proposer: str
    time_ms: int
    tx_count: int
    evidence_count: int
    tree_size: int
    tree_root: str = Field(description="base64 RFC 9162 root after the block")
    state_root: str


class SignedVote(Record):
    kind: str = Field(examples=["vote"])
    chain_id: str
    type: str = Field(examples=["precommit"])
    height: int
    round: int
    block_hash: str | None
    validator: str
    signature: str


class Certificate(BaseModel):
    """At least 2f+1 precommits for the block: what makes it final."""

    height: int
    round: int
    block_hash: str
    precommits: list[SignedVote]


class EvidenceOut(Record):
    """Two conflicting signed messages of one validator for one height and round."""

    offender: str
    first: dict[str, Any] = Field(
        description="a signed vote or proposal (proposal without its block)",
        json_schema_extra={"properties": {"kind": {"type": "string"}}},
    )
    second: dict[str, Any] = Field(
        description="the conflicting one",
        json_schema_extra={"properties": {"kind": {"type": "string"}}},
    )
    included_height: int | None = Field(
        default=None, description="the block that recorded it, once recorded (evidence list)"
    )
