"""A proof of insurance end to end on a live network (#12 item 3): issued in Longyou, its
content through the vault to the resident, her proof file checked offline (``shanhe verify
proof``, the SDK) and, once revoked, refused online."""

import hashlib
import json
import time
from dataclasses import replace
from pathlib import Path

import pytest

from api.client import ApiError, NotVerified, ShanheClient
from contracts.proofs import CONTENT_FORMAT
from node.cli import main
from node.keys import read_signer, read_verifiers
from signing.canonical import canonical_json
from tests.cluster import Cluster
from tlog.note import Signer
from tlog.proof_file import TlogProof, parse_tlog_proof


def test_issue_fetch_prove_verify_revoke(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    c = Cluster(tmp_path / "net").start_all()
    try:
        longyou, kecheng = ShanheClient(c.urls[0]), ShanheClient(c.urls[1])
        hsa = read_signer(c.dir / "agencies" / "hsa-330825.key")
        ssb = read_signer(c.dir / "agencies" / "ssb-330825.key")
        pseudonym = hashlib.sha256(b"proof resident").hexdigest()
        me = Signer.generate(f"resident:{pseudonym}")
        enroll = {"type": "resident.enroll", "pseudonym": pseudonym, "age_class": "adult",
                  "key": me.verifier().encode()}  # fmt: skip
        assert longyou.outcome(longyou.submit(longyou.sign(ssb, enroll))).applied
        expires = int(time.time() * 1000) + 90 * 86_400_000
        content = {"format": CONTENT_FORMAT, "proof_id": "pf-330825-0001", "resident": pseudonym,
                   "issuer": "hsa-330825", "scheme": "resident_medical", "period_from": 201801,
                   "period_to": 202605, "contribution_months": 101, "expires_ms": expires}  # fmt: skip
        # a pension bureau may not deposit a medical-insurance proof, nor name another issuer
        with pytest.raises(ApiError) as refused:
            longyou.deposit_proof({**content, "issuer": "ssb-330825"}, ssb, "ssb-330825")
        assert refused.value.status == 403
        deposited = longyou.deposit_proof(content, hsa, "hsa-330825")
        issue = {"type": "proof.issue", "proof_id": "pf-330825-0001", "resident": pseudonym,
                 "scheme": "resident_medical", "expires_ms": expires,
                 "commitment": deposited["commitment"]}  # fmt: skip
        assert longyou.outcome(longyou.submit(longyou.sign(hsa, issue))).applied
        log = longyou.access_log(pseudonym, me)
        assert ("C", "proof_issued") in [(e["action"], e["reason"]) for e in log]
        c.wait_for(lambda: any(e["reason"] == "not_source" and e["agent"] == "ssb-330825"
                               for e in longyou.access_log(pseudonym, me)),
                   what="the refused deposit in her log")  # fmt: skip

        # the resident fetches her proof and builds the file
        keys = read_verifiers(c.dir / "verifier-keys.txt")
        got = longyou.proof_content("pf-330825-0001", me, pseudonym)
        assert got["content"] == content and got["status"] == "active"
        text = longyou.proof_file("pf-330825-0001", me, pseudonym, keys, 3)
        proof = tmp_path / "pf-330825-0001.tlog-proof"
        proof.write_text(text)
        # nobody else fetches it
        other = Signer.generate("resident:" + "ab" * 32)
        with pytest.raises(ApiError):
            longyou.proof_content("pf-330825-0001", other, "ab" * 32)

        # Kecheng checks it offline: the command, and the SDK
        capsys.readouterr()
        origin = str(kecheng.network()["origin"])
        args = ["verify", "proof", str(proof), "--verifier-keys", str(c.dir / "verifier-keys.txt"),
                "--origin", origin]  # fmt: skip
        assert main([*args, "--issuer", "hsa-330825", "--resident", pseudonym]) == 0
        assert "valid: proof pf-330825-0001 by hsa-330825" in capsys.readouterr().out
        assert main([*args, "--resident", "cd" * 32]) == 1
        assert "wrong_resident" in capsys.readouterr().err
        assert main([*args, "--now-ms", str(expires)]) == 1
        assert "expired" in capsys.readouterr().err
        checked, status = kecheng.check_proof(text, keys, 3, origin=origin)
        assert checked.issuer == "hsa-330825" and status and status["status"] == "active"
        assert main([*args, "--node", c.urls[1]]) == 0

        # revoked: offline it still checks (it cannot know), online it is refused
        revoke = {"type": "proof.revoke", "proof_id": "pf-330825-0001", "reason": "superseded"}
        assert longyou.outcome(longyou.submit(longyou.sign(hsa, revoke))).applied
        c.wait_for(lambda: kecheng.proof_status("pf-330825-0001", checked.commitment)["status"]
                   == "revoked", what="revocation at Kecheng")  # fmt: skip
        capsys.readouterr()
        assert main(args) == 0
        assert main([*args, "--node", c.urls[1]]) == 1
        assert "proof_revoked: superseded" in capsys.readouterr().err
        _, status = kecheng.check_proof(text, keys, 3, origin=origin)
        assert status is not None and status["status"] == "revoked"
        log = longyou.access_log(pseudonym, me)
        assert [(e["action"], e["reason"]) for e in log][-1] == ("U", "superseded")
        # a forged file: another number of contribution months than the bureau stated
        parsed = parse_tlog_proof(text)
        assert isinstance(parsed, TlogProof) and parsed.extra is not None
        extra = json.loads(parsed.extra)
        extra["content"]["contribution_months"] = 100
        forged = replace(parsed, extra=canonical_json(extra)).encode()
        with pytest.raises(NotVerified, match="commitment_mismatch"):
            kecheng.check_proof(forged, keys, 3, origin=origin, online=False)
    finally:
        c.stop()
