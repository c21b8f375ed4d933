"""Who may sign what, as one table: for every transaction type, which signers may sign it (a
resident; an agency, by kind and by the roles governance granted it; a validator node), in
which relation to the record it touches, and on whose behalf. The rules consult it
(``check``); docs/domain.md prints it; tests/test_authority.py checks every type x signer x
relation. Reads through the API have their own table, ``api/authz.py`` ``MATRIX``.

An auditor (agency kind ``auditor``) reads and verifies: no row lets it change a consent or a
case, whatever roles a genesis gave it.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from contracts.formats import BadField
from contracts.state import StateView
from contracts.vocabulary import (
    AGENCY_KINDS,
    COUNTER_CLASSES,
    CUSTODIANS,
    MEDICAL_INSTITUTIONS,
    ROLES,
)


class Who(StrEnum):
    RESIDENT = "resident"
    AGENCY = "agency"
    VALIDATOR = "validator"


class Relation(StrEnum):
    """How a signer stands to the record a transaction touches."""

    ANY = "any"
    """No relation needed."""
    SUBJECT = "subject"
    """The resident the record is about, signing with their own key."""
    ENROLLER = "enroller"
    """The agency that last set the resident's key at a counter: enrolled them, or re-keyed
    them since (``key_setters``)."""
    NEVER_KEYED = "never_keyed"
    """An agency that never set a key of the resident (neither enrolled nor re-keyed them):
    only such a counter re-keys them, so one that made a key cannot put it back."""
    REQUESTER = "requester"
    """The hospital that requested a sharing case (the recipient)."""
    SOURCE = "source"
    """The agency that holds the record of a sharing case (a hospital, primary clinic, the
    health commission or a medical-insurance bureau, by data class)."""
    FROM_AGENCY = "from_agency"
    """A pension transfer's sending agency (转出地)."""
    TO_AGENCY = "to_agency"
    """A pension transfer's receiving agency (转入地)."""
    RECORDING_COUNTER = "recording_counter"
    """The counter that recorded the consent in question (``granted_by``)."""
    KIND_CLASSES = "kind_classes"
    """Every data class of the consent is one the signer's kind keeps (``COUNTER_CLASSES``)."""
    STATUTORY_SOURCE = "statutory_source"
    """The source hospital of a sharing case authorized on a statutory basis rather than a
    consent (``vocabulary.STATUTORY_SHARING``): the custodian that discloses decides that the
    statute covers the case, never the requester for itself."""
    ISSUER = "issuer"
    """The bureau that issued a proof of insurance."""
    MEMBER = "member"
    """A governance agency (genesis role ``governance``, not removed since)."""
    ADDRESSEE = "addressee"
    """The agency a resident's request names: the holder of the record she asks it to correct
    (``rights.correct_request``, PIPL art. 46)."""
    GUARDIAN = "guardian"
    """A resident signing ``on_behalf_of`` her ward, under a guardianship in force at that block
    (``contracts/acting.py``, ``contracts/guardians.py``: 民法典 arts. 23, 27-34, PIPL art. 31)."""
    DELEGATE = "delegate"
    """A resident signing ``on_behalf_of`` the resident who delegated to her, the delegation in
    force and covering the step (``contracts/delegation.py``: 民法典 arts. 161-165); for
    ``delegation.revoke``, the delegate it names, renouncing it (art. 173(2))."""


class Behalf(StrEnum):
    OWN = "own"
    """The signer acts for itself."""
    RESIDENT = "resident"
    """An assisted step: an agency's operator acts for a resident at a counter."""


@dataclass(frozen=True)
class Grant:
    who: Who
    relation: Relation = Relation.ANY
    kinds: frozenset[str] = frozenset()
    """For an agency: the kinds that may (empty: any kind)."""
    role: str | None = None
    """For an agency: a role it must hold."""
    behalf: Behalf = Behalf.OWN

    def allows(self, actor: "Actor", relations: frozenset[Relation]) -> bool:
        return (
            actor.who is self.who
            and (not self.kinds or actor.kind in self.kinds)
            and (self.role is None or self.role in actor.roles)
            and (self.relation is Relation.ANY or self.relation in relations)
        )

    def describe(self) -> str:
        who = {Who.RESIDENT: "the resident", Who.VALIDATOR: "a validator of the current set"}
        text = who.get(self.who) or (
            ("a " + " or ".join(sorted(self.kinds))) if self.kinds else "an agency"
        )
        if self.role:
            text += f" with the {self.role} role"
        if self.relation is not Relation.ANY:
            text += f" ({self.relation.value})"
        return text + (", for the resident" if self.behalf is Behalf.RESIDENT else "")


@dataclass(frozen=True)
class Actor:
    """A signer as the table sees it."""

    who: Who
    kind: str | None = None
    roles: frozenset[str] = frozenset()


