"""A small in-memory world for contract tests: agencies, residents, a clock, blocks of one."""

import hashlib
import itertools
from dataclasses import dataclass, field
from typing import Any

from contracts.policy import ConsentPolicy
from contracts.registry import RULES, begin_block
from contracts.rules import (
    Applied,
    BlockContext,
    Outcome,
    Rejected,
    apply_transaction,
    genesis_writes,
)
from contracts.state import GENESIS_STATE_ROOT, DictState, Overlay, next_state_root
from contracts.tx import Transaction, check_signature, sign_transaction
from tlog.note import Signer

CHAIN = "test-chain"
DAY_MS = 86_400_000
T0 = 1_779_933_600_000  # Thursday 2026-05-28 10:00 CST


def seeded(name: str) -> Signer:
    return Signer(name, hashlib.sha256(name.encode()).digest())


AGENCIES = {
    "ssb-330825": "social_security_bureau",
    "ssb-330802": "social_security_bureau",
    "ssb-330803": "social_security_bureau",
    "ssb-330822": "social_security_bureau",
    "hosp-330881": "hospital",
    "hosp-330824": "hospital",
    "hosp-330802": "hospital",
    "hc-330800": "health_commission",
    "hsa-330800": "medical_insurance_bureau",
    "clinic-330825": "primary_clinic",
    "audit-330800": "auditor",
    "audit-330881": "auditor",
}
ROLES = {
    "ssb-330825": ["governance", "counter"],
    "ssb-330802": ["governance", "counter"],
    "ssb-330803": ["governance", "counter"],
    "ssb-330822": ["governance"],
    "hosp-330881": ["health", "designated"],  # the requesting hospital of the tests: no counter
    "hosp-330824": ["health", "counter", "designated"],  # the source hospital, with a counter
    "hosp-330802": ["health", "counter"],  # not designated (医保定点) by the medical insurance
    "hc-330800": ["health", "counter"],
    "hsa-330800": ["health", "counter"],
    "clinic-330825": ["health", "counter"],
    "audit-330800": ["audit"],
    "audit-330881": ["audit", "counter"],  # a genesis that gave an auditor a counter: no effect
}


@dataclass
class World:
    time_ms: int = T0
    height: int = 0
    state: DictState = field(default_factory=DictState)
    root: bytes = GENESIS_STATE_ROOT
    log: list[bytes] = field(default_factory=list)
    outcomes: list[tuple[Transaction, Outcome]] = field(default_factory=list)
    keys: dict[str, Signer] = field(default_factory=dict)
    history: list[tuple[Transaction, int]] = field(default_factory=list)
    nonces: itertools.count = field(default_factory=itertools.count)  # type: ignore[type-arg]
    policy: ConsentPolicy | None = None
    """The genesis consent policy (None: the defaults)."""

    def __post_init__(self) -> None:
        agencies = []
        for agency_id, kind in AGENCIES.items():
            self.keys[agency_id] = seeded(agency_id)
            agencies.append({"id": agency_id, "name": agency_id, "division": agency_id[-6:], "kind": kind,
                             "roles": ROLES[agency_id],
                             "key": self.keys[agency_id].verifier().encode()})  # fmt: skip
        validators = [
            {"name": f"node-{i}", "key": seeded(f"node-{i}").verifier().encode(), "url": ""}
            for i in range(4)
        ]
        writes = genesis_writes(agencies, validators, self.policy)
        self.state.data.update(writes)
        self.root = next_state_root(GENESIS_STATE_ROOT, 0, writes)

    def resident_key(self, pseudonym: str, generation: int = 0) -> Signer:
        return seeded(f"resident-{pseudonym[:16]}-{generation}")

    def submit(self, signer: str, body: dict[str, Any], key: Signer | None = None) -> Outcome:
        full = {"chain_id": CHAIN, "signer": signer, "nonce": f"n{next(self.nonces)}", **body}
        return self.submit_tx(sign_transaction(full, key or self.keys[signer]))

    def submit_tx(self, tx: Transaction) -> Outcome:
        """One transaction in its own block at the current time."""
        self.height += 1
        overlay = Overlay(self.state)
        ctx = BlockContext(CHAIN, self.height, self.time_ms, check_signature)
        begin_block(overlay, ctx)
        outcome = apply_transaction(overlay, tx, ctx, RULES)
        if isinstance(outcome, Applied):
            self.log.append(outcome.leaf)
        self.state.data.update(overlay.writes)
        self.root = next_state_root(self.root, self.height, overlay.writes)
        self.outcomes.append((tx, outcome))
        self.history.append((tx, self.time_ms))
        return outcome

    def replay(self) -> "World":
        """A fresh world fed the same transactions at the same times."""
        again = World(policy=self.policy)
        for tx, time_ms in self.history:
            again.time_ms = time_ms
            again.submit_tx(tx)
        return again

    def enroll(
        self, pseudonym: str, by: str = "ssb-330825", age_class: str = "adult",
        class_ends: str | None = None,
    ) -> Signer:  # fmt: skip
        key = self.resident_key(pseudonym)
        self.keys[f"resident:{pseudonym}"] = key
        ends = {"class_ends": class_ends} if class_ends is not None else {}
        out = self.submit(
            by, {"type": "resident.enroll", "pseudonym": pseudonym,
                 "key": key.verifier().encode(), "age_class": age_class, **ends},
        )  # fmt: skip
        assert isinstance(out, Applied), out
        return key

    def get(self, key: str) -> Any:
        return self.state.get(key)

    def advance(self, days: float) -> None:
        self.time_ms += int(days * DAY_MS)


def pseudonym_of(n: int) -> str:
    return hashlib.sha256(f"resident {n}".encode()).hexdigest()


def h(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def ok(outcome: Any) -> Applied:
    """The outcome, which must be applied."""
    assert isinstance(outcome, Applied), outcome
    return outcome


def refused(outcome: Any, code: str) -> Rejected:
    """The outcome, which must be a rejection with this code."""
    assert isinstance(outcome, Rejected), outcome
    assert outcome.code == code, outcome
    return outcome


def access_log(w: "World", pseudonym: str | None = None) -> list[dict[str, Any]]:
    """A resident's access log, oldest first (resident 1's by default)."""
    pseudonym = pseudonym or pseudonym_of(1)
    count = w.get(f"access_count/{pseudonym}") or 0
    return [w.get(f"access/{pseudonym}/{i:012d}") for i in range(count)]
