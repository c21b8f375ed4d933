"""What auditors call: the network, status, checkpoints, proofs, entries, blocks and evidence,
and the working-day calendar in force.

Public and unauthenticated: the network, status, checkpoints, proofs (hashes), evidence
(signed votes and proposal headers) and each year's calendar (the State Council's published
arrangement, which every deadline is counted by), which hold no personal data. The log's content, entries
and blocks, carries pseudonyms, codes and commitments: pseudonymized data is still personal
information under the PIPL, so it is served only to RFC 9421-signed callers with a role
(``api/authz.py`` ``Action.LOG_READ``: agencies, auditors among them, validators, and a node
joining the set), and anyone else gets 401 or 403.
"""

import base64
import datetime as dt
import hashlib
import time
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, Field
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool

from api.authz import Action, Parties, caller_of, require
from api.problems import SIGNED_RESPONSES, Problem, ProblemDoc
from api.schemas import BlockHeader, Certificate, EvidenceOut, example
from consensus.messages import block_id
from contracts.calendar import FIRST_YEAR, LAST_YEAR, cst_date
from contracts.emergency import COUNTERS, limit_of, rate
from node import chainstore, logstore
from node.blocks import Block
from node.service import Node
from signing.canonical import canonical_json


class InclusionProof(BaseModel):
    leaf_index: int
    tree_size: int
    hashes: list[str]

    model_config = example(
        leaf_index=3, tree_size=8, hashes=["tI5kQyBmvM0j0aQy6zu5Q0nWcYdX2pSGVRkvbB6bhbk="]
    )


class ConsistencyProof(BaseModel):
    first: int
    second: int
    hashes: list[str]

    model_config = example(
        first=4, second=8, hashes=["tI5kQyBmvM0j0aQy6zu5Q0nWcYdX2pSGVRkvbB6bhbk="]
    )


class Entry(BaseModel):
    leaf_index: int
    data: str
    """Standard base64 of the exact leaf bytes."""

    model_config = example(leaf_index=0, data="eyJib2R5Ijp7fSwic2lnbmF0dXJlIjoiMDAifQ==")


def _b64(hashes: list[bytes]) -> list[str]:
    return [base64.b64encode(h).decode() for h in hashes]