SERVICE = AGENCY_KINDS - {"auditor"}
"""Agencies that serve residents (every kind but the auditor)."""
SSB = frozenset({"social_security_bureau"})
HOSPITAL = frozenset({"hospital"})
BUREAUS = frozenset({"social_security_bureau", "medical_insurance_bureau"})
"""Who issues proofs of insurance (参保证明), each of its own schemes (``PROOF_SCHEMES``)."""
HOLDERS = CUSTODIANS
"""Agencies that may be a sharing case's source (``vocabulary.SOURCE_KINDS``)."""
R, A, V = Who.RESIDENT, Who.AGENCY, Who.VALIDATOR
COUNTER = "counter"
DESIGNATED = "designated"
"""A designated medical institution of the medical insurance (医保定点医疗机构)."""

GOVERNANCE = "governance"
GRANTABLE = ROLES - {GOVERNANCE}
"""Roles governance gives an agency (``add_agency``) or replaces (``set_agency_roles``):
``governance`` is genesis membership, not granted, and ends only with ``remove_agency``."""


def listed_roles(roles: Any) -> list[str]:
    """``roles`` as a list without repeats from ``GRANTABLE``; raises ``BadField`` otherwise.
    Needs no state: the shape of a proposal checks it."""
    if not (
        isinstance(roles, list)
        and all(isinstance(r, str) for r in roles)
        and len(roles) == len(set(roles))
        and set(roles) <= GRANTABLE
    ):
        raise BadField(
            "bad_field",
            f"roles: a list without repeats from {', '.join(sorted(GRANTABLE))} (not governance)",
        )
    return list(roles)


def check_roles(kind: str, roles: Any) -> list[str]:
    """The roles an agency of ``kind`` may hold, as governance grants them: the one rule for
    ``add_agency`` (its kind in the proposal) and ``set_agency_roles`` (its kind in its record,
    checked when proposed and again when applied). A ``counter`` only for a kind that keeps
    data classes to record consents for (not an auditor); ``designated`` only for a medical
    institution a medical-insurance agreement may designate (``MEDICAL_INSTITUTIONS``)."""
    listed = listed_roles(roles)
    if COUNTER in listed and not COUNTER_CLASSES.get(kind):
        raise BadField("bad_field", f"an agency of kind {kind} runs no counter")
    if DESIGNATED in listed and kind not in MEDICAL_INSTITUTIONS:
        raise BadField(
            "bad_field",
            f"an agency of kind {kind} is no medical institution to be designated (定点医疗机构)",
        )
    return listed


ACTING = (Grant(R, Relation.GUARDIAN), Grant(R, Relation.DELEGATE))
"""A resident acting for another (``contracts/acting.py``): on the rows of the steps a
representative may take (``vocabulary.DELEGABLE_ACTIONS``)."""

