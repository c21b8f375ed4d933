"""Family delegation (一部手机绑定多人, #13 item 3): a resident authorizes another enrolled
resident to act for her (委托代理, 民法典 arts. 161-165): which actions, on which data classes,
until when; the delegate signs with her own key, ``on_behalf_of`` the resident, and
``contracts.acting.principal`` checks the delegation at that block.

``delegation.grant`` — the resident herself, of full capacity (a minor or an adult a court
declared without full capacity has a guardian, who represents her by law: 民法典 arts. 19-23;
neither she nor her guardian appoints a delegate here). At most ``SELF_MAX_MS``.
``delegation.grant_assisted`` — a counter, the resident present in person with her power of
attorney (委托书, 民法典 art. 165: its hash, ``document_hash``), for one who will never hold a
key: at most ``ASSISTED_MAX_MS``; to a delegate whose key that counter set (it may hold that
key, and act as the delegate) at most the policy's assisted consent and marked
(``counter_keyed_delegate``), as a consent to an agency that set the key is.
``delegation.revoke`` — by the resident at any time (民法典 art. 173(2): 被代理人取消委托),
by the delegate herself (代理人辞去委托, same), or at a counter.

A delegation also ends at ``valid_until_ms`` (art. 173(1)) and when either resident is erased
(art. 173(4) as the ledger has it). Both residents are told in their access logs of each
grant and revocation; every act under it is in the resident's log with the delegate named.
"""

from typing import Any

from contracts import authority
from contracts.access_log import record_access
from contracts.authority import Relation
from contracts.fields import guarded, require
from contracts.guardians import capacity
from contracts.policy import DAY_MS, consent_policy
from contracts.residents import key_setters, resident
from contracts.rules import Applied, BlockContext, Outcome, Rule
from contracts.state import Overlay, StateView
from contracts.tx import Transaction

SELF_MAX_MS = 365 * DAY_MS
ASSISTED_MAX_MS = 90 * DAY_MS


def of_pair(state: StateView, principal: str, delegate: str) -> dict[str, Any] | None:
    did = state.get(f"delegation_pair/{principal}/{delegate}")
    record = state.get(f"delegation/{did}") if isinstance(did, str) else None
    return record if isinstance(record, dict) else None


def problem(record: Any, now_ms: int) -> str | None:
    """None if the delegation is in force at ``now_ms``; else the stable reason."""
    if not isinstance(record, dict):
        return "not_acting_for"
    if record.get("status") != "active":
        return f"delegation_{record.get('status')}"
    if now_ms >= record["valid_until_ms"]:
        return "delegation_expired"
    return None


def _tell(state: Overlay, who: str, agent: str, entity: str, reason: str, classes: list[str],
          ctx: BlockContext, action: str = "U") -> None:  # fmt: skip
    record_access(
        state, who, action=action, agent=agent, entity=entity, data_class=",".join(classes),
        purpose="-", consent_id=None, outcome="granted", reason=reason, time_ms=ctx.time_ms,
        height=ctx.height,
    )  # fmt: skip


