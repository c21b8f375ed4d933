"""A payload reaches only the case it was released for (#11 item 2), in the contracts: the
locator of a release must be the one derived from its own case, resident, source and
commitment; a locator another case's release made public is refused, and the attempt is in
the access log of the resident whose document it points at."""

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text, update

from contracts.locator import derive
from node.db import open_database, sqlite_url
from node.keys import read_signer
from node.schema import state_kv
from node.vault import CaseRef, Unreadable, Vault, WrongCase, commitment, open_delivery, vault_items
from tests.contract_world import DAY_MS, T0, World, access_log, h, ok, pseudonym_of, refused
from tests.test_erasure_node import Scene, _client, _config
from tests.tx_examples import NOTICE
from tlog.note import Signer

VICTIM, PUPPET = pseudonym_of(1), pseudonym_of(2)
REQUESTER, SOURCE, COLLUDER = "hosp-330881", "hosp-330824", "hosp-330802"


def authorized(w: World, case: str, who: str, source: str, requester: str = REQUESTER) -> None:
    """A case of ``who`` from ``source`` to ``requester``, authorized with who's consent."""
    ok(w.submit(f"resident:{who}", {
        "type": "consent.grant", "consent_id": f"c-{case}", "grantor": {"type": "self"},
        "basis": {"type": "consent"}, "notice": NOTICE, "separate": True, "purpose": "COC", "data_classes": ["test_result"],
        "source": source, "recipient": requester, "valid_from_ms": T0,
        "valid_until_ms": T0 + 30 * DAY_MS,
    }))  # fmt: skip
    ok(w.submit(requester, {"type": "health.request", "case_id": case, "resident": who,
                            "source": source, "data_class": "test_result",
                            "purpose": "COC"}))  # fmt: skip
    ok(w.submit(f"resident:{who}", {"type": "health.authorize", "case_id": case,
                                     "consent_id": f"c-{case}"}))  # fmt: skip


def release(case: str, commitment: str, locator: str) -> dict[str, Any]:
    return {"type": "health.release", "case_id": case, "commitment": commitment, "locator": locator}


@pytest.fixture
def w() -> World:
    """The victim's case released and read; then she withdrew her consent. The two colluding
    hospitals have a puppet case of a resident they control, authorized."""
    world = World()
    world.enroll(VICTIM)
    world.enroll(PUPPET)
    authorized(world, "s-victim", VICTIM, SOURCE)
    ok(world.submit(SOURCE, release("s-victim", h("salted document"),
                                    derive("s-victim", VICTIM, SOURCE, h("salted document")))))  # fmt: skip
    ok(world.submit(REQUESTER, {"type": "health.access", "case_id": "s-victim"}))
    ok(world.submit(f"resident:{VICTIM}", {"type": "consent.withdraw",
                                           "consent_id": "c-s-victim"}))  # fmt: skip
    authorized(world, "s-puppet", PUPPET, COLLUDER)
    return world


def test_the_locator_is_derived_from_the_case_resident_source_and_commitment() -> None:
    one = derive("s-1", VICTIM, SOURCE, h("p"))
    assert one == derive("s-1", VICTIM, SOURCE, h("p")) and one.startswith("vault:")
    assert len(one) == len("vault:") + 64
    others = {derive("s-2", VICTIM, SOURCE, h("p")), derive("s-1", PUPPET, SOURCE, h("p")),
              derive("s-1", VICTIM, COLLUDER, h("p")), derive("s-1", VICTIM, SOURCE, h("q"))}  # fmt: skip
    assert one not in others and len(others) == 4
    # the fields are encoded unambiguously: moving characters between them changes it
    assert derive("s-1", VICTIM, "hosp-1", h("p")) != derive("s-1h", VICTIM, "osp-1", h("p"))


