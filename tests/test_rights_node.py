"""Copy and correction end to end on a live network (#13 item 1, PIPL arts. 45, 46, 50): a
resident with a consent, a case and a proof of insurance asks for her copy and checks it
offline (the SDK and ``shanhe verify export``); another resident is refused as for a request
that does not exist; she asks the source hospital for a correction, which refuses with a
reason; her access log shows the requests and the outcome."""

import copy
import hashlib
import json
import time
from pathlib import Path
from typing import Any

import pytest

from api.client import ApiError, NotVerified, ShanheClient
from contracts.proofs import CONTENT_FORMAT
from node.cli import main
from node.keys import read_signer, read_verifiers
from tests.cluster import Cluster
from tests.tx_examples import NOTICE
from tlog.note import Signer

DAY_MS = 86_400_000


def test_copy_verified_offline_and_a_correction_refused_with_its_reason(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    c = Cluster(tmp_path / "net").start_all()
    try:
        node, other_node = ShanheClient(c.urls[0]), ShanheClient(c.urls[2])
        agency = {name: read_signer(c.dir / "agencies" / f"{name}.key")
                  for name in ("ssb-330825", "hsa-330825", "hosp-330824", "hosp-330881",
                               "hosp-330802", "audit-330800")}  # fmt: skip

        def applied(signer: Signer, body: dict[str, Any], as_name: str | None = None) -> None:
            done = node.outcome(node.submit(node.sign(signer, body, as_name)))
            assert done.applied, (body["type"], done)

        def refused(signer: Signer, body: dict[str, Any], code: str) -> None:
            done = node.outcome(node.submit(node.sign(signer, body)))
            assert (done.outcome, done.reason) == ("rejected", code), (body["type"], done)

        p1, p2 = (hashlib.sha256(f"copy resident {i}".encode()).hexdigest() for i in (1, 2))
        me, stranger = Signer.generate(f"resident:{p1}"), Signer.generate(f"resident:{p2}")
        for who, key in ((p1, me), (p2, stranger)):
            applied(agency["ssb-330825"], {"type": "resident.enroll", "pseudonym": who,
                                           "key": key.verifier().encode(), "age_class": "adult"})  # fmt: skip
        now = int(time.time() * 1000)
        applied(me, {"type": "consent.grant", "consent_id": "c-copy", "grantor": {"type": "self"},
                     "basis": {"type": "consent"}, "notice": NOTICE, "separate": True,
                     "purpose": "COC", "data_classes": ["test_result"], "source": "hosp-330824",
                     "recipient": "hosp-330881", "valid_from_ms": now - 1000,
                     "valid_until_ms": now + 30 * DAY_MS})  # fmt: skip
        applied(agency["hosp-330881"], {"type": "health.request", "case_id": "s-copy",
                                        "resident": p1, "source": "hosp-330824",
                                        "data_class": "test_result", "purpose": "COC"})  # fmt: skip
        applied(me, {"type": "health.authorize", "case_id": "s-copy", "consent_id": "c-copy"})
        content = {"format": CONTENT_FORMAT, "proof_id": "pf-copy", "resident": p1,
                   "issuer": "hsa-330825", "scheme": "resident_medical", "period_from": 201801,
                   "period_to": 202605, "contribution_months": 101,
                   "expires_ms": now + 90 * DAY_MS}  # fmt: skip
        deposited = node.deposit_proof(content, agency["hsa-330825"], "hsa-330825")
        applied(agency["hsa-330825"], {"type": "proof.issue", "proof_id": "pf-copy",
                                       "resident": p1, "scheme": "resident_medical",
                                       "expires_ms": content["expires_ms"],
                                       "commitment": deposited["commitment"]})  # fmt: skip

        # her copy, checked with the validators' keys and the log's origin alone
        keys = read_verifiers(c.dir / "verifier-keys.txt")
        origin = str(node.network()["origin"])
        request_id = node.request_copy(me, p1, "copy-1")
        checked, signed, contents = node.copy(request_id, me, f"resident:{p1}", keys, 3,
                                              origin=origin, resident=p1)  # fmt: skip
        held = {(i["kind"], i["id"]) for i in checked.export["items"]}
        assert {("enrollment", p1), ("consent", "c-copy"), ("health_case", "s-copy"),
                ("proof", "pf-copy"), ("copy_request", "copy-1")} <= held  # fmt: skip
        assert contents == {"pf-copy": content}  # her proof's content, sealed to her key
        assert p2 not in json.dumps(signed)

        # the file she keeps, checked offline by the command; changed, it fails
        path = tmp_path / "copy-1.json"
        path.write_text(json.dumps(signed))
        args = ["verify", "export", str(path), "--verifier-keys",
                str(c.dir / "verifier-keys.txt"), "--origin", origin]  # fmt: skip
        capsys.readouterr()
        assert main([*args, "--resident", p1]) == 0
        assert "valid: copy copy-1" in capsys.readouterr().out
        assert main([*args, "--resident", p2]) == 1
        assert "wrong_resident" in capsys.readouterr().err
        tampered = copy.deepcopy(signed)
        next(i for i in tampered["export"]["items"] if i["id"] == "c-copy")["value"]["status"] = (
            "withdrawn"
        )
        path.write_text(json.dumps(tampered))
        assert main(args) == 1
        assert "bad_signature" in capsys.readouterr().err
        with pytest.raises(NotVerified, match="wrong_origin"):
            node.verify_export(signed, keys, 3, origin="staging.example/other")

        # another resident: refused, and answered as for a request that does not exist
        with pytest.raises(ApiError) as hers:
            other_node.copy(request_id, stranger, f"resident:{p2}", keys, 3, origin=origin)
        with pytest.raises(ApiError) as nobodys:
            other_node.copy("copy-none", stranger, f"resident:{p2}", keys, 3, origin=origin)
        assert hers.value.status == nobodys.value.status == 403
        assert hers.value.problem == nobodys.value.problem

        # a correction: only the named agency decides, a refusal with its reason
        correction = {"type": "rights.correct_request", "request_id": "corr-1",
                      "agency": "hosp-330824", "record": {"type": "health_case", "id": "s-copy"},
                      "ground": "inaccurate",
                      "content_commitment": hashlib.sha256(b"the correct value").hexdigest()}  # fmt: skip
        applied(me, correction)
        decision = {"type": "rights.correct_decide", "request_id": "corr-1",
                    "decision": "refused", "reason": "record_accurate"}  # fmt: skip
        refused(agency["hosp-330802"], decision, "wrong_signer")
        bare = {k: v for k, v in decision.items() if k != "reason"}  # a refusal without reason
        with pytest.raises(ApiError) as unreasoned:  # refused at admission: never on the log
            node.submit(node.sign(agency["hosp-330824"], bare))
        assert unreasoned.value.status == 400
        assert unreasoned.value.problem["type"].endswith("/malformed-transaction")
        asked = node.correction("corr-1", agency["hosp-330824"], "hosp-330824")
        assert asked["status"] == "REQUESTED" and asked["overdue"] is False
        applied(agency["hosp-330824"], decision)
        mine = node.correction("corr-1", me, f"resident:{p1}")
        assert (mine["status"], mine["reason"], mine["late"]) == ("REFUSED", "record_accurate",
                                                                   False)  # fmt: skip
        assert node.overdue_corrections(agency["audit-330800"], "audit-330800") == []

        # her access log: the copy, the correction and its refusal, the stranger's attempt
        c.wait_for(lambda: any(e["reason"] == "not_own_data" and e["agent"] == f"resident:{p2}"
                               for e in node.access_log(p1, me)),
                   what="the stranger's refused read in her log")  # fmt: skip
        log = [(e["action"], e["agent"], e["entity"], e["outcome"], e["reason"])
               for e in node.access_log(p1, me)]  # fmt: skip
        assert ("R", f"resident:{p1}", "copy-1", "granted", "copy_requested") in log
        assert ("C", f"resident:{p1}", "corr-1", "granted", "correction_requested") in log
        assert ("U", "hosp-330824", "corr-1", "refused", "record_accurate") in log
        assert ("R", "hosp-330824", "corr-1", "granted", None) in log  # its read of her request
    finally:
        c.stop()