AUTHORITY: dict[str, tuple[Grant, ...]] = {
    "anchor": (Grant(A),),
    "resident.enroll": (Grant(A, kinds=SERVICE, role=COUNTER, behalf=Behalf.RESIDENT),),
    "resident.rotate_key": (
        Grant(R, Relation.SUBJECT),
        Grant(A, Relation.NEVER_KEYED, SERVICE, COUNTER, Behalf.RESIDENT),
    ),
    "resident.erase": (
        Grant(R, Relation.SUBJECT),
        Grant(A, Relation.ENROLLER, SERVICE, behalf=Behalf.RESIDENT),
    ),
    "consent.grant": (Grant(R, Relation.SUBJECT), *ACTING),
    "consent.grant_assisted": (Grant(A, Relation.KIND_CLASSES, SERVICE, COUNTER, Behalf.RESIDENT),),
    "consent.withdraw": (
        Grant(R, Relation.SUBJECT),
        *ACTING,
        Grant(A, Relation.RECORDING_COUNTER, SERVICE, COUNTER, Behalf.RESIDENT),
        Grant(A, Relation.KIND_CLASSES, SERVICE, COUNTER, Behalf.RESIDENT),
    ),
    "health.request": (Grant(A, kinds=HOSPITAL),),
    "health.emergency": (Grant(A, kinds=HOSPITAL),),
    "health.authorize": (
        Grant(R, Relation.SUBJECT),
        *ACTING,
        Grant(A, Relation.RECORDING_COUNTER, SERVICE, COUNTER, Behalf.RESIDENT),
        Grant(A, Relation.STATUTORY_SOURCE, HOSPITAL, DESIGNATED),
    ),
    "health.release": (Grant(A, Relation.SOURCE, HOLDERS),),
    "health.access": (Grant(A, kinds=HOSPITAL),),
    "pension.apply": (
        Grant(R, Relation.SUBJECT),
        *ACTING,
        Grant(A, Relation.FROM_AGENCY, SSB, COUNTER, Behalf.RESIDENT),
        Grant(A, Relation.TO_AGENCY, SSB, COUNTER, Behalf.RESIDENT),
    ),
    "pension.accept": (Grant(A, Relation.TO_AGENCY, SSB),),
    "pension.reject": (Grant(A, Relation.TO_AGENCY, SSB),),
    "pension.transfer_out": (Grant(A, Relation.FROM_AGENCY, SSB),),
    "pension.complete": (Grant(A, Relation.TO_AGENCY, SSB),),
    "pension.withdraw": (Grant(R, Relation.SUBJECT), *ACTING),
    "basis.record": (Grant(A, kinds=SSB),),
    "proof.issue": (Grant(A, kinds=BUREAUS),),
    "proof.revoke": (Grant(A, Relation.ISSUER, BUREAUS),),
    "governance.propose": (Grant(A, Relation.MEMBER),),
    "governance.approve": (Grant(A, Relation.MEMBER),),
    "access.refused": (Grant(V),),
    "access.read": (Grant(V),),
    "rights.copy_request": (Grant(R, Relation.SUBJECT), *ACTING),
    "rights.correct_request": (Grant(R, Relation.SUBJECT), *ACTING),
    "rights.correct_decide": (Grant(A, Relation.ADDRESSEE, SERVICE),),
    "guardian.record": (Grant(A, kinds=SERVICE, role=COUNTER, behalf=Behalf.RESIDENT),),
    "guardian.revoke": (Grant(A, kinds=SERVICE, role=COUNTER, behalf=Behalf.RESIDENT),),
    "delegation.grant": (Grant(R, Relation.SUBJECT),),
    "delegation.grant_assisted": (Grant(A, kinds=SERVICE, role=COUNTER, behalf=Behalf.RESIDENT),),
    "delegation.revoke": (
        Grant(R, Relation.SUBJECT),
        Grant(R, Relation.DELEGATE),
        Grant(A, kinds=SERVICE, role=COUNTER, behalf=Behalf.RESIDENT),
    ),
}
"""Transaction type -> the grants, any one of which lets a signer sign it. ``health.access``
is a read by a hospital: always recorded, and only the requester is granted
(``contracts/health.py``); a hospital's attempt on another's case is a real attempted read
and goes into the resident's log as a refusal. Nobody else may sign one: a resident or an
auditor could otherwise add refusals to any resident's access log and probe case ids.
``health.emergency`` (break-glass, PIPL art. 13(1)(4)) is any hospital's: every medical
institution must treat an emergency at once (民法典 art. 1220), 医保定点 or not; governance
limits it per hospital. ``basis.record`` is the agency's that holds the statutory duty: a
social-security bureau for the pension classes (``vocabulary.STATUTORY_BASES``)."""

VALIDATOR_TYPES = frozenset(t for t, grants in AUTHORITY.items() if any(g.who is V for g in grants))
"""What a validator node may sign: nothing but these (``rules.common_checks``)."""


def permits(tx_type: str, actor: Actor, relations: frozenset[Relation]) -> Grant | None:
    """The grant that lets ``actor``, standing in ``relations`` to the record, sign
    ``tx_type``; None if none does. Pure: the table, nothing else."""
    for grant in AUTHORITY.get(tx_type, ()):
        if grant.allows(actor, relations):
            return grant
    return None


def who_may(tx_type: str) -> str:
    return "; ".join(g.describe() for g in AUTHORITY.get(tx_type, ())) or "nobody"


def actor_of(state: StateView, signer: str) -> Actor:
    if signer.startswith("resident:"):
        return Actor(Who.RESIDENT)
    if signer.startswith("node:"):
        return Actor(Who.VALIDATOR)
    record: Any = state.get(f"agency/{signer}")
    if not isinstance(record, dict) or record.get("status") != "active":
        return Actor(Who.AGENCY)  # no kind, no role: the rows that need one refuse it
    kind = record.get("kind")
    roles = record.get("roles")
    return Actor(
        Who.AGENCY,
        kind if kind in AGENCY_KINDS else None,
        frozenset(r for r in roles if isinstance(r, str))
        if isinstance(roles, list)
        else frozenset(),
    )


def kind_keeps(actor: Actor, classes: Iterable[str]) -> bool:
    """Every one of ``classes`` is a data class the actor's kind keeps (and records at a
    counter): a social-security bureau pension classes, a medical-insurance bureau the insurance
    record, a hospital health ones."""
    kept = COUNTER_CLASSES.get(actor.kind or "", frozenset())
    return bool(kept) and set(classes) <= kept


def check(
    state: StateView,
    tx_type: str,
    signer: str,
    relations: Iterable[Relation] = (),
    classes: Iterable[str] | None = None,
) -> Grant:
    """The grant that lets ``signer`` sign, standing in ``relations`` to the record (and, for
    a consent, ``classes`` its data classes); raises ``BadField("wrong_signer")`` otherwise."""
    actor = actor_of(state, signer)
    held = set(relations)
    if classes is not None and kind_keeps(actor, classes):
        held.add(Relation.KIND_CLASSES)
    grant = permits(tx_type, actor, frozenset(held))
    if grant is None:
        raise BadField("wrong_signer", f"{tx_type} is signed by {who_may(tx_type)}")
    return grant
