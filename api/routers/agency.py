"""What agency systems call: submit signed transactions, follow them, read the case files
they are party to, deposit and fetch health-record payloads (residents may read their own
case files here too). Every read is a signed request; ``api/authz.py`` decides."""

import base64
import time
from typing import Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from api.authz import Action, Caller, Parties, Role, caller_of, decide, refuse, require
from api.problems import CASE_RESPONSES, SIGNED_RESPONSES, Problem
from api.schemas import HealthCase, PensionCase, example
from contracts.health import case_allows, case_status
from contracts.pension import is_overdue
from node import chainstore, fetches
from node.mempool import MempoolFull
from node.ratelimit import retry_after
from node.service import Node, NotAValidator, RateLimited, TxRejected
from node.vault import CaseRef, Erased, Unreadable, WrongCase

router = APIRouter(prefix="/v1", tags=["agency"])


class TransactionIn(BaseModel):
    """A signed transaction: every write is one (docs/domain.md lists the types)."""

    body: dict[str, Any] = Field(
        description="type, chain_id, signer, nonce and the type's fields",
        json_schema_extra={
            "properties": {
                "type": {"type": "string", "minLength": 1, "examples": ["anchor"]},
                "chain_id": {"type": "string", "minLength": 1, "examples": ["shanhe-quzhou-dev"]},
                "signer": {
                    "type": "string",
                    "minLength": 1,
                    "description": "agency id or resident:<pseudonym>",
                },
                "nonce": {"type": "string", "minLength": 1, "maxLength": 64},
            },
            "required": ["type", "chain_id", "signer", "nonce"],
        },
    )
    signature: str = Field(
        description="hex Ed25519 signature over b'shanhe-tx-v1\\n' + RFC 8785(body)",
        examples=["5c1e" + "0" * 124],
        json_schema_extra={"pattern": "^[0-9a-f]{128}$"},
    )

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "body": {
                        "type": "anchor",
                        "chain_id": "shanhe-quzhou-dev",
                        "signer": "ssb-330825",
                        "nonce": "7f3a9c",
                        "sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
                    },
                    "signature": "5c1e" + "0" * 124,
                }
            ]
        }
    }


class TxAccepted(BaseModel):
    tx_hash: str
    status: str

    model_config = example(
        tx_hash="9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", status="pending"
    )


class TxStatus(BaseModel):
    """Where a transaction stands. ``committed`` means it is on the log (``leaf_index``);
    ``outcome`` then says whether what it asked for was done (``applied``) or refused by the
    rules with ``reason`` (a read outside a consent, recorded in the resident's access log; a
    governance change closed as refused). ``rejected``: decided in a block, changed nothing,
    not on the log, ``reason`` and ``message`` say why."""

    tx_hash: str
    status: str = Field(description="pending | committed | rejected", examples=["committed"])
    height: int | None = None
    leaf_index: int | None = None
    outcome: str | None = Field(
        default=None, description="applied | refused (committed only)", examples=["refused"]
    )
    reason: str | None = Field(
        default=None, description="the reason code (refused or rejected)",
        examples=["consent_withdrawn"],
    )  # fmt: skip
    message: str | None = None

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"tx_hash": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
                 "status": "committed", "height": 42, "leaf_index": 117, "outcome": "applied"},
                {"tx_hash": "5b1d0c9e4f7a2b3c8d6e1f0a9b8c7d6e5b1d0c9e4f7a2b3c8d6e1f0a9b8c7d6e",
                 "status": "committed", "height": 43, "leaf_index": 118, "outcome": "refused",
                 "reason": "consent_withdrawn"},
                {"tx_hash": "0d6e1f0a9b8c7d6e5b1d0c9e4f7a2b3c8d6e1f0a9b8c7d6e5b1d0c9e4f7a2b3c",
                 "status": "rejected", "height": 43, "reason": "wrong_state",
                 "message": "case is RELEASED"},
            ]
        }
    )  # fmt: skip


