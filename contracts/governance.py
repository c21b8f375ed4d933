"""Changing who takes part: adding or removing an agency, rotating an agency's key, setting an
agency's roles (``set_agency_roles``: a hospital's 医保定点 agreement ends, an agency opens a
counter), and the same for validators; and setting a year's working-day calendar (``set_calendar``), which moves
every deadline: these take effect only when a quorum (more than two thirds) of the
governance agencies approve.

Governance agencies are the genesis agencies with the ``governance`` role (those that operate
validators). A change is checked twice with the same function: when it is proposed (a bad one
is a rejected transaction) and again when the approval that reaches the quorum applies it,
against the state of that moment. Two proposals that were each fine alone (two validators of
one name, say) can no longer both apply: the second is closed as ``refused`` with its reason,
so nothing governance writes can make a validator set the nodes cannot use. A validator-set
change takes effect from the height after the block that applied it.
"""

from typing import Any

from contracts import authority, calendar, emergency, pension, rights
from contracts.authority import Relation
from contracts.fields import BadField, agency, guarded, require
from contracts.rules import Applied, BlockContext, Outcome
from contracts.state import Overlay
from contracts.tx import Transaction
from contracts.vocabulary import AGENCY_KINDS
from tlog.note import Verifier

VALIDATOR_ACTIONS = {"add_validator", "remove_validator", "rotate_validator_key"}
AGENCY_ACTIONS = {"add_agency", "remove_agency", "rotate_agency_key", "set_agency_roles"}
CALENDAR_ACTIONS = {"set_calendar"}
EMERGENCY_ACTIONS = {"set_emergency_limit"}
"""A hospital's break-glasses a rolling day, or every hospital's (``contracts/emergency.py``);
0 suspends its break-glass."""
ACTIONS = VALIDATOR_ACTIONS | AGENCY_ACTIONS | CALENDAR_ACTIONS | EMERGENCY_ACTIONS
VALIDATORS = "validators"
KINDS = AGENCY_KINDS
MEMBERS = "governance/members"


def members(state: Overlay) -> list[str]:
    value = state.get(MEMBERS)
    return [m for m in value if isinstance(m, str)] if isinstance(value, list) else []


def quorum(count: int) -> int:
    return 2 * count // 3 + 1


def _check_member(state: Overlay, tx: Transaction) -> None:
    member = [Relation.MEMBER] if tx.signer in members(state) else []
    authority.check(state, tx.type, tx.signer, member)


def validators(state: Overlay) -> list[dict[str, str]]:
    value = state.get(VALIDATORS)
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _public_key(text: Any) -> bytes | None:
    try:
        return Verifier.parse(str(text)).public_key
    except ValueError:
        return None


def _key_holders(state: Overlay) -> dict[bytes, str]:
    """Keys that count in consensus or governance, and who holds each: every validator and
    every governance agency. A key may hold one of these places only, so that one private
    key can never vote or approve twice under two names."""
    holders: dict[bytes, str] = {}
    for v in validators(state):
        if (key := _public_key(v.get("key"))) is not None:
            holders[key] = f"validator {v.get('name')}"
    for member in members(state):
        record = state.get(f"agency/{member}")
        if isinstance(record, dict) and (key := _public_key(record.get("key"))) is not None:
            holders.setdefault(key, f"agency {member}")
    return holders


def _fresh_key(state: Overlay, key: str) -> None:
    holder = _key_holders(state).get(_public_key(key) or b"")
    require(holder is None, "key_in_use", f"that key is held by {holder}")


def _validator_payload(state: Overlay, action: str, raw: dict[str, Any]) -> dict[str, Any]:
    name = raw["name"]
    current = [v.get("name") for v in validators(state)]
    if action == "remove_validator":
        require(name in current, "unknown_validator", f"{name} is not a validator")
        # The one size rule: never empty (as CometBFT). A smaller set is no less safe (each
        # height's set decides it, with a quorum of its own), and a floor of four would keep
        # a validator known to be faulty in a set of four, where it uses up the only fault
        # the set tolerates anyway.
        require(len(current) > 1, "wrong_state", "the last validator cannot be removed")
        return {"name": name}
    if action == "add_validator":
        require(name not in current, "duplicate_id", f"{name} is a validator")
    else:
        require(name in current, "unknown_validator", f"{name} is not a validator")
    _fresh_key(state, raw["key"])
    if action == "add_validator":
        return {"name": name, "key": raw["key"], "url": raw["url"]}
    return {"name": name, "key": raw["key"]}


