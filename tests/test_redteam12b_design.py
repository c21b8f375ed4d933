"""Red team 12b's design findings, left open (strict xfail: each passes once the design
changes, and then must lose its mark).

1. A pension case's kind is the applicant's word. Whether two bureaus share a pooling area is
   a fact about the bureaus, yet nothing on the ledger holds it: the same two bureaus can
   have an ``inter_area`` case (funds move) and an ``intra_area`` one (no pooled fund moves)
   for the same resident. A sending bureau applying at its own counter picks the kind that
   moves no pooled fund; only the receiving bureau's review (``wrong_case_kind``) stands in
   the way, and a colluding or careless receiver lets it through.
2. Two designated hospitals in collusion share any resident's test results on 浙江省医疗保障条例
   art. 40 with no treatment relation at all: the requester names the resident and a care
   purpose, the source authorizes on the statute. It is visible (each release and read in her
   access log with the citation; the log for auditors), but only afterwards: nothing on the
   ledger shows she is the requester's patient (a registration, a visit she made there).
3. (Fixed) The ``designated`` role (医保定点 agreement) could not be withdrawn alone: governance
   had ``remove_agency`` only, so a hospital whose agreement ended kept sharing on the statute
   unless it was removed from the network altogether (its consent-based cases, its counter
   with it). Governance ``set_agency_roles`` now replaces an agency's roles by quorum, and
   every release, read and fetch of a statutory case checks both parties' designation again."""

import pytest

from contracts.health import case_allows
from tests.contract_world import World, access_log, ok, pseudonym_of, refused
from tests.test_governance import MEMBERS, approve, propose
from tests.test_statutory_sharing import ART_40, release

P1 = pseudonym_of(1)
LONGYOU, KECHENG = "ssb-330825", "ssb-330802"
STATUTE = {"type": "statutory", "citation": "浙江省医疗保障条例 art. 40"}


@pytest.mark.xfail(
    strict=True,
    reason="design (red team 12b): no pooling area on the ledger; the case's kind is the "
    "applicant's word, checked only by the receiving bureau's review",
)
def test_two_bureaus_are_either_one_pooling_area_or_two() -> None:
    w = World()
    w.enroll(P1)
    for case, kind in (("p-1", "inter_area"), ("p-2", "intra_area")):
        outcome = w.submit(LONGYOU, {"type": "pension.apply", "case_id": case, "kind": kind,
                                     "resident": P1, "from_agency": LONGYOU,
                                     "to_agency": KECHENG})  # fmt: skip
        if kind == "inter_area":
            ok(outcome)
        else:  # the same two bureaus cannot also be one pooling area
            refused(outcome, "wrong_kind")


@pytest.mark.xfail(
    strict=True,
    reason="design (red team 12b): the statute's care relation is the requester's word; the "
    "ledger holds no sign that the resident is its patient",
)
def test_a_statutory_case_needs_a_care_relation_with_the_requester() -> None:
    w = World()
    w.enroll(P1)  # enrolled, never at hosp-330881
    ok(w.submit("hosp-330881", {"type": "health.request", "case_id": "t-1", "resident": P1,
                                "source": "hosp-330824", "data_class": "test_result",
                                "purpose": "TREAT"}))  # fmt: skip
    refused(w.submit("hosp-330824", {"type": "health.authorize", "case_id": "t-1",
                                     "basis": STATUTE}), "no_care_relation")  # fmt: skip


def test_governance_withdraws_a_designation_alone() -> None:
    """The source's 定点 agreement ends: the quorum withdraws ``designated`` and nothing else.
    Its open statutory cases stop at once (release refused, read refused and in her log with
    the citation, a payload fetch refused), it authorizes no new one; it stays active, its
    counter with it."""
    w = World()
    w.enroll(P1)
    for case in ("t-1", "t-2"):
        ok(w.submit("hosp-330881", {"type": "health.request", "case_id": case, "resident": P1,
                                    "source": "hosp-330824", "data_class": "test_result",
                                    "purpose": "TREAT"}))  # fmt: skip
        ok(w.submit("hosp-330824", {"type": "health.authorize", "case_id": case,
                                    "basis": STATUTE}))  # fmt: skip
    ok(release(w, "t-1"))
    ok(propose(w, "undesignate", "set_agency_roles", {"id": "hosp-330824",
                                                      "roles": ["health", "counter"]}))  # fmt: skip
    for member in MEMBERS[1:3]:
        ok(approve(w, "undesignate", member))
    record = w.get("agency/hosp-330824")
    assert record["status"] == "active" and "designated" not in record["roles"]
    refused(release(w, "t-2"), "not_designated")
    read = ok(w.submit("hosp-330881", {"type": "health.access", "case_id": "t-1"}))
    assert read.refused == "not_designated"
    entry = access_log(w)[-1]
    assert (entry["action"], entry["outcome"], entry["basis"]) == ("R", "refused", ART_40)
    # the check a payload fetch makes (api/routers/agency.py), on the node's committed state
    assert case_allows(w.get, w.get("share/t-1"), w.time_ms, "hosp-330881") == "not_designated"
    ok(w.submit("hosp-330881", {"type": "health.request", "case_id": "t-3", "resident": P1,
                                "source": "hosp-330824", "data_class": "test_result",
                                "purpose": "TREAT"}))  # fmt: skip
    refused(w.submit("hosp-330824", {"type": "health.authorize", "case_id": "t-3",
                                     "basis": STATUTE}), "wrong_signer")  # fmt: skip
    # still active, still a counter: an assisted step it takes is its role's, not the statute's
    assert "counter" in record["roles"] and "health" in record["roles"]
    # designated again by the quorum, the open case reads again
    ok(propose(w, "redesignate", "set_agency_roles",
               {"id": "hosp-330824", "roles": ["health", "counter", "designated"]}))  # fmt: skip
    for member in MEMBERS[1:3]:
        ok(approve(w, "redesignate", member))
    assert ok(w.submit("hosp-330881", {"type": "health.access", "case_id": "t-1"})).refused is None
    assert w.replay().root == w.root
