"""Emergency access, break-glass (#13 item 4; PIPL arts. 13(1)(4), 18 para 2; 民法典 art.
1220): a hospital reads a health class without consent within a window and a scope, the
resident sees it, auditors see each hospital's rate, governance limits it. The attacks first:
each must fail, and fail on the record."""

from typing import Any

import pytest

from contracts.locator import derive
from contracts.policy import DAY_MS as POLICY_DAY
from contracts.policy import ConsentPolicy
from contracts.rules import Applied
from tests.contract_world import (
    DAY_MS,
    T0,
    World,
    access_log,
    h,
    ok,
    pseudonym_of,
    refused,
)

P1, P2 = pseudonym_of(1), pseudonym_of(2)
ER = "hosp-330881"  # the emergency department that breaks the glass
SOURCE = "hosp-330824"  # the hospital that holds her records
OTHER = "hosp-330802"  # another hospital
HOUR_MS = 3_600_000


@pytest.fixture
def w() -> World:
    world = World()
    world.enroll(P1)
    world.enroll(P2)
    return world


def glass(emergency_id: str = "em-1", **change: Any) -> dict[str, Any]:
    return {"type": "health.emergency", "emergency_id": emergency_id, "resident": P1,
            "source": SOURCE, "data_classes": ["test_result"], "reason": "unconscious",
            **change}  # fmt: skip


def request(case_id: str = "s-em-1", emergency_id: str = "em-1", **change: Any) -> dict[str, Any]:
    return {"type": "health.request", "case_id": case_id, "resident": P1, "source": SOURCE,
            "data_class": "test_result", "purpose": "ETREAT", "emergency_id": emergency_id,
            **change}  # fmt: skip


def release(w: World, case_id: str = "s-em-1", resident: str = P1) -> Any:
    c = h(f"payload {case_id}")
    body = {"type": "health.release", "case_id": case_id, "commitment": c,
            "locator": derive(case_id, resident, SOURCE, c)}  # fmt: skip
    return w.submit(SOURCE, body)


def read(w: World, case_id: str = "s-em-1", by: str = ER) -> Applied:
    return ok(w.submit(by, {"type": "health.access", "case_id": case_id}))


def opened(w: World, emergency_id: str = "em-1", case_id: str = "s-em-1") -> None:
    ok(w.submit(ER, glass(emergency_id)))
    ok(w.submit(ER, request(case_id, emergency_id)))
    ok(release(w, case_id))


# ------------------------------------------------------------------------- the flow
def test_break_glass_release_and_read_within_the_window_each_in_her_log(w: World) -> None:
    ok(w.submit(ER, glass()))
    em = w.get("emergency/em-1")
    assert em["until_ms"] == T0 + POLICY_DAY and em["hospital"] == ER and em["status"] == "open"
    ok(w.submit(ER, request()))
    case = w.get("share/s-em-1")
    assert case["status"] == "AUTHORIZED" and "consent_id" not in case
    assert case["basis"] == {"type": "emergency", "emergency_id": "em-1", "reason": "unconscious"}
    ok(release(w))
    w.advance(0.5)
    out = read(w)
    assert out.refused is None and w.get("share/s-em-1")["read_seq"] == 2
    log = access_log(w)
    assert [(e["action"], e["outcome"], e["reason"], e["emergency_reason"]) for e in log] == [
        ("C", "granted", "emergency", "unconscious"),  # the break-glass itself, at once
        ("E", "granted", "emergency", "unconscious"),  # the release
        ("R", "granted", "emergency", "unconscious"),  # the read
    ]
    assert log[0]["entity"] == "em-1" and log[0]["data_class"] == "test_result"
    assert w.get("emergency/em-1")["reads"] == 1


def test_the_window_is_a_genesis_policy_parameter() -> None:
    w = World(policy=ConsentPolicy(emergency_window_ms=2 * HOUR_MS))
    w.enroll(P1)
    opened(w)
    assert w.get("emergency/em-1")["until_ms"] == T0 + 2 * HOUR_MS
    w.time_ms += 2 * HOUR_MS - 1
    assert read(w).refused is None
    w.time_ms += 1
    assert read(w).refused == "emergency_window_closed"


