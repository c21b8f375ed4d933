"""``shanhe log audit``: recompute every stored hash from the leaves and check the checkpoints.

Leaves and hashes are streamed in index order and replayed through a frontier, which emits the
stored hashes in exactly their storage order, so memory stays O(log n) at any log size.
"""

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, select

from node.logstore import checkpoint_note
from node.schema import log_checkpoints, log_hashes, log_leaves
from tlog import layout
from tlog.checkpoint import CheckpointError, parse_checkpoint, verify_checkpoint
from tlog.hashing import EMPTY_ROOT, leaf_hash
from tlog.note import NoteError, Verifier

_BATCH = 10_000


@dataclass(frozen=True)
class AuditReport:
    ok: bool
    message: str
    leaves: int = 0
    bad_leaf_index: int | None = None


def _stream(conn: Connection, query: object) -> Iterator[tuple[int, bytes]]:
    result = conn.execution_options(stream_results=True, yield_per=_BATCH).execute(query)  # type: ignore[call-overload]
    for index, blob in result:
        yield int(index), bytes(blob)


def audit_log(conn: Connection, verifiers: Sequence[Verifier] = (), quorum: int = 1) -> AuditReport:
    checkpoints = {
        int(size): body
        for size, body in conn.execute(select(log_checkpoints.c.tree_size, log_checkpoints.c.body))
    }
    expected_roots: dict[int, bytes] = {}
    for size, body in checkpoints.items():
        cp = parse_checkpoint(body)
        if isinstance(cp, CheckpointError) or cp.size != size:
            return AuditReport(False, f"checkpoint at size {size} is malformed: {cp}")
        expected_roots[size] = cp.root

    hashes = _stream(
        conn, select(log_hashes.c.hash_index, log_hashes.c.hash).order_by("hash_index")
    )
    leaves = _stream(
        conn, select(log_leaves.c.leaf_index, log_leaves.c.data).order_by("leaf_index")
    )
    frontier = layout.Frontier()
    if 0 in expected_roots and expected_roots[0] != EMPTY_ROOT:
        return AuditReport(False, "checkpoint at size 0 does not carry the empty root")
    for index, data in leaves:
        if index != frontier.size:
            return AuditReport(
                False, f"leaf {frontier.size} is missing", frontier.size, frontier.size
            )
        for want_index, want_hash in frontier.append(leaf_hash(data)):
            got = next(hashes, None)
            if got is None or got[0] != want_index:
                return AuditReport(
                    False, f"leaf {index}: stored hash {want_index} is missing", index, index
                )
            if got[1] != want_hash:
                what = (
                    "leaf data does not match its stored hash"
                    if want_index == layout.stored_hash_index(0, index)
                    else f"stored hash {want_index} does not match the leaves below it"
                )
                return AuditReport(False, f"leaf {index}: {what}", index, index)
        if frontier.size in expected_roots and frontier.root() != expected_roots[frontier.size]:
            size = frontier.size
            return AuditReport(
                False,
                f"checkpoint at size {size}: signed root differs from the tree recomputed "
                f"from the leaves (a leaf below {size} was rewritten with its hashes)",
                size,
            )
    extra = next(hashes, None)
    if extra is not None:
        return AuditReport(False, f"stored hash {extra[0]} belongs to no leaf", frontier.size)
    beyond = [s for s in expected_roots if s > frontier.size]
    if beyond:
        return AuditReport(
            False, f"checkpoint at size {max(beyond)} but only {frontier.size} leaves are stored"
        )
    if not checkpoints:
        return AuditReport(
            True, f"ok: {frontier.size} leaves; no checkpoint to compare", frontier.size
        )
    latest = max(checkpoints)
    signed = ""
    if verifiers:
        note = checkpoint_note(conn, latest) or checkpoints[latest]
        result = verify_checkpoint(note, verifiers, quorum)
        if isinstance(result, NoteError | CheckpointError):
            return AuditReport(False, f"latest checkpoint (size {latest}): {result}", frontier.size)
        signed = f", signed by {', '.join(result[1].valid_signers)}"
    return AuditReport(
        True,
        f"ok: {frontier.size} leaves, {len(checkpoints)} checkpoints match; "
        f"latest checkpoint size {latest}{signed}",
        frontier.size,
    )