def test_a_puppet_case_released_with_another_residents_locator_is_refused_and_recorded(
    w: World,
) -> None:
    """The issue's attack: the victim's locator is public in her release entry; a colluding
    source releases its puppet case with it, so that the requester's fetch of the puppet case
    would be served the victim's document. Refused; the victim's access log names who tried."""
    stolen = w.get("share/s-victim")["locator"]
    before = len(access_log(w, VICTIM))
    out = ok(w.submit(COLLUDER, release("s-puppet", h("salted document"), stolen)))
    [event] = out.events
    assert (event["outcome"], event["reason"]) == ("refused", "locator_of_other_case")
    assert out.refused == "locator_of_other_case"  # GET /v1/tx reports it so
    assert w.get("share/s-puppet")["status"] == "AUTHORIZED"  # nothing released
    assert "locator" not in w.get("share/s-puppet")
    assert w.get(f"locator/{stolen}") == "s-victim"
    entries = access_log(w, VICTIM)
    assert len(entries) == before + 1
    entry = entries[-1]
    assert (entry["action"], entry["agent"], entry["entity"], entry["outcome"], entry["reason"]) == (
        "E", COLLUDER, "s-puppet", "refused", "locator_of_other_case"
    )  # fmt: skip
    assert entry["on_behalf_of"] == VICTIM and entry["data_class"] == "test_result"
    assert access_log(w, PUPPET) == []  # the puppet's log is not where the victim would look
    # with the stolen commitment too, or any other: the same
    ok(w.submit(COLLUDER, release("s-puppet", w.get("share/s-victim")["commitment"], stolen)))
    assert len(access_log(w, VICTIM)) == before + 2


def test_a_locator_not_made_for_the_case_is_refused(w: World) -> None:
    """A locator of no released case (made up, or derived for another case, resident, source
    or commitment) is refused as such, and the case stays as it was."""
    commitment = h("puppet document")
    for locator in (
        "vault:1",
        derive("s-victim", VICTIM, SOURCE, commitment),  # another case's, not yet released
        derive("s-puppet", VICTIM, COLLUDER, commitment),  # another resident
        derive("s-puppet", PUPPET, SOURCE, commitment),  # another source
        derive("s-puppet", PUPPET, COLLUDER, h("other")),  # another commitment
    ):
        refused(w.submit(COLLUDER, release("s-puppet", commitment, locator)), "wrong_locator")
    assert w.get("share/s-puppet")["status"] == "AUTHORIZED"
    ok(w.submit(COLLUDER, release("s-puppet", commitment,
                                  derive("s-puppet", PUPPET, COLLUDER, commitment))))  # fmt: skip
    assert w.get("share/s-puppet")["status"] == "RELEASED"


def test_only_the_source_may_try_and_an_erased_victim_gets_no_new_entry(w: World) -> None:
    stolen = w.get("share/s-victim")["locator"]
    refused(w.submit(REQUESTER, release("s-puppet", h("x"), stolen)), "wrong_signer")
    ok(w.submit("ssb-330825", {"type": "resident.erase", "pseudonym": VICTIM}))
    count = len(access_log(w, VICTIM))
    refused(w.submit(COLLUDER, release("s-puppet", h("x"), stolen)), "locator_of_other_case")
    assert len(access_log(w, VICTIM)) == count
    assert w.get("share/s-puppet")["status"] == "AUTHORIZED"


def test_the_refusal_replays_to_the_same_state(w: World) -> None:
    ok(w.submit(COLLUDER, release("s-puppet", h("x"), w.get("share/s-victim")["locator"])))
    again = w.replay()
    assert again.root == w.root and again.log == w.log


# ------------------------------------------------------------------ at a live node
NODE_CASE = "/v1/health/cases/{}"


