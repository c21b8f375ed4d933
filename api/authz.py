"""Who may read what, in one place: the authorization matrix of every non-public endpoint.

Callers authenticate with an RFC 9421 signature (``api/auth.py``) by a key registered on the
ledger; the key id names them: ``resident:<pseudonym>``, an agency id, or ``node:<validator>``
(this node's own key is its operator's: the admin role). Unsigned callers are the public, who
reach the public auditor endpoints only: checkpoints, proofs, tree heads, hashes. The log's
content (entries, blocks) is pseudonymized, and de-identified data is still personal
information (PIPL art. 4 leaves out only anonymized information; art. 73 tells the two apart):
only validators, agencies (auditors included) and a node joining the set read it. ``decide`` is a pure function
of the action, the caller and
the parties of the data asked for; ``require`` is its HTTP edge, which also has every refusal of
an authenticated caller recorded in the resident's access log (a node-signed ``access.refused``).
"""

import time
from dataclasses import dataclass
from enum import StrEnum
from typing import NoReturn

from fastapi import Request

from api.auth import verify_request
from api.problems import Problem
from node.ratelimit import RateLimiter, retry_after
from node.service import Node

REFUSALS_PER_KEY, REFUSAL_BURST = 0.2, 30
"""Recorded refusals a key may cause: each is a transaction on the log forever, in the access
log of a resident the caller need not know beyond a pseudonym, outside every submission limit
(``Node._record``). Past them, the key's reads are answered 429 before anything is decided,
so nothing is refused and nothing is left unrecorded."""


class Role(StrEnum):
    RESIDENT = "resident"
    AGENCY = "agency"
    ADMIN = "admin"
    PEER = "peer"
    """Another validator node of the current set: it talks to us over /v1/p2p and syncs
    blocks."""
    CANDIDATE = "candidate"
    """A node an open ``add_validator`` proposal names, with the key it names: it syncs blocks
    before it joins (``node.blocksync.BlockSync.log_reader_key``)."""


@dataclass(frozen=True)
class Caller:
    role: Role
    id: str
    """The signer name: ``resident:<p>``, an agency id, or ``node:<name>``."""


@dataclass(frozen=True)
class Parties:
    """Whose data a request touches."""

    resident: str | None = None
    agencies: frozenset[str] = frozenset()
    """Agencies party to the case (either side of a transfer, requester and source hospital)."""
    recipient: str | None = None
    """The one agency the data may be delivered to (a sharing case's requester)."""
    source: str | None = None
    """The one agency that may deposit the data (a sharing case's source hospital)."""
    acting: str | None = None
    """A resident who acts for her in this record (the guardian or delegate who made her
    request): she may read it as the resident herself may."""
    representatives: frozenset[str] = frozenset()
    """Residents (``resident:<p>``) who stand for her in this read: a guardian in force, or a
    delegate whose delegation covers it (``contracts.acting.reading_scope``, #13)."""


class Action(StrEnum):
    ACCESS_LOG = "resident.access_log"
    CONSENTS = "resident.consents"
    BASES = "resident.bases"
    """The statutory bases agencies recorded for her (``basis.record``), apart from consents."""
    EMERGENCY_REPORT = "audit.emergencies"
    """Break-glasses and each hospital's rate of emergency reads: for an auditor or a
    governance agency (which sets the limits)."""
    PENSION_CASE = "pension.case"
    PENSION_OVERDUE = "pension.overdue"
    HEALTH_CASE = "health.case"
    PAYLOAD_READ = "health.payload.read"
    PAYLOAD_WRITE = "health.payload.write"
    PROOF_WRITE = "proof.content.write"
    """A bureau deposits a proof's content: its issuer, of a kind that issues the scheme."""
    PROOF_READ = "proof.content"
    """The resident fetches her proof's content and log entry."""
    COPY = "rights.copy"
    """The resident's copy (PIPL art. 45): her, or the resident who asked for it for her."""
    CORRECTION = "rights.correction"
    """A correction request: the resident (or who asked for her) and the agency it names."""
    CORRECTION_OVERDUE = "rights.correction.overdue"
    """Corrections past their deadline: auditors all, another agency those it was asked."""
    LOG_READ = "log.read"
    """The log's content: entries (leaf bytes) and blocks (transactions)."""
    ADMIN = "admin"
    REPRESENTATION = "resident.representation"
    """Her age class, guardians and delegations (#13): herself and those who stand for her."""