def _grant(state: Overlay, tx: Transaction, ctx: BlockContext, assisted: bool) -> Outcome:
    body = tx.body
    if assisted:
        authority.check(state, tx.type, tx.signer)
        require(
            body["assisted"]["verification_result"] == "verified",
            "identity_not_verified",
            "the operator did not verify the resident's identity",
        )
        who = body["resident"]
    else:
        me = tx.signer.removeprefix("resident:")
        authority.check(state, tx.type, tx.signer, [Relation.SUBJECT] if me != tx.signer else [])
        who = me
    did, delegate_id = body["delegation_id"], body["delegate"]
    principal, delegate = resident(state, who), resident(state, delegate_id)
    require(principal is not None and delegate is not None, "unknown_resident",
            "the resident and the delegate are enrolled")  # fmt: skip
    assert principal is not None and delegate is not None
    require(delegate["status"] == "active", "resident_erased", "the delegate was erased")
    require(state.get(f"delegation/{did}") is None, "duplicate_id", "delegation_id is taken")
    require(
        capacity(state, who, ctx.time_ms) == "full",
        "capacity_required",
        "only a resident of full capacity appoints a delegate; a minor or a ward is "
        "represented by her guardian (民法典 arts. 19-23)",
    )
    require(
        capacity(state, delegate_id, ctx.time_ms) == "full",
        "delegate_not_capable",
        "a delegate is an adult of full capacity (民法典 art. 173(3))",
    )
    current = of_pair(state, who, delegate_id)
    require(current is None or problem(current, ctx.time_ms) is not None, "already_delegated",
            "a delegation to this resident is in force: revoke it first")  # fmt: skip
    keyed = assisted and tx.signer in key_setters(delegate)
    longest = SELF_MAX_MS
    if assisted:
        longest = ASSISTED_MAX_MS
    if keyed:
        longest = min(longest, consent_policy(state).assisted_max_ms)
    until = body["valid_until_ms"]
    require(until > ctx.time_ms, "bad_field", "valid_until_ms is past")
    require(
        until - ctx.time_ms <= longest,
        "validity_exceeds_policy",
        f"this delegation lasts at most {longest // DAY_MS} days from when it is recorded",
    )
    classes = sorted(body["data_classes"])
    state.put(
        f"delegation/{did}",
        {"delegation_id": did, "resident": who, "delegate": delegate_id,
         "actions": sorted(body["actions"]), "data_classes": classes,
         "valid_from_ms": ctx.time_ms, "valid_until_ms": until, "status": "active",
         "granted_by": tx.signer, "assisted": assisted,
         "assisted_details": body.get("assisted"), "document_hash": body.get("document_hash"),
         "counter_keyed_delegate": keyed, "granted_ms": ctx.time_ms, "height": ctx.height},
    )  # fmt: skip
    state.put(f"delegation_pair/{who}/{delegate_id}", did)
    state.put(f"delegated_to/{delegate_id}/{who}", did)
    reason = "counter_keyed_delegate" if keyed else "delegation_granted"
    _tell(state, who, tx.signer, did, reason, classes, ctx, "C")
    _tell(state, delegate_id, tx.signer, did, "delegation_received", classes, ctx, "C")
    event = {"type": "delegation_granted", "delegation_id": did, "resident": who,
             "assisted": assisted}  # fmt: skip
    return Applied(tx.encode(), (event,))


def grant(state: Overlay, tx: Transaction, ctx: BlockContext) -> Outcome:
    return _grant(state, tx, ctx, assisted=False)


def grant_assisted(state: Overlay, tx: Transaction, ctx: BlockContext) -> Outcome:
    return _grant(state, tx, ctx, assisted=True)


def revoke(state: Overlay, tx: Transaction, ctx: BlockContext) -> Outcome:
    """The resident, the delegate (renouncing), or a counter with the resident present: this
    one delegation, never another (a delegate stands in no relation to the resident's others)."""
    did = tx.body["delegation_id"]
    record = state.get(f"delegation/{did}")
    require(isinstance(record, dict), "unknown_delegation", "no such delegation")
    assert isinstance(record, dict)
    relations = []
    if tx.signer == f"resident:{record['resident']}":
        relations.append(Relation.SUBJECT)
    if tx.signer == f"resident:{record['delegate']}":
        relations.append(Relation.DELEGATE)
    authority.check(state, tx.type, tx.signer, relations)
    details = tx.body.get("assisted")
    require(
        details is None or details["verification_result"] == "verified",
        "identity_not_verified",
        "the operator did not verify the resident's identity",
    )
    require(record["status"] == "active", "wrong_state", f"delegation is {record['status']}")
    state.put(f"delegation/{did}", {**record, "status": "revoked", "revoked_by": tx.signer,
                                     "revoked_ms": ctx.time_ms, "revoked_height": ctx.height,
                                     "revocation_assisted": details})  # fmt: skip
    for who in (record["resident"], record["delegate"]):
        if isinstance(r := resident(state, who), dict) and r["status"] == "active":
            _tell(state, who, tx.signer, did, "delegation_revoked", record["data_classes"], ctx)
    event = {"type": "delegation_revoked", "delegation_id": did}
    return Applied(tx.encode(), (event,))


RULES: dict[str, Rule] = {
    "delegation.grant": guarded(grant),
    "delegation.grant_assisted": guarded(grant_assisted),
    "delegation.revoke": guarded(revoke),
}
