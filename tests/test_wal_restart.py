"""Four real ``Node``s in one process, wired without HTTP: a validator that signed at a height
crashes, its WAL is torn, damaged, lost or outlives its database, and it restarts.

What it signed before the crash was sent; after the restart it is made to time out at once,
which is when a validator that forgot its votes would sign nil and equivocate. It must not:
no two conflicting messages of it exist and no node records evidence, and the chain goes on.
Each scenario also runs with the double-sign guard switched off, to show the attack is real.
"""

import asyncio
import errno
import hashlib
import json
import os
import shutil
import sqlite3
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

import node.service as service
from consensus.machine import Step, Timeout
from consensus.messages import Message, Vote, VoteType, conflicting, message_from_json, signer_of
from consensus.wal import HEADER_SIZE, Decoded, decode_records
from contracts.tx import Transaction, sign_transaction
from node import chainstore
from node.genesis import NodeConfig
from node.keys import read_signer
from node.network_init import init_network
from node.runner import run_node
from node.service import Node
from node.walfile import WalCorrupted


class Wire:
    """What each node sends waits here until the test delivers it; all of it is kept."""

    def __init__(self) -> None:
        self.nodes: dict[str, Node] = {}
        self.queue: list[tuple[str, str, bytes]] = []
        self.sent: list[Message] = []

    def connect(self, node: Node) -> None:
        self.nodes[node.signer.name] = node
        peers: list[Any] = [
            WirePeer(self, node.signer.name, v.name)
            for v in node.validators.validators
            if v.name != node.signer.name
        ]
        node.peers = peers

    def deliver(self, keep: Callable[[str, str, Message], bool] = lambda s, d, m: True) -> int:
        """Deliver what is queued (``keep``: which to deliver now; the rest waits)."""
        batch, self.queue, held = self.queue, [], []
        for src, dst, item in batch:
            d = json.loads(item)
            if d.get("kind") != "consensus":
                continue
            msg = message_from_json(d["message"])
            if dst not in self.nodes or not keep(src, dst, msg):
                held.append((src, dst, item))
                continue
            node = self.nodes[dst]
            node.handle(node.sm.receive_many([msg]))
        self.queue = held + self.queue
        return len(batch) - len(held)


class WirePeer:
    def __init__(self, wire: Wire, src: str, name: str) -> None:
        self.wire, self.src, self.name = wire, src, name

    def send(self, item: bytes, *, gossip: bool = False) -> None:
        d = json.loads(item)
        if d.get("kind") == "consensus":
            self.wire.sent.append(message_from_json(d["message"]))
        self.wire.queue.append((self.src, self.name, item))

    async def close(self) -> None:
        pass