@router.post("/tx", response_model=TxAccepted, status_code=202)
async def post_tx(request: Request, tx: TransactionIn) -> TxAccepted:
    """Well-formed submissions are answered by ``api/submit_path.py`` before this route: it
    calls ``accept`` too, so the answers are the same."""
    return accept(request.app.state.node, tx.model_dump())


def accept(node: Node, raw: dict[str, Any]) -> TxAccepted:
    """Queue a signed transaction; raises Problem with the refusal's stable type."""
    try:
        submitted = node.submit(raw)
    except TxRejected as exc:
        raise Problem(400, exc.code.replace("_", "-"), "Transaction refused", str(exc)) from exc
    except RateLimited as exc:
        raise Problem(
            429, "rate-limited", "Too many requests", str(exc), retry_after=retry_after(exc.wait)
        ) from exc
    except MempoolFull as exc:
        raise Problem(503, "mempool-full", "Mempool is full", str(exc), retry_after=1) from exc
    except NotAValidator as exc:
        raise Problem(503, "not-a-validator", "This node takes no transactions", str(exc)) from exc
    return TxAccepted(tx_hash=submitted.tx_hash, status=submitted.status)


@router.get("/tx/{tx_hash}", response_model=TxStatus, response_model_exclude_none=True)
async def get_tx(request: Request, tx_hash: str) -> TxStatus:
    try:
        raw = bytes.fromhex(tx_hash)
    except ValueError:
        raw = b""
    if len(raw) != 32:
        raise Problem(400, "bad-tx-hash", "A transaction hash is 64 hex digits")
    node: Node = request.app.state.node
    status = node.tx_status(raw)
    if status is None:
        raise Problem(404, "no-tx", "No such transaction on this node")
    return TxStatus(**status)


# ------------------------------------------------------------------ case files (signed reads)
class CasePage(BaseModel):
    as_of_ms: int
    cases: list[PensionCase]
    next_cursor: str | None


@router.get("/pension/overdue", response_model=CasePage, responses=SIGNED_RESPONSES)
async def list_overdue(
    request: Request, cursor: str | None = None, limit: int = Query(100, ge=1, le=500)
) -> CasePage:
    """Open transfer cases of the calling agency (either side) whose current stage is past its
    deadline (weekends and holidays excluded). Scans ``limit`` cases a page. Signed request."""
    caller = await caller_of(request)
    require(request, Action.PENSION_OVERDUE, caller, Parties())
    node: Node = request.app.state.node
    now = int(time.time() * 1000)
    with node.engine.connect() as conn:
        values, next_cursor = chainstore.state_page(conn, "pension/", cursor, limit)
    cases = [
        PensionCase.model_validate(case)
        for case in values
        if isinstance(case, dict)
        and caller.id in (case.get("from_agency"), case.get("to_agency"))
        and is_overdue(case, now)
    ]
    return CasePage(as_of_ms=now, cases=cases, next_cursor=next_cursor)


def _case(request: Request, action: Action, caller: Caller, key: str) -> dict[str, Any]:
    """The case at ``key``; for an id that names none, the answer a non-party gets for a case
    that exists (the matrix's refusal with no parties: same status, type and body), so that
    case ids cannot be probed. Nothing is recorded: there is no resident to record it for."""
    node: Node = request.app.state.node
    case = node.committed_value(key)
    if not isinstance(case, dict):
        refuse(request, action, caller, Parties(), decide(action, caller, Parties()) or "not_party")
    return case


def _record_read(request: Request, action: Action, caller: Caller, case: dict[str, Any],
                 data_class: str) -> None:  # fmt: skip
    """An agency's granted read of a case file goes into the resident's access log (a
    node-signed ``access.read``); a resident reading their own case is not logged."""
    if caller.role is Role.AGENCY:
        node: Node = request.app.state.node
        node.record_read(case["resident"], caller.id, case["case_id"], data_class,
                         f"api {action.value}")  # fmt: skip


