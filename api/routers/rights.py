"""A resident's copy and corrections (PIPL arts. 45, 46, 50; ``contracts/rights.py``).

The copy is served for a ``rights.copy_request`` on the log: signed by this node's validator
key, every item with the entries it derives from and their inclusion proofs to a
quorum-cosigned checkpoint (``contracts/export.py`` says what is proven and what is served),
to the resident and to the resident who asked for her. A request id that names none is
answered as another resident's (403), at the same time after arrival, so ids cannot be probed.
"""

import base64
import time
from typing import Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from api.authz import Action, Caller, Parties, Role, caller_of, decide, refuse, require
from api.problems import CASE_RESPONSES, MEDIA_TYPE, SIGNED_RESPONSES, Problem, ProblemDoc
from api.schemas import example
from contracts import export as copy_export
from contracts.acting import reading_scope
from contracts.proofs import vault_case
from contracts.provenance import derivations
from contracts.rights import is_overdue
from contracts.vocabulary import DATA_CLASSES
from node import chainstore, logstore
from node.service import Node
from node.vault import CaseRef, Unreadable, WrongCase
from tlog.note import Verifier

router = APIRouter(prefix="/v1/rights", tags=["resident"])
H = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
P = "ab" * 32


class ExportItem(BaseModel):
    kind: str = Field(description="enrollment, consent, health_case, pension_case, proof, "
                      "copy_request, correction, emergency (a break-glass), statutory_basis "
                      "or access (an access-log entry)")  # fmt: skip
    id: str
    value: dict[str, Any] = Field(description="the record as the state holds it (served)")
    entries: list[int] = Field(description="log indexes of the entries that wrote it (proven)")


class ExportEntry(BaseModel):
    index: int
    data: str = Field(description="base64 of the entry's exact bytes (a signed transaction)")
    hashes: list[str] = Field(description="RFC 9162 inclusion proof in the checkpoint's tree")


class ExportRequest(BaseModel):
    request_id: str
    by: str | None = Field(description="the resident who asked for her, if not herself")
    index: int = Field(description="the rights.copy_request entry")


class PayloadPointer(BaseModel):
    case_id: str
    data_class: str | None
    source: str
    commitment: str
    held: str


class ExportBody(BaseModel):
    format: str
    origin: str
    resident: str
    request: ExportRequest
    height: int
    generated_ms: int
    proven: str
    items: list[ExportItem]
    entries: list[ExportEntry]
    checkpoint: str = Field(description="C2SP checkpoint, cosigned by a quorum of validators")
    payloads: list[PayloadPointer] = Field(
        description="health payloads, not in the copy: where each is (the source's record)"
    )
    sealed_contents: dict[str, str] = Field(
        description="proof of insurance id -> base64 sealed box to the asker's key: salt (32 "
        "bytes) ‖ RFC 8785 content"
    )


class SignedExport(BaseModel):
    """The copy, signed by the serving validator: Ed25519 over ``shanhe-copy-export-v1\\n`` ‖
    RFC 8785(export). ``shanhe verify export`` checks it offline."""

    export: ExportBody
    signer: str = Field(description="the validator whose key signed it")
    signature: str

    model_config = example(
        export={"format": copy_export.FORMAT, "origin": "shanhe.example/shanhe-quzhou-dev",
                "resident": P, "request": {"request_id": "copy-1", "by": None, "index": 41},
                "height": 40, "generated_ms": 1_779_933_600_000, "proven": copy_export.PROVEN,
                "items": [{"kind": "consent", "id": "c-1", "value": {"status": "active"},
                           "entries": [12]}],
                "entries": [{"index": 12, "data": "eyJib2R5Ijp7fX0=", "hashes": []}],
                "checkpoint": "shanhe.example/shanhe-quzhou-dev\n42\n...\n\n— node-330800 ...\n",
                "payloads": [], "sealed_contents": {}},
        signer="node-330800", signature="Qk9YRUQgLi4u",
    )  # fmt: skip


def _request(request: Request, action: Action, caller: Caller, key: str) -> dict[str, Any]:
    """The request at ``key``; one that does not exist is answered as another's."""
    node: Node = request.app.state.node
    found = node.committed_value(key)
    if not isinstance(found, dict):
        refuse(request, action, caller, Parties(), decide(action, caller, Parties()) or "x")
    return found


