"""Proofs of insurance (参保证明) through the vault: the issuing bureau deposits the content
before it submits ``proof.issue``; the resident fetches it, with her log entry, to build the
proof file she hands to another agency; anyone holding a proof asks whether it still stands.
"""

import base64
from typing import Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from api.authz import Action, Caller, Parties, caller_of, decide, refuse, require
from api.problems import CASE_RESPONSES, Problem
from api.routers.agency import Deposited, deposit
from api.schemas import example
from contracts.proofs import (
    CONTENT_FIELDS,
    CONTENT_FORMAT,
    EXTRA_LIMITS,
    content_problem,
    proof_status,
    vault_case,
)
from contracts.vocabulary import PROOF_SCHEMES
from node import logstore
from node.service import Node
from node.vault import CaseRef, Unreadable, WrongCase
from signing.bounded_json import JsonRefused, decode
from signing.canonical import canonical_json

router = APIRouter(prefix="/v1/proofs", tags=["proofs"])
HEX64 = r"^[0-9a-f]{64}$"
_INT = {"type": "integer", "minimum": 0}
CONTENT_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "required": list(CONTENT_FIELDS),
    "properties": {
        "format": {"type": "string", "enum": [CONTENT_FORMAT]},
        "proof_id": {"type": "string", "pattern": "^[A-Za-z0-9._:-]{1,64}$"},
        "resident": {"type": "string", "pattern": HEX64},
        "issuer": {"type": "string", "description": "the depositing bureau's id"},
        "scheme": {"type": "string", "enum": sorted(PROOF_SCHEMES)},
        "period_from": {**_INT, "description": "YYYYMM"},
        "period_to": {**_INT, "description": "YYYYMM"},
        "contribution_months": _INT,
        "expires_ms": _INT,
    },
}
CONTENT_EXAMPLE = {"format": CONTENT_FORMAT, "proof_id": "pf-330825-0001", "resident": "ab" * 32,
                   "issuer": "hsa-330825", "scheme": "resident_medical", "period_from": 201801,
                   "period_to": 202605, "contribution_months": 101,
                   "expires_ms": 1_787_700_000_000}  # fmt: skip


@router.put(
    "/{proof_id}/content",
    response_model=Deposited,
    status_code=201,
    responses=CASE_RESPONSES,
    openapi_extra={"requestBody": {"required": True, "content": {"application/octet-stream": {
        "schema": CONTENT_SCHEMA, "example": CONTENT_EXAMPLE}}}},
)  # fmt: skip
async def put_content(request: Request, proof_id: str) -> Deposited:
    """The issuing bureau deposits a proof's content (JSON: docs/domain.md, ``proof.*``) in
    this node's vault, encrypted under the resident's data key, before it submits
    ``proof.issue`` with the commitment this answers. Signed request by a bureau whose kind
    issues the content's scheme, naming itself as the issuer."""
    caller = await caller_of(request)
    node: Node = request.app.state.node
    content = decode(await request.body(), EXTRA_LIMITS)
    if isinstance(content, JsonRefused):
        raise Problem(400, content.kind, "The body is not JSON within limits", content.message)
    why = content_problem(content)
    if why is not None or content.get("proof_id") != proof_id:
        raise Problem(400, "malformed-proof-content", "Not a proof's content",
                      why or "proof_id differs from the path")  # fmt: skip
    who = content["resident"]
    agency = node.committed_value(f"agency/{caller.id}")
    kind = agency.get("kind") if isinstance(agency, dict) else None
    issuer = caller.id if kind == PROOF_SCHEMES[content["scheme"]][2] else None
    parties = Parties(resident=who, source=issuer if content["issuer"] == caller.id else None)
    require(request, Action.PROOF_WRITE, caller, parties, entity=proof_id,
            data_class=PROOF_SCHEMES[content["scheme"]][3])  # fmt: skip
    if node.committed_value(f"resident/{who}") is None:
        raise Problem(404, "unknown-resident", "No resident with that pseudonym")
    if node.committed_value(f"proof/{proof_id}") is not None:
        raise Problem(409, "duplicate-id", "proof_id is taken")
    return deposit(node, CaseRef(vault_case(proof_id), who, caller.id), canonical_json(content))