@router.get("/pension/cases/{case_id}", response_model=PensionCase, responses=CASE_RESPONSES)
async def get_pension_case(request: Request, case_id: str) -> PensionCase:
    """A pension transfer case, for the two agencies and the resident. Signed request; an
    agency's read is recorded in the resident's access log."""
    caller = await caller_of(request)
    case = _case(request, Action.PENSION_CASE, caller, f"pension/{case_id}")
    parties = Parties(
        resident=case["resident"], agencies=frozenset({case["from_agency"], case["to_agency"]})
    )
    require(request, Action.PENSION_CASE, caller, parties, entity=case_id, data_class="pension")
    _record_read(request, Action.PENSION_CASE, caller, case, "pension")
    return PensionCase.model_validate(case)


def _share(
    request: Request, action: Action, caller: Caller, case_id: str
) -> tuple[dict[str, Any], Parties]:
    case = _case(request, action, caller, f"share/{case_id}")
    return case, Parties(
        resident=case["resident"],
        agencies=frozenset({case["requester"], case["source"]}),
        recipient=case["requester"],
        source=case["source"],
    )


@router.get("/health/cases/{case_id}", response_model=HealthCase, responses=CASE_RESPONSES)
async def get_health_case(request: Request, case_id: str) -> HealthCase:
    """A health-record sharing case, for the two hospitals and the resident. Signed request;
    a hospital's read is recorded in the resident's access log."""
    caller = await caller_of(request)
    case, parties = _share(request, Action.HEALTH_CASE, caller, case_id)
    require(
        request, Action.HEALTH_CASE, caller, parties, entity=case_id, data_class=case["data_class"]
    )
    _record_read(request, Action.HEALTH_CASE, caller, case, case["data_class"])
    node: Node = request.app.state.node
    return effective_case(node, case)


def effective_case(node: Node, case: dict[str, Any]) -> HealthCase:
    """The case as it stands now: ``status`` REVOKED once its consent was withdrawn, EXPIRED
    once it ran out (``contracts.health.case_status``); the state its last step left it in
    stays in ``recorded_status``."""
    consent_id = case.get("consent_id")
    consent = node.committed_value(f"consent/{consent_id}") if consent_id else None
    status = case_status(case, consent, int(time.time() * 1000))
    return HealthCase.model_validate({**case, "status": status, "recorded_status": case["status"]})


class Deposited(BaseModel):
    locator: str
    commitment: str = Field(description="hex SHA-256(salt ‖ payload): put it in health.release")
    held_by: str = Field(description="the node whose vault holds the payload")

    model_config = example(
        locator="vault:5b1d0c9e4f7a2b3c8d6e1f0a9b8c7d6e",
        commitment="9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        held_by="node-330800",
    )


@router.put(
    "/health/cases/{case_id}/payload",
    response_model=Deposited,
    status_code=201,
    responses=CASE_RESPONSES,
    openapi_extra={"requestBody": {"required": True, "content": {"application/octet-stream": {
        "schema": {"type": "string", "format": "binary"}, "example": "检验报告 / test result"}}}},
)  # fmt: skip
async def put_payload(request: Request, case_id: str) -> Deposited:
    """The source hospital deposits the document of an authorized case in this node's vault,
    encrypted under the resident's data key; the log then gets only the commitment (submit
    ``health.release`` with it). Signed request; the body is the document's bytes."""
    caller = await caller_of(request)
    node: Node = request.app.state.node
    case, parties = _share(request, Action.PAYLOAD_WRITE, caller, case_id)
    require(
        request, Action.PAYLOAD_WRITE, caller, parties, entity=case_id,
        data_class=case["data_class"],
    )  # fmt: skip
    status = effective_case(node, case).status  # a withdrawn consent takes no deposit either
    if status != "AUTHORIZED":
        raise Problem(409, "wrong-state", f"The case is {status}, not AUTHORIZED")
    payload = await request.body()
    if not payload:
        raise Problem(400, "empty-payload", "The body is the document; it is empty")
    return deposit(node, CaseRef(case_id, case["resident"], case["source"]), payload)


