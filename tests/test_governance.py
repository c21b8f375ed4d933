"""Governance cannot wedge the chain: every change is checked again when it applies, and what
it leaves is always a validator set the nodes can use (#10 item 4)."""

import hashlib
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from consensus.validators import ValidatorSet
from contracts.rules import Applied, Rejected
from tests.contract_world import World, h, ok, refused, seeded
from tests.tx_examples import NOTICE
from tlog.note import Signer, Verifier

MEMBERS = ["ssb-330825", "ssb-330802", "ssb-330803", "ssb-330822"]  # quorum 3 of 4


def _named_key(name: str, generation: int = 0) -> str:
    """A verifier key carrying ``name``, one per (name, generation)."""
    return (
        Signer(name, hashlib.sha256(f"{name}/{generation}".encode()).digest()).verifier().encode()
    )


def propose(w: World, pid: str, action: str, subject: dict[str, Any], by: str = MEMBERS[0]) -> Any:
    field = (
        "validator"
        if action.endswith("validator") or action.endswith("validator_key")
        else "agency"
    )
    return w.submit(
        by, {"type": "governance.propose", "proposal_id": pid, "action": action, field: subject}
    )


def approve(w: World, pid: str, by: str) -> Any:
    return w.submit(by, {"type": "governance.approve", "proposal_id": pid})


def names(w: World) -> list[str]:
    return [v["name"] for v in w.get("validators")]


def usable(w: World) -> bool:
    """What every node needs of the listed set: keys carrying their names, a consensus set."""
    listed = w.get("validators")
    try:
        keys = tuple(Verifier.parse(v["key"]) for v in listed)
        ValidatorSet(keys)
    except ValueError:
        return False
    return [k.name for k in keys] == [v["name"] for v in listed]


@pytest.fixture
def w() -> World:
    return World()


def test_two_approved_proposals_for_one_validator_name_apply_once(w: World) -> None:
    """The wedge of #10: both were fine when proposed; the second is refused when it applies."""
    ok(
        propose(
            w,
            "a",
            "add_validator",
            {"name": "node-9", "key": _named_key("node-9", 1), "url": "http://a"},
        )
    )
    ok(
        propose(
            w,
            "b",
            "add_validator",
            {"name": "node-9", "key": _named_key("node-9", 2), "url": "http://b"},
        )
    )
    for pid in ("a", "b"):
        for member in MEMBERS[1:3]:
            ok(approve(w, pid, member))
    assert names(w) == ["node-0", "node-1", "node-2", "node-3", "node-9"] and usable(w)
    assert w.get("proposal/a")["status"] == "applied"
    b = w.get("proposal/b")
    assert b["status"] == "refused" and b["refusal"]["code"] == "duplicate_id"
    assert "node-9 is a validator" in b["refusal"]["message"]
    # the approval that closed it is on the log and says so; nobody can approve it again
    tx, outcome = w.outcomes[-1]
    assert isinstance(outcome, Applied) and outcome.leaf == tx.encode()
    assert outcome.events == (
        {"type": "governance_refused", "proposal_id": "b", "reason": "duplicate_id"},
    )
    assert outcome.refused == "duplicate_id"  # its outcome: refused (GET /v1/tx, the CLI)
    assert isinstance(w.outcomes[-2][1], Applied) and w.outcomes[-2][1].refused is None
    refused(approve(w, "b", MEMBERS[3]), "wrong_state")
    # and replaying the log gives the same state
    assert w.replay().state.data == w.state.data


def test_a_key_counts_once_in_consensus_and_governance(w: World) -> None:
    taken = w.get("validators")[1]["key"]  # node-1's
    clone = taken.replace("node-1+", "node-9+", 1)  # same key bytes, another name: bad key id
    refused(
        propose(w, "x", "add_validator", {"name": "node-9", "key": clone, "url": "http://u"}),
        "bad_field",
    )
    # the same key under another name and a matching key id
    same = Signer("node-9", hashlib.sha256(b"node-1").digest()).verifier()
    assert same.public_key == seeded("node-1").verifier().public_key
    refused(
        propose(
            w, "x", "add_validator", {"name": "node-9", "key": same.encode(), "url": "http://u"}
        ),
        "key_in_use",
    )
    # a governance agency's key cannot become a validator's, nor the reverse
    member = Signer("node-9", hashlib.sha256(b"ssb-330802").digest()).verifier().encode()
    refused(
        propose(w, "x", "add_validator", {"name": "node-9", "key": member, "url": "http://u"}),
        "key_in_use",
    )
    as_agency = Signer("hosp-330881", hashlib.sha256(b"node-2").digest()).verifier().encode()
    refused(
        propose(w, "x", "rotate_agency_key", {"id": "hosp-330881", "key": as_agency}), "key_in_use"
    )
    # two proposals that bring in one key under two names: the second is refused when applied
    k1 = Signer("node-8", b"\x08" * 32).verifier()
    k2 = Signer("node-9", b"\x08" * 32).verifier()
    ok(propose(w, "p", "add_validator", {"name": "node-8", "key": k1.encode(), "url": "http://u"}))
    ok(propose(w, "q", "add_validator", {"name": "node-9", "key": k2.encode(), "url": "http://u"}))
    for pid in ("p", "q"):
        for member in MEMBERS[1:3]:
            ok(approve(w, pid, member))
    assert w.get("proposal/q")["refusal"]["code"] == "key_in_use"
    assert names(w)[-1] == "node-8" and usable(w)


