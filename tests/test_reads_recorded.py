"""Every read is recorded, durably (#11 item 3): each payload fetch uses one granted
``health.access`` entry; each granted read of a case file by an agency is an ``access.read``
entry in the resident's access log; the records a node signs go through a durable outbox that
a full mempool, a rate limit or a restart only delays; and an unknown case id answers exactly
as another party's case, so ids cannot be probed."""

import hashlib
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from node import fetches, outbox
from node.keys import read_signer
from node.ratelimit import RateLimiter
from node.schema import payload_fetches
from node.service import Node
from tests.contract_world import World, access_log, ok, pseudonym_of, refused, seeded
from tests.test_erasure_node import Scene, _client, _config
from tlog.note import Signer

P1, P2 = pseudonym_of(1), pseudonym_of(2)


# ------------------------------------------------------------------ access.read, the contract
@pytest.fixture
def w() -> World:
    world = World()
    world.enroll(P1)
    world.enroll(P2)
    ok(world.submit("hosp-330881", {"type": "health.request", "case_id": "s-1", "resident": P1,
                                    "source": "hosp-330824", "data_class": "test_result",
                                    "purpose": "COC"}))  # fmt: skip
    ok(world.submit(f"resident:{P1}", {"type": "pension.apply", "kind": "inter_area", "case_id": "p-1",
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
    notice, first, second = access_log(w, P1)
    assert (notice["action"], notice["reason"]) == ("C", "pension_applied")  # the application
    assert (first["action"], first["agent"], first["entity"], first["outcome"]) == (
        "R", "hosp-330824", "s-1", "granted"
    )  # fmt: skip
    assert first["reason"] is None and first["purpose"] == "api health.case"
    assert (second["agent"], second["entity"], second["outcome"]) == (
        "ssb-330802",
        "p-1",
        "granted",
    )
    assert ok(w.submit(NODE, READ, NODE_KEY)).events[0]["seq"] == 3  # one read, one entry


def test_only_a_validator_records_a_read_and_only_one_a_party_could_make(w: World) -> None:
    refused(w.submit("hosp-330824", READ), "wrong_signer")
    refused(w.submit(f"resident:{P1}", READ), "wrong_signer")
    refused(w.submit("node:node-9", READ, seeded("node-9")), "unknown_signer")
    refused(w.submit(NODE, {**READ, "agent": "hosp-330802"}, NODE_KEY), "unknown_case")
    refused(w.submit(NODE, {**READ, "entity": "s-9"}, NODE_KEY), "unknown_case")
    refused(w.submit(NODE, {**READ, "resident": P2}, NODE_KEY), "unknown_case")
    refused(w.submit(NODE, {**READ, "resident": pseudonym_of(9)}, NODE_KEY), "unknown_resident")
    refused(w.submit(NODE, {**READ, "reason": "not_party"}, NODE_KEY), "bad_field")
    # none recorded: her log holds only the notice of her pension application
    assert [e["reason"] for e in access_log(w, P1)] == ["pension_applied"]
    assert access_log(w, P2) == []
    ok(w.submit("ssb-330825", {"type": "resident.erase", "pseudonym": P1}))
    refused(w.submit(NODE, READ, NODE_KEY), "resident_erased")


def test_a_recorded_read_writes_the_access_log_and_nothing_else(w: World) -> None:
    before = dict(w.state.data)
    ok(w.submit(NODE, READ, NODE_KEY))
    changed = {k for k, v in w.state.data.items() if before.get(k) != v}
    entry = w.get(f"entries_count/{P1}") - 1  # the entry listed under her (provenance, #13)
    assert changed == {f"access/{P1}/000000000001", f"access_count/{P1}",
                       f"nonce/{NODE}/{w.outcomes[-1][0].body['nonce']}",
                       f"entries/{P1}/{entry:012d}", f"entries_count/{P1}"}  # fmt: skip
    assert w.get(f"entries/{P1}/{entry:012d}")["keys"] == [f"access/{P1}/000000000001"]


# ------------------------------------------------------------------ at a live node
REQUESTER, SOURCE, BUREAU = "hosp-330881", "hosp-330824", "ssb-330825"
STRANGER = "hosp-330802"
LIVE = hashlib.sha256(b"reads recorded resident").hexdigest()
OTHER = hashlib.sha256(b"reads recorded other").hexdigest()


def _scene(client: TestClient, config: Path) -> Scene:
    """The resident with a health case deposited, released, read and fetched once, and a
    pension transfer applied for; another resident to probe with."""
    scene = Scene(client, config)
    net = config.parent.parent
    for name in (REQUESTER, SOURCE, BUREAU, STRANGER, "ssb-330802"):
        scene.keys[name] = read_signer(net / "agencies" / f"{name}.key")
    for p in (LIVE, OTHER):
        scene.keys[f"resident:{p}"] = Signer.generate(p[:8])
        assert scene.send(BUREAU, {"type": "resident.enroll", "pseudonym": p, "age_class": "adult",
                                   "key": scene.keys[f"resident:{p}"].verifier().encode()})[
            "status"] == "committed"  # fmt: skip
    scene.case(LIVE, "s-1", deposit=True)
    assert scene.send(BUREAU, {"type": "pension.apply", "kind": "inter_area", "case_id": "p-1", "resident": LIVE,
                               "from_agency": BUREAU, "to_agency": "ssb-330802"})[
        "status"] == "committed"  # fmt: skip
    return scene


def _configured(tmp_path: Path, db_url: str = "sqlite", **values: Any) -> Path:
    """A one-node network; on PostgreSQL when ``db_url`` names it (node and vault tables)."""
    config = _config(tmp_path, db_url)
    config.write_text(json.dumps({**json.loads(config.read_text()), **values}))
    return config


@pytest.fixture
def live(tmp_path: Path) -> Iterator[Scene]:
    config = _configured(tmp_path)
    with _client(config) as client:
        yield _scene(client, config)


def log_of(scene: Scene, p: str = LIVE, at_least: int = 0) -> list[dict[str, Any]]:
    """The resident's access log as they read it; waits for ``at_least`` entries."""
    deadline = time.monotonic() + 15
    while True:
        r = scene.call(f"resident:{p}", "GET", f"/v1/residents/{p}/access")
        assert r.status_code == 200, r.text
        entries: list[dict[str, Any]] = r.json()["entries"]
        if len(entries) >= at_least or time.monotonic() > deadline:
            return entries
        time.sleep(0.05)


def owed(node: Node) -> int:
    with node.engine.connect() as conn:
        return outbox.count(conn)


PAYLOAD = "/v1/health/cases/s-1/payload"


def test_each_fetch_needs_a_read_of_its_own(live: Scene) -> None:
    """One health.access covered any number of fetches (#11): now each granted entry is good
    for one delivery, and a second fetch is refused, and recorded, until the next read."""
    scene = live
    fetched = [e for e in log_of(scene) if e["agent"] == REQUESTER and e["action"] == "R"]
    before = len(log_of(scene))
    r = scene.call(REQUESTER, "GET", PAYLOAD)  # the read the scene's fetch used
    assert r.status_code == 403 and r.json()["detail"] == "read_not_recorded", r.text
    assert (
        scene.send(REQUESTER, {"type": "health.access", "case_id": "s-1"})["status"] == "committed"
    )
    assert scene.call(REQUESTER, "GET", PAYLOAD).status_code == 200
    assert scene.call(REQUESTER, "GET", PAYLOAD).status_code == 403
    entries = log_of(scene, at_least=before + 3)[before:]
    assert [(e["action"], e["outcome"], e["reason"]) for e in entries] == [
        ("R", "refused", "read_not_recorded"),
        ("R", "granted", None),  # the health.access
        ("R", "refused", "read_not_recorded"),
    ]
    with scene.node.engine.connect() as conn:
        used = conn.execute(select(payload_fetches)).all()
    assert sorted(u.seq for u in used) == sorted(
        [fetched[-1]["seq"], entries[1]["seq"]]
    )  # each fetch, the entry it used
    assert all(u.agent == REQUESTER and u.case_id == "s-1" for u in used)


def test_a_used_read_stays_used_after_a_restart(tmp_path: Path, db_url: str) -> None:
    config = _configured(tmp_path, db_url)
    with _client(config) as client:
        scene = _scene(client, config)
        assert (
            scene.send(REQUESTER, {"type": "health.access", "case_id": "s-1"})["status"]
            == "committed"
        )
        assert scene.call(REQUESTER, "GET", PAYLOAD).status_code == 200
    with _client(config) as client:
        again = Scene(client, config, keys=scene.keys)
        again.nonces = scene.nonces
        r = again.call(REQUESTER, "GET", PAYLOAD)
        assert r.status_code == 403 and r.json()["detail"] == "read_not_recorded", r.text


def test_an_agencys_granted_case_file_read_is_in_the_residents_log(live: Scene) -> None:
    scene = live
    before = len(log_of(scene))
    for caller, path in [(REQUESTER, "/v1/health/cases/s-1"), (SOURCE, "/v1/health/cases/s-1"),
                         ("ssb-330802", "/v1/pension/cases/p-1"),
                         (f"resident:{LIVE}", "/v1/health/cases/s-1"),  # her own: not logged
                         (f"resident:{LIVE}", "/v1/pension/cases/p-1")]:  # fmt: skip
        assert scene.call(caller, "GET", path).status_code == 200
    entries = log_of(scene, at_least=before + 3)[before:]
    time.sleep(0.3)  # nothing more comes
    assert len(log_of(scene)) == before + 3
    assert [
        (e["action"], e["agent"], e["entity"], e["outcome"], e["purpose"]) for e in entries
    ] == [
        ("R", REQUESTER, "s-1", "granted", "api health.case"),
        ("R", SOURCE, "s-1", "granted", "api health.case"),
        ("R", "ssb-330802", "p-1", "granted", "api pension.case"),
    ]
    assert entries[0]["data_class"] == "test_result" and entries[0]["consent_id"] == "c-s-1"
    # a case-file read is not a health.access: it lets the requester fetch nothing
    r = scene.call(REQUESTER, "GET", PAYLOAD)
    assert r.status_code == 403 and r.json()["detail"] == "read_not_recorded"
    assert _drained(scene.node)


def _drained(node: Node) -> bool:
    deadline = time.monotonic() + 10
    while owed(node) and time.monotonic() < deadline:
        time.sleep(0.05)
    return owed(node) == 0


def test_a_refusal_made_while_the_mempool_is_full_is_committed_later(live: Scene) -> None:
    """A node's refusal record was dropped when its mempool was full (#11): now it waits in
    the outbox, durable, and goes in once there is room."""
    scene, node = live, live.node
    before = len(log_of(scene))
    capacity, node.mempool.capacity = node.mempool.capacity, 0
    r = scene.call(STRANGER, "GET", "/v1/health/cases/s-1")
    assert r.status_code == 403 and r.json()["detail"] == "not_party"
    assert owed(node) == 1 and len(node.mempool) == 0
    time.sleep(1.5)  # retried meanwhile, still no room
    assert owed(node) == 1 and len(log_of(scene)) == before
    node.mempool.capacity = capacity
    [entry] = log_of(scene, at_least=before + 1)[before:]
    assert (entry["agent"], entry["outcome"], entry["reason"]) == (STRANGER, "refused", "not_party")
    assert _drained(node)


def test_a_refusal_still_owed_at_a_restart_is_committed_after_it(
    tmp_path: Path, db_url: str
) -> None:
    config = _configured(tmp_path, db_url)
    with _client(config) as client:
        scene = _scene(client, config)
        node = scene.node
        before = len(log_of(scene))
        node.mempool.capacity = 0
        r = scene.call(STRANGER, "GET", PAYLOAD)
        assert r.status_code == 403 and owed(node) == 1
    with _client(config) as client:  # stopped with the record owed; started again
        again = Scene(client, config, keys=scene.keys)
        [entry] = log_of(again, at_least=before + 1)[before:]
        assert (entry["agent"], entry["entity"], entry["reason"]) == (STRANGER, "s-1",
                                                                      "not_recipient")  # fmt: skip
        assert _drained(again.node)


def test_the_per_signer_rate_limit_drops_no_record(tmp_path: Path) -> None:
    """A node signs its records as one signer: a burst of refusals past its rate limit (one a
    second here, two at once) was dropped (#11). Its records are outside that limit."""
    config = _configured(tmp_path)
    with _client(config) as client:
        scene = _scene(client, config)
        scene.node.limiter = RateLimiter.per_second(1)
        before = len(log_of(scene))
        for _ in range(8):
            assert scene.call(STRANGER, "GET", "/v1/health/cases/s-1").status_code == 403
        entries = log_of(scene, at_least=before + 8)[before:]
        assert [(e["agent"], e["outcome"]) for e in entries] == [(STRANGER, "refused")] * 8


# the endpoints of a case, and who is not party to LIVE's case there (not the recipient of a
# payload, not the source of a deposit)
OUTSIDERS = [STRANGER, "ssb-330803", f"resident:{OTHER}"]
ENDPOINTS = [
    ("GET", "/v1/health/cases/{}", "s-1", [*OUTSIDERS, BUREAU]),
    ("GET", "/v1/health/cases/{}/payload", "s-1", [*OUTSIDERS, SOURCE, f"resident:{LIVE}"]),
    ("PUT", "/v1/health/cases/{}/payload", "s-1", [*OUTSIDERS, REQUESTER]),
    ("GET", "/v1/pension/cases/{}", "p-1", [*OUTSIDERS, REQUESTER, SOURCE]),
]


def test_an_unknown_case_id_answers_as_another_partys_case(live: Scene) -> None:
    """A signed agency asking for a nonexistent case id got 404 and for another hospital's
    case 403, so ids could be probed (#11): now every case endpoint answers both alike, to
    agencies and residents, with the same status, type and body."""
    scene = live
    agencies = scene.config.parent.parent / "agencies"
    scene.keys["ssb-330803"] = read_signer(agencies / "ssb-330803.key")
    compared = 0
    for method, template, case, outsiders in ENDPOINTS:
        body = b"document" if method == "PUT" else b""
        for caller in outsiders:
            real = scene.call(caller, method, template.format(case), body)
            assert real.status_code == 403, (method, template, caller, real.text)
            for unknown in ("no-such-case", "s-2", "p-1" if case == "s-1" else "s-1"):
                fake = scene.call(caller, method, template.format(unknown), body)
                assert (fake.status_code, fake.headers["content-type"], fake.json()) == (
                    real.status_code, real.headers["content-type"], real.json()
                ), (method, template, caller, unknown)  # fmt: skip
                compared += 1
    assert compared == 3 * (4 + 5 + 4 + 5)


def test_one_entry_lets_one_of_two_racing_fetches_through(engine: Engine) -> None:
    """The table's key decides, in the delivering transaction: the second use of an entry
    fails whichever connection makes it, and a use rolled back (no delivery) frees it."""
    with engine.begin() as conn:
        assert fetches.use(conn, LIVE, 7, "s-1", REQUESTER, 1)
        assert not fetches.use(conn, LIVE, 7, "s-1", REQUESTER, 2)
        assert fetches.use(conn, LIVE, 8, "s-1", REQUESTER, 3)  # the transaction goes on
    with engine.begin() as conn:
        assert not fetches.use(conn, LIVE, 8, "s-1", REQUESTER, 4)
        assert fetches.used(conn, LIVE, 7) and not fetches.used(conn, LIVE, 9)
    with pytest.raises(RuntimeError), engine.begin() as conn:
        assert fetches.use(conn, LIVE, 9, "s-1", REQUESTER, 5)
        raise RuntimeError("the vault could not deliver")
    with engine.connect() as conn:
        assert not fetches.used(conn, LIVE, 9)


def test_the_outbox_keeps_its_records_in_order(engine: Engine) -> None:
    bodies = [{"type": "access.read", "nonce": n, "resident": LIVE} for n in ("z", "a", "m")]
    with engine.begin() as conn:
        for body in bodies:
            outbox.put(conn, body, 1)
    with engine.begin() as conn:
        assert outbox.pending(conn, 10) == bodies and outbox.count(conn) == 3
        outbox.done(conn, ["a"])
        assert [b["nonce"] for b in outbox.pending(conn, 10)] == ["z", "m"]