def _engine(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


def _committed_size(engine: Engine) -> int:
    with engine.connect() as conn:
        return logstore.tree_size(conn)


router = APIRouter(prefix="/v1", tags=["auditor"])
CHECKPOINT_EXAMPLE = (
    "shanhe.example/shanhe-quzhou-dev\n117\ntI5kQyBmvM0j0aQy6zu5Q0nWcYdX2pSGVRkvbB6bhbk=\n\n"
    "— node-330800 Az3r1Q...\n— node-330802 bC9xWw...\n— node-330803 q2P0Lg...\n"
)
NonNegative = Annotated[int, Query(ge=0, le=2**62)]


@router.get(
    "/checkpoint",
    response_class=PlainTextResponse,
    responses={
        200: {
            "description": "C2SP signed checkpoint (signed note), one cosignature a line",
            "content": {"text/plain": {"example": CHECKPOINT_EXAMPLE}},
        }
    },
)
def get_checkpoint(request: Request, tree_size: NonNegative | None = None) -> PlainTextResponse:
    """The latest checkpoint with a quorum of validator cosignatures, or the one of a size."""
    with _engine(request).connect() as conn:
        size = logstore.latest_quorum_size(conn)
        if tree_size is not None:
            size = tree_size if logstore.has_quorum(conn, tree_size) else None
        note = None if size is None else logstore.checkpoint_note(conn, size)
    if note is None:
        raise Problem(404, "no-checkpoint", "No quorum-signed checkpoint for that tree size")
    return PlainTextResponse(note)


@router.get("/proof/inclusion", response_model=InclusionProof)
def get_inclusion(
    request: Request, leaf_index: NonNegative, tree_size: NonNegative
) -> InclusionProof:
    engine = _engine(request)
    if not leaf_index < tree_size <= _committed_size(engine):
        raise Problem(
            400, "bad-tree-size", "Need leaf_index < tree_size <= the committed tree size"
        )
    with engine.connect() as conn:
        hashes = logstore.inclusion_proof(conn, leaf_index, tree_size)
    return InclusionProof(leaf_index=leaf_index, tree_size=tree_size, hashes=_b64(hashes))


@router.get("/proof/consistency", response_model=ConsistencyProof)
def get_consistency(request: Request, first: NonNegative, second: NonNegative) -> ConsistencyProof:
    engine = _engine(request)
    if not 0 < first <= second <= _committed_size(engine):
        raise Problem(400, "bad-tree-size", "Need 0 < first <= second <= the committed tree size")
    with engine.connect() as conn:
        hashes = logstore.consistency_proof(conn, first, second)
    return ConsistencyProof(first=first, second=second, hashes=_b64(hashes))


LOG_RESPONSES: dict[int | str, dict[str, Any]] = {
    k: v for k, v in SIGNED_RESPONSES.items() if k in (401, 403, 404)
}
"""A log read's refusals: no signature, no role (a resident), no such entry or block."""


async def _log_reader(request: Request) -> None:
    """401 without a valid signature, 403 without a role that reads the log's content."""
    caller = await caller_of(request, candidates=True)
    require(request, Action.LOG_READ, caller, Parties())


@router.get("/entries/{index}", response_model=Entry, responses=LOG_RESPONSES)
async def get_entry(request: Request, index: Annotated[int, Path(ge=0, le=2**62)]) -> Entry:
    """The exact leaf bytes at ``index`` (verify them with an inclusion proof). Signed
    request by an agency (an auditor too) or a validator."""
    await _log_reader(request)
    with _engine(request).connect() as conn:
        data = logstore.leaf_at(conn, index)
    if data is None:
        raise Problem(404, "no-entry", "No entry at that index")
    return Entry(leaf_index=index, data=base64.b64encode(data).decode())


def _node(request: Request) -> Node:
    node: Node = request.app.state.node
    return node


class ValidatorInfo(BaseModel):
    name: str
    verifier_key: str


class Network(BaseModel):
    chain_id: str
    origin: str
    quorum: int
    validators: list[ValidatorInfo]

    model_config = example(
        chain_id="shanhe-quzhou-dev",
        origin="shanhe.example/shanhe-quzhou-dev",
        quorum=3,
        validators=[{"name": "node-330800", "verifier_key": "node-330800+1a2b3c4d+AQ..."}],
    )


class Status(BaseModel):
    chain_id: str
    name: str
    height: int
    tree_size: int
    checkpoint_size: int | None
    mempool: int
    peers: int
    counters: dict[str, int]

    model_config = example(
        chain_id="shanhe-quzhou-dev",
        name="node-330800",
        height=42,
        tree_size=117,
        checkpoint_size=117,
        mempool=0,
        peers=3,
        counters={"blocks_committed": 42, "txs_committed": 117},
    )


class BlockOut(BaseModel):
    height: int
    hash: str
    header: BlockHeader
    tx_hashes: list[str]
    evidence: list[EvidenceOut]
    certificate: Certificate
    block: str
    """Standard base64 of the exact block bytes (RFC 8785 JSON); SHA-256 of them is ``hash``."""


@router.get("/network", response_model=Network)
def get_network(request: Request) -> Network:
    node = _node(request)
    return Network(
        chain_id=node.chain_id,
        origin=node.genesis.origin,
        quorum=node.validators.quorum,
        validators=[
            ValidatorInfo(name=v.name, verifier_key=v.encode()) for v in node.validators.validators
        ],
    )


@router.get("/status", response_model=Status)
def get_status(request: Request) -> Status:
    node = _node(request)
    with node.engine.connect() as conn:
        tree_size = logstore.tree_size(conn)
        checkpoint_size = logstore.latest_quorum_size(conn)
    return Status(
        chain_id=node.chain_id,
        name=node.signer.name,
        height=node.tip.height,
        tree_size=tree_size,
        checkpoint_size=checkpoint_size,
        mempool=len(node.mempool),
        peers=len(node.peers),
        counters=dict(node.counters),
    )


@router.get("/blocks/{height}", response_model=BlockOut, responses=LOG_RESPONSES)
async def get_block(request: Request, height: Annotated[int, Path(ge=1, le=2**62)]) -> BlockOut:
    """A committed block with its commit certificate: what block sync fetches. Signed request
    by an agency (an auditor too), a validator, or a node an open ``add_validator`` proposal
    names (it syncs before it joins)."""
    await _log_reader(request)
    return await run_in_threadpool(_block_out, _node(request), height)


def _block_out(node: Node, height: int) -> BlockOut:
    with node.engine.connect() as conn:
        stored = chainstore.block_at(conn, height)
    if stored is None:
        raise Problem(404, "no-block", "No block at that height")
    data, cert = stored
    block = Block.decode(data)
    return BlockOut(
        height=height,
        hash=block_id(data).hex(),
        header=BlockHeader(**block.header()),
        tx_hashes=[hashlib.sha256(canonical_json(t)).hexdigest() for t in block.txs],
        evidence=[EvidenceOut(**e) for e in block.evidence],
        certificate=Certificate(**cert.to_json()),
        block=base64.b64encode(data).decode(),
    )


class EvidencePage(BaseModel):
    evidence: list[EvidenceOut]
    next_cursor: str | None

    model_config = example(evidence=[], next_cursor=None)


@router.get("/evidence", response_model=EvidencePage)
def get_evidence(
    request: Request, cursor: str | None = None, limit: int = Query(100, ge=1, le=500)
) -> EvidencePage:
    """Conflicting signed messages seen from validators, and the block that recorded them."""
    with _node(request).engine.connect() as conn:
        rows = chainstore.evidence_page(conn, cursor, limit)
    return EvidencePage(
        evidence=[EvidenceOut(**e) for _, e in rows],
        next_cursor=rows[-1][0] if len(rows) == limit else None,
    )


class Notice(BaseModel):
    issuer: str = Field(description="a code: state_council_general_office (国务院办公厅)")
    date: str = Field(description="the day the notice was published, YYYY-MM-DD")
    document: str | None = Field(default=None, description="its document number, if given")


class CalendarYear(BaseModel):
    """One year's arrangement as the ledger holds it (``calendar/<year>``: from the genesis,
    or set by the governance quorum with ``set_calendar``)."""

    year: int
    holidays: list[str] = Field(description="days off (YYYY-MM-DD, ascending), weekends aside")
    workdays: list[str] = Field(
        description="make-up working days (调休): a Saturday or Sunday worked, ascending"
    )
    notice: Notice

    model_config = example(
        year=2026,
        holidays=["2026-01-01", "2026-01-02", "2026-01-03", "2026-02-15", "2026-02-16"],
        workdays=["2026-01-04", "2026-02-14", "2026-02-28"],
        notice={"issuer": "state_council_general_office", "date": "2025-11-04"},
    )


CALENDAR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {
        "model": ProblemDoc,
        "description": f"bad-year: not a year {FIRST_YEAR}-{LAST_YEAR} (four digits)",
    },
    404: {
        "model": ProblemDoc,
        "description": "no-calendar: no arrangement set for that year yet (its deadlines count "
        "weekends only and are provisional)",
    },
}