def test_the_set_never_loses_its_last_validator(w: World) -> None:
    w.state.data["validators"] = w.get("validators")[:2]
    # two removals approved side by side, each fine alone: the first applies, the second
    # would empty the set and is refused when it applies
    ok(propose(w, "r1", "remove_validator", {"name": "node-0"}))
    ok(propose(w, "r2", "remove_validator", {"name": "node-1"}))
    for pid in ("r1", "r2"):
        for member in MEMBERS[1:3]:
            ok(approve(w, pid, member))
    assert names(w) == ["node-1"] and usable(w)
    r2 = w.get("proposal/r2")
    assert r2["status"] == "refused" and r2["refusal"]["code"] == "wrong_state"
    assert "last validator" in r2["refusal"]["message"]


def test_one_validator_removed_twice_is_removed_once(w: World) -> None:
    ok(propose(w, "r3", "remove_validator", {"name": "node-3"}))
    ok(propose(w, "r4", "remove_validator", {"name": "node-3"}))
    for pid in ("r3", "r4"):
        for member in MEMBERS[1:3]:
            ok(approve(w, pid, member))
    assert names(w) == ["node-0", "node-1", "node-2"] and usable(w)
    assert w.get("proposal/r4")["refusal"]["code"] == "unknown_validator"


@pytest.mark.parametrize("size", [1, 2, 3, 4])
def test_any_set_but_the_last_validator_may_shrink(size: int) -> None:
    """A set of four may lose one: the validator removed may be the faulty one, which uses
    up the only fault four tolerate; replacing a healthy one, add its successor first."""
    w = World()
    w.state.data["validators"] = w.get("validators")[:size]
    outcome = propose(w, "r", "remove_validator", {"name": "node-0"})
    if size == 1:
        refused(outcome, "wrong_state")  # a one-validator dev network keeps its validator
        return
    ok(outcome)
    for member in MEMBERS[1:3]:
        ok(approve(w, "r", member))
    assert names(w) == [f"node-{i}" for i in range(1, size)]


def test_a_validator_rotates_its_key(w: World) -> None:
    new = _named_key("node-1", 1)
    refused(
        propose(w, "k", "rotate_validator_key", {"name": "node-9", "key": _named_key("node-9")}),
        "unknown_validator",
    )
    refused(
        propose(w, "k", "rotate_validator_key", {"name": "node-1", "key": _named_key("node-2", 1)}),
        "bad_field",
    )
    refused(
        propose(
            w, "k", "rotate_validator_key", {"name": "node-1", "key": w.get("validators")[1]["key"]}
        ),
        "key_in_use",
    )
    refused(
        propose(w, "k", "rotate_validator_key", {"name": "node-1", "key": new, "url": "http://u"}),
        "bad_field",
    )
    ok(propose(w, "k", "rotate_validator_key", {"name": "node-1", "key": new}))
    for member in MEMBERS[1:3]:
        ok(approve(w, "k", member))
    assert w.get("validators")[1] == {"name": "node-1", "key": new, "url": ""} and usable(w)
    # the node signs as node:node-1 with the new key from now on; the old one no longer counts
    refusal = {"type": "access.refused", "resident": h("nobody"), "agent": "hosp-330881",
               "entity": "c", "data_class": "test_result", "purpose": "api x", "reason": "r"}  # fmt: skip
    old_key, new_key = seeded("node-1"), Signer("node-1", hashlib.sha256(b"node-1/1").digest())
    refused(w.submit("node:node-1", refusal, key=old_key), "bad_signature")
    refused(w.submit("node:node-1", refusal, key=new_key), "unknown_resident")  # past the key check