def _agency_payload(state: Overlay, action: str, raw: dict[str, Any]) -> dict[str, Any]:
    agency_id = raw["id"]
    if action == "add_agency":
        require(state.get(f"agency/{agency_id}") is None, "duplicate_id", f"{agency_id} exists")
        _fresh_key(state, raw["key"])
        authority.check_roles(raw["kind"], raw["roles"])
        return {k: raw[k] for k in ("id", "name", "division", "kind", "roles", "key")}
    record = agency(state, agency_id)
    if action == "set_agency_roles":
        return _roles_payload(record, agency_id, raw["roles"])
    if action == "remove_agency":
        require(
            members(state) != [agency_id],
            "wrong_state",
            "the last governance agency cannot be removed: nobody could govern after it",
        )
        return {"id": agency_id}
    key = raw["key"]
    own = [record.get("key"), *record.get("previous_keys", [])]
    require(
        _public_key(key) not in {_public_key(k) for k in own},
        "key_in_use",
        f"{agency_id} holds or held that key: a rotated-away key never comes back",
    )
    _fresh_key(state, key)
    return {"id": agency_id, "key": key}


def _roles_payload(record: dict[str, Any], agency_id: str, roles: Any) -> dict[str, Any]:
    """The agency's roles to replace, under the rules ``add_agency`` follows, for the kind its
    record holds. ``governance`` is never in the list, and is kept if held (``_apply``):
    membership ends only with ``remove_agency``."""
    kind = record.get("kind")
    listed = authority.check_roles(kind if isinstance(kind, str) else "", roles)
    held = record.get("roles")
    held = [r for r in held if r != authority.GOVERNANCE] if isinstance(held, list) else []
    require(sorted(listed) != sorted(held), "wrong_state", f"{agency_id} holds these roles")
    return {"id": agency_id, "roles": listed}


def _calendar_payload(state: Overlay, raw: Any, ctx: BlockContext) -> dict[str, Any]:
    """A year's arrangement, checked again (``contracts.calendar.check_arrangement``), from a
    notice published by the block's date, for a year not set yet: a set year is never
    replaced, since deadlines already counted by it would change under cases that are not
    listed for recomputation."""
    checked = calendar.check_arrangement(raw)
    year = checked["year"]
    today = calendar.cst_date(ctx.time_ms).isoformat()
    require(
        checked["notice"]["date"] <= today,
        "bad_field",
        f"notice date: {checked['notice']['date']} is after this block's date, {today}",
    )
    require(
        not calendar.is_set(state, year),
        "duplicate_id",
        f"the arrangement for {year} is set; a set year is not replaced",
    )
    return checked


def _payload(state: Overlay, action: str, raw: Any, ctx: BlockContext) -> dict[str, Any]:
    """The change, checked against ``state``: raises ``BadField`` if it cannot apply there.
    Its shape was checked when it was proposed (``contracts/shapes.py``)."""
    if action in VALIDATOR_ACTIONS:
        return _validator_payload(state, action, raw)
    if action in CALENDAR_ACTIONS:
        return _calendar_payload(state, raw, ctx)
    if action in EMERGENCY_ACTIONS:
        return emergency.limit_payload(state, raw)
    return _agency_payload(state, action, raw)


def _subject(action: str) -> str:
    """The body's field that holds the change."""
    if action in VALIDATOR_ACTIONS:
        return "validator"
    if action in EMERGENCY_ACTIONS:
        return "emergency_limit"
    return "calendar" if action in CALENDAR_ACTIONS else "agency"


def _apply(state: Overlay, action: str, payload: dict[str, Any]) -> dict[str, Any]:
    """Make the change; what the ``governance_applied`` event adds about it."""
    if action == "set_calendar":
        calendar.set_year(state, payload)
        year = payload["year"]
        changed = pension.recompute_deadlines(state, year) + rights.recompute_deadlines(state, year)
        return {"deadlines_recomputed": changed}
    if action == "set_emergency_limit":
        emergency.set_limit(state, payload)
        return {}
    _apply_membership(state, action, payload)
    return {}


