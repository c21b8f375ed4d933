"""After ``resident.erase`` nothing about the resident is processed (PIPL art. 47): every
transaction that names them, by its signer, a field, or a case or consent of theirs, is
refused as ``resident_erased``; their consents end, their open cases close, their key is
revoked. The one exception: a pension transfer whose funds had already moved finishes."""

from typing import Any

import pytest

from contracts.erasure import read_refusal
from contracts.locator import derive
from contracts.pension import lock
from contracts.rules import Applied, Rejected
from contracts.tx import sign_transaction
from tests.contract_world import CHAIN, DAY_MS, T0, World, h, ok, pseudonym_of, refused, seeded
from tests.tx_examples import NOTICE

P1, P2 = pseudonym_of(1), pseudonym_of(2)
ASSISTED = {
    "channel": "counter",
    "operator_id": "op-0042",
    "verification_method": "id_card_reader",
    "verification_result": "verified",
    "form_hash": h("signed paper form"),
}


def consent(cid: str, who: str = P1, **change: Any) -> dict[str, Any]:
    return {
        "type": "consent.grant", "consent_id": cid, "grantor": {"type": "self"},
        "basis": {"type": "consent"}, "notice": NOTICE, "separate": True, "purpose": "TREAT",
        "data_classes": ["test_result"], "source": "hosp-330824", "recipient": "hosp-330881",
        "valid_from_ms": T0, "valid_until_ms": T0 + 30 * DAY_MS, **change,
    }  # fmt: skip


def request(case: str, who: str = P1) -> dict[str, Any]:
    return {"type": "health.request", "case_id": case, "resident": who, "source": "hosp-330824",
            "data_class": "test_result", "purpose": "TREAT"}  # fmt: skip


def pension_apply(case: str) -> dict[str, Any]:
    """Between pooling areas, but the ``filed`` cases: within one (relation and file only)."""
    kind = "intra_area" if case.startswith("p-filed") else "inter_area"
    return {"type": "pension.apply", "case_id": case, "kind": kind, "from_agency": "ssb-330825",
            "to_agency": "ssb-330802"}  # fmt: skip


RECEIPTS = {"contribution_months": h("m"), "individual_account_fen": h("a"),
            "pooled_fund_fen": h("f")}  # fmt: skip
"""What the receiving bureau states: the receipts (``contracts.pension.receipt``)."""
INFO = {field: lock(r) for field, r in RECEIPTS.items()}
FUNDS = {"info_commitments": INFO}
RECORD = {"info_commitments": {k: v for k, v in INFO.items() if k != "pooled_fund_fen"}}
"""A 信息表 within one pooling area: no pooled fund moves."""


def received(commitments: dict[str, Any]) -> dict[str, Any]:
    return {"received_commitments": {f: RECEIPTS[f] for f in commitments["info_commitments"]}}


def lived(w: World, who: str = P1) -> None:
    """A resident with a record of every kind, in every open state."""
    me = f"resident:{who}"
    ok(w.submit(me, consent(f"c-{who[:4]}")))
    ok(w.submit(me, consent(f"c2-{who[:4]}")))
    ok(w.submit("hosp-330881", request(f"s-req-{who[:4]}", who)))
    for case in (f"s-auth-{who[:4]}", f"s-rel-{who[:4]}"):
        ok(w.submit("hosp-330881", request(case, who)))
        ok(
            w.submit(
                me, {"type": "health.authorize", "case_id": case, "consent_id": f"c-{who[:4]}"}
            )
        )
    ok(w.submit("hosp-330824", {"type": "health.release", "case_id": f"s-rel-{who[:4]}",
                                "commitment": h("payload"),
                                "locator": derive(f"s-rel-{who[:4]}", who, "hosp-330824",
                                                  h("payload"))}))  # fmt: skip
    ok(w.submit("hosp-330881", {"type": "health.access", "case_id": f"s-rel-{who[:4]}"}))
    for case in ("applied", "accepted", "moved", "disputed", "filed"):
        ok(w.submit(me, pension_apply(f"p-{case}-{who[:4]}")))
    for case in ("accepted", "moved", "disputed", "filed"):
        ok(w.submit("ssb-330802", {"type": "pension.accept", "case_id": f"p-{case}-{who[:4]}",
                                   "letter_commitment": h("letter")}))  # fmt: skip
    for case in ("moved", "disputed", "filed"):
        ok(w.submit("ssb-330825", {"type": "pension.transfer_out", "case_id": f"p-{case}-{who[:4]}",
                                   **(RECORD if case == "filed" else FUNDS)}))  # fmt: skip
    ok(w.submit("ssb-330802", {"type": "pension.complete", "case_id": f"p-disputed-{who[:4]}",
                               "received_commitments": {**RECEIPTS, "pooled_fund_fen": h("less")}}))  # fmt: skip


@pytest.fixture
def w() -> World:
    world = World()
    world.enroll(P1)
    world.enroll(P2)
    lived(world, P1)
    lived(world, P2)
    return world


