"""Random sequences of domain operations never break the invariants (hypothesis stateful)."""

from collections import Counter
from typing import Any

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from contracts.consent import consent_allows
from contracts.erasure import OPEN_SHARES, records
from contracts.locator import derive
from contracts.rules import Applied
from contracts.tx import Transaction
from tests.contract_world import DAY_MS, World, h, pseudonym_of
from tests.tx_examples import NOTICE

RESIDENTS = [pseudonym_of(i) for i in range(3)]
HOSPITALS = ["hosp-330881", "hosp-330824", "hosp-330802"]
CLASSES = ["test_result", "health_file_summary", "medical_insurance_record"]
ids = st.sampled_from([f"x{i}" for i in range(4)])


class Domain(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.w = World()
        for p in RESIDENTS:
            self.w.enroll(p)
        self.reads: list[tuple[Transaction, dict[str, Any], int]] = []
        self.erased: dict[str, int] = {}
        """Erased residents and how many access-log entries they had then."""

    @rule(who=st.sampled_from(RESIDENTS), cid=ids, src=st.sampled_from(HOSPITALS), dst=st.sampled_from(HOSPITALS),
          cls=st.lists(st.sampled_from(CLASSES), min_size=1, max_size=2, unique=True), days=st.integers(1, 10))  # fmt: skip
    def grant(self, who: str, cid: str, src: str, dst: str, cls: list[str], days: int) -> None:
        self.w.submit(f"resident:{who}", {
            "type": "consent.grant", "consent_id": cid, "grantor": {"type": "self"}, "basis": {"type": "consent"}, "notice": NOTICE, "separate": True,
            "purpose": "TREAT", "data_classes": cls, "source": src, "recipient": dst,
            "valid_from_ms": self.w.time_ms, "valid_until_ms": self.w.time_ms + days * DAY_MS,
        })  # fmt: skip

    @rule(case=ids, cid=ids, who=st.sampled_from(RESIDENTS), pair=st.permutations(HOSPITALS), cls=st.sampled_from(CLASSES),
          days=st.integers(1, 10))  # fmt: skip
    def share(self, case: str, cid: str, who: str, pair: list[str], cls: str, days: int) -> None:
        """The cooperative path in one step, ending with the requester's read, so that random
        runs also reach released cases and granted reads (not only refusals)."""
        req, src = pair[0], pair[1]
        self.grant(who, cid, src, req, [cls], days)
        self.request(case, who, req, src, cls)
        self.authorize(case, cid, who)
        self.release(case, src)
        self.read(case, req)

    @rule(who=st.sampled_from(RESIDENTS), cid=ids)
    def withdraw(self, who: str, cid: str) -> None:
        self.w.submit(f"resident:{who}", {"type": "consent.withdraw", "consent_id": cid})

    @rule(
        case=ids,
        who=st.sampled_from(RESIDENTS),
        req=st.sampled_from(HOSPITALS),
        src=st.sampled_from(HOSPITALS),
        cls=st.sampled_from(CLASSES),
    )
    def request(self, case: str, who: str, req: str, src: str, cls: str) -> None:
        self.w.submit(
            req,
            {
                "type": "health.request",
                "case_id": case,
                "resident": who,
                "source": src,
                "data_class": cls,
                "purpose": "TREAT",
            },
        )

    @rule(case=ids, cid=ids, who=st.sampled_from(RESIDENTS))
    def authorize(self, case: str, cid: str, who: str) -> None:
        self.w.submit(
            f"resident:{who}", {"type": "health.authorize", "case_id": case, "consent_id": cid}
        )

    @rule(case=ids, src=st.sampled_from(HOSPITALS), steal=st.none() | ids)
    def release(self, case: str, src: str, steal: str | None = None) -> None:
        """The locator the vault gives for this case; or (``steal``) the one another case's
        release put on the log, as a puppet case would."""
        record, locator = self.w.get(f"share/{case}"), "vault:none"
        other = self.w.get(f"share/{steal}") if steal is not None else None
        if isinstance(other, dict):
            locator = other.get("locator") or locator
        elif isinstance(record, dict):
            locator = derive(case, record["resident"], record["source"], h(case))
        self.w.submit(
            src,
            {"type": "health.release", "case_id": case, "commitment": h(case), "locator": locator},
        )

    @rule(case=ids, reader=st.sampled_from(HOSPITALS))
    def read(self, case: str, reader: str) -> None:
        before = self.w.get(f"share/{case}")
        out = self.w.submit(reader, {"type": "health.access", "case_id": case})
        if isinstance(out, Applied):
            self.reads.append((self.w.outcomes[-1][0], out.events[0], self.w.time_ms))
            SEEN[out.events[0]["outcome"]] += 1
            if out.events[0]["outcome"] == "granted":
                assert isinstance(before, dict)
                consent = self.w.get(f"consent/{before['consent_id']}")
                # invariant: nothing is readable without an active consent covering it, now
                assert (
                    consent_allows(
                        consent, self.w.time_ms, reader, before["source"], before["data_class"]
                    )
                    is None
                )

    @rule(days=st.integers(0, 5))
    def wait(self, days: int) -> None:
        self.w.advance(days)

    @rule(by_agency=st.booleans())
    def erase(self, by_agency: bool) -> None:
        """Only the first resident is ever erased, so the others keep the runs interesting."""
        who = RESIDENTS[0]
        if by_agency:
            out = self.w.submit("ssb-330825", {"type": "resident.erase", "pseudonym": who})
        else:
            out = self.w.submit(f"resident:{who}", {"type": "resident.erase"})
        if isinstance(out, Applied):
            self.erased[who] = self.w.get(f"access_count/{who}") or 0

    @invariant()
    def nothing_about_an_erased_resident_is_processed(self) -> None:
        for who, entries in self.erased.items():
            assert (self.w.get(f"access_count/{who}") or 0) == entries
            for key in records(self.w.state, who):
                record = self.w.get(key)
                assert not (key.startswith("consent/") and record["status"] == "active"), key
                assert not (key.startswith("share/") and record["status"] in OPEN_SHARES), key

    @invariant()
    def every_record_naming_a_resident_is_indexed_under_them(self) -> None:
        named = {
            key: value["resident"]
            for key, value in self.w.state.data.items()
            if key.split("/")[0] in ("consent", "share", "pension") and isinstance(value, dict)
        }
        for p in RESIDENTS:
            assert sorted(records(self.w.state, p)) == sorted(
                k for k, who in named.items() if who == p
            )

    @invariant()
    def a_released_case_points_at_its_own_payload_only(self) -> None:
        for key, value in self.w.state.data.items():
            if key.startswith("share/") and isinstance(value, dict) and "locator" in value:
                bound = derive(value["case_id"], value["resident"], value["source"],
                               value["commitment"])  # fmt: skip
                assert (
                    value["locator"] == bound and self.w.get(f"locator/{bound}") == value["case_id"]
                )

    @invariant()
    def every_read_is_in_the_access_log(self) -> None:
        logged = []
        for p in RESIDENTS:
            count = self.w.get(f"access_count/{p}") or 0
            logged += [self.w.get(f"access/{p}/{i:012d}") for i in range(count)]
        reads = [e for e in logged if e["action"] == "R"]
        assert len(reads) == len(self.reads)
        assert sorted((e["agent"], e["outcome"], e["recorded_ms"]) for e in reads) == sorted(
            (tx.signer, ev["outcome"], t) for tx, ev, t in self.reads
        )

    @invariant()
    def replay_reproduces_the_state_root(self) -> None:
        if len(self.w.history) % 5:
            return  # replaying is the costly check: every few steps is enough
        again = self.w.replay()
        assert again.root == self.w.root and again.state.data == self.w.state.data
        assert again.log == self.w.log


SEEN: Counter[str] = Counter()


def test_random_operation_sequences_keep_the_invariants() -> None:
    SEEN.clear()
    run_state_machine_as_test(
        Domain, settings=settings(max_examples=150, stateful_step_count=40, deadline=None)
    )
    # the sequences did reach the interesting states, both ways
    assert SEEN["granted"] > 0 and SEEN["refused"] > 0, SEEN
