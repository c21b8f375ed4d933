"""Emergency access end to end on a live network (#13 item 4), and a statutory basis kept apart
from consents (#13 item 5): a Jiangshan hospital breaks the glass for an unconscious resident,
Kaihua releases her test result, Jiangshan reads and fetches it within the window; she sees
every step as an emergency access; the auditor sees Jiangshan's rate; governance suspends its
break-glass; after the window a read is refused and recorded, and so is a fetch. Then what a
consent says (item 5): a basis is not withdrawn, a health consent not separate is refused, a
request for another purpose is refused at authorization. The genesis
of this network sets a short window (``emergency_window_ms``)."""

import hashlib
import json
import time
from pathlib import Path

import pytest

from api.client import ApiError, ShanheClient
from node.keys import read_signer
from tests.cluster import Cluster
from tests.tx_examples import NOTICE
from tlog.note import Signer

WINDOW_MS = 20_000


def test_break_glass_read_within_the_window_seen_by_her_and_the_auditor(tmp_path: Path) -> None:
    c = Cluster(tmp_path / "net")
    genesis_file = c.dir / "genesis.json"
    genesis = json.loads(genesis_file.read_text())
    genesis["consent_policy"]["emergency_window_ms"] = WINDOW_MS
    genesis_file.write_text(json.dumps(genesis))
    c.start_all()
    try:
        jiangshan, kaihua = ShanheClient(c.urls[0]), ShanheClient(c.urls[1])

        def key(agency: str) -> Signer:
            return read_signer(c.dir / "agencies" / f"{agency}.key")

        er, source, auditor = key("hosp-330881"), key("hosp-330824"), key("audit-330800")
        p = hashlib.sha256(b"emergency resident").hexdigest()
        me = Signer.generate(f"resident:{p}")
        enroll = {"type": "resident.enroll", "pseudonym": p, "age_class": "adult",
                  "key": me.verifier().encode()}  # fmt: skip
        assert jiangshan.outcome(
            jiangshan.submit(jiangshan.sign(key("ssb-330881"), enroll))
        ).applied

        # a clinic cannot break the glass; the hospital can, at once
        clinic = jiangshan.break_glass(key("clinic-330825"), "clinic-330825", "em-x", p,
                                       "hosp-330824", ["test_result"], "unconscious")  # fmt: skip
        assert clinic.outcome == "rejected" and clinic.reason == "wrong_signer"
        opened = jiangshan.break_glass(er, "hosp-330881", "em-1", p, "hosp-330824",
                                       ["test_result"], "unconscious")  # fmt: skip
        assert opened.applied, opened
        request = {"type": "health.request", "case_id": "s-em-1", "resident": p,
                   "source": "hosp-330824", "data_class": "test_result", "purpose": "ETREAT",
                   "emergency_id": "em-1"}  # fmt: skip
        assert jiangshan.outcome(jiangshan.submit(jiangshan.sign(er, request))).applied
        outside = {**request, "case_id": "s-em-2", "data_class": "health_file_summary"}
        scope = jiangshan.outcome(jiangshan.submit(jiangshan.sign(er, outside)))
        assert (scope.outcome, scope.reason) == ("refused", "out_of_scope")

        # the source releases through the vault, the hospital reads and fetches
        document = "急诊: 血型 A+, 青霉素过敏".encode()
        deposited = kaihua.deposit("s-em-1", document, source, "hosp-330824")
        release = {"type": "health.release", "case_id": "s-em-1",
                   "commitment": deposited["commitment"], "locator": deposited["locator"]}  # fmt: skip
        assert kaihua.outcome(kaihua.submit(kaihua.sign(source, release))).applied
        read = {"type": "health.access", "case_id": "s-em-1"}
        assert kaihua.outcome(kaihua.submit(kaihua.sign(er, read))).applied
        holder = ShanheClient(c.urls[1])  # the vault that holds it
        assert holder.fetch("s-em-1", er, "hosp-330881") == document
        case = jiangshan.health_case("s-em-1", er, "hosp-330881")
        assert case["basis"]["type"] == "emergency" and case["until_ms"] > 0

        # she sees it, marked as an emergency access, with its reason code
        log = jiangshan.access_log(p, me)
        marked = [(e["action"], e["outcome"], e["reason"]) for e in log if "emergency_reason" in e]
        assert marked[:4] == [("C", "granted", "emergency"), ("R", "refused", "out_of_scope"),
                              ("E", "granted", "emergency"), ("R", "granted", "emergency")]  # fmt: skip
        assert {e["emergency_reason"] for e in log if "emergency_reason" in e} == {"unconscious"}

        # the auditor's report: Jiangshan's reads are all emergency reads
        report = jiangshan.emergency_report(auditor, "audit-330800")
        row = next(r for r in report["hospitals"] if r["hospital"] == "hosp-330881")
        assert (row["reads"], row["emergency_reads"], row["emergency_rate"]) == (1, 1, 1.0)
        assert [e["emergency_id"] for e in report["emergencies"]] == ["em-1"]
        with pytest.raises(ApiError) as denied:  # a hospital does not audit
            jiangshan.emergency_report(er, "hosp-330881")
        assert denied.value.status == 403

        # governance suspends its break-glass (0 a day): the next one is refused, on her log
        members = ["ssb-330800", "ssb-330802", "ssb-330803"]
        propose = {"type": "governance.propose", "proposal_id": "em-limit",
                   "action": "set_emergency_limit",
                   "emergency_limit": {"agency": "hosp-330881", "max_per_day": 0}}  # fmt: skip
        assert jiangshan.outcome(jiangshan.submit(jiangshan.sign(key(members[0]), propose))).applied
        for member in members[1:]:
            approve = {"type": "governance.approve", "proposal_id": "em-limit"}
            assert jiangshan.outcome(jiangshan.submit(jiangshan.sign(key(member), approve))).applied
        again = jiangshan.break_glass(er, "hosp-330881", "em-2", p, "hosp-330824",
                                      ["test_result"], "life_threatening")  # fmt: skip
        assert (again.outcome, again.reason) == ("refused", "emergency_limit")

        # after the window: the read is refused and recorded, and no fetch is served
        time.sleep(max(0.0, (case["until_ms"] - time.time() * 1000) / 1000) + 1)
        late = kaihua.outcome(kaihua.submit(kaihua.sign(er, read)))
        assert (late.outcome, late.reason) == ("refused", "emergency_window_closed")
        with pytest.raises(ApiError) as closed:
            holder.fetch("s-em-1", er, "hosp-330881")
        assert closed.value.status == 403
        reasons = [(e["entity"], e["reason"]) for e in jiangshan.access_log(p, me)]
        assert ("em-2", "emergency_limit") in reasons
        assert ("s-em-1", "emergency_window_closed") in reasons

        # a statutory basis: recorded by the pension bureau, listed apart, not a consent
        basis = {"type": "basis.record", "basis_id": "b-1", "resident": p,
                 "citation": "sil_pension", "data_classes": ["pension_account"]}  # fmt: skip
        assert jiangshan.outcome(jiangshan.submit(jiangshan.sign(key("ssb-330881"), basis))).applied
        [listed] = jiangshan.bases(p, me)
        assert listed["citation"] == "sil_pension" and "社会保险法" in listed["citation_zh"]
        assert jiangshan.consents(p, me) == []
        withdraw = {"type": "consent.withdraw", "consent_id": "b-1"}
        kept = jiangshan.outcome(jiangshan.submit(jiangshan.sign(me, withdraw)))
        assert not kept.applied and kept.reason == "unknown_consent"  # no path withdraws it

        # what a consent says (item 5): the notice shown, separate for a health class; a
        # request for another purpose is refused at authorization
        now = int(time.time() * 1000)
        consent = {"type": "consent.grant", "consent_id": "c-says", "grantor": {"type": "self"},
                   "basis": {"type": "consent"}, "notice": NOTICE, "separate": True,
                   "purpose": "COC", "data_classes": ["test_result"], "source": "hosp-330824",
                   "recipient": "hosp-330881", "valid_from_ms": now - 60_000,
                   "valid_until_ms": now + 86_400_000}  # fmt: skip
        with pytest.raises(ApiError) as not_separate:  # refused at admission, never a block
            jiangshan.submit(jiangshan.sign(me, {**consent, "separate": False}))
        assert not_separate.value.status == 400
        assert jiangshan.outcome(jiangshan.submit(jiangshan.sign(me, consent))).applied
        [says] = jiangshan.consents(p, me)
        assert says["notice"] == NOTICE and says["separate"] is True
        request = {"type": "health.request", "case_id": "s-says", "resident": p,
                   "source": "hosp-330824", "data_class": "test_result", "purpose": "TREAT"}  # fmt: skip
        assert jiangshan.outcome(jiangshan.submit(jiangshan.sign(er, request))).applied
        authorize = {"type": "health.authorize", "case_id": "s-says", "consent_id": "c-says"}
        mismatch = jiangshan.outcome(jiangshan.submit(jiangshan.sign(me, authorize)))
        assert not mismatch.applied and mismatch.reason == "purpose_mismatch"
    finally:
        c.stop()
