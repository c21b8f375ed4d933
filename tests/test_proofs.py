"""Proofs of insurance (#12 item 3): issued and revoked on the log, checked offline from a
C2SP tlog-proof file; each way of lying about one is a precise refusal."""

import base64
import os
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contracts.proofs import (
    CONTENT_FORMAT,
    MAX_VALIDITY_MS,
    CheckedProof,
    build_extra,
    check_proof_file,
    content_commitment,
    content_problem,
    locator_of,
)
from tests.contract_world import DAY_MS, T0, World, access_log, ok, pseudonym_of, refused, seeded
from tests.memtree import MemTree
from tlog.checkpoint import Checkpoint
from tlog.errors import Invalid
from tlog.note import sign_note
from tlog.proof_file import HEADER, TlogProof, parse_tlog_proof, verify_tlog_proof

P1, P2 = pseudonym_of(1), pseudonym_of(2)
ORIGIN = "shanhe.example/test-chain"
VALIDATORS = [seeded(f"node-{i}") for i in range(4)]
KEYS = [v.verifier() for v in VALIDATORS]
QUORUM = 3


def content(**change: Any) -> dict[str, Any]:
    return {"format": CONTENT_FORMAT, "proof_id": "pf-1", "resident": P1, "issuer": "ssb-330825",
            "scheme": "employee_pension", "period_from": 201501, "period_to": 202604,
            "contribution_months": 130, "expires_ms": T0 + 90 * DAY_MS, **change}  # fmt: skip


def issue_body(c: dict[str, Any], salt: bytes) -> dict[str, Any]:
    return {"type": "proof.issue", "proof_id": c["proof_id"], "resident": c["resident"],
            "scheme": c["scheme"], "expires_ms": c["expires_ms"],
            "commitment": content_commitment(salt, c)}  # fmt: skip


@pytest.fixture
def w() -> World:
    world = World()
    world.enroll(P1)
    world.enroll(P2)
    return world


# ------------------------------------------------------------------------ the contracts
def test_a_bureau_issues_and_revokes_and_the_resident_is_told(w: World) -> None:
    salt = os.urandom(32)
    c = content()
    ok(w.submit("ssb-330825", issue_body(c, salt)))
    record = w.get("proof/pf-1")
    assert record["status"] == "active" and record["issuer"] == "ssb-330825"
    assert record["locator"] == locator_of("pf-1", P1, "ssb-330825", record["commitment"])
    refused(w.submit("ssb-330802", {"type": "proof.revoke", "proof_id": "pf-1",
                                    "reason": "issued_in_error"}), "wrong_signer")  # fmt: skip
    ok(w.submit("ssb-330825", {"type": "proof.revoke", "proof_id": "pf-1",
                               "reason": "record_corrected"}))  # fmt: skip
    assert w.get("proof/pf-1")["status"] == "revoked"
    assert w.get("proof/pf-1")["revoked_reason"] == "record_corrected"
    refused(w.submit("ssb-330825", {"type": "proof.revoke", "proof_id": "pf-1",
                                    "reason": "superseded"}), "wrong_state")  # fmt: skip
    notices = [(e["action"], e["agent"], e["entity"], e["reason"]) for e in access_log(w)]
    assert notices[-2:] == [("C", "ssb-330825", "pf-1", "proof_issued"),
                            ("U", "ssb-330825", "pf-1", "record_corrected")]  # fmt: skip


def test_each_bureau_issues_proofs_of_its_own_schemes(w: World) -> None:
    salt = os.urandom(32)
    medical = content(proof_id="pf-m", scheme="resident_medical", issuer="hsa-330800")
    refused(w.submit("ssb-330825", issue_body(medical, salt)), "wrong_scheme")
    refused(w.submit("hsa-330800", issue_body(content(), salt)), "wrong_scheme")
    ok(w.submit("hsa-330800", issue_body(medical, salt)))
    for signer in ("hosp-330824", "hc-330800", "audit-330800", "clinic-330825", f"resident:{P1}"):
        refused(w.submit(signer, issue_body(content(proof_id="pf-x"), salt)), "wrong_signer")


def test_issue_refusals(w: World) -> None:
    salt = os.urandom(32)
    ok(w.submit("ssb-330825", issue_body(content(), salt)))
    refused(w.submit("ssb-330825", issue_body(content(), salt)), "duplicate_id")
    refused(w.submit("ssb-330825", issue_body(content(proof_id="pf-2", resident=pseudonym_of(9)),
                                              salt)), "unknown_resident")  # fmt: skip
    refused(w.submit("ssb-330825", issue_body(content(proof_id="pf-3", expires_ms=T0), salt)),
            "already_expired")  # fmt: skip
    late = content(proof_id="pf-4", expires_ms=T0 + MAX_VALIDITY_MS + 1)
    refused(w.submit("ssb-330825", issue_body(late, salt)), "validity_too_long")


