"""Applying one transaction: the registry of transaction types and the common checks."""

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from contracts.authority import VALIDATOR_TYPES
from contracts.calendar import GENESIS_CALENDAR, calendar_writes
from contracts.policy import POLICY_KEY, RIGHTS_KEY, ConsentPolicy, RightsPolicy
from contracts.shapes import malformed
from contracts.state import JSON, Overlay, StateView
from contracts.tx import SignatureCheck, Transaction
from tlog.note import Verifier


@dataclass(frozen=True)
class BlockContext:
    chain_id: str
    height: int
    time_ms: int
    check_signature: SignatureCheck


@dataclass(frozen=True)
class Applied:
    leaf: bytes
    """The exact bytes appended to the log for this transaction."""
    events: tuple[dict[str, Any], ...] = ()
    refused: str | None = None
    """Applied, yet what it asked for was refused, with this reason code: a read the rules
    refused (recorded in the resident's access log), a governance change closed as refused.
    The transaction is on the log and its nonce spent; its outcome is ``refused``."""


@dataclass(frozen=True)
class Rejected:
    code: str
    message: str
    invalidates_block: bool = field(default=False)
    """The transaction can never be valid (malformed, or not what its signer signed): a block
    carrying it is invalid, and admission refuses it."""


Outcome = Applied | Rejected
Rule = Callable[[Overlay, Transaction, BlockContext], Outcome]


NODE_PREFIX = "node:"
NODE_TYPES = VALIDATOR_TYPES
"""What a validator node may sign itself (``contracts/authority.py``): the record of a read it
refused at its API; and nobody else may sign those."""


def signer_record_key(signer: str) -> str:
    """Agencies sign as their id; residents as ``resident:<pseudonym>``; validator nodes as
    ``node:<name>``, with the key the current validator set holds."""
    if signer.startswith("resident:"):
        return f"resident/{signer.removeprefix('resident:')}"
    if signer.startswith(NODE_PREFIX):
        return "validators"
    return f"agency/{signer}"


def signer_key(state: StateView, signer: str) -> Verifier | None:
    if signer.startswith(NODE_PREFIX):
        members = state.get("validators")
        name = signer.removeprefix(NODE_PREFIX)
        for v in members if isinstance(members, list) else []:
            if isinstance(v, dict) and v.get("name") == name:
                return _parse_key(str(v["key"]))
        return None
    record = state.get(signer_record_key(signer))
    if not isinstance(record, dict) or record.get("status") != "active":
        return None
    return _parse_key(str(record["key"]))


def agency_key(state: StateView, agency: str) -> Verifier | None:
    return None if agency.startswith("resident:") else signer_key(state, agency)


@lru_cache(maxsize=4096)
def _parse_key(text: str) -> Verifier:
    return Verifier.parse(text)


def common_checks(state: Overlay, tx: Transaction, ctx: BlockContext) -> Rejected | None:
    """Chain, signer, signature and nonce: what every transaction type shares."""
    if tx.body["chain_id"] != ctx.chain_id:
        return Rejected("wrong_chain", "transaction is for another chain", invalidates_block=True)
    key = signer_key(state, tx.signer)
    if key is None:
        if erased_signer(state, tx, ctx.check_signature):
            return Rejected("resident_erased", f"{tx.signer} was erased: its key is revoked")
        return Rejected(
            "unknown_signer", f"{tx.signer} is not an active signer", invalidates_block=True
        )
    if not ctx.check_signature(tx, key):
        record = state.get(signer_record_key(tx.signer))
        previous = record.get("previous_keys", []) if isinstance(record, dict) else []
        if any(ctx.check_signature(tx, _parse_key(str(k))) for k in previous):
            return Rejected("revoked_key", f"{tx.signer} signed with a key it has rotated away")
        return Rejected("bad_signature", "signature does not verify", invalidates_block=True)
    if state.get(nonce_key(tx)) is not None:
        return Rejected("replayed_nonce", f"nonce {tx.body['nonce']} was used by {tx.signer}")
    if tx.signer.startswith(NODE_PREFIX) != (tx.type in NODE_TYPES):
        return Rejected("wrong_signer", f"{tx.type} is not signed by {tx.signer.split(':')[0]}")
    return None


def erased_signer(state: StateView, tx: Transaction, check: SignatureCheck) -> bool:
    """An erased resident signed this with a key of theirs (now revoked): a refusal on
    record, not a forgery that makes its block invalid."""
    if not tx.signer.startswith("resident:"):
        return False
    record = state.get(signer_record_key(tx.signer))
    if not isinstance(record, dict) or record.get("status") != "erased":
        return False
    keys = [record["key"], *record.get("previous_keys", [])]
    return any(check(tx, _parse_key(str(k))) for k in keys)


def nonce_key(tx: Transaction) -> str:
    return f"nonce/{tx.signer}/{tx.body['nonce']}"


def read_keys(body: Any) -> list[str]:
    """State keys every transaction reads (its signer's record and nonce): a node may fetch them
    for a whole block in one query before executing it. Best effort on malformed input."""
    if not isinstance(body, dict):
        return []
    signer, nonce = body.get("signer"), body.get("nonce")
    if not isinstance(signer, str) or not isinstance(nonce, str):
        return []
    return [signer_record_key(signer), f"nonce/{signer}/{nonce}"]


def stateless_checks(tx: Transaction) -> Rejected | None:
    """Shape, formats and no personal number (``contracts.shapes``): what admission refuses
    with a 400 and what makes a block invalid, checked by this one function in both places."""
    problem = malformed(tx)
    if problem is None:
        return None
    return Rejected(problem.code, problem.message, invalidates_block=True)


def apply_transaction(
    state: Overlay, tx: Transaction, ctx: BlockContext, rules: dict[str, Rule]
) -> Outcome:
    if (problem := stateless_checks(tx)) is not None:
        return problem
    rule = rules.get(tx.type)
    if rule is None:
        return Rejected("unknown_type", f"no transaction type {tx.type!r}", invalidates_block=True)
    if (problem := common_checks(state, tx, ctx)) is not None:
        return problem
    outcome = rule(state, tx, ctx)
    if isinstance(outcome, Applied):
        state.put(nonce_key(tx), ctx.height)
    return outcome


def genesis_writes(
    agencies: list[dict[str, Any]],
    validators: list[dict[str, str]] | None = None,
    policy: ConsentPolicy | None = None,
    calendar: tuple[dict[str, Any], ...] | None = None,
    rights: RightsPolicy | None = None,
) -> dict[str, JSON]:
    """The state before block 1: agencies, the governance members, the validator set, the
    consent policy (the defaults unless the genesis sets its own) and the working-day
    calendar (``calendar/<year>``: 2026 unless the genesis sets its own; checked by
    ``contracts.calendar.genesis_calendar``)."""
    writes: dict[str, JSON] = {f"agency/{a['id']}": {**a, "status": "active"} for a in agencies}
    writes[POLICY_KEY] = (policy or ConsentPolicy()).to_json()
    writes[RIGHTS_KEY] = (rights or RightsPolicy()).to_json()
    writes |= calendar_writes(GENESIS_CALENDAR if calendar is None else calendar)
    if validators is not None:
        writes["validators"] = validators
    writes["governance/members"] = sorted(
        a["id"] for a in agencies if "governance" in a.get("roles", [])
    )
    return writes