class _Committed:
    def __init__(self, node: Node) -> None:
        self.node = node

    def get(self, key: str) -> Any:
        return self.node.committed_value(key)


def _asker(node: Node, found: dict[str, Any], action: str, classes: list[str]) -> str | None:
    """The resident who asked for her (``by``), while she still stands for her: a guardian in
    force, or a delegate whose delegation in force covers ``action`` on ``classes``. Her
    standing is checked at each read, not once when she asked (red team 13a): a revoked
    delegate, or a guardian once the ward turned 18, is refused like anyone else."""
    by = found.get("by")
    if not isinstance(by, str):
        return None
    scope = reading_scope(_Committed(node), found["resident"], by, int(time.time() * 1000))
    if scope is None or action not in scope[0] or not set(classes) <= scope[1]:
        return None
    return by


COPY_RESPONSES: dict[int | str, dict[str, Any]] = {
    **CASE_RESPONSES,
    409: {"model": ProblemDoc, "content": {MEDIA_TYPE: {}},
          "description": "not-yet: no quorum-cosigned checkpoint covers every entry yet"},
}  # fmt: skip


@router.get("/copies/{request_id}", response_model=SignedExport, responses=COPY_RESPONSES)
async def get_copy(request: Request, request_id: str) -> SignedExport:
    """The resident's copy for her ``rights.copy_request``: signed request by her, or by the
    resident who asked for her. 409 ``not-yet`` until a quorum-cosigned checkpoint covers
    every entry (retry after a second); 410 once she was erased. Not recorded again: the
    request is in her access log."""
    caller = await caller_of(request)
    node: Node = request.app.state.node
    asked = _request(request, Action.COPY, caller, f"rights/copy/{request_id}")
    parties = Parties(resident=asked["resident"],
                      acting=_asker(node, asked, "rights.copy_request", sorted(DATA_CLASSES)))  # fmt: skip
    require(request, Action.COPY, caller, parties, entity=request_id)
    key = node.key_of(caller.id)
    if key is None:
        raise Problem(401, "unknown-key", f"{caller.id} has no active key")
    signed = await run_in_threadpool(_export, node, asked, key)
    if signed is None:
        raise Problem(409, "not-yet", "No quorum-cosigned checkpoint covers the copy yet",
                      retry_after=1)  # fmt: skip
    return SignedExport.model_validate(signed)


def _export(node: Node, asked: dict[str, Any], key: Verifier) -> dict[str, Any] | None:
    who = asked["resident"]
    with node.engine.connect() as conn:
        state = chainstore.DBState(conn)
        found = copy_export.items(state, who, derivations(state, who))
        height = chainstore.tip_height(conn)
        size = logstore.latest_quorum_size(conn)
        note = logstore.checkpoint_note(conn, size) if size is not None else None
        if size is None or note is None:
            return None

        def leaf_index(tx: str) -> int | None:
            result = chainstore.tx_result(conn, bytes.fromhex(tx))
            return None if result is None else result["leaf_index"]

        def leaf(index: int) -> bytes:
            data = logstore.leaf_at(conn, index)
            assert data is not None
            return data

        try:
            built = copy_export.build(
                origin=node.genesis.origin, resident=who, request=asked, found=found,
                leaf_index=lambda tx: _covered(leaf_index(tx), size), leaf=leaf,
                inclusion=lambda i: logstore.inclusion_proof(conn, i, size), checkpoint=note,
                height=height, generated_ms=int(time.time() * 1000),
                sealed_contents=_sealed(node, found, key),
            )  # fmt: skip
        except ValueError:
            return None
    return copy_export.sign(built, node.signer)


def _covered(index: int | None, size: int) -> int | None:
    return index if index is not None and index < size else None