class Cluster:
    def __init__(self, tmp_path: Path) -> None:
        self.configs = init_network(tmp_path / "net", 4)
        genesis = tmp_path / "net" / "genesis.json"
        g = json.loads(genesis.read_text())
        g["timeouts"] = {"propose": 1.0, "prevote": 0.5, "precommit": 0.5, "delta": 0.2}
        genesis.write_text(json.dumps(g))
        self.net = tmp_path / "net"
        self.wire = Wire()
        self.names: list[str] = []
        self.nonce = 0

    async def boot(self, i: int) -> Node:
        node = Node(NodeConfig.load(self.configs[i]))
        for peer in node.peers:
            await peer.close()
        self.wire.connect(node)
        if len(self.names) < 4:
            self.names.append(node.signer.name)
        node.handle(node.sm.start())
        return node

    def node(self, i: int) -> Node:
        return self.wire.nodes[self.names[i]]

    def crash(self, i: int) -> None:
        """Gone at once: its timers do nothing, its files are closed; what it sent stays sent."""
        node = self.wire.nodes.pop(self.names[i])
        node._on_timeout = lambda t: None  # type: ignore[method-assign]
        node._advance = lambda changed: None  # type: ignore[method-assign]
        node.wal.close()
        node.engine.dispose()
        node.vault.engine.dispose()

    def wal(self, i: int) -> Path:
        return self.configs[i].parent / "consensus.wal"

    def tx(self) -> Transaction:
        self.nonce += 1
        signer = read_signer(self.net / "agencies" / "hosp-330881.key")
        body = {"type": "anchor", "chain_id": "shanhe-quzhou-dev", "signer": signer.name,
                "nonce": f"n-{self.nonce}", "sha256": hashlib.sha256(b"%d" % self.nonce).hexdigest()}  # fmt: skip
        return sign_transaction(body, signer)

    def submit(self) -> None:
        tx = self.tx()
        for node in self.wire.nodes.values():
            node._admit(tx, gossip=False)

    async def until(self, condition: Callable[[], bool], timeout: float = 30) -> None:
        """Deliver until ``condition``; when quiet, do what the driver's periodic tasks do:
        re-send the current height's messages, and sync blocks to nodes that are behind."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not condition():
            assert loop.time() < deadline, "timed out"
            if self.wire.deliver():
                continue
            await asyncio.sleep(0.05)
            if not self.wire.queue:
                self.sync()
                for node in self.wire.nodes.values():
                    node.handle(node.sm.rebroadcast())

    def sync(self) -> None:
        top = max(self.wire.nodes.values(), key=lambda n: n.tip.height)
        for node in self.wire.nodes.values():
            while node.tip.height < top.tip.height:
                with top.engine.connect() as conn:
                    found = chainstore.block_at(conn, node.tip.height + 1)
                assert found is not None
                node.handle(node.sm.commit_certificate(*found), pace=False)

    async def start_height(self, height: int) -> None:
        """Once every node runs ``height``, give it a transaction to decide."""
        await self.until(lambda: all(n.sm.height == height for n in self.wire.nodes.values()))
        self.submit()

    def proposer(self, height: int) -> str:
        return self.node(1).validators.proposer(height, 0)

    def sign_and_crash(self, i: int) -> None:
        """Node ``i`` prevotes the height's proposal and precommits it (it saw the polka),
        and crashes: its messages are on the wire, nobody has decided yet."""
        me = self.names[i]
        height = self.node(i).sm.height
        self.wire.deliver(lambda s, d, m: s == self.proposer(height))  # the proposal, to all
        self.wire.deliver(lambda s, d, m: d == me)  # everyone's prevotes, to node i only
        mine = [m for m in self.wire.sent if signer_of(m) == me and m.height == height]
        assert {m.type for m in mine if isinstance(m, Vote)} == set(VoteType)
        self.crash(i)

    def time_out(self, i: int) -> None:
        """The restarted node's round-0 timers fire before anything reaches it."""
        node = self.node(i)
        for step in (Step.PROPOSE, Step.PREVOTE):
            node.handle(node.sm.timeout(Timeout(step, node.sm.height, 0, 0)))

    def conflicts(self, i: int) -> list[tuple[Message, Message]]:
        mine = [m for m in self.wire.sent if signer_of(m) == self.names[i]]
        return [(a, b) for n, a in enumerate(mine) for b in mine[n + 1 :] if conflicting(a, b)]

    def evidence(self) -> list[Any]:
        found = []
        for node in self.wire.nodes.values():
            with node.engine.connect() as conn:
                found += chainstore.evidence_page(conn, None, 100)
        return found

    async def stop(self) -> None:
        for node in self.wire.nodes.values():
            await node.stop()


def run(scenario: Callable[[Cluster], Awaitable[None]], tmp_path: Path) -> None:
    async def main() -> None:
        c = Cluster(tmp_path)
        try:
            await scenario(c)
        finally:
            await c.stop()

    asyncio.run(main())


def tear(wal: Path) -> None:
    wal.write_bytes(wal.read_bytes() + bytes.fromhex("ff535701000001"))


def damage_last(wal: Path) -> None:
    data = bytearray(wal.read_bytes())
    data[-10] ^= 0x20
    wal.write_bytes(bytes(data))


def lose(wal: Path) -> None:
    wal.unlink()


