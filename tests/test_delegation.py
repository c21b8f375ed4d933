"""Family delegation (#13 item 3, 一部手机绑定多人): a resident authorizes another enrolled
resident to act for her, within actions, data classes and a time; revocable at any time; every
act under it in her access log with the delegate named. The attacks first: a delegate beyond
her scope, after expiry or revocation, for a resident who erased; a chain of delegation; a
resident naming herself; a hostile counter delegating to a colluder; a delegate revoking her
principal's other delegations; a delegated step hidden from the principal's log."""

from typing import Any

import pytest

from contracts.access_log import record_access
from contracts.acting import logged, principal
from contracts.authority import Relation
from contracts.formats import BadField
from contracts.rules import Applied, BlockContext
from contracts.state import Overlay
from contracts.tx import Transaction
from tests.contract_world import DAY_MS, T0, World, access_log, h, ok, pseudonym_of, refused
from tests.tx_examples import NOTICE

FATHER, DAUGHTER, SON, CHILD = (pseudonym_of(n) for n in (41, 42, 43, 44))
F, D, S = (f"resident:{p}" for p in (FATHER, DAUGHTER, SON))
ASSISTED = {"channel": "counter", "operator_id": "op-9", "verification_method": "id_card_reader",
            "verification_result": "verified", "form_hash": h("委托书 form")}  # fmt: skip


@pytest.fixture
def w() -> World:
    world = World()
    world.enroll(FATHER, by="ssb-330802")
    world.enroll(DAUGHTER)  # by ssb-330825
    world.enroll(SON, by="ssb-330802")
    world.enroll(CHILD, age_class="under_14", class_ends="2030-02-01")
    return world


def delegation(did: str = "d-1", delegate: str = DAUGHTER, **change: Any) -> dict[str, Any]:
    body = {"type": "delegation.grant", "delegation_id": did, "delegate": delegate,
            "actions": ["consent.grant", "consent.withdraw"], "data_classes": ["test_result"],
            "valid_until_ms": T0 + 90 * DAY_MS}  # fmt: skip
    return {**body, **change}


def assisted(did: str = "d-a", **change: Any) -> dict[str, Any]:
    return delegation(did, **{"type": "delegation.grant_assisted", "resident": FATHER,
                              "document_hash": h("委托书"), "assisted": ASSISTED, **change})  # fmt: skip


def consent(cid: str = "c-1", **change: Any) -> dict[str, Any]:
    body = {"type": "consent.grant", "consent_id": cid, "grantor": {"type": "proxy"},
            "basis": {"type": "consent"}, "notice": NOTICE, "separate": True, "purpose": "COC",
            "data_classes": ["test_result"], "source": "hosp-330824", "recipient": "hosp-330881",
            "valid_from_ms": T0, "valid_until_ms": T0 + 30 * DAY_MS, "on_behalf_of": FATHER}  # fmt: skip
    return {**body, **change}


def withdraw(cid: str = "c-1") -> dict[str, Any]:
    return {"type": "consent.withdraw", "consent_id": cid, "on_behalf_of": FATHER}


def by(w: World, agent: str, who: str = FATHER) -> list[dict[str, Any]]:
    return [e for e in access_log(w, who) if e["agent"] == agent]


# ------------------------------------------------------------------------------- the flow
def test_a_daughter_grants_and_withdraws_a_consent_for_her_father(w: World) -> None:
    ok(w.submit(F, delegation()))
    record = w.get("delegation/d-1")
    assert (record["resident"], record["delegate"], record["status"]) == (
        FATHER,
        DAUGHTER,
        "active",
    )
    assert access_log(w, FATHER)[-1]["reason"] == "delegation_granted"
    assert access_log(w, DAUGHTER)[-1]["reason"] == "delegation_received"
    ok(w.submit(D, consent()))
    granted = w.get("consent/c-1")
    assert granted["resident"] == FATHER and granted["granted_by"] == D
    assert granted["grantor"] == {"type": "proxy"}
    ok(w.submit(D, withdraw()))
    assert w.get("consent/c-1")["status"] == "withdrawn"
    [grant, gone] = by(w, D)
    assert (grant["acting_as"], grant["entity"], grant["reason"]) == (
        "delegate",
        "c-1",
        "consent.grant",
    )
    assert (gone["acting_as"], gone["reason"], gone["data_class"]) == (
        "delegate",
        "consent.withdraw",
        "test_result",
    )
    # signed as a guardian she is not: the consent says who signed it
    refused(w.submit(D, consent("c-2", grantor={"type": "guardian"})), "grantor_mismatch")