def _sealed(node: Node, found: list[copy_export.Item], key: Verifier) -> dict[str, str]:
    """Her proofs' contents, which she may read, sealed to the asker's key."""
    sealed = {}
    for item in found:
        proof = item.value
        if item.kind != "proof" or not isinstance(proof, dict):
            continue
        bound = CaseRef(vault_case(item.id), proof["resident"], proof["issuer"])
        try:
            box = node.vault.deliver(bound, proof["commitment"], proof["locator"], key)
        except (WrongCase, Unreadable):
            continue  # not held at this node: the item still says where it was committed
        sealed[item.id] = base64.b64encode(box).decode()
    return sealed


class Correction(BaseModel):
    """A correction request and, once decided, its decision (``contracts/rights.py``)."""

    request_id: str
    resident: str
    by: str | None = None
    agency: str
    record: dict[str, str]
    data_class: str
    ground: str
    content_commitment: str
    status: str = Field(description="REQUESTED | ACCEPTED | PARTIAL | REFUSED | ERASED")
    requested_ms: int
    deadline_ms: int
    deadline_provisional: bool
    working_days: int
    overdue: bool = Field(description="past the deadline undecided, or decided late")
    late: bool | None = Field(default=None, description="decided after the deadline")
    reason: str | None = None
    new_commitment: str | None = None
    note_hash: str | None = None
    decided_by: str | None = None
    decided_ms: int | None = None

    model_config = example(
        request_id="corr-1", resident=P, agency="hosp-330824",
        record={"type": "health_case", "id": "share-1"}, data_class="test_result",
        ground="inaccurate", content_commitment=H, status="REFUSED",
        requested_ms=1_779_933_600_000, deadline_ms=1_781_798_400_000,
        deadline_provisional=False, working_days=15, overdue=False, late=False,
        reason="record_accurate", decided_by="hosp-330824", decided_ms=1_780_000_000_000,
    )  # fmt: skip


def _correction(found: dict[str, Any], now: int) -> Correction:
    return Correction.model_validate({**found, "overdue": is_overdue(found, now)})


@router.get("/corrections/{request_id}", response_model=Correction,
            response_model_exclude_none=True, responses=CASE_RESPONSES)  # fmt: skip
async def get_correction(request: Request, request_id: str) -> Correction:
    """A correction request, for the resident (or who asked for her) and the agency it names.
    Signed request; the agency's read is recorded in her access log."""
    caller = await caller_of(request)
    node: Node = request.app.state.node
    found = _request(request, Action.CORRECTION, caller, f"rights/correction/{request_id}")
    classes = [c for c in str(found["data_class"]).split(",") if c != "-"]
    parties = Parties(resident=found["resident"], agencies=frozenset({found["agency"]}),
                      acting=_asker(node, found, "rights.correct_request", classes))  # fmt: skip
    require(request, Action.CORRECTION, caller, parties, entity=request_id,
            data_class=found["data_class"])  # fmt: skip
    if caller.role is Role.AGENCY:
        node.record_read(found["resident"], caller.id, request_id, found["data_class"],
                         f"api {Action.CORRECTION.value}")  # fmt: skip
    return _correction(found, int(time.time() * 1000))


class CorrectionPage(BaseModel):
    as_of_ms: int
    requests: list[Correction]
    next_cursor: str | None


@router.get("/overdue", response_model=CorrectionPage, responses=SIGNED_RESPONSES)
async def list_overdue(
    request: Request, cursor: str | None = None, limit: int = Query(100, ge=1, le=500)
) -> CorrectionPage:
    """Correction requests past their deadline (working days): undecided now, or decided
    late (which stays on record). An auditor sees every agency's, another agency those asked
    of it. Scans ``limit`` requests a page. Signed request."""
    caller = await caller_of(request)
    require(request, Action.CORRECTION_OVERDUE, caller, Parties())
    node: Node = request.app.state.node
    now = int(time.time() * 1000)
    own = node.committed_value(f"agency/{caller.id}")
    auditor = isinstance(own, dict) and own.get("kind") == "auditor"
    with node.engine.connect() as conn:
        values, next_cursor = chainstore.state_page(conn, "rights/correction/", cursor, limit)
    listed = [
        _correction(v, now)
        for v in values
        if isinstance(v, dict) and (auditor or v.get("agency") == caller.id) and is_overdue(v, now)
    ]
    return CorrectionPage(as_of_ms=now, requests=listed, next_cursor=next_cursor)