def deposit(node: Node, ref: CaseRef, payload: bytes) -> Deposited:
    """Store a payload in this node's vault, bound to ``ref``; 410 when the resident was
    erased and shredded after the request's erasure check (while its body came in)."""
    try:
        stored = node.vault.store(ref, payload)
    except Erased as exc:
        raise Problem(410, "resident-erased", "The resident was erased", "resident_erased",
                      reason="resident_erased") from exc  # fmt: skip
    return Deposited(locator=stored.locator, commitment=stored.commitment, held_by=node.signer.name)


class Delivery(BaseModel):
    case_id: str
    sealed: str = Field(
        description="base64 sealed box to the recipient's key: salt (32 bytes) ‖ document"
    )

    model_config = example(case_id="share-1", sealed="Qk9YRUQgLi4u")


@router.get("/health/cases/{case_id}/payload", response_model=Delivery, responses=CASE_RESPONSES)
async def get_payload(request: Request, case_id: str) -> Delivery:
    """The released document, sealed to the requesting hospital's key. Only while a consent
    covers it (or, for a case shared on a statutory basis, while both hospitals are designated), and only after the read was recorded on the log: each fetch needs its own
    granted ``health.access`` (the case's latest granted read, ``read_seq``,
    used by no fetch before). Only the item deposited for this very case is
    delivered. Signed request."""
    caller = await caller_of(request)
    node: Node = request.app.state.node
    case, parties = _share(request, Action.PAYLOAD_READ, caller, case_id)
    data_class = case["data_class"]
    require(request, Action.PAYLOAD_READ, caller, parties, entity=case_id, data_class=data_class)
    now = int(time.time() * 1000)
    seq = None
    if case["status"] != "RELEASED":
        why: str | None = "not_released"
    else:  # its consent, or its statute: both parties still designated
        why = case_allows(node.committed_value, case, now, caller.id)
    if why is None:
        seq = _unused_granted_read(node, case, caller.id)
        why = "read_not_recorded" if seq is None else None
    if why is not None or seq is None:
        refuse(request, Action.PAYLOAD_READ, caller, parties, why or "read_not_recorded",
               entity=case_id, data_class=data_class)  # fmt: skip
    key = node.key_of(caller.id)
    if key is None:  # rotated away since the signature was checked
        raise Problem(401, "unknown-key", f"{caller.id} has no active key")
    bound = CaseRef(case_id, case["resident"], case["source"])
    sealed = None
    try:
        with node.engine.begin() as conn:  # the entry is used only if the delivery is made
            if fetches.use(conn, case["resident"], seq, case_id, caller.id, now):
                sealed = node.vault.deliver(bound, str(case["commitment"]),
                                            str(case["locator"]), key)  # fmt: skip
    except WrongCase as exc:
        # the item at this case's locator was deposited for another case: its resident is
        # the one whose document was asked for, and her log gets the attempt
        refuse(request, Action.PAYLOAD_READ, caller, Parties(resident=exc.resident),
               "payload_of_other_case", entity=case_id, data_class=data_class)  # fmt: skip
    except Unreadable as exc:
        raise Problem(410, "payload-gone", "The payload is not held here or was erased") from exc
    if sealed is None:  # a fetch racing this one used the entry first
        refuse(request, Action.PAYLOAD_READ, caller, parties, "read_not_recorded",
               entity=case_id, data_class=data_class)  # fmt: skip
    return Delivery(case_id=case_id, sealed=base64.b64encode(sealed).decode())


def _unused_granted_read(node: Node, case: dict[str, Any], agency: str) -> int | None:
    """The seq of the case's latest granted ``health.access`` (``read_seq``, which only that
    transaction sets, and only for the requester) if no fetch has used it; else None. Not
    looked for among the resident's latest entries: anyone's refused reads, or a validator's
    record, could push it out of reach or stand in front of it."""
    seq = case.get("read_seq")
    if agency != case["requester"] or not isinstance(seq, int):
        return None
    with node.engine.connect() as conn:
        return None if fetches.used(conn, case["resident"], seq) else seq
