"""Who a resident-signed transaction acts for: the signer herself, or a resident she acts for
as a registered guardian (民法典 arts. 27-33, PIPL art. 31) or a delegate (民法典 art. 165).

The one place rules ask it (``principal``), so that every resident step, old and new, checks
an age class, a guardianship or a delegation the same way at the block it lands in; and the
one place (``logged``, around every rule) that puts every step taken for a resident in her
access log with the one who took it named.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from contracts import delegation, guardians
from contracts.access_log import record_access
from contracts.authority import Relation
from contracts.formats import BadField
from contracts.rules import Applied, BlockContext, Outcome, Rule
from contracts.state import Overlay, StateView
from contracts.tx import Transaction
from contracts.vocabulary import DATA_CLASSES, DELEGABLE_ACTIONS

GRANTOR = {Relation.GUARDIAN: "guardian", Relation.DELEGATE: "proxy"}
"""A consent's ``grantor.type`` when a guardian or a delegate signs it."""


@dataclass(frozen=True)
class Acting:
    resident: str
    """The pseudonym of the resident the transaction acts for."""
    relation: Relation
    """``SUBJECT`` when she signs herself; ``GUARDIAN`` or ``DELEGATE`` otherwise."""
    by: str | None = None
    """The acting resident's pseudonym when it is not the subject herself."""
    record: str | None = None
    """The guardianship or delegation it acts under (``guardianship/<id>``,
    ``delegation/<id>``)."""

    @property
    def acting_as(self) -> str | None:
        """``guardian`` or ``delegate`` (an access-log entry's ``acting_as``), or None."""
        return None if self.by is None else self.relation.value


def principal(
    state: Overlay,
    tx: Transaction,
    ctx: BlockContext,
    action: str,
    classes: Iterable[str] = (),
) -> Acting:
    """The resident a resident-signed ``tx`` acts for, doing ``action`` (a transaction type)
    on ``classes``; raises ``BadField`` when the signer may not act for her.

    Herself: not under 14 and not an adult a court declared without capacity
    (``guardian_required``: PIPL art. 31, 民法典 arts. 20-21). For another (``on_behalf_of``):
    the signer is of full capacity; ``action`` is one a representative may take
    (``DELEGABLE_ACTIONS``); and at this block either a guardianship of hers over that resident
    is in force (for a minor, only until the minor's 18th birthday), or a delegation from that
    resident to her is, not expired nor revoked, covering ``action`` and every one of
    ``classes``. The resident must be enrolled and not erased (the erasure guard refused the
    latter already)."""
    if not tx.signer.startswith("resident:"):
        raise BadField("wrong_signer", f"{tx.type} is signed by a resident")
    me, now = tx.signer.removeprefix("resident:"), ctx.time_ms
    target = tx.body.get("on_behalf_of")
    if target is None:
        if guardians.capacity(state, me, now) == "none":
            raise BadField(
                "guardian_required",
                "under 14, or declared without capacity, a resident acts through a registered "
                "guardian (PIPL art. 31; 民法典 arts. 20-21, 23)",
            )
        return Acting(me, Relation.SUBJECT)
    if not isinstance(target, str) or target == me:
        raise BadField("not_acting_for", "on_behalf_of names another resident")
    if action not in DELEGABLE_ACTIONS:
        raise BadField("not_delegable", f"nobody signs {action} for another resident")
    ward = state.get(f"resident/{target}")
    if not isinstance(ward, dict):
        raise BadField("unknown_resident", "resident is not enrolled")
    if ward.get("status") != "active":
        raise BadField("resident_erased", "the resident was erased (PIPL art. 47)")
    if guardians.capacity(state, me, now) != "full":
        raise BadField(
            "capacity_required",
            "only a resident of full capacity acts for another (民法典 arts. 27, 173(3))",
        )
    found = guardians.of_pair(state, target, me)
    why = guardians.problem(found, ward, now) if found is not None else "not_acting_for"
    if found is not None and why is None:
        return Acting(target, Relation.GUARDIAN, me, f"guardianship/{found['guardianship_id']}")
    given = delegation.of_pair(state, target, me)
    if given is None:
        raise BadField(why or "not_acting_for", f"no guardianship or delegation in force: {why}")
    if (problem := delegation.problem(given, now)) is not None:
        raise BadField(problem, f"the delegation is not in force: {problem}")
    wanted = set(classes)
    if action not in given["actions"] or not wanted <= set(given["data_classes"]):
        outside = sorted(wanted - set(given["data_classes"]))
        raise BadField(
            "delegation_out_of_scope",
            f"the delegation does not cover {action}"
            + (f" on {', '.join(outside)}" if outside else ""),
        )
    return Acting(target, Relation.DELEGATE, me, f"delegation/{given['delegation_id']}")


