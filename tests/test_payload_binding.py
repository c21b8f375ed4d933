"""A payload reaches only the case it was released for (#11 item 2), in the contracts: the
locator of a release must be the one derived from its own case, resident, source and
commitment; a locator another case's release made public is refused, and the attempt is in
the access log of the resident whose document it points at."""

from typing import Any

import pytest

from contracts.locator import derive
from contracts.rules import Applied, Rejected
from tests.contract_world import DAY_MS, T0, World, h, pseudonym_of

VICTIM, PUPPET = pseudonym_of(1), pseudonym_of(2)
REQUESTER, SOURCE, COLLUDER = "hosp-330881", "hosp-330824", "hosp-330802"


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


def authorized(w: World, case: str, who: str, source: str, requester: str = REQUESTER) -> None:
    """A case of ``who`` from ``source`` to ``requester``, authorized with who's consent."""
    ok(w.submit(f"resident:{who}", {
        "type": "consent.grant", "consent_id": f"c-{case}", "grantor": {"type": "self"},
        "basis": {"type": "consent"}, "purpose": "COC", "data_classes": ["test_result"],
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