# ------------------------------------------------------------------------- the attacks
@pytest.mark.parametrize("signer", ["hc-330800", "clinic-330825", "ssb-330825", "hsa-330800",
                                    "audit-330800", "resident"])  # fmt: skip
def test_only_a_hospital_breaks_the_glass(w: World, signer: str) -> None:
    if signer == "resident":
        signer = f"resident:{P2}"
    refused(w.submit(signer, glass()), "wrong_signer")
    assert w.get("emergency/em-1") is None and access_log(w) == []


def test_a_hospital_not_designated_may_break_the_glass(w: World) -> None:
    """The duty to treat an emergency is every medical institution's (民法典 art. 1220), not
    only a 医保定点 one's: hosp-330802 holds no designated role."""
    ok(w.submit(OTHER, glass(source=SOURCE)))


def test_a_class_outside_the_scope_is_refused_and_recorded(w: World) -> None:
    ok(w.submit(ER, glass()))
    out = ok(w.submit(ER, request(data_class="health_file_summary")))
    assert out.refused == "out_of_scope" and w.get("share/s-em-1") is None
    entry = access_log(w)[-1]
    assert (entry["action"], entry["outcome"], entry["reason"]) == ("R", "refused", "out_of_scope")
    assert entry["data_class"] == "health_file_summary" and entry["emergency_reason"]
    # another source is outside it too
    out = ok(w.submit(ER, request("s-em-2", source=OTHER)))
    assert out.refused == "wrong_source"
    # one case per named class: no second copy of the same class under one break-glass
    ok(w.submit(ER, request()))
    assert ok(w.submit(ER, request("s-em-3"))).refused == "duplicate_case"


def test_a_read_after_the_window_is_refused_and_recorded(w: World) -> None:
    opened(w)
    w.advance(1)
    out = read(w)
    assert out.refused == "emergency_window_closed"
    entry = access_log(w)[-1]
    assert (entry["action"], entry["outcome"], entry["reason"]) == (
        "R", "refused", "emergency_window_closed")  # fmt: skip
    assert entry["emergency_reason"] == "unconscious"
    assert w.get("share/s-em-1").get("read_seq") is None  # no fetch may use it
    # nor may a case be opened, or a document released, after it
    refused_request = ok(w.submit(ER, request("s-em-late", data_class="test_result")))
    assert refused_request.refused == "emergency_window_closed"
    ok(w.submit(ER, glass("em-2", data_classes=["health_file_summary"])))
    ok(w.submit(ER, request("s-em-4", "em-2", data_class="health_file_summary")))
    w.advance(1.5)
    refused(release(w, "s-em-4"), "emergency_window_closed")


def test_another_hospital_reads_no_emergency_case_of_anothers(w: World) -> None:
    opened(w)
    out = read(w, by=OTHER)
    assert out.refused == "not_recipient"
    entry = access_log(w)[-1]
    assert (entry["agent"], entry["outcome"], entry["reason"]) == (
        OTHER,
        "refused",
        "not_recipient",
    )
    # nor does it open a case on another hospital's break-glass
    out = ok(w.submit(OTHER, request("s-em-x")))
    assert out.refused == "not_recipient" and w.get("share/s-em-x") is None
    assert access_log(w)[-1]["agent"] == OTHER
    # nor name it for another resident
    refused(w.submit(ER, request("s-em-y", resident=P2)), "unknown_emergency")


def test_a_break_glass_for_an_erased_resident_is_refused(w: World) -> None:
    opened(w)
    ok(w.submit(f"resident:{P1}", {"type": "resident.erase"}))
    assert w.get("emergency/em-1")["status"] == "erased"
    assert w.get("share/s-em-1")["status"] == "ERASED"
    before = len(access_log(w))
    refused(w.submit(ER, glass("em-2")), "resident_erased")
    refused(w.submit(ER, request("s-em-2")), "resident_erased")
    refused(w.submit(ER, {"type": "health.access", "case_id": "s-em-1"}), "resident_erased")
    assert len(access_log(w)) == before  # nothing enters an erased resident's log


