"""Every read is recorded, durably (#11 item 3): each payload fetch uses one granted
``health.access`` entry; each granted read of a case file by an agency is an ``access.read``
entry in the resident's access log; the records a node signs go through a durable outbox that
a full mempool, a rate limit or a restart only delays; and an unknown case id answers exactly
as another party's case, so ids cannot be probed."""

from typing import Any

import pytest

from contracts.rules import Applied, Rejected
from tests.contract_world import World, pseudonym_of, seeded

P1, P2 = pseudonym_of(1), pseudonym_of(2)


def ok(outcome: Any) -> Applied:
    assert isinstance(outcome, Applied), outcome
    return outcome


def refused(outcome: Any, code: str) -> Rejected:
    assert isinstance(outcome, Rejected), outcome
    assert outcome.code == code, outcome
    return outcome


def access_log(w: World, pseudonym: str) -> list[dict[str, Any]]:
    count = w.get(f"access_count/{pseudonym}") or 0
    return [w.get(f"access/{pseudonym}/{i:012d}") for i in range(count)]


# ------------------------------------------------------------------ access.read, the contract
@pytest.fixture
def w() -> World:
    world = World()
    world.enroll(P1)
    world.enroll(P2)
    ok(world.submit("hosp-330881", {"type": "health.request", "case_id": "s-1", "resident": P1,
                                    "source": "hosp-330824", "data_class": "test_result",
                                    "purpose": "COC"}))  # fmt: skip
    ok(world.submit(f"resident:{P1}", {"type": "pension.apply", "case_id": "p-1",
                                       "from_agency": "ssb-330825",
                                       "to_agency": "ssb-330802"}))  # fmt: skip
    return world


READ = {"type": "access.read", "resident": P1, "agent": "hosp-330824", "entity": "s-1",
        "data_class": "test_result", "purpose": "api health.case"}  # fmt: skip
NODE, NODE_KEY = "node:node-1", seeded("node-1")


def test_a_validator_node_records_the_case_file_reads_it_granted(w: World) -> None:
    ok(w.submit(NODE, READ, NODE_KEY))
    pension = {**READ, "agent": "ssb-330802", "entity": "p-1", "data_class": "pension",
               "purpose": "api pension.case"}  # fmt: skip
    ok(w.submit(NODE, pension, NODE_KEY))
    first, second = access_log(w, P1)
    assert (first["action"], first["agent"], first["entity"], first["outcome"]) == (
        "R", "hosp-330824", "s-1", "granted"
    )  # fmt: skip
    assert first["reason"] is None and first["purpose"] == "api health.case"
    assert (second["agent"], second["entity"], second["outcome"]) == (
        "ssb-330802",
        "p-1",
        "granted",
    )
    assert ok(w.submit(NODE, READ, NODE_KEY)).events[0]["seq"] == 2  # one read, one entry


def test_only_a_validator_records_a_read_and_only_one_a_party_could_make(w: World) -> None:
    refused(w.submit("hosp-330824", READ), "wrong_signer")
    refused(w.submit(f"resident:{P1}", READ), "wrong_signer")
    refused(w.submit("node:node-9", READ, seeded("node-9")), "unknown_signer")
    refused(w.submit(NODE, {**READ, "agent": "hosp-330802"}, NODE_KEY), "unknown_case")
    refused(w.submit(NODE, {**READ, "entity": "s-9"}, NODE_KEY), "unknown_case")
    refused(w.submit(NODE, {**READ, "resident": P2}, NODE_KEY), "unknown_case")
    refused(w.submit(NODE, {**READ, "resident": pseudonym_of(9)}, NODE_KEY), "unknown_resident")
    refused(w.submit(NODE, {**READ, "reason": "not_party"}, NODE_KEY), "bad_field")
    assert access_log(w, P1) == [] and access_log(w, P2) == []
    ok(w.submit("ssb-330825", {"type": "resident.erase", "pseudonym": P1}))
    refused(w.submit(NODE, READ, NODE_KEY), "resident_erased")


def test_a_recorded_read_writes_the_access_log_and_nothing_else(w: World) -> None:
    before = dict(w.state.data)
    ok(w.submit(NODE, READ, NODE_KEY))
    changed = {k for k, v in w.state.data.items() if before.get(k) != v}
    assert changed == {f"access/{P1}/000000000000", f"access_count/{P1}",
                       f"nonce/{NODE}/{w.outcomes[-1][0].body['nonce']}"}  # fmt: skip
