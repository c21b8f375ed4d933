"""Checkpoint cosignatures: every validator signs each new tree head; a checkpoint is served
once a quorum has. Peers' signatures are buffered and stored in batches, so that each one does
not cost a database commit of its own; those for heads this node has not reached wait."""

from collections import Counter

from sqlalchemy import Connection, func, insert, select

from consensus.validators import ValidatorSet
from node import logstore
from node.schema import checkpoint_quorum, log_cosignatures
from tlog.checkpoint import CheckpointError, parse_checkpoint
from tlog.note import NoteError, open_note

MAX_EARLY_HEADS = 64
"""Tree heads ahead of ours whose cosignatures wait (the nearest are kept)."""
MAX_LINE = 512
"""A signature line is "— <name> <base64 of key id and signature>\n": about 120 bytes."""


def store(conn: Connection, size: int, signer: str, line: str, quorum: int) -> None:
    """Keep one signer's line for a tree size (once), and mark the size when it has a quorum."""
    exists = conn.execute(
        select(log_cosignatures.c.signer).where(
            log_cosignatures.c.tree_size == size, log_cosignatures.c.signer == signer
        )
    ).first()
    if exists:
        return
    logstore.add_cosignature(conn, size, signer, line)
    count = conn.execute(
        select(func.count())
        .select_from(log_cosignatures)
        .where(log_cosignatures.c.tree_size == size)
    ).scalar()
    reached = conn.execute(
        select(checkpoint_quorum.c.tree_size).where(checkpoint_quorum.c.tree_size == size)
    ).first()
    if int(count or 0) >= quorum and reached is None:
        conn.execute(insert(checkpoint_quorum).values(tree_size=size))


def lines_of(note: str) -> tuple[int, list[tuple[str, str]]] | None:
    """(tree size, [(signer name, signature line)]) of a served checkpoint note, or None."""
    head, sep, signatures = note.partition("\n\n")
    checkpoint = parse_checkpoint(head + "\n")
    if not sep or isinstance(checkpoint, CheckpointError):
        return None
    lines = signatures.splitlines(keepends=True)
    return checkpoint.size, [(line[2:].split(" ", 1)[0], line) for line in lines]


class Cosignatures:
    def __init__(self) -> None:
        self.early: dict[int, dict[str, str]] = {}
        """Tree size -> signer -> line, for heads this node has not reached yet."""
        self.inbox: list[tuple[str, int, str]] = []

    def receive(self, signer: str, size: int, line: str, tree_size: int, validators: int) -> bool:
        """Queue a peer's line; True when the inbox was empty (the caller schedules a flush).
        What waits is bounded: one line per signer and head, lines of a signature's size, and
        the nearest heads only, so a peer far ahead (or lying) can neither grow this nor crowd
        out the heads the others are about to reach."""
        if len(line) > MAX_LINE:
            return False
        if size > tree_size:
            if size not in self.early and len(self.early) >= MAX_EARLY_HEADS:
                farthest = max(self.early)
                if size > farthest:
                    return False
                del self.early[farthest]
            waiting = self.early.setdefault(size, {})
            if signer in waiting or len(waiting) < validators:
                waiting[signer] = line
            return False
        self.inbox.append((signer, size, line))
        return len(self.inbox) == 1

    def reached(self, size: int) -> None:
        """This node now has the head of ``size``: what arrived early can be checked."""
        self.inbox.extend((signer, size, line) for signer, line in self.early.pop(size, {}).items())
        self.early = {s: v for s, v in self.early.items() if s > size}

    def flush(self, conn: Connection, validators: ValidatorSet, counters: Counter[str]) -> None:
        """Check each queued line against the stored checkpoint body and its signer's key."""
        bodies: dict[int, str | None] = {}
        for signer, size, line in self.inbox:
            if size not in bodies:
                note = logstore.checkpoint_note(conn, size)
                bodies[size] = None if note is None else note.split("\n\n", 1)[0] + "\n"
            body, key = bodies[size], validators.by_name(signer)
            if body is None or key is None:
                continue
            opened = open_note(body + "\n" + line, [key])
            if isinstance(opened, NoteError) or opened.valid_signers != (signer,):
                counters["dropped:bad_cosignature"] += 1
                continue
            store(conn, size, signer, line, validators.quorum)
        self.inbox.clear()