def relation_of(state: StateView, resident: str, reader: str, now_ms: int) -> Acting | None:
    """How ``reader`` (a pseudonym) stands to ``resident`` now: her guardian in force, her
    delegate in force (``record``: the delegation's key), or neither (None). For reads at the
    API, which read what the scope allows (``reading_scope``)."""
    ward = state.get(f"resident/{resident}")
    if not isinstance(ward, dict) or ward.get("status") != "active" or reader == resident:
        return None
    found = guardians.of_pair(state, resident, reader)
    if found is not None and guardians.problem(found, ward, now_ms) is None:
        gid = found["guardianship_id"]
        return Acting(resident, Relation.GUARDIAN, reader, f"guardianship/{gid}")
    given = delegation.of_pair(state, resident, reader)
    if given is not None and delegation.problem(given, now_ms) is None:
        return Acting(resident, Relation.DELEGATE, reader, f"delegation/{given['delegation_id']}")
    return None


def reading_scope(
    state: StateView, resident: str, reader: str, now_ms: int
) -> tuple[frozenset[str], frozenset[str]] | None:
    """What ``reader`` may read of ``resident``'s records now, as (actions, data classes) of
    her standing (a guardian: everything a representative may do, every class), or None."""
    acting = relation_of(state, resident, reader, now_ms)
    if acting is None:
        return None
    if acting.relation is Relation.GUARDIAN:
        return DELEGABLE_ACTIONS, DATA_CLASSES
    given = state.get(acting.record or "")
    assert isinstance(given, dict)
    return frozenset(given["actions"]), frozenset(given["data_classes"])


def _entity(state: StateView, body: dict[str, Any]) -> tuple[str, str]:
    """What an entry of a step taken for her names: the record's id (a case before the
    consent it uses), and its data classes."""
    for field, prefix in (("case_id", "share/"), ("request_id", None), ("consent_id", "consent/"),
                          ("delegation_id", None)):  # fmt: skip
        if not isinstance(body.get(field), str):
            continue
        record = state.get(prefix + body[field]) if prefix else None
        record = record if isinstance(record, dict) else {}
        classes = body.get("data_classes") or record.get("data_classes")
        if not isinstance(classes, list):
            one = body.get("data_class") or record.get("data_class")
            classes = [one] if isinstance(one, str) else ["-"]
        return str(body[field]), ",".join(str(c) for c in classes)
    return "-", "-"


def logged(rule: Rule) -> Rule:
    """Around every rule: a step a guardian or a delegate took for a resident (applied, with
    ``on_behalf_of``) is in the resident's access log with the one who took it as ``agent``
    and ``acting_as`` said; the rule's own entries by that agent get ``acting_as``, and if the
    rule wrote none, one is written here. No step taken for her can stay out of her log."""

    def run(state: Overlay, tx: Transaction, ctx: BlockContext) -> Outcome:
        target = tx.body.get("on_behalf_of")
        if not isinstance(target, str) or not tx.signer.startswith("resident:"):
            return rule(state, tx, ctx)
        before = state.get(f"access_count/{target}") or 0
        assert isinstance(before, int)
        outcome = rule(state, tx, ctx)
        if isinstance(outcome, Applied):
            _tell(state, tx, ctx, target, before)
        return outcome

    return run


def _tell(state: Overlay, tx: Transaction, ctx: BlockContext, target: str, before: int) -> None:
    acting = relation_of(state, target, tx.signer.removeprefix("resident:"), ctx.time_ms)
    role = acting.acting_as if acting is not None else Relation.DELEGATE.value
    after = state.get(f"access_count/{target}") or 0
    assert isinstance(after, int)
    found = False
    for seq in range(before, after):
        key = f"access/{target}/{seq:012d}"
        entry = state.get(key)
        if isinstance(entry, dict) and entry.get("agent") == tx.signer:
            state.put(key, {**entry, "acting_as": role})
            found = True
    if not found:
        entity, classes = _entity(state, tx.body)
        action = "C" if tx.type in ("consent.grant", "pension.apply") else "U"
        purpose = tx.body.get("purpose")
        consent_id = tx.body.get("consent_id")
        record_access(
            state, target, action=action, agent=tx.signer, entity=entity, data_class=classes,
            purpose=purpose if isinstance(purpose, str) else "-",
            consent_id=consent_id if isinstance(consent_id, str) else None, outcome="granted",
            reason=tx.type, time_ms=ctx.time_ms, height=ctx.height, acting_as=role,
        )  # fmt: skip
