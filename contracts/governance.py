"""Changing who takes part: adding or removing an agency and rotating an agency's key take
effect only when a quorum (more than two thirds) of the governance agencies approve.

Governance agencies are the genesis agencies with the ``governance`` role (those that operate
validators). The same quorum adds or removes a validator ({name, key, url}); the new set signs
from the height after the block that applied the change.
"""

from typing import Any

from contracts.fields import BadField, agency, choice, guarded, ident, only, require, text, verifier
from contracts.rules import Applied, BlockContext, Outcome
from contracts.state import Overlay
from contracts.tx import Transaction

ACTIONS = {"add_agency", "remove_agency", "rotate_agency_key", "add_validator", "remove_validator"}
VALIDATORS = "validators"
KINDS = {"social_security_bureau", "hospital", "health_commission", "auditor"}
MEMBERS = "governance/members"


def members(state: Overlay) -> list[str]:
    value = state.get(MEMBERS)
    return [m for m in value if isinstance(m, str)] if isinstance(value, list) else []


def quorum(count: int) -> int:
    return 2 * count // 3 + 1


def _check_member(state: Overlay, signer: str) -> None:
    require(
        signer in members(state), "wrong_signer", "only governance agencies propose and approve"
    )
    agency(state, signer)


def validators(state: Overlay) -> list[dict[str, str]]:
    value = state.get(VALIDATORS)
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _validator_payload(state: Overlay, action: str, raw: dict[str, Any]) -> dict[str, Any]:
    name = ident(raw, "name")
    current = {v["name"] for v in validators(state)}
    if action == "add_validator":
        require(
            set(raw) == {"name", "key", "url"}, "bad_field", "add_validator takes name, key and url"
        )
        require(name not in current, "duplicate_id", f"{name} is a validator")
        key = verifier(raw, "key")
        require(
            key.split("+", 1)[0] == name, "bad_field", "the key must carry the validator's name"
        )
        return {"name": name, "key": key, "url": text(raw, "url")}
    require(set(raw) == {"name"}, "bad_field", "remove_validator takes name")
    require(name in current, "unknown_validator", f"{name} is not a validator")
    require(len(current) > 1, "wrong_state", "the last validator cannot be removed")
    return {"name": name}


def _payload(state: Overlay, action: str, raw: Any) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise BadField("bad_field", "the proposal's subject must be an object")
    if action in ("add_validator", "remove_validator"):
        return _validator_payload(state, action, raw)
    agency_id = ident(raw, "id")
    exists = isinstance(state.get(f"agency/{agency_id}"), dict)
    if action == "add_agency":
        require(
            set(raw) == {"id", "name", "division", "kind", "roles", "key"},
            "bad_field",
            "add_agency takes id, name, division, kind, roles, key",
        )
        require(not exists, "duplicate_id", f"{agency_id} exists")
        roles = raw["roles"]
        require(
            isinstance(roles, list)
            and all(isinstance(r, str) for r in roles)
            and "governance" not in roles,
            "bad_field",
            "roles: a list of strings, not governance",
        )
        return {"id": agency_id, "name": text(raw, "name"), "division": ident(raw, "division"),
                "kind": choice(raw, "kind", KINDS), "roles": roles, "key": verifier(raw, "key")}  # fmt: skip
    agency(state, agency_id)
    if action == "remove_agency":
        require(set(raw) == {"id"}, "bad_field", "remove_agency takes id")
        return {"id": agency_id}
    require(set(raw) == {"id", "key"}, "bad_field", "rotate_agency_key takes id and key")
    return {"id": agency_id, "key": verifier(raw, "key")}


def _apply(state: Overlay, action: str, payload: dict[str, Any]) -> None:
    if action == "add_validator":
        state.put(VALIDATORS, [*validators(state), payload])
        return
    if action == "remove_validator":
        state.put(VALIDATORS, [v for v in validators(state) if v["name"] != payload["name"]])
        return
    key = f"agency/{payload['id']}"
    record = state.get(key)
    if action == "add_agency":
        state.put(key, {**payload, "status": "active"})
    elif action == "remove_agency" and isinstance(record, dict):
        state.put(key, {**record, "status": "removed"})
        state.put(MEMBERS, [m for m in members(state) if m != payload["id"]])
    elif isinstance(record, dict):
        state.put(
            key,
            {
                **record,
                "key": payload["key"],
                "previous_keys": [*record.get("previous_keys", []), record["key"]],
            },
        )


def _approve(state: Overlay, proposal: dict[str, Any], signer: str, tx: Transaction) -> Outcome:
    approvals = sorted({*proposal["approvals"], signer})
    status = "applied" if len(approvals) >= quorum(len(members(state))) else "open"
    if status == "applied":
        _apply(state, proposal["action"], proposal["agency"])
    state.put(
        f"proposal/{proposal['proposal_id']}",
        {**proposal, "approvals": approvals, "status": status},
    )
    return Applied(
        tx.encode(), ({"type": "governance_" + status, "proposal_id": proposal["proposal_id"]},)
    )


def propose(state: Overlay, tx: Transaction, ctx: BlockContext) -> Outcome:
    action = choice(tx.body, "action", ACTIONS)
    subject = "validator" if action in ("add_validator", "remove_validator") else "agency"
    only(tx.body, "proposal_id", "action", subject)
    _check_member(state, tx.signer)
    proposal_id = ident(tx.body, "proposal_id")
    require(state.get(f"proposal/{proposal_id}") is None, "duplicate_id", "proposal_id is taken")
    payload = _payload(state, action, tx.body.get(subject))
    proposal = {
        "proposal_id": proposal_id,
        "action": action,
        "agency": payload,
        "approvals": [],
        "proposed_by": tx.signer,
        "height": ctx.height,
    }
    return _approve(state, proposal, tx.signer, tx)


def approve(state: Overlay, tx: Transaction, ctx: BlockContext) -> Outcome:
    only(tx.body, "proposal_id")
    _check_member(state, tx.signer)
    proposal = state.get(f"proposal/{ident(tx.body, 'proposal_id')}")
    require(isinstance(proposal, dict), "unknown_proposal", "no such proposal")
    assert isinstance(proposal, dict)
    require(proposal["status"] == "open", "wrong_state", f"proposal is {proposal['status']}")
    require(
        tx.signer not in proposal["approvals"], "already_approved", "this agency already approved"
    )
    return _approve(state, proposal, tx.signer, tx)


RULES = {"governance.propose": guarded(propose), "governance.approve": guarded(approve)}