@router.get("/calendar/{year}", response_model=CalendarYear, response_model_exclude_none=True,
            responses=CALENDAR_RESPONSES)  # fmt: skip
def get_calendar(
    request: Request,
    year: Annotated[str, Path(description="YYYY", json_schema_extra={"pattern": "^[0-9]{4}$"})],
) -> CalendarYear:
    """The working-day calendar of a year as the contracts count deadlines by it: its days
    off and make-up working days, and the notice they come from. Public."""
    if not (len(year) == 4 and year.isascii() and year.isdigit()) or not (
        FIRST_YEAR <= int(year) <= LAST_YEAR
    ):
        raise Problem(400, "bad-year", "Not a year", f"a year {FIRST_YEAR}-{LAST_YEAR}, YYYY")
    stored = _node(request).committed_value(f"calendar/{int(year)}")
    if not isinstance(stored, dict):
        raise Problem(404, "no-calendar", "No arrangement set for that year",
                      f"deadlines in {year} count weekends only and are provisional")  # fmt: skip
    return CalendarYear(**stored)


# ------------------------------------------------------------- emergency access (#13 item 4)
class HospitalRate(BaseModel):
    """One hospital's health reads over the period (granted ``health.access``), how many of
    them were under a break-glass, and its break-glasses."""

    hospital: str
    reads: int
    emergency_reads: int
    cases_read: int = Field(0, description="cases read (each case once, however often read)")
    emergency_cases_read: int = Field(0, description="of them, under a break-glass")
    emergency_rate: float | None = Field(
        description="emergency_cases_read / cases_read (None: no case read); per case, so "
        "re-reading a consented case does not dilute it"
    )
    refused_reads: int
    break_glass: int
    break_glass_refused: int = Field(description="refused past the governance limit")
    limit_per_day: int | None = Field(description="its break-glasses a rolling day (None: none)")


class BreakGlass(BaseModel):
    emergency_id: str
    hospital: str
    resident: str
    source: str
    data_classes: list[str]
    reason: str = Field(description="a code of EMERGENCY_REASONS", examples=["unconscious"])
    opened_ms: int
    until_ms: int
    status: str = Field(description="open | erased", examples=["open"])
    reads: int
    cases: dict[str, str] = Field(description="data class -> the case opened for it")