@pytest.mark.parametrize(
    ("fault", "counter"),
    [
        (tear, "wal_torn_tails_repaired"),
        (damage_last, "wal_damaged_tails_cut"),
        (lose, "wal_double_sign_guard"),
    ],
)
@pytest.mark.parametrize("guard", [True, False])
def test_a_restarted_validator_does_not_equivocate(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    fault: Callable[[Path], None],
    counter: str,
    guard: bool,
) -> None:
    if not guard:  # as before this issue: trust whatever the WAL still holds
        monkeypatch.setattr(service, "double_sign_guard", lambda last, tip, damaged: (0, ""))

    async def scenario(c: Cluster) -> None:
        for i in range(4):
            await c.boot(i)
        c.submit()
        await c.start_height(2)
        c.sign_and_crash(0)  # at height 2
        fault(c.wal(0))
        node = await c.boot(0)
        assert node.tip.height == 1
        assert node.counters[counter] == 1 or (not guard and counter == "wal_double_sign_guard")
        if guard and fault is not tear:  # it may have signed at height 2: it will not again
            assert node.sm.sign_from_height == 3 and node.counters["wal_double_sign_guard"] == 1
        elif guard:  # everything it sent is in the WAL: it re-sends, and signs on
            assert node.sm.sign_from_height <= 2 and not node.counters["wal_double_sign_guard"]
        c.time_out(0)
        await c.until(lambda: all(n.tip.height >= 2 for n in c.wire.nodes.values()))
        if guard or fault is tear:
            assert not c.conflicts(0) and not c.evidence()
            await c.start_height(3)  # and at the next height it signs again
            await c.until(lambda: all(n.tip.height >= 3 for n in c.wire.nodes.values()))
            assert [m for m in c.wire.sent if signer_of(m) == c.names[0] and m.height == 3]
        else:
            assert c.conflicts(0), "without the guard the forgotten votes are signed anew"
            assert c.evidence()

    run(scenario, tmp_path)


@pytest.mark.parametrize("guard", [True, False])
def test_a_wal_ahead_of_a_restored_database_is_not_ignored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, guard: bool
) -> None:
    """Node 0 signs at height 2; its database is then replaced by an older copy (taken before
    block 1) while its WAL is kept. It catches up by certificates, and signs nothing at
    height 2 (which it signed before), only from height 3."""
    if not guard:
        monkeypatch.setattr(service, "double_sign_guard", lambda last, tip, damaged: (0, ""))

    async def scenario(c: Cluster) -> None:
        for i in range(4):
            await c.boot(i)
        db = c.configs[0].parent / "node.db"
        backup = db.with_name("node.db.bak")
        with sqlite3.connect(db) as src, sqlite3.connect(backup) as dst:
            src.backup(dst)  # the database before block 1
        c.submit()
        await c.start_height(2)
        c.sign_and_crash(0)
        for stale in db.parent.glob("node.db*"):
            if stale != backup:
                stale.unlink()
        shutil.move(backup, db)
        node = await c.boot(0)
        assert node.tip.height == 0
        if guard:
            assert node.sm.sign_from_height == 3
            assert node.counters["wal_double_sign_guard"] == 1
        c.sync()  # block sync, as _sync_from does it
        assert node.tip.height == 1 and node.sm.height == 2
        c.time_out(0)
        await c.until(lambda: all(n.tip.height >= 2 for n in c.wire.nodes.values()))
        if guard:
            assert not c.conflicts(0) and not c.evidence()
            await c.start_height(3)
            await c.until(lambda: all(n.tip.height >= 3 for n in c.wire.nodes.values()))
            assert [m for m in c.wire.sent if signer_of(m) == c.names[0] and m.height == 3]
        else:
            assert c.conflicts(0) and c.evidence()

    run(scenario, tmp_path)