def test_agency_changes_are_checked_again_when_they_apply(w: World) -> None:
    hospital = {
        "id": "hosp-9",
        "name": "新医院",
        "division": "330822",
        "kind": "hospital",
        "roles": [],
    }
    ok(propose(w, "a1", "add_agency", {**hospital, "key": _named_key("hosp-9", 1)}))
    ok(propose(w, "a2", "add_agency", {**hospital, "key": _named_key("hosp-9", 2)}))
    ok(propose(w, "x1", "remove_agency", {"id": "hosp-330824"}))
    ok(propose(w, "x2", "remove_agency", {"id": "hosp-330824"}))
    ok(
        propose(
            w, "k1", "rotate_agency_key", {"id": "hosp-330824", "key": _named_key("hosp-330824", 1)}
        )
    )
    for pid in ("a1", "a2", "x1", "x2", "k1"):
        for member in MEMBERS[1:3]:
            ok(approve(w, pid, member))
    assert w.get("agency/hosp-9")["key"] == _named_key("hosp-9", 1)
    assert w.get("proposal/a2")["refusal"]["code"] == "duplicate_id"
    assert w.get("agency/hosp-330824")["status"] == "removed"
    assert w.get("proposal/x2")["refusal"]["code"] == "unknown_agency"
    assert w.get("proposal/k1")["refusal"]["code"] == "unknown_agency"
    # a key rotated away never comes back
    ok(
        propose(
            w, "r1", "rotate_agency_key", {"id": "hosp-330881", "key": _named_key("hosp-330881", 1)}
        )
    )
    for member in MEMBERS[1:3]:
        ok(approve(w, "r1", member))
    old = w.get("agency/hosp-330881")["previous_keys"][0]
    refused(propose(w, "r2", "rotate_agency_key", {"id": "hosp-330881", "key": old}), "key_in_use")


def test_only_agencies_that_still_govern_are_counted(w: World) -> None:
    ok(propose(w, "p", "add_agency", {"id": "hosp-9", "name": "n", "division": "330822", "kind": "hospital",
                                      "roles": [], "key": _named_key("hosp-9")}))  # fmt: skip
    ok(approve(w, "p", MEMBERS[1]))  # 2 of 4
    ok(propose(w, "out", "remove_agency", {"id": MEMBERS[0]}, by=MEMBERS[1]))
    for member in MEMBERS[2:4]:
        ok(approve(w, "out", member))
    assert w.get("governance/members") == sorted(MEMBERS[1:])
    ok(approve(w, "p", MEMBERS[2]))  # three approvals, but the proposer's no longer counts
    assert w.get("proposal/p")["status"] == "open"
    ok(approve(w, "p", MEMBERS[3]))
    assert w.get("proposal/p")["status"] == "applied"


def test_the_last_governance_agency_stays() -> None:
    w = World()
    remaining = list(MEMBERS)
    for n, gone in enumerate(MEMBERS[:3]):
        voters = sorted(remaining, key=lambda m: m == gone)  # it may approve its own removal
        ok(propose(w, f"out{n}", "remove_agency", {"id": gone}, by=voters[0]))
        for member in voters[1:]:
            if w.get(f"proposal/out{n}")["status"] == "open":
                ok(approve(w, f"out{n}", member))
        remaining.remove(gone)
        assert w.get("governance/members") == sorted(remaining)
    refused(
        propose(w, "last", "remove_agency", {"id": remaining[0]}, by=remaining[0]), "wrong_state"
    )


# ------------------------------------------------------- an agency's roles
ASSISTED = {"channel": "counter", "operator_id": "op-0042", "verification_method": "id_card_reader",
            "verification_result": "verified", "form_hash": h("signed paper form")}  # fmt: skip


def set_roles(w: World, pid: str, agency_id: str, roles: list[str]) -> None:
    """Proposed by one governance agency, approved by two more: the quorum of 3 of 4."""
    ok(propose(w, pid, "set_agency_roles", {"id": agency_id, "roles": roles}))
    ok(approve(w, pid, MEMBERS[1]))
    assert ok(approve(w, pid, MEMBERS[2])).refused is None
    assert w.get(f"proposal/{pid}")["status"] == "applied"


def test_governance_gives_an_existing_agency_a_counter(w: World) -> None:
    """hosp-330881 runs no counter at genesis: it takes no assisted step until the quorum
    grants the role, and does from the next transaction on."""
    pseudonym = hashlib.sha256(b"resident 7").hexdigest()
    w.enroll(pseudonym)
    consent = {"type": "consent.grant_assisted", "consent_id": "c-1", "resident": pseudonym,
               "assisted": ASSISTED, "grantor": {"type": "self"}, "basis": {"type": "consent"}, "notice": NOTICE, "separate": True,
               "purpose": "COC", "data_classes": ["test_result"], "source": "hosp-330824",
               "recipient": "hosp-330802", "valid_from_ms": w.time_ms,
               "valid_until_ms": w.time_ms + 30 * 86_400_000}  # fmt: skip
    refused(w.submit("hosp-330881", consent), "wrong_signer")
    ok(propose(w, "g-c", "set_agency_roles",
               {"id": "hosp-330881", "roles": ["health", "designated", "counter"]}))  # fmt: skip
    ok(approve(w, "g-c", MEMBERS[1]))
    refused(w.submit("hosp-330881", consent), "wrong_signer")  # two of four: not yet
    ok(approve(w, "g-c", MEMBERS[2]))
    assert w.get("agency/hosp-330881")["roles"] == ["health", "designated", "counter"]
    ok(w.submit("hosp-330881", consent))
    assert w.get("consent/c-1")["granted_by"] == "hosp-330881"
    # and withdrawn by the quorum, the next assisted step is refused again
    set_roles(w, "g-c2", "hosp-330881", ["health", "designated"])
    withdraw = {"type": "consent.withdraw", "consent_id": "c-1", "assisted": ASSISTED}
    refused(w.submit("hosp-330881", withdraw), "wrong_signer")
    assert w.replay().state.data == w.state.data