def test_no_break_glass_is_hidden_from_her_log(w: World) -> None:
    """Every break-glass that lands, opened or refused, is an entry in the named resident's
    log, and every release and read of its cases too: there is no path around it."""
    w.submit("ssb-330825", {"type": "governance.propose", "proposal_id": "lim",
                            "action": "set_emergency_limit",
                            "emergency_limit": {"agency": ER, "max_per_day": 2}})  # fmt: skip
    for member in ("ssb-330802", "ssb-330803"):
        w.submit(member, {"type": "governance.approve", "proposal_id": "lim"})
    for i in range(4):
        w.submit(ER, glass(f"em-{i}"))
    landed = [tx.body["emergency_id"] for tx, out in w.outcomes
              if tx.type == "health.emergency" and isinstance(out, Applied)]  # fmt: skip
    assert landed == ["em-0", "em-1", "em-2", "em-3"]
    logged = [e["entity"] for e in access_log(w) if e["action"] == "C"]
    assert logged == landed
    assert [e["outcome"] for e in access_log(w)] == ["granted", "granted", "refused", "refused"]


def test_an_emergency_is_no_consent_she_could_withdraw_but_she_sees_it(w: World) -> None:
    opened(w)
    me = f"resident:{P1}"
    refused(w.submit(me, {"type": "consent.withdraw", "consent_id": "em-1"}), "unknown_consent")
    # she cannot sign any step of it either: nothing here is hers to take back or hide
    refused(w.submit(me, glass("em-9")), "wrong_signer")
    refused(w.submit(me, {"type": "health.authorize", "case_id": "s-em-1",
                          "consent_id": "em-1"}), "wrong_state")  # fmt: skip
    assert w.get("share/s-em-1")["status"] == "RELEASED"
    assert [e["reason"] for e in access_log(w)] == ["emergency", "emergency"]


def test_a_break_glass_names_only_health_classes_and_a_reason_code(w: World) -> None:
    refused(w.submit(ER, glass(data_classes=["pension_account"])), "bad_field")
    refused(w.submit(ER, glass(reason="doctor said so")), "bad_field")
    refused(w.submit(ER, glass(source=ER)), "bad_field")
    refused(w.submit(ER, glass(data_classes=["test_result", "test_result"])), "bad_field")
    # a source that does not keep the class
    refused(w.submit(ER, glass(source="clinic-330825")), "unknown_agency")
    ok(w.submit(ER, glass()))
    refused(w.submit(ER, request(purpose="COC")), "purpose_mismatch")
    refused(w.submit(ER, glass()), "duplicate_id")


# ----------------------------------------------------------- auditors and governance
def limit(w: World, target: str, most: int, proposal: str = "lim") -> None:
    body = {"type": "governance.propose", "proposal_id": proposal, "action": "set_emergency_limit",
            "emergency_limit": {"agency": target, "max_per_day": most}}  # fmt: skip
    ok(w.submit("ssb-330825", body))
    for member in ("ssb-330802", "ssb-330803"):
        ok(w.submit(member, {"type": "governance.approve", "proposal_id": proposal}))
    assert w.get(f"proposal/{proposal}")["status"] == "applied"


def day_row(w: World, hospital: str, day: str = "2026-05-28") -> dict[str, int]:
    row = w.get(f"hospital_reads/{day}/{hospital}")
    return row if isinstance(row, dict) else {}