def attempts(w: World) -> list[tuple[str, dict[str, Any]]]:
    """Every kind of transaction that names P1, by each way of naming them."""
    me, c, s = f"resident:{P1}", f"c-{P1[:4]}", f"s-rel-{P1[:4]}"
    return [
        (me, consent("c-new")),
        (me, {"type": "consent.withdraw", "consent_id": f"c2-{P1[:4]}"}),
        (me, {"type": "health.authorize", "case_id": f"s-req-{P1[:4]}", "consent_id": c}),
        (me, pension_apply("p-new")),
        (me, {"type": "pension.withdraw", "case_id": f"p-applied-{P1[:4]}"}),
        (me, {"type": "resident.erase"}),
        (me, {"type": "anchor", "sha256": h("anything")}),
        ("ssb-330825", {"type": "resident.enroll", "pseudonym": P1, "age_class": "adult",
                        "key": seeded("again").verifier().encode()}),
        ("ssb-330825", {"type": "resident.erase", "pseudonym": P1}),
        ("hosp-330824", {**consent("c-counter"), "type": "consent.grant_assisted",
                         "resident": P1, "assisted": ASSISTED}),
        ("hosp-330824", {"type": "consent.withdraw", "consent_id": f"c2-{P1[:4]}",
                         "assisted": ASSISTED}),
        ("hosp-330881", request("s-new")),
        ("hosp-330824", {"type": "health.release", "case_id": f"s-auth-{P1[:4]}",
                         "commitment": h("p"),
                         "locator": derive(f"s-auth-{P1[:4]}", P1, "hosp-330824", h("p"))}),
        ("hosp-330881", {"type": "health.access", "case_id": s}),
        ("hosp-330802", {"type": "health.access", "case_id": s}),
        ("ssb-330825", {**pension_apply("p-assisted"), "resident": P1}),
        ("ssb-330802", {"type": "pension.accept", "case_id": f"p-applied-{P1[:4]}",
                        "letter_commitment": h("letter")}),
        ("ssb-330802", {"type": "pension.reject", "case_id": f"p-applied-{P1[:4]}",
                        "reason": "no_contribution_record"}),
        ("ssb-330825", {"type": "pension.transfer_out", "case_id": f"p-accepted-{P1[:4]}",
                        **FUNDS}),
        ("node:node-0", {"type": "access.refused", "resident": P1, "agent": "hosp-330802",
                         "entity": s, "data_class": "test_result", "purpose": "api read",
                         "reason": "not_party"}),
        ("node:node-0", {"type": "access.read", "resident": P1, "agent": "hosp-330881",
                         "entity": s, "data_class": "test_result",
                         "purpose": "api health.case"}),
        (me, {"type": "resident.rotate_key", "key": seeded("fresh").verifier().encode()}),
        ("hosp-330824", {"type": "resident.rotate_key", "pseudonym": P1, "assisted": ASSISTED,
                         "key": seeded("re-keyed").verifier().encode()}),
    ]  # fmt: skip


def submit_as(w: World, signer: str, body: dict[str, Any]) -> Any:
    key = w.keys.get(signer) or seeded(signer.removeprefix("node:"))
    return w.submit(signer, body, key=key)


def test_after_erasure_every_transaction_naming_the_resident_is_refused(w: World) -> None:
    before = w.get(f"access_count/{P1}")
    ok(w.submit("ssb-330825", {"type": "resident.erase", "pseudonym": P1}))
    size = len(w.log)
    for signer, body in attempts(w):
        refused(submit_as(w, signer, body), "resident_erased")
    assert len(w.log) == size  # nothing about P1 entered the log
    # nor her access log: the release, the read and the pension notices before erasure only
    assert w.get(f"access_count/{P1}") == before == 2 + 5 + 4 + 3 + 1


def test_the_same_transactions_for_another_resident_still_apply(w: World) -> None:
    """The refusals above are about erasure, not about the transactions themselves."""
    ok(w.submit("ssb-330825", {"type": "resident.erase", "pseudonym": P1}))
    applied = 0
    for signer, body in attempts(w):
        if body["type"] in ("resident.erase", "resident.enroll"):
            continue
        body = {
            k: (
                v.replace(P1[:4], P2[:4])
                if isinstance(v, str) and (k.endswith("_id") or k == "entity")
                else v
            )
            for k, v in body.items()
        }
        body = {k: (P2 if v == P1 else v) for k, v in body.items()}
        if body["type"] == "health.release":  # the locator the vault gives for P2's case
            body["locator"] = derive(body["case_id"], P2, "hosp-330824", body["commitment"])
        signer = signer.replace(P1, P2)
        applied += isinstance(submit_as(w, signer, body), Applied)
    assert applied >= 15  # (a resident may not anchor: contracts/authority.py)