class EmergencyReport(BaseModel):
    since: str
    until: str
    hospitals: list[HospitalRate] = Field(description="highest emergency rate first")
    emergencies: list[BreakGlass]
    truncated: bool = Field(description="more break-glasses than listed: narrow the period")

    model_config = example(
        since="2026-05-01", until="2026-05-28",
        hospitals=[{"hospital": "hosp-330881", "reads": 6, "emergency_reads": 6,
                    "emergency_rate": 1.0, "refused_reads": 0, "break_glass": 6,
                    "cases_read": 6, "emergency_cases_read": 6,
                    "break_glass_refused": 1, "limit_per_day": 2}],
        emergencies=[], truncated=False,
    )  # fmt: skip


MAX_REPORT_DAYS = 92
MAX_REPORT_EMERGENCIES = 1000


def _day() -> Any:
    """A fresh Query per parameter: one shared object is named after the first parameter that
    uses it, and the second then reads the first's value (red team 13b)."""
    return Query(None, pattern="^[0-9]{4}-[0-9]{2}-[0-9]{2}$", description="YYYY-MM-DD (CST)")


def _overseer(node: Node, agency: str) -> bool:
    """An auditor, or a governance agency (it sets the limits)."""
    record = node.committed_value(f"agency/{agency}")
    members = node.committed_value("governance/members") or []
    return (
        isinstance(record, dict)
        and record.get("status") == "active"
        and (record.get("kind") == "auditor" or agency in members)
    )


@router.get("/audit/emergencies", response_model=EmergencyReport, responses=SIGNED_RESPONSES)
async def get_emergency_report(
    request: Request, since: str | None = _day(), until: str | None = _day()
) -> EmergencyReport:
    """Break-glass reads (PIPL art. 13(1)(4)) over a period (default: the last 30 days, at
    most 92), with each hospital's rate of emergency reads among its health reads, so that
    a hospital abusing it stands out; governance limits it (``set_emergency_limit``). Read
    from per-day counters and a per-day index: a period's days, not all cases. Signed
    request by an auditor or a governance agency."""
    caller = await caller_of(request)
    node = _node(request)
    parties = Parties(
        agencies=frozenset({caller.id}) if _overseer(node, caller.id) else frozenset()
    )
    require(request, Action.EMERGENCY_REPORT, caller, parties)
    try:
        last = dt.date.fromisoformat(until) if until else cst_date(int(time.time() * 1000))
        first = dt.date.fromisoformat(since) if since else last - dt.timedelta(days=29)
    except (ValueError, OverflowError) as exc:  # year 1 less 29 days is no date
        raise Problem(400, "bad-period", "Not a date", str(exc)) from exc
    days = (last - first).days + 1
    if not 0 < days <= MAX_REPORT_DAYS:
        raise Problem(400, "bad-period", "A bad period",
                      f"since <= until, at most {MAX_REPORT_DAYS} days")  # fmt: skip
    return await run_in_threadpool(_emergency_report, node, first, days)


def _emergency_report(node: Node, first: dt.date, days: int) -> EmergencyReport:
    totals: dict[str, dict[str, int]] = {}
    ids: list[str] = []
    truncated = False
    with node.engine.connect() as conn:
        for n in range(days):
            day = (first + dt.timedelta(days=n)).isoformat()
            after = None
            while True:  # every hospital of the day (a few hundred at most)
                rows = chainstore.state_prefix(conn, f"hospital_reads/{day}/", after, 500)
                for key, row in rows:
                    total = totals.setdefault(key.rsplit("/", 1)[1], dict.fromkeys(COUNTERS, 0))
                    for name in COUNTERS:
                        total[name] += int(row.get(name, 0)) if isinstance(row, dict) else 0
                if len(rows) < 500:
                    break
                after = rows[-1][0]
            room = MAX_REPORT_EMERGENCIES - len(ids)
            listed = chainstore.state_prefix(conn, f"emergency_on/{day}/", None, room + 1)
            truncated |= len(listed) > room
            ids += [str(v) for _, v in listed[:room]]
    hospitals = [
        HospitalRate(hospital=h, **t, limit_per_day=limit_of(node.committed_value, h),
                     emergency_rate=rate(t))
        for h, t in totals.items()
    ]  # fmt: skip
    hospitals.sort(key=lambda r: (-(r.emergency_rate or 0.0), -r.break_glass, r.hospital))
    emergencies = [
        BreakGlass.model_validate(record)
        for record in (node.committed_value(f"emergency/{i}") for i in ids)
        if isinstance(record, dict)
    ]
    return EmergencyReport(since=first.isoformat(), until=(first + dt.timedelta(days=days - 1)).isoformat(),
                           hospitals=hospitals, emergencies=emergencies, truncated=truncated)  # fmt: skip
