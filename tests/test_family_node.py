"""Guardians and family delegation end to end on a live network (#13 items 2-3): a daughter
manages her father's consents by delegation (and his log names her); strangers and the
delegate's own curiosity are refused at the API; a child's guardian consents for her while the
child herself cannot; the guardianship past its end is refused. (The 18th birthday, which needs
a block time the test controls, is tests/test_guardians.py's.)"""

import datetime as dt
import hashlib
import time
from pathlib import Path
from typing import Any

import pytest

from api.client import ApiError, ShanheClient
from node.keys import read_signer
from tests.cluster import Cluster
from tests.tx_examples import NOTICE
from tlog.note import Signer

DAY_MS = 86_400_000


def _pseudonym(name: str) -> str:
    return hashlib.sha256(f"family {name}".encode()).hexdigest()


def test_a_daughter_acts_for_her_father_and_a_guardian_for_a_child(tmp_path: Path) -> None:
    c = Cluster(tmp_path / "net").start_all()
    try:
        node = ShanheClient(c.urls[0])
        ssb = read_signer(c.dir / "agencies" / "ssb-330825.key")
        counter = read_signer(c.dir / "agencies" / "hosp-330824.key")
        requester = read_signer(c.dir / "agencies" / "hosp-330881.key")
        who = {n: _pseudonym(n) for n in ("father", "daughter", "son", "mother", "child")}
        keys = {n: Signer.generate(f"resident:{p}") for n, p in who.items()}
        in_two_years = (dt.date.today() + dt.timedelta(days=730)).isoformat()

        def send(signer: Signer, body: dict[str, Any], as_name: str | None = None,
                 on_behalf_of: str | None = None) -> Any:  # fmt: skip
            return node.outcome(node.submit(node.sign(signer, body, as_name, on_behalf_of)))

        def resident(name: str, body: dict[str, Any], for_whom: str | None = None) -> Any:
            acting = who[for_whom] if for_whom else None
            return send(keys[name], body, f"resident:{who[name]}", acting)

        for name, p in who.items():
            minor = {"age_class": "under_14", "class_ends": in_two_years} if name == "child" else {}
            body = {"type": "resident.enroll", "pseudonym": p, "age_class": "adult",
                    "key": keys[name].verifier().encode(), **minor}  # fmt: skip
            assert send(ssb, body).applied
        now = int(time.time() * 1000)

        # the father delegates his health consents (test results) to his daughter
        grant = {"type": "delegation.grant", "delegation_id": "d-family", "delegate": who["daughter"],
                 "actions": ["consent.grant", "consent.withdraw"], "data_classes": ["test_result"],
                 "valid_until_ms": now + 30 * DAY_MS}  # fmt: skip
        assert resident("father", grant).applied
        consent = {"type": "consent.grant", "consent_id": "c-family", "grantor": {"type": "proxy"},
                   "basis": {"type": "consent"}, "notice": NOTICE, "separate": True,
                   "purpose": "COC", "data_classes": ["test_result"], "source": "hosp-330824",
                   "recipient": "hosp-330881", "valid_from_ms": now,
                   "valid_until_ms": now + 20 * DAY_MS}  # fmt: skip
        assert resident("daughter", consent, "father").applied
        withdraw = {"type": "consent.withdraw", "consent_id": "c-family"}
        assert resident("daughter", withdraw, "father").applied
        # beyond her scope, and her brother who holds nothing: refused at the block
        apply = {"type": "pension.apply", "case_id": "p-family", "kind": "inter_area",
                 "from_agency": "ssb-330825", "to_agency": "ssb-330802"}  # fmt: skip
        assert resident("daughter", apply, "father").reason == "delegation_out_of_scope"
        again = {**consent, "consent_id": "c-son"}
        assert resident("son", again, "father").reason == "not_acting_for"

        # his log names her; she reads his consents and the entries of her classes
        log = node.access_log(who["father"], keys["father"])
        hers = [e for e in log if e["agent"] == f"resident:{who['daughter']}"]
        assert [(e["reason"], e["acting_as"]) for e in hers] == [
            ("consent.grant", "delegate"), ("consent.withdraw", "delegate")]  # fmt: skip
        seen = node.consents(who["father"], keys["daughter"], reader=who["daughter"])
        assert [(x["consent_id"], x["status"]) for x in seen] == [("c-family", "withdrawn")]
        assert node.access_log(who["father"], keys["daughter"], reader=who["daughter"])
        listed = node.representation(who["father"], keys["daughter"], reader=who["daughter"])
        assert [d["delegation_id"] for d in listed["delegations"]] == ["d-family"]
        assert listed["acting_for"] == [] and listed["age_class"] == "adult"
        mine = node.representation(who["daughter"], keys["daughter"])
        assert [d["delegation_id"] for d in mine["acting_for"]] == ["d-family"]
        # her brother reads nothing of his, and the attempt is in the father's log
        with pytest.raises(ApiError) as stranger:
            node.access_log(who["father"], keys["son"], reader=who["son"])
        assert stranger.value.status == 403
        c.wait_for(lambda: any(e["agent"] == f"resident:{who['son']}" and e["outcome"] == "refused"
                               for e in node.access_log(who["father"], keys["father"])),
                   what="the brother's refused read in the father's log")  # fmt: skip
        # a consent delegate reads no health case file of his
        request = {"type": "health.request", "case_id": "s-family", "resident": who["father"],
                   "source": "hosp-330824", "data_class": "test_result", "purpose": "COC"}  # fmt: skip
        assert send(requester, request).applied
        with pytest.raises(ApiError) as case_file:
            node.health_case("s-family", keys["daughter"], f"resident:{who['daughter']}")
        assert case_file.value.status == 403

        # a child under 14: her own consent is refused; her guardian's, for a short while, not
        child_consent = {**consent, "consent_id": "c-child", "grantor": {"type": "self"}}
        assert resident("child", child_consent).reason == "guardian_required"
        until = int(time.time() * 1000) + 20_000
        guardianship = {"type": "guardian.record", "guardianship_id": "g-family",
                        "resident": who["child"], "guardian": who["mother"], "basis": "parent",
                        "document": {"kind": "birth_certificate", "hash": hashlib.sha256(b"cert").hexdigest()},
                        "valid_until_ms": until,
                        "assisted": {"channel": "counter", "operator_id": "kh-desk-2",
                                     "verification_method": "household_register",
                                     "verification_result": "verified",
                                     "form_hash": hashlib.sha256(b"form").hexdigest()}}  # fmt: skip
        assert send(counter, guardianship).applied
        by_mother = {**consent, "consent_id": "c-mother", "grantor": {"type": "guardian"}}
        assert resident("mother", by_mother, "child").applied
        child_log = node.access_log(who["child"], keys["mother"], reader=who["mother"])
        assert [e["acting_as"] for e in child_log if e["entity"] == "c-mother"] == ["guardian"]
        shown = node.representation(who["child"], keys["mother"], reader=who["mother"])
        assert shown["age_class"] == "under_14" and shown["class_ends"] == in_two_years
        assert [g["guardian"] for g in shown["guardians"]] == [who["mother"]]
        time.sleep(max(0.0, (until - time.time() * 1000) / 1000) + 1)
        late = {**by_mother, "consent_id": "c-late", "valid_from_ms": until}
        assert resident("mother", late, "child").reason == "guardianship_expired"
    finally:
        c.stop()