# ------------------------------------------------------------------------------- attacks
def test_a_delegate_beyond_her_scope_is_refused(w: World) -> None:
    ok(w.submit(F, delegation()))
    refused(w.submit(D, consent(data_classes=["health_file_summary"])), "delegation_out_of_scope")
    refused(w.submit(D, consent(data_classes=["test_result", "health_file_summary"])),
            "delegation_out_of_scope")  # fmt: skip
    apply = {"type": "pension.apply", "case_id": "p-1", "kind": "inter_area",
             "from_agency": "ssb-330825", "to_agency": "ssb-330802", "on_behalf_of": FATHER}  # fmt: skip
    refused(w.submit(D, apply), "delegation_out_of_scope")
    own = {k: v for k, v in consent("c-f").items() if k != "on_behalf_of"}
    ok(w.submit(F, {**own, "grantor": {"type": "self"}}))
    ok(w.submit("hosp-330881", {"type": "health.request", "case_id": "s-1", "resident": FATHER,
                                "source": "hosp-330824", "data_class": "test_result",
                                "purpose": "COC"}))  # fmt: skip
    authorize = {"type": "health.authorize", "case_id": "s-1", "consent_id": "c-f",
                 "on_behalf_of": FATHER}  # fmt: skip
    refused(w.submit(D, authorize), "delegation_out_of_scope")  # not among her actions
    # never her identity: erasure or keys, not even with the action listed
    refused(w.submit(D, {"type": "resident.erase", "on_behalf_of": FATHER}), "bad_field")
    refused(w.submit(F, delegation("d-x", actions=["resident.erase"])), "bad_field")
    assert w.get(f"resident/{FATHER}")["status"] == "active"


def test_a_delegate_after_expiry_or_revocation_is_refused(w: World) -> None:
    ok(w.submit(F, delegation(valid_until_ms=T0 + 10 * DAY_MS)))
    ok(w.submit(D, consent()))
    w.advance(10)
    refused(w.submit(D, withdraw()), "delegation_expired")
    ok(w.submit(F, delegation("d-2", valid_until_ms=w.time_ms + 10 * DAY_MS)))  # again
    ok(w.submit(D, withdraw()))
    ok(w.submit(F, {"type": "delegation.revoke", "delegation_id": "d-2"}))
    refused(w.submit(D, consent("c-2", valid_from_ms=w.time_ms)), "delegation_revoked")
    assert access_log(w, DAUGHTER)[-1]["reason"] == "delegation_revoked"  # she is told


def test_a_delegate_acting_for_a_resident_who_erased_is_refused(w: World) -> None:
    ok(w.submit(F, delegation()))
    ok(w.submit(D, consent()))
    ok(w.submit(F, {"type": "resident.erase"}))
    assert w.get("delegation/d-1")["status"] == "erased"
    refused(w.submit(D, withdraw()), "resident_erased")
    refused(w.submit(D, consent("c-2")), "resident_erased")


def test_a_chain_of_delegation_is_refused(w: World) -> None:
    """The daughter cannot pass her father's delegation on to her brother: not by signing one
    for him, and her own delegation to her brother gives him nothing of her father's."""
    ok(w.submit(F, delegation()))
    refused(w.submit(D, {**delegation("d-chain", SON), "on_behalf_of": FATHER}), "bad_field")
    ok(w.submit(D, delegation("d-own", SON)))  # her own affairs: hers to delegate
    refused(w.submit(S, consent()), "not_acting_for")
    assert w.get("consent/c-1") is None


def test_a_resident_cannot_name_herself(w: World) -> None:
    refused(w.submit(F, delegation(delegate=FATHER)), "self_delegation")
    refused(w.submit("ssb-330802", assisted(delegate=FATHER)), "self_delegation")
    refused(w.submit(F, {**consent(), "on_behalf_of": FATHER}), "bad_field")


def test_a_minor_neither_delegates_nor_is_a_delegate(w: World) -> None:
    refused(w.submit(F, delegation(delegate=CHILD)), "delegate_not_capable")
    ok(w.submit(F, delegation()))
    refused(w.submit(D, consent(on_behalf_of=CHILD)), "not_acting_for")


def test_a_hostile_counter_delegating_to_a_colluder_is_bounded_and_marked(w: World) -> None:
    """ssb-330825 enrolled the daughter: it set her key and may hold it. A delegation it records
    to her lasts at most an assisted consent's 30 days, is marked, and the father is told."""
    refused(w.submit("ssb-330825", assisted(assisted={**ASSISTED, "verification_result": "failed"})),
            "identity_not_verified")  # fmt: skip
    refused(w.submit("hosp-330881", assisted()), "wrong_signer")  # no counter
    refused(w.submit("audit-330881", assisted()), "wrong_signer")
    refused(
        w.submit("ssb-330825", assisted(valid_until_ms=T0 + 31 * DAY_MS)), "validity_exceeds_policy"
    )
    ok(w.submit("ssb-330825", assisted(valid_until_ms=T0 + 30 * DAY_MS)))
    record = w.get("delegation/d-a")
    assert record["counter_keyed_delegate"] is True and record["assisted"] is True
    assert record["document_hash"] == h("委托书")
    assert access_log(w, FATHER)[-1]["reason"] == "counter_keyed_delegate"
    # a counter that never set her key: up to 90 days, not marked
    ok(w.submit(F, {"type": "delegation.revoke", "delegation_id": "d-a"}))
    refused(w.submit("hosp-330824", assisted("d-b", valid_until_ms=T0 + 91 * DAY_MS)),
            "validity_exceeds_policy")  # fmt: skip
    ok(w.submit("hosp-330824", assisted("d-b", valid_until_ms=T0 + 90 * DAY_MS)))
    assert w.get("delegation/d-b")["counter_keyed_delegate"] is False
    # and the father, at any counter or with his key, ends it at once
    ok(w.submit("ssb-330803", {"type": "delegation.revoke", "delegation_id": "d-b",
                               "assisted": ASSISTED}))  # fmt: skip
    refused(w.submit(D, consent()), "delegation_revoked")