@pytest.fixture
def live(tmp_path: Path) -> Iterator[Scene]:
    """One validator node with the victim's case deposited, released and fetched once by the
    requester; then she withdrew her consent. A puppet resident the colluders control, whose
    case (the colluding hospital its source, the requester its recipient) is authorized."""
    config = _config(tmp_path, sqlite_url(tmp_path / "unused.db"))
    with _client(config) as client:
        scene = Scene(client, config)
        net = config.parent.parent
        for name in (REQUESTER, SOURCE, COLLUDER, "ssb-330825"):
            scene.keys[name] = read_signer(net / "agencies" / f"{name}.key")
        for p in (VICTIM, PUPPET):
            scene.keys[f"resident:{p}"] = Signer.generate(p[:8])
            assert scene.send("ssb-330825", {
                "type": "resident.enroll", "pseudonym": p, "age_class": "adult",
                "key": scene.keys[f"resident:{p}"].verifier().encode(),
            })["status"] == "committed"  # fmt: skip
        scene.case(VICTIM, "s-victim", deposit=True)  # deposited, released, read, fetched
        assert scene.send(f"resident:{VICTIM}", {"type": "consent.withdraw",
                                                 "consent_id": "c-s-victim"})["status"] == "committed"  # fmt: skip
        now = int(time.time() * 1000)
        me = f"resident:{PUPPET}"
        assert scene.send(me, {
            "type": "consent.grant", "consent_id": "c-puppet", "grantor": {"type": "self"},
            "basis": {"type": "consent"}, "notice": NOTICE, "separate": True, "purpose": "TREAT", "data_classes": ["test_result"],
            "source": COLLUDER, "recipient": REQUESTER, "valid_from_ms": now - 1000,
            "valid_until_ms": now + 86_400_000,
        })["status"] == "committed"  # fmt: skip
        assert scene.send(REQUESTER, {"type": "health.request", "case_id": "s-puppet",
                                      "resident": PUPPET, "source": COLLUDER,
                                      "data_class": "test_result",
                                      "purpose": "TREAT"})["status"] == "committed"  # fmt: skip
        assert scene.send(me, {"type": "health.authorize", "case_id": "s-puppet",
                               "consent_id": "c-puppet"})["status"] == "committed"  # fmt: skip
        yield scene


def victims_log(scene: Scene, at_least: int = 0) -> list[dict[str, Any]]:
    """The victim's access log as she reads it (signed with her key); waits for ``at_least``
    entries (the node's own records take a block to commit)."""
    deadline = time.monotonic() + 10
    while True:
        r = scene.call(f"resident:{VICTIM}", "GET", f"/v1/residents/{VICTIM}/access")
        entries: list[dict[str, Any]] = r.json()["entries"]
        if len(entries) >= at_least or time.monotonic() > deadline:
            return entries
        time.sleep(0.05)


def test_the_puppet_case_attack_is_refused_and_in_the_victims_access_log(live: Scene) -> None:
    """Two colluding hospitals read a resident's document after she withdrew consent, with
    nothing in her access log (#11): the requester's own fetch is refused now, so its
    colluder releases a puppet case with her locator, public in her release entry."""
    scene = live
    victim_payload = NODE_CASE.format("s-victim") + "/payload"
    assert (
        scene.send(REQUESTER, {"type": "health.access", "case_id": "s-victim"})["status"]
        == "committed"
    )
    assert scene.call(REQUESTER, "GET", victim_payload).status_code == 403  # withdrawn
    stolen = scene.call(REQUESTER, "GET", NODE_CASE.format("s-victim")).json()
    before = len(victims_log(scene))

    status = scene.send(COLLUDER, {"type": "health.release", "case_id": "s-puppet",
                                   "commitment": stolen["commitment"],
                                   "locator": stolen["locator"]})  # fmt: skip
    assert status["status"] == "committed"  # on the log, as a refusal: the case is unchanged
    assert (status["outcome"], status["reason"]) == ("refused", "locator_of_other_case")
    puppet = scene.call(REQUESTER, "GET", NODE_CASE.format("s-puppet")).json()
    assert puppet["status"] == "AUTHORIZED" and puppet.get("locator") is None
    assert (
        scene.send(REQUESTER, {"type": "health.access", "case_id": "s-puppet"})["status"]
        == "committed"
    )
    r = scene.call(REQUESTER, "GET", NODE_CASE.format("s-puppet") + "/payload")
    assert r.status_code == 403 and r.json()["detail"] == "not_released", r.text

    attempts = [e for e in victims_log(scene, before + 1)[before:] if e["entity"] == "s-puppet"]
    assert [(e["action"], e["agent"], e["outcome"], e["reason"]) for e in attempts] == [
        ("E", COLLUDER, "refused", "locator_of_other_case")
    ]
    assert attempts[0]["on_behalf_of"] == VICTIM