def test_an_abusing_hospital_stands_out_and_is_limited_by_governance(w: World) -> None:
    # an honest hospital: reads with consent, one emergency
    consent = {"type": "consent.grant", "consent_id": "c-1", "grantor": {"type": "self"},
               "basis": {"type": "consent"}, "notice": {"hash": h("n"), "version": "n-1"},
               "separate": True, "purpose": "COC", "data_classes": ["test_result"],
               "source": SOURCE, "recipient": OTHER, "valid_from_ms": T0,
               "valid_until_ms": T0 + 30 * DAY_MS}  # fmt: skip
    ok(w.submit(f"resident:{P1}", consent))
    ok(w.submit(OTHER, {"type": "health.request", "case_id": "s-c", "resident": P1,
                        "source": SOURCE, "data_class": "test_result", "purpose": "COC"}))  # fmt: skip
    ok(w.submit(f"resident:{P1}", {"type": "health.authorize", "case_id": "s-c",
                                   "consent_id": "c-1"}))  # fmt: skip
    ok(release(w, "s-c"))
    for _ in range(9):
        read(w, "s-c", by=OTHER)
    # the abuser breaks the glass on every read
    for i in range(6):
        opened(w, f"em-{i}", f"s-em-{i}")
        read(w, f"s-em-{i}")
    honest, abuser = day_row(w, OTHER), day_row(w, ER)
    assert (honest["reads"], honest["emergency_reads"]) == (9, 0)
    assert (abuser["reads"], abuser["emergency_reads"], abuser["break_glass"]) == (6, 6, 6)
    # governance caps it: 2 a rolling day; it has had 6 today, so the next is refused
    limit(w, ER, 2)
    out = ok(w.submit(ER, glass("em-over")))
    assert out.refused == "emergency_limit" and w.get("emergency/em-over") is None
    entry = access_log(w)[-1]
    assert (entry["entity"], entry["outcome"], entry["reason"]) == (
        "em-over", "refused", "emergency_limit")  # fmt: skip
    assert day_row(w, ER)["break_glass_refused"] == 1
    # a rolling day later it may again, twice; the network-wide limit does not override its own
    w.advance(1.01)
    limit(w, "*", 100, "lim-net")
    ok(w.submit(ER, glass("em-a")))
    ok(w.submit(ER, glass("em-b")))
    assert ok(w.submit(ER, glass("em-c"))).refused == "emergency_limit"
    # 0 suspends it
    limit(w, ER, 0, "lim-0")
    w.advance(2)
    assert ok(w.submit(ER, glass("em-d"))).refused == "emergency_limit"
    ok(w.submit(OTHER, glass("em-e")))  # others are under the network's 100


def test_a_limit_is_for_a_hospital_or_the_network(w: World) -> None:
    def propose(target: Any, most: Any) -> Any:
        return w.submit("ssb-330825", {"type": "governance.propose", "proposal_id": "x",
                                       "action": "set_emergency_limit",
                                       "emergency_limit": {"agency": target, "max_per_day": most}})  # fmt: skip

    refused(propose("ssb-330802", 3), "unknown_agency")
    refused(propose("hosp-nowhere", 3), "unknown_agency")
    refused(propose(ER, -1), "bad_field")
    refused(propose(ER, 10**9), "bad_field")
    refused(w.submit(ER, {"type": "governance.propose", "proposal_id": "x",
                          "action": "set_emergency_limit",
                          "emergency_limit": {"agency": ER, "max_per_day": 99}}),
            "wrong_signer")  # fmt: skip


def test_the_limit_check_reads_a_fixed_number_of_keys(w: World) -> None:
    """Issue 14: O(1) per transaction, whatever the hospital's history."""
    from contracts.emergency import over_limit
    from contracts.state import DictState

    limit(w, ER, 3)
    for i in range(40):
        ok(w.submit(ER, glass(f"em-{i}")))
        w.advance(0.5)
    reads: list[str] = []

    class Counting(DictState):
        def get(self, key: str) -> Any:
            reads.append(key)
            return super().get(key)

    over_limit(Counting(w.state.data), ER, w.time_ms)
    assert len(reads) <= 4, reads


def test_replay_gives_the_same_state(w: World) -> None:
    opened(w)
    read(w)
    w.advance(2)
    read(w)
    assert w.replay().root == w.root