# Action -> (roles allowed, which of the parties the caller must be). "own": the resident
# themself, or a resident standing for her (``Parties.representatives``: her guardian, or her
# delegate for what the delegation covers); "party": the resident or an agency party to the
# case; "recipient"/"source": that agency only; "overseer": an auditor or governance agency (the
# endpoint names it in ``parties.agencies``); "any": no ownership (the list is filtered to the
# caller's cases instead).
MATRIX: dict[Action, tuple[frozenset[Role], str]] = {
    Action.ACCESS_LOG: (frozenset({Role.RESIDENT}), "own"),
    Action.CONSENTS: (frozenset({Role.RESIDENT}), "own"),
    Action.BASES: (frozenset({Role.RESIDENT}), "own"),
    Action.EMERGENCY_REPORT: (frozenset({Role.AGENCY}), "overseer"),
    Action.PENSION_CASE: (frozenset({Role.RESIDENT, Role.AGENCY}), "party"),
    Action.PENSION_OVERDUE: (frozenset({Role.AGENCY}), "any"),
    Action.HEALTH_CASE: (frozenset({Role.RESIDENT, Role.AGENCY}), "party"),
    Action.PAYLOAD_READ: (frozenset({Role.AGENCY}), "recipient"),
    Action.PAYLOAD_WRITE: (frozenset({Role.AGENCY}), "source"),
    Action.PROOF_WRITE: (frozenset({Role.AGENCY}), "source"),
    Action.PROOF_READ: (frozenset({Role.RESIDENT}), "own"),
    Action.COPY: (frozenset({Role.RESIDENT}), "own"),
    Action.CORRECTION: (frozenset({Role.RESIDENT, Role.AGENCY}), "party"),
    Action.CORRECTION_OVERDUE: (frozenset({Role.AGENCY}), "any"),
    Action.LOG_READ: (frozenset({Role.AGENCY, Role.PEER, Role.ADMIN, Role.CANDIDATE}), "any"),
    Action.ADMIN: (frozenset({Role.ADMIN}), "any"),
    Action.REPRESENTATION: (frozenset({Role.RESIDENT}), "own"),
}


RECORDS = {
    Action.PENSION_CASE: "pension/",
    Action.HEALTH_CASE: "share/",
    Action.PAYLOAD_READ: "share/",
    Action.PAYLOAD_WRITE: "share/",
    Action.PROOF_READ: "proof/",
    Action.COPY: "rights/copy/",
    Action.CORRECTION: "rights/correction/",
}
"""Where the record an action reads lives (its ``entity`` is the key's last part)."""


def decide(action: Action, caller: Caller, parties: Parties) -> str | None:
    """None if allowed, else the reason (a stable code) it is refused."""
    roles, ownership = MATRIX[action]
    if caller.role not in roles:
        return "role_not_allowed"
    own_resident = parties.resident is not None and (
        caller.id in {f"resident:{p}" for p in (parties.resident, parties.acting) if p}
        or caller.id in parties.representatives
    )
    if ownership == "own" and not own_resident:
        return "not_own_data"
    if ownership == "party" and not (own_resident or caller.id in parties.agencies):
        return "not_party"
    if ownership == "overseer" and caller.id not in parties.agencies:
        return "not_overseer"
    if ownership == "recipient" and caller.id != parties.recipient:
        return "not_recipient"
    if ownership == "source" and caller.id != parties.source:
        return "not_source"
    return None


