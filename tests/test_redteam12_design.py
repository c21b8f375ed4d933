"""Red team 12's two design findings, fixed by the lead.

1. A bureau governance removes (its key stolen, say) leaves its proofs of insurance active:
   only the issuer may revoke (``proof.revoke``: ``Relation.ISSUER``), and a removed agency
   signs nothing more, so the proofs a thief issued with its key stand for up to a year,
   and a node's status answer says ``active``.
2. Without ``--origin`` (``origin=None``), a proof file checks against a checkpoint of any
   log the validators' keys cosign: C2SP tlog-proof's step 2 ("check that the checkpoint
   origin line is acceptable") is left to the caller, and the ``proof.issue`` entry's
   ``chain_id`` is not bound either. Validators whose keys also sign a staging or another
   region's network (a witness-like reuse) let a proof issued there, by whoever is a bureau
   there, pass here. Making ``--origin`` required changes the command and the SDK others
   call (the demo). Fixed: the origin is a required argument (``--origin``; the SDK's
   ``origin=``), taken from the genesis; a removed bureau's active proofs read
   ``issuer_removed`` online (``contracts.proofs.proof_status``)."""

import os

import pytest

from contracts.proofs import CheckedProof, check_proof_file, proof_status
from tests.contract_world import World, ok
from tests.test_governance import MEMBERS, approve, propose
from tests.test_proofs import KEYS, ORIGIN, QUORUM, _file, _issued, check, content, issue_body, w  # noqa: F401


def test_the_proofs_of_a_removed_bureau_do_not_stand(w: World) -> None:  # noqa: F811
    salt = os.urandom(32)
    medical = content(proof_id="pf-m", scheme="resident_medical", issuer="hsa-330800")
    ok(w.submit("hsa-330800", issue_body(medical, salt)))
    ok(propose(w, "out", "remove_agency", {"id": "hsa-330800"}))
    for member in MEMBERS[1:3]:
        ok(approve(w, "out", member))
    assert w.get("agency/hsa-330800")["status"] == "removed"
    assert proof_status(w.get("proof/pf-m"), w.get("agency/hsa-330800")) == "issuer_removed"


def test_a_checkpoint_of_another_log_is_refused_by_default(w: World) -> None:  # noqa: F811
    c, salt, _ = _issued(w)
    other_log = _file(w, c, salt, len(w.log) - 2, origin="shanhe.example/staging")
    assert isinstance(check(other_log, origin=ORIGIN), CheckedProof) is False  # named: refused
    with pytest.raises(TypeError):  # and it must be named
        check_proof_file(other_log, KEYS, QUORUM, 0)  # type: ignore[call-arg]