def test_roles_follow_the_rules_add_agency_follows(w: World) -> None:
    """One rule for a new agency and an existing one: no counter for an auditor, no
    designation (医保定点) for any but a hospital or primary clinic, never governance."""
    for pid, agency_id, roles, code in (
        ("r1", "audit-330800", ["audit", "counter"], "bad_field"),
        ("r2", "ssb-330802", ["counter", "designated"], "bad_field"),
        ("r3", "hsa-330800", ["health", "designated"], "bad_field"),
        ("r4", "hosp-330802", ["health", "governance"], "bad_field"),
        ("r5", "hosp-330802", ["health", "counter"], "wrong_state"),  # it holds these
        ("r6", "hosp-9", ["health"], "unknown_agency"),
    ):
        refused(propose(w, pid, "set_agency_roles", {"id": agency_id, "roles": roles}), code)
    # a primary clinic may be designated; a governance agency keeps governance, which only
    # remove_agency ends
    set_roles(w, "r7", "clinic-330825", ["health", "counter", "designated"])
    assert w.get("agency/clinic-330825")["roles"] == ["health", "counter", "designated"]
    set_roles(w, "r8", "ssb-330822", ["counter"])
    assert w.get("agency/ssb-330822")["roles"] == ["governance", "counter"]
    assert "ssb-330822" in w.get("governance/members")


def test_a_role_change_is_checked_again_when_it_applies(w: World) -> None:
    """Fine when proposed, the agency removed before the quorum: closed as refused."""
    ok(propose(w, "roles", "set_agency_roles", {"id": "hosp-330802", "roles": ["health"]}))
    ok(propose(w, "rm", "remove_agency", {"id": "hosp-330802"}))
    for member in MEMBERS[1:3]:
        ok(approve(w, "rm", member))
    ok(approve(w, "roles", MEMBERS[1]))
    assert ok(approve(w, "roles", MEMBERS[2])).refused == "unknown_agency"
    record = w.get("agency/hosp-330802")
    assert record["status"] == "removed" and record["roles"] == ["health", "counter"]


# ------------------------------------------------------- random sequences never wedge
VALIDATOR_NAMES = [f"node-{i}" for i in range(4)]
operation = st.one_of(
    st.tuples(st.just("add_validator"), st.sampled_from(VALIDATOR_NAMES), st.integers(0, 2)),
    st.tuples(st.just("remove_validator"), st.sampled_from(VALIDATOR_NAMES), st.just(0)),
    st.tuples(st.just("rotate_validator_key"), st.sampled_from(VALIDATOR_NAMES), st.integers(0, 2)),
    st.tuples(st.just("approve"), st.integers(0, 30), st.just(0)),
)
"""An approval step (proposal number, modulo those made) has every member approve it: the
interleaving of proposals and applications is what varies."""


@settings(max_examples=300, deadline=None)
@given(st.lists(operation, max_size=40))
def test_random_governance_always_leaves_a_usable_validator_set(
    ops: list[tuple[Any, Any, Any]],
) -> None:
    w = World()
    w.state.data["validators"] = w.get("validators")[:2]  # node-0 and node-1; 2 and 3 may join
    proposals = 0
    for op, a, b in ops:
        if op == "approve":
            for member in MEMBERS:
                outcome = approve(w, f"p{a % max(proposals, 1)}", member)
                assert isinstance(outcome, Applied | Rejected)
        else:
            subject: dict[str, Any] = {"name": a}
            if op != "remove_validator":
                # generation 0 keys are the world's own validators' seeds: collisions included
                subject["key"] = seeded(a).verifier().encode() if b == 0 else _named_key(a, b)
            if op == "add_validator":
                subject["url"] = f"http://{a}"
            outcome = propose(w, f"p{proposals}", op, subject, by=MEMBERS[proposals % 4])
            assert isinstance(outcome, Applied | Rejected)
            proposals += isinstance(outcome, Applied)
        assert usable(w), w.get("validators")
        assert len(w.get("validators")) >= 1