def test_erasure_ends_proofs_and_refuses_new_ones(w: World) -> None:
    salt = os.urandom(32)
    ok(w.submit("ssb-330825", issue_body(content(), salt)))
    ok(w.submit(f"resident:{P1}", {"type": "resident.erase"}))
    assert w.get("proof/pf-1")["status"] == "erased"
    refused(w.submit("ssb-330825", issue_body(content(proof_id="pf-2"), salt)), "resident_erased")
    refused(w.submit("ssb-330825", {"type": "proof.revoke", "proof_id": "pf-1",
                                    "reason": "issued_in_error"}), "resident_erased")  # fmt: skip


def test_content_problems() -> None:
    assert content_problem(content()) is None
    assert content_problem(content(period_to=201412)) is not None  # before period_from
    assert content_problem(content(period_from=201513)) is not None  # month 13
    assert content_problem(content(contribution_months=137)) is not None  # > 136 months
    assert content_problem(content(scheme="free text")) is not None
    assert content_problem({**content(), "name": "张三"}) is not None
    assert content_problem(content(expires_ms=True)) is not None


# ---------------------------------------------------------------------- the proof file
def _file(w: World, c: dict[str, Any], salt: bytes, leaf_index: int | None = None,
          signers: int = 4, origin: str = ORIGIN, extra: bytes | None = None) -> str:  # fmt: skip
    """The proof file of the last leaf (or ``leaf_index``), with a checkpoint of the whole log
    cosigned by ``signers`` validators."""
    index = len(w.log) - 1 if leaf_index is None else leaf_index
    tree = MemTree(w.log)
    size = len(w.log)
    note = sign_note(Checkpoint(origin, size, tree.root(size)).body(), VALIDATORS[:signers])
    entry = w.log[index]
    return TlogProof(index, tuple(tree.inclusion(index, size)), note,
                     build_extra(entry, c, salt) if extra is None else extra).encode()  # fmt: skip


def _issued(w: World) -> tuple[dict[str, Any], bytes, str]:
    salt = os.urandom(32)
    c = content()
    ok(w.submit("ssb-330825", issue_body(c, salt)))
    w.advance(1)
    ok(w.submit("ssb-330802", {"type": "anchor", "sha256": "ab" * 32}))  # the log grows on
    return c, salt, _file(w, c, salt, leaf_index=len(w.log) - 2)


def check(text: str, now: int = T0 + DAY_MS, **kw: Any) -> CheckedProof | Invalid:
    return check_proof_file(text, KEYS, QUORUM, now, **{"origin": ORIGIN, **kw})


def test_an_issued_proof_checks_offline(w: World) -> None:
    c, _, text = _issued(w)
    got = check(text, origin=ORIGIN, issuer="ssb-330825", resident_pseudonym=P1)
    assert isinstance(got, CheckedProof), got
    assert got.content == c and got.issuer == "ssb-330825" and len(got.signers) == 4
    assert text.startswith(HEADER + "\nextra ")


def test_each_lie_is_a_precise_refusal(w: World) -> None:
    c, salt, text = _issued(w)
    index = len(w.log) - 2

    def code(result: CheckedProof | Invalid) -> str:
        assert isinstance(result, Invalid), result
        return result.code

    # the content changed: more contribution months than the bureau stated
    assert code(check(_file(w, {**c, "contribution_months": 131}, salt, index))) == (
        "commitment_mismatch"
    )
    # the content repeats another expiry than the log's
    assert code(check(_file(w, {**c, "expires_ms": c["expires_ms"] + DAY_MS}, salt, index))) == (
        "content_mismatch"
    )
    # another salt
    assert code(check(_file(w, c, os.urandom(32), index))) == "commitment_mismatch"
    # a checkpoint the validators did not sign: too few cosignatures
    assert code(check(_file(w, c, salt, index, signers=2))) == "no_quorum"
    # a checkpoint of another log
    assert code(check(text, origin="shanhe.example/other")) == "wrong_origin"
    # a wrong checkpoint: a root of another tree, signed by the validators
    forged = (
        _file(w, c, salt, index).split("\n\n", 1)[0]
        + "\n\n"
        + sign_note(Checkpoint(ORIGIN, len(w.log), bytes(32)).body(), VALIDATORS)
    )
    assert code(check(forged)) == "root_mismatch"
    # the wrong leaf: the anchor after it, passed off as the proof
    wrong = _file(w, c, salt, index + 1)
    assert code(check(wrong)) == "wrong_leaf"
    # the leaf of index, with the proof of another index
    moved = text.replace(f"\nindex {index}\n", f"\nindex {index + 1}\n")
    assert code(check(moved)) == "root_mismatch"
    # expired
    assert code(check(text, now=c["expires_ms"])) == "expired"
    # someone else's proof, or another issuer's
    assert code(check(text, resident_pseudonym=P2)) == "wrong_resident"
    assert code(check(text, issuer="ssb-330802")) == "wrong_issuer"
    # unknown validators' keys
    others = [seeded(f"other-{i}").verifier() for i in range(4)]
    assert isinstance(check_proof_file(text, others, 3, T0, origin=ORIGIN), Invalid)
    # not a proof file at all, or no extra data
    assert code(check("hello\n")) == "malformed_proof"
    assert code(check(_file(w, c, salt, index, extra=b"{}"))) == "malformed_proof"