def test_the_vault_delivers_an_item_only_for_the_case_it_was_deposited_for(live: Scene) -> None:
    """Defense in depth, for a case the contracts let through (a chain of before the binding,
    or a bug): the puppet case's committed record made to point at the victim's item. The
    vault refuses, and the victim's access log gets the attempt."""
    scene, node = live, live.node
    victim = node.committed_value("share/s-victim")
    puppet = node.committed_value("share/s-puppet")
    forged = {**puppet, "status": "RELEASED", "commitment": victim["commitment"],
              "locator": victim["locator"]}  # fmt: skip
    with node.engine.begin() as conn:
        conn.execute(update(state_kv).where(state_kv.c.key == "share/s-puppet")
                     .values(value=json.dumps(forged)))  # fmt: skip
    node.state.apply({"share/s-puppet": forged})
    assert (
        scene.send(REQUESTER, {"type": "health.access", "case_id": "s-puppet"})["status"]
        == "committed"
    )
    before = len(victims_log(scene))
    r = scene.call(REQUESTER, "GET", NODE_CASE.format("s-puppet") + "/payload")
    assert r.status_code == 403 and r.json()["detail"] == "payload_of_other_case", r.text
    [entry] = [e for e in victims_log(scene, before + 1)[before:] if e["entity"] == "s-puppet"]
    assert (entry["agent"], entry["outcome"], entry["reason"]) == (
        REQUESTER, "refused", "payload_of_other_case"
    )  # fmt: skip


def test_a_deposit_is_bound_to_its_case_and_a_vault_from_before_binding_delivers_nothing(
    tmp_path: Path,
) -> None:
    url = sqlite_url(tmp_path / "vault.db")
    engine = create_engine(url)
    with engine.begin() as conn:  # a vault_items table as it was before items were bound
        conn.execute(text("CREATE TABLE vault_items (locator TEXT PRIMARY KEY, resident TEXT "
                          "NOT NULL, salt BLOB NOT NULL, ciphertext BLOB NOT NULL)"))  # fmt: skip
    engine.dispose()
    vault = Vault(open_database(url, create=False), tmp_path / "vault.key")
    case = CaseRef("s-1", VICTIM, SOURCE)
    stored = vault.store(case, b"document")
    assert stored.locator == derive("s-1", VICTIM, SOURCE, stored.commitment)
    assert vault.binding(stored.locator) == (case, stored.commitment)
    hospital = Signer.generate(REQUESTER)
    opened, salt = open_delivery(
        vault.deliver(case, stored.commitment, stored.locator, hospital.verifier()), hospital
    )
    assert opened == b"document" and commitment(salt, opened) == stored.commitment
    for wrong, committed in [
        (CaseRef("s-2", VICTIM, SOURCE), stored.commitment),
        (CaseRef("s-1", PUPPET, SOURCE), stored.commitment),
        (CaseRef("s-1", VICTIM, COLLUDER), stored.commitment),
        (case, h("another commitment")),
    ]:
        with pytest.raises(WrongCase) as refused_:
            vault.deliver(wrong, committed, stored.locator, hospital.verifier())
        assert refused_.value.resident == VICTIM
    with vault.engine.begin() as conn:  # an item stored before binding: bound to nothing
        conn.execute(update(vault_items).values(case_id=None, source=None, commitment=None))
    with pytest.raises(WrongCase):
        vault.deliver(case, stored.commitment, stored.locator, hospital.verifier())
    with pytest.raises(Unreadable):
        vault.deliver(case, stored.commitment, "vault:nothing", hospital.verifier())
    vault.engine.dispose()