def test_erasure_ends_consents_and_closes_open_cases(w: World) -> None:
    ok(w.submit(f"resident:{P1}", {"type": "resident.erase"}))
    record = w.get(f"resident/{P1}")
    assert record["status"] == "erased" and record["erased_height"] == w.height
    for cid in (f"c-{P1[:4]}", f"c2-{P1[:4]}"):
        assert w.get(f"consent/{cid}")["status"] == "erased"
    for case in ("s-req", "s-auth", "s-rel"):
        assert w.get(f"share/{case}-{P1[:4]}")["status"] == "ERASED"
    # pension: not yet moved -> withdrawn, as the resident could have; funds moved -> open
    for case, status in [("applied", "WITHDRAWN"), ("accepted", "WITHDRAWN"),
                         ("moved", "TRANSFERRED_OUT"), ("disputed", "DISPUTED"),
                         ("filed", "TRANSFERRED_OUT")]:  # fmt: skip
        got = w.get(f"pension/p-{case}-{P1[:4]}")
        assert got["status"] == status, (case, got["status"])
    assert w.get(f"pension/p-applied-{P1[:4]}")["history"][-1]["by"] == f"resident:{P1}"
    # the other resident's records are untouched
    assert w.get(f"consent/c-{P2[:4]}")["status"] == "active"
    assert w.get(f"share/s-rel-{P2[:4]}")["status"] == "RELEASED"
    assert w.get(f"pension/p-applied-{P2[:4]}")["status"] == "APPLIED"


def test_a_pension_transfer_whose_account_moved_finishes(w: World) -> None:
    """Social Insurance Law art. 19: the relation follows the person; funds already sent are
    credited, and a relation and file already sent within one pooling area are taken up
    (docs/domain.md, "resident.erase")."""
    ok(w.submit("ssb-330825", {"type": "resident.erase", "pseudonym": P1}))
    moved, disputed, filed = (f"p-{c}-{P1[:4]}" for c in ("moved", "disputed", "filed"))
    count = w.get(f"access_count/{P1}")
    ok(w.submit("ssb-330802", {"type": "pension.complete", "case_id": moved, **received(FUNDS)}))
    ok(w.submit("ssb-330825", {"type": "pension.transfer_out", "case_id": disputed, **FUNDS}))
    ok(w.submit("ssb-330802", {"type": "pension.complete", "case_id": disputed,
                               **received(FUNDS)}))  # fmt: skip
    ok(w.submit("ssb-330802", {"type": "pension.complete", "case_id": filed, **received(RECORD)}))
    assert {w.get(f"pension/{c}")["status"] for c in (moved, disputed, filed)} == {"COMPLETED"}
    # and once completed, nothing more; nothing of it entered the erased resident's log
    refused(w.submit("ssb-330802", {"type": "pension.complete", "case_id": moved,
                                    **received(FUNDS)}), "resident_erased")  # fmt: skip
    assert w.get(f"access_count/{P1}") == count


def test_the_erased_residents_key_is_revoked(w: World) -> None:
    key = w.keys[f"resident:{P1}"]
    ok(w.submit(f"resident:{P1}", {"type": "resident.erase"}))
    # signed with the resident's own key: a refusal on record, not an invalid block
    out = refused(w.submit(f"resident:{P1}", consent("c-x"), key=key), "resident_erased")
    assert not out.invalidates_block
    # anyone else's signature under the resident's name: as invalid as ever
    forged = w.submit(f"resident:{P1}", consent("c-y"), key=seeded("mallory"))
    assert isinstance(forged, Rejected) and forged.invalidates_block


def test_erasure_is_deterministic_on_replay(w: World) -> None:
    ok(w.submit("ssb-330825", {"type": "resident.erase", "pseudonym": P1}))
    for signer, body in attempts(w)[:5]:
        submit_as(w, signer, body)
    again = w.replay()
    assert again.root == w.root and again.state.data == w.state.data


def test_a_transaction_signed_before_erasure_and_committed_after_is_refused(w: World) -> None:
    """Sitting in a mempool while the erasure commits does not let it through."""
    body = {"chain_id": CHAIN, "signer": "hosp-330881", "nonce": "early", **request("s-late")}
    early = sign_transaction(body, w.keys["hosp-330881"])
    ok(w.submit(f"resident:{P1}", {"type": "resident.erase"}))
    refused(w.submit_tx(early), "resident_erased")


def test_reads_follow_the_same_rule(w: World) -> None:
    """What the API serves about an erased resident: nothing, but the case of a transfer
    whose funds moved, to its two agencies, until it completes."""
    assert read_refusal(w.state, P1, None) is None
    ok(w.submit("ssb-330825", {"type": "resident.erase", "pseudonym": P1}))
    assert read_refusal(w.state, P1, None) == "resident_erased"
    assert read_refusal(w.state, P2, None) is None
    for case, refusal in [("p-applied", "resident_erased"), ("p-moved", None),
                          ("s-rel", "resident_erased")]:  # fmt: skip
        record = w.get(f"{'share' if case[0] == 's' else 'pension'}/{case}-{P1[:4]}")
        assert read_refusal(w.state, P1, record) == refusal, case