class ProofContent(BaseModel):
    proof_id: str
    status: str = Field(
        description="active | revoked | erased | issuer_removed (governance removed the bureau)",
        examples=["active"],
    )
    leaf_index: int = Field(description="where the proof.issue entry is in the log")
    entry: str = Field(description="base64 of that entry's exact bytes")
    sealed: str = Field(
        description="base64 sealed box to the resident's key: salt (32 bytes) ‖ RFC 8785 content"
    )

    model_config = example(proof_id="pf-330825-0001", status="active", leaf_index=41,
                           entry="eyJib2R5Ijp7fX0=", sealed="Qk9YRUQgLi4u")  # fmt: skip


def _proof(request: Request, action: Action, caller: Caller, proof_id: str) -> dict[str, Any]:
    node: Node = request.app.state.node
    proof = node.committed_value(f"proof/{proof_id}")
    if not isinstance(proof, dict):  # answered as another resident's proof: no probing
        refuse(request, action, caller, Parties(), decide(action, caller, Parties()) or "x")
    return proof


@router.get("/{proof_id}/content", response_model=ProofContent, responses=CASE_RESPONSES)
async def get_content(request: Request, proof_id: str) -> ProofContent:
    """The resident's proof: its content sealed to her key, and the ``proof.issue`` entry with
    its index, from which she builds the proof file (``ShanheClient.proof_file``). Signed
    request by the resident; not recorded (her own data)."""
    caller = await caller_of(request)
    node: Node = request.app.state.node
    proof = _proof(request, Action.PROOF_READ, caller, proof_id)
    require(request, Action.PROOF_READ, caller, Parties(resident=proof["resident"]),
            entity=proof_id, data_class=PROOF_SCHEMES[proof["scheme"]][3])  # fmt: skip
    key = node.key_of(caller.id)
    status = node.tx_status(bytes.fromhex(proof["tx_hash"]))
    if key is None or status is None or status.get("leaf_index") is None:
        raise Problem(409, "not-yet", "The proof is not on this node's log yet")
    with node.engine.connect() as conn:
        entry = logstore.leaf_at(conn, int(status["leaf_index"]))
    bound = CaseRef(vault_case(proof_id), proof["resident"], proof["issuer"])
    try:
        sealed = node.vault.deliver(bound, proof["commitment"], proof["locator"], key)
    except (WrongCase, Unreadable) as exc:
        raise Problem(410, "payload-gone", "The content is not held here or was erased") from exc
    return ProofContent(proof_id=proof_id, status=proof["status"],
                        leaf_index=int(status["leaf_index"]),
                        entry=base64.b64encode(entry or b"").decode(),
                        sealed=base64.b64encode(sealed).decode())  # fmt: skip


class ProofStatus(BaseModel):
    """Whether a proof still stands: what an offline check cannot know."""

    proof_id: str
    status: str = Field(
        description="active | revoked | erased | issuer_removed (governance removed the bureau)",
        examples=["revoked"],
    )
    issuer: str
    revoked_reason: str | None = None
    revoked_height: int | None = None

    model_config = example(proof_id="pf-330825-0001", status="revoked", issuer="ssb-330825",
                           revoked_reason="issued_in_error", revoked_height=57)  # fmt: skip


@router.get("/{proof_id}/status", response_model=ProofStatus, response_model_exclude_none=True)
async def get_status(
    request: Request, proof_id: str, commitment: str = Query(pattern=HEX64)
) -> ProofStatus:
    """Public, for whoever holds the proof: answered only with the commitment the proof's
    entry carries (a serial number alone tells nothing, not even that it exists). Nothing
    about the resident."""
    node: Node = request.app.state.node
    proof = node.committed_value(f"proof/{proof_id}")
    if not isinstance(proof, dict) or proof.get("commitment") != commitment:
        raise Problem(404, "no-proof", "No proof with that serial number and commitment")
    issuer = node.committed_value(f"agency/{proof['issuer']}")
    return ProofStatus(proof_id=proof_id, status=proof_status(proof, issuer), issuer=proof["issuer"],
                       revoked_reason=proof.get("revoked_reason"),
                       revoked_height=proof.get("revoked_height"))  # fmt: skip