def test_a_delegate_cannot_revoke_her_principals_other_delegations(w: World) -> None:
    ok(w.submit(F, delegation()))
    ok(w.submit(F, delegation("d-son", SON)))
    refused(w.submit(D, {"type": "delegation.revoke", "delegation_id": "d-son"}), "wrong_signer")
    refused(w.submit(D, {"type": "delegation.revoke", "delegation_id": "d-son",
                         "on_behalf_of": FATHER}), "bad_field")  # fmt: skip
    assert w.get("delegation/d-son")["status"] == "active"
    ok(w.submit(D, {"type": "delegation.revoke", "delegation_id": "d-1"}))  # her own: renounced
    assert w.get("delegation/d-1")["status"] == "revoked"
    refused(w.submit(S, {"type": "delegation.revoke", "delegation_id": "d-1"}), "wrong_signer")


def test_no_delegated_step_is_hidden_from_the_principals_log(w: World) -> None:
    """Every step a delegate takes for him, whatever its rule wrote, is in his log with her
    named; pension steps whose notices the rule writes carry acting_as too."""
    ok(w.submit(F, delegation(actions=["consent.grant", "consent.withdraw", "health.authorize",
                                       "pension.apply", "pension.withdraw"],
                              data_classes=["test_result", "pension_account"])))  # fmt: skip
    steps = [
        consent(),
        {"type": "pension.apply", "case_id": "p-1", "kind": "inter_area",
         "from_agency": "ssb-330825", "to_agency": "ssb-330802", "on_behalf_of": FATHER},
        {"type": "pension.withdraw", "case_id": "p-1", "on_behalf_of": FATHER},
        withdraw(),
    ]  # fmt: skip
    ok(w.submit("hosp-330881", {"type": "health.request", "case_id": "s-1", "resident": FATHER,
                                "source": "hosp-330824", "data_class": "test_result",
                                "purpose": "COC"}))  # fmt: skip
    for step in steps[:1]:
        ok(w.submit(D, step))
    ok(w.submit(D, {"type": "health.authorize", "case_id": "s-1", "consent_id": "c-1",
                    "on_behalf_of": FATHER}))  # fmt: skip
    for step in steps[1:]:
        ok(w.submit(D, step))
    entries = by(w, D)
    assert len(entries) == 5 and all(e["acting_as"] == "delegate" for e in entries)
    assert [e["entity"] for e in entries] == ["c-1", "s-1", "p-1", "p-1", "c-1"]
    assert w.get("pension/p-1")["status"] == "WITHDRAWN"
    assert w.get("share/s-1")["authorized_by"] == D


def test_logged_writes_the_entry_a_rule_forgot() -> None:
    """A rule (a future one) that writes nothing in her log: ``logged`` writes it."""
    w = World()
    w.enroll(FATHER)
    w.enroll(DAUGHTER)
    ok(w.submit(F, delegation(actions=["rights.copy_request"])))
    state = Overlay(w.state)
    ctx = BlockContext("test-chain", 99, w.time_ms, lambda tx, key: True)
    body = {"type": "rights.copy_request", "signer": D, "request_id": "r-1",
            "on_behalf_of": FATHER}  # fmt: skip

    def silent(s: Overlay, tx: Transaction, c: BlockContext) -> Applied:
        acting = principal(s, tx, c, tx.type)
        assert acting.relation is Relation.DELEGATE and acting.by == DAUGHTER
        return Applied(b"")

    assert isinstance(logged(silent)(state, Transaction(body, b""), ctx), Applied)
    entry: Any = state.get(f"access/{FATHER}/{w.get(f'access_count/{FATHER}'):012d}")
    assert (entry["agent"], entry["acting_as"], entry["entity"]) == (D, "delegate", "r-1")
    assert entry["reason"] == "rights.copy_request"

    def noisy(s: Overlay, tx: Transaction, c: BlockContext) -> Applied:
        record_access(s, FATHER, action="U", agent=D, entity="r-2", data_class="-", purpose="-",
                      consent_id=None, outcome="granted", reason="done", time_ms=1, height=1)  # fmt: skip
        return Applied(b"")

    state = Overlay(w.state)
    logged(noisy)(state, Transaction({**body, "request_id": "r-2"}, b""), ctx)
    count = w.get(f"access_count/{FATHER}")
    assert state.get(f"access_count/{FATHER}") == count + 1  # its own entry, marked: no second
    marked: Any = state.get(f"access/{FATHER}/{count:012d}")
    assert marked["acting_as"] == "delegate"
    with pytest.raises(BadField, match=r"does not cover"):
        principal(Overlay(w.state), Transaction({**body, "type": "rights.correct_request"}, b""),
                  ctx, "rights.correct_request")  # fmt: skip