def test_a_damaged_record_with_intact_records_after_it_stops_the_node(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The issue's case on a real node: refused at startup, naming file and offset, and
    ``shanhe node run`` says so in one message, without a stack trace. The others go on and
    nobody ever holds evidence against it."""

    async def scenario(c: Cluster) -> None:
        for i in range(4):
            await c.boot(i)
        c.submit()
        c.sign_and_crash(0)
        wal = c.wal(0)
        records = decode_records(wal.read_bytes())
        assert isinstance(records, Decoded) and len(records.records) == 2
        data = bytearray(wal.read_bytes())
        data[30] ^= 0x01  # in the first record's payload
        wal.write_bytes(bytes(data))
        with pytest.raises(WalCorrupted) as refused:
            await c.boot(0)
        message = str(refused.value)
        assert str(wal) in message and "at byte 0 " in message
        assert "database holds blocks up to 0" in message
        assert wal.read_bytes() == bytes(data)  # left as it was, for the operator
        assert run_node(c.configs[0]) == 2
        await c.until(lambda: all(n.tip.height >= 1 for n in c.wire.nodes.values()))
        assert not c.conflicts(0) and not c.evidence()

    run(scenario, tmp_path)
    err = capsys.readouterr().err
    assert "Traceback" not in err
    [line] = [line for line in err.splitlines() if line.startswith("error:")]
    assert "is damaged at byte 0" in line and "move the file aside" in line


class Disk:
    """``os.write`` and ``os.fsync`` as a failing disk sees them, for one file descriptor."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.fd = -1
        self.room: int | None = None
        """Bytes left, None for plenty."""
        self.fsync_fails = False
        real_write, real_fsync = os.write, os.fsync

        def write(fd: int, data: bytes) -> int:
            if fd != self.fd or self.room is None:
                return real_write(fd, data)
            if self.room <= 0:
                raise OSError(errno.ENOSPC, "No space left on device")
            n = real_write(fd, data[: self.room])
            self.room -= n
            return n

        def fsync(fd: int) -> None:
            if fd == self.fd and self.fsync_fails:
                raise OSError(errno.EIO, "Input/output error")
            real_fsync(fd)

        monkeypatch.setattr(os, "write", write)
        monkeypatch.setattr(os, "fsync", fsync)


def test_a_validator_whose_wal_write_fails_sends_nothing_of_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A full disk: node 0's prevote is written short, then not at all; it is never sent, the
    file holds no partial record, the others commit without it, and once there is room again
    it writes and speaks. A failed fsync then silences it for good (until a restart), while
    it keeps following the chain."""
    disk = Disk(monkeypatch)

    async def scenario(c: Cluster) -> None:
        for i in range(4):
            await c.boot(i)
        node = c.node(0)
        wal = c.wal(0)
        disk.fd, disk.room = node.wal._fd, HEADER_SIZE + 3
        before = wal.read_bytes()
        c.submit()
        await c.until(lambda: all(n.tip.height >= 1 for n in c.wire.nodes.values()))
        assert node.counters["wal_write_failures"] >= 1 and node.wal.broken is None
        assert not [m for m in c.wire.sent if signer_of(m) == c.names[0]]
        assert wal.read_bytes() == before  # the short record was cut back

        disk.room = None  # the operator made room
        await c.start_height(2)
        await c.until(lambda: all(n.tip.height >= 2 for n in c.wire.nodes.values()))
        assert [m for m in c.wire.sent if signer_of(m) == c.names[0] and m.height == 2]
        decoded = decode_records(wal.read_bytes())
        assert isinstance(decoded, Decoded) and decoded.tail.value == "clean"

        disk.fsync_fails = True
        await c.start_height(3)
        await c.until(lambda: all(n.tip.height >= 3 for n in c.wire.nodes.values()))
        disk.fsync_fails = False  # even if it would work again: not in this process
        await c.start_height(4)
        await c.until(lambda: all(n.tip.height >= 4 for n in c.wire.nodes.values()))
        assert node.counters["wal_broken"] == 1 and node.wal.broken is not None
        assert not [m for m in c.wire.sent if signer_of(m) == c.names[0] and m.height >= 3]
        assert not c.conflicts(0) and not c.evidence()

    run(scenario, tmp_path)
    critical = [r for r in caplog.records if r.levelname == "CRITICAL"]
    assert len(critical) == 1 and "cannot be written any more" in critical[0].getMessage()