def role_of(signer: str, node_name: str, validator: bool = True) -> Role:
    """``validator``: a ``node:`` signer is in the current set (else it verified with the key
    an open ``add_validator`` proposal names: a candidate)."""
    if signer.startswith("resident:"):
        return Role.RESIDENT
    if signer.startswith("node:"):
        if signer == f"node:{node_name}":
            return Role.ADMIN
        return Role.PEER if validator else Role.CANDIDATE
    return Role.AGENCY


async def caller_of(request: Request, *, candidates: bool = False) -> Caller:
    """The verified caller; 401 problem+json without a valid, fresh, unused signature, 429
    when that key reads faster than ``reads_per_key`` or has spent its refusals
    (``REFUSALS_PER_KEY``). ``candidates``: also take the keys
    open ``add_validator`` proposals name (reads of the log, for a node that syncs before it
    joins). Node keys are not limited per key: block sync reads a block a request, and the
    per-address limit still holds."""
    request.state.received = time.monotonic()  # a refusal is answered REFUSAL_TIME after it
    node: Node = request.app.state.node
    limiter: RateLimiter = request.app.state.key_reads
    refusals: RateLimiter = request.app.state.key_refusals

    def admit(keyid: str) -> None:
        if keyid.startswith("node:"):
            return
        now = time.monotonic()
        if wait := refusals.wait(keyid, now) or limiter.take(keyid, now):
            raise Problem(
                429, "rate-limited", "Too many requests", f"reads by {keyid}",
                retry_after=retry_after(wait),
            )  # fmt: skip

    key_of = node.log_reader_key if candidates else node.key_of
    keyid = await verify_request(
        request.method, request.url.path, request.url.query, request.body,
        dict(request.headers), key_of, request.app.state.nonces, node.authorities, admit,
    )  # fmt: skip
    validator = not keyid.startswith("node:") or node.key_of(keyid) is not None
    return Caller(role_of(keyid, node.signer.name, validator), keyid)


def require(
    request: Request,
    action: Action,
    caller: Caller,
    parties: Parties,
    *,
    entity: str = "",
    data_class: str = "",
) -> None:
    """Raise 403 when ``decide`` refuses; a refused read of a resident's data is recorded.
    Then 410 to a party when the resident was erased (PIPL art. 47: nothing more is served)."""
    why = decide(action, caller, parties)
    if why is not None:
        refuse(request, action, caller, parties, why, entity=entity, data_class=data_class)
    if parties.resident is not None:
        node: Node = request.app.state.node
        record = node.committed_value(RECORDS[action] + entity) if action in RECORDS else None
        if node.erasure_refusal(parties.resident, record):
            raise Problem(410, "resident-erased", "The resident was erased", "resident_erased",
                          reason="resident_erased")  # fmt: skip


REFUSAL_TIME = 0.05
"""Seconds from a signed read's arrival to its refusal's answer. Recording a refusal (outbox
row, signature, mempool) takes a few milliseconds that a refusal with nothing to record (an
unknown case id) does not: answering every refusal at the same time after arrival keeps the
time from telling which case ids exist (red team 4), as long as recording takes less."""


def refuse(
    request: Request,
    action: Action,
    caller: Caller,
    parties: Parties,
    why: str,
    *,
    entity: str = "",
    data_class: str = "",
) -> NoReturn:
    """403 with the reason, recorded in the resident's access log when it was their data
    (also for refusals decided after the matrix, such as a withdrawn consent)."""
    refusals: RateLimiter = request.app.state.key_refusals
    refusals.take(caller.id, time.monotonic())  # the budget ``admit`` checks: every refusal
    # spends it, of an unknown case id too, or its 429s would tell which ids exist
    if parties.resident is not None:
        node: Node = request.app.state.node
        node.record_refusal(
            parties.resident, caller.id, entity or action.value, data_class or "-",
            f"api {action.value}", why,
        )  # fmt: skip
    received = getattr(request.state, "received", time.monotonic())
    raise Problem(
        403, "forbidden", "Not allowed", why, reason=why, not_before=received + REFUSAL_TIME
    )