def test_a_revoked_proof_still_checks_offline(w: World) -> None:
    """What offline cannot know: the revocation is on the log after the checkpoint the file
    carries. Only a node says so (online: tests/test_proofs_node.py)."""
    _, _, text = _issued(w)
    ok(w.submit("ssb-330825", {"type": "proof.revoke", "proof_id": "pf-1",
                               "reason": "issued_in_error"}))  # fmt: skip
    assert isinstance(check(text), CheckedProof)


# ------------------------------------------------------------------- the format itself
hashes = st.lists(st.binary(min_size=32, max_size=32), max_size=64)
notes = st.just(sign_note(Checkpoint(ORIGIN, 5, bytes(32)).body(), VALIDATORS[:1]))


@given(st.integers(min_value=0, max_value=2**63), hashes, notes, st.none() | st.binary())
def test_encode_parse_round_trip(index: int, proof: list[bytes], note: str,
                                 extra: bytes | None) -> None:  # fmt: skip
    original = TlogProof(index, tuple(proof), note, extra)
    assert parse_tlog_proof(original.encode()) == original


@given(st.text(max_size=300))
def test_parse_is_total(text: str) -> None:
    assert isinstance(parse_tlog_proof(text), TlogProof | Invalid)


@given(st.integers(min_value=1, max_value=40), st.data())
def test_every_leaf_of_a_tree_verifies_and_no_other(n: int, data: st.DataObject) -> None:
    leaves = [f"leaf-{i}".encode() for i in range(n)]
    tree = MemTree(leaves)
    index = data.draw(st.integers(min_value=0, max_value=n - 1))
    note = sign_note(Checkpoint(ORIGIN, n, tree.root(n)).body(), VALIDATORS)
    proof = parse_tlog_proof(TlogProof(index, tuple(tree.inclusion(index, n)), note).encode())
    assert isinstance(proof, TlogProof)
    assert not isinstance(verify_tlog_proof(proof, leaves[index], KEYS, QUORUM), Invalid)
    assert isinstance(verify_tlog_proof(proof, b"another leaf", KEYS, QUORUM), Invalid)


def test_the_spec_example_parses() -> None:
    """The example of c2sp.org/tlog-proof, with its elided signatures made whole."""
    hashes_b64 = ["gSKyXoYZUgZ6jduWYrkDOARinOMGJveXjgMkBTcdPlQ=",
                  "B95lDa8R83lS8n0eG+o0buTxRKQTYFi//1U8anccXmA="]  # fmt: skip
    note = "example.com/fancylog\n109482\nsFodV/vSp5O8n9a8QpW6PRY97tfOSW5bsc2Xl/EQi08=\n\n— x " + (
        base64.b64encode(bytes(68)).decode() + "\n"
    )
    text = f"{HEADER}\nextra YWJj\nindex 73894\n" + "\n".join(hashes_b64) + "\n\n" + note
    proof = parse_tlog_proof(text)
    assert isinstance(proof, TlogProof)
    assert proof.index == 73894 and proof.extra == b"abc" and len(proof.hashes) == 2
    assert proof.checkpoint == note
    for bad in (text.replace("index 73894", "index 073894"),
                text.replace("extra YWJj", "extra !!"), text.replace("\n\n", "\n")):  # fmt: skip
        assert isinstance(parse_tlog_proof(bad), Invalid)