def _apply_membership(state: Overlay, action: str, payload: dict[str, Any]) -> None:
    if action == "add_validator":
        state.put(VALIDATORS, [*validators(state), payload])
        return
    if action == "remove_validator":
        state.put(VALIDATORS, [v for v in validators(state) if v.get("name") != payload["name"]])
        return
    if action == "rotate_validator_key":
        state.put(
            VALIDATORS,
            [
                {**v, "key": payload["key"]} if v.get("name") == payload["name"] else v
                for v in validators(state)
            ],
        )
        return
    key = f"agency/{payload['id']}"
    record = state.get(key)
    if action == "add_agency":
        state.put(key, {**payload, "status": "active"})
    elif action == "remove_agency" and isinstance(record, dict):
        state.put(key, {**record, "status": "removed"})
        state.put(MEMBERS, [m for m in members(state) if m != payload["id"]])
    elif action == "set_agency_roles" and isinstance(record, dict):
        # authority.actor_of and health.designated read roles from here: the next
        # transaction, in this block or later, sees them
        kept = [authority.GOVERNANCE] if authority.GOVERNANCE in record.get("roles", []) else []
        state.put(key, {**record, "roles": [*kept, *payload["roles"]]})
    elif isinstance(record, dict):
        state.put(
            key,
            {
                **record,
                "key": payload["key"],
                "previous_keys": [*record.get("previous_keys", []), record["key"]],
            },
        )


def _approve(
    state: Overlay, proposal: dict[str, Any], signer: str, tx: Transaction, ctx: BlockContext
) -> Outcome:
    """Count the approval; at the quorum, check the change again against the state of now and
    apply it, or close the proposal as ``refused`` with the reason. Only approvals of agencies
    that still govern count."""
    approvals = sorted({*proposal["approvals"], signer})
    current = members(state)
    counted = [a for a in approvals if a in current]
    record: dict[str, Any] = {**proposal, "approvals": approvals, "status": "open"}
    effect: dict[str, Any] = {}
    if len(counted) >= quorum(len(current)):
        try:
            payload = _payload(state, proposal["action"], proposal["agency"], ctx)
        except BadField as exc:
            record |= {"status": "refused",
                       "refusal": {"code": exc.code, "message": str(exc), "height": ctx.height}}  # fmt: skip
        else:
            effect = _apply(state, proposal["action"], payload)
            record["status"] = "applied"
    state.put(f"proposal/{proposal['proposal_id']}", record)
    event: dict[str, Any] = {"type": "governance_" + record["status"],
                             "proposal_id": proposal["proposal_id"], **effect}  # fmt: skip
    refused: str | None = None
    if record["status"] == "refused":
        refused = event["reason"] = record["refusal"]["code"]
    return Applied(tx.encode(), (event,), refused=refused)


def propose(state: Overlay, tx: Transaction, ctx: BlockContext) -> Outcome:
    action = tx.body["action"]
    _check_member(state, tx)
    proposal_id = tx.body["proposal_id"]
    require(state.get(f"proposal/{proposal_id}") is None, "duplicate_id", "proposal_id is taken")
    payload = _payload(state, action, tx.body.get(_subject(action)), ctx)
    proposal = {
        "proposal_id": proposal_id,
        "action": action,
        "agency": payload,  # every proposal keeps its subject here (node/blocksync.py reads it)
        "approvals": [],
        "proposed_by": tx.signer,
        "height": ctx.height,
    }
    return _approve(state, proposal, tx.signer, tx, ctx)


def approve(state: Overlay, tx: Transaction, ctx: BlockContext) -> Outcome:
    _check_member(state, tx)
    proposal = state.get(f"proposal/{tx.body['proposal_id']}")
    require(isinstance(proposal, dict), "unknown_proposal", "no such proposal")
    assert isinstance(proposal, dict)
    require(proposal["status"] == "open", "wrong_state", f"proposal is {proposal['status']}")
    require(
        tx.signer not in proposal["approvals"], "already_approved", "this agency already approved"
    )
    return _approve(state, proposal, tx.signer, tx, ctx)


RULES = {"governance.propose": guarded(propose), "governance.approve": guarded(approve)}
