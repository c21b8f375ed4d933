"""Erasure at a real node (PIPL art. 47): after ``resident.erase`` its API refuses every read,
deposit and fetch about the resident, and a reader of the whole data directory (on
PostgreSQL, of the raw table files and WAL segments too) holding the node's current key
material decrypts nothing of theirs, even when the node crashed between committing the
erasure and shredding."""

import base64
import hashlib
import itertools
import json
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from nacl import bindings
from nacl._sodium import ffi, lib
from nacl.exceptions import CryptoError
from sqlalchemy import create_engine, text

from api.app import create_app
from api.auth import sign_request
from contracts.tx import sign_transaction
from node import shredding
from node.genesis import NodeConfig
from node.keys import read_signer
from node.network_init import init_network
from node.service import Node
from node.vault import CaseRef, Unreadable, Vault, open_delivery
from tests.tx_examples import NOTICE
from tlog.note import Signer

pytestmark = pytest.mark.timeout(300)
CHAIN = "shanhe-quzhou-dev"
AUTHORITY = "127.0.0.1:8700"
REQUESTER, SOURCE, BUREAU = "hosp-330881", "hosp-330824", "ssb-330825"
RESIDENTS = [hashlib.sha256(f"erasure resident {i}".encode()).hexdigest() for i in range(3)]
ERASED = RESIDENTS[0]


def document(p: str, case: str) -> bytes:
    return f"检验报告 {case} of {p[:8]}: HbA1c 8.1%".encode()


@dataclass
class Scene:
    """One validator node with three residents, each with a document deposited, released
    and fetched; the first also with an authorized case whose document is not yet in."""

    client: TestClient
    config: Path
    keys: dict[str, Signer] = field(default_factory=dict)
    nonces: Iterator[int] = field(default_factory=itertools.count)
    salts: dict[str, bytes] = field(default_factory=dict)

    @property
    def node(self) -> Node:
        node: Node = self.client.app.state.node  # type: ignore[attr-defined]
        return node

    def send(self, signer: str, body: dict[str, Any]) -> dict[str, Any]:
        """The transaction's outcome: refused at admission or in a block, or committed."""
        full = {"chain_id": CHAIN, "signer": signer, "nonce": f"e{next(self.nonces)}", **body}
        tx = sign_transaction(full, self.keys[signer])
        r = self.client.post("/v1/tx", json=tx.to_json())
        if r.status_code == 400:
            return {
                "status": "refused",
                "reason": r.json()["type"].rsplit("/", 1)[-1].replace("-", "_"),
            }
        assert r.status_code == 202, r.text
        for _ in range(500):
            status: dict[str, Any] = self.client.get(f"/v1/tx/{tx.hash.hex()}").json()
            if status["status"] == "committed":
                return status
            if status["status"] == "rejected":
                return {"status": "refused", "reason": status["reason"]}
            time.sleep(0.02)
        raise AssertionError("not committed")

    def call(self, caller: str, method: str, path: str, body: bytes = b"") -> Any:
        headers = sign_request(self.keys[caller], caller, method, path, "", body,
                               authority=AUTHORITY)  # fmt: skip
        return self.client.request(method, path, headers=headers, content=body)

    def case(self, p: str, case: str, deposit: bool) -> None:
        me = f"resident:{p}"
        now = int(time.time() * 1000)
        assert self.send(me, {
            "type": "consent.grant", "consent_id": f"c-{case}", "grantor": {"type": "self"},
            "basis": {"type": "consent"}, "notice": NOTICE, "separate": True, "purpose": "TREAT", "data_classes": ["test_result"],
            "source": SOURCE, "recipient": REQUESTER,
            "valid_from_ms": now - 1000, "valid_until_ms": now + 86_400_000,
        })["status"] == "committed"  # fmt: skip
        assert self.send(REQUESTER, {"type": "health.request", "case_id": case, "resident": p,
                                     "source": SOURCE, "data_class": "test_result",
                                     "purpose": "TREAT"})["status"] == "committed"  # fmt: skip
        assert self.send(me, {"type": "health.authorize", "case_id": case,
                              "consent_id": f"c-{case}"})["status"] == "committed"  # fmt: skip
        if not deposit:
            return
        path = f"/v1/health/cases/{case}/payload"
        r = self.call(SOURCE, "PUT", path, document(p, case))
        assert r.status_code == 201, r.text
        release = {k: r.json()[k] for k in ("commitment", "locator")}
        assert self.send(SOURCE, {"type": "health.release", "case_id": case, **release})[
            "status"] == "committed"  # fmt: skip
        assert self.send(REQUESTER, {"type": "health.access", "case_id": case})[
            "status"] == "committed"  # fmt: skip
        r = self.call(REQUESTER, "GET", path)
        assert r.status_code == 200, r.text
        payload, salt = open_delivery(base64.b64decode(r.json()["sealed"]), self.keys[REQUESTER])
        assert payload == document(p, case)
        self.salts[case] = salt

    def erase(self, p: str) -> dict[str, Any]:
        """Erase, and wait until the node has tried to shred (it does so off its event loop)."""
        counters = self.node.counters
        tried = counters["residents_shredded"] + counters["shredding_failures"]
        status = self.send(BUREAU, {"type": "resident.erase", "pseudonym": p})
        deadline = time.monotonic() + 10
        while counters["residents_shredded"] + counters["shredding_failures"] == tried:
            assert time.monotonic() < deadline, "the node never tried to shred"
            time.sleep(0.02)
        return status


def _config(tmp_path: Path, db_url: str) -> Path:
    [config] = init_network(tmp_path / "net", 1)
    values = json.loads(config.read_text())
    if db_url.startswith("postgresql"):  # the node's and the vault's tables in that database
        values |= {"db_url": db_url, "vault_url": db_url}
    config.write_text(json.dumps({**values, "reads_per_client": 100_000}))
    return config


def _client(config: Path) -> TestClient:
    return TestClient(create_app(Node(NodeConfig.load(config))), base_url=f"http://{AUTHORITY}")


def _scene(client: TestClient, config: Path) -> Scene:
    net = config.parent.parent
    scene = Scene(client, config)
    for name in (REQUESTER, SOURCE, BUREAU):
        scene.keys[name] = read_signer(net / "agencies" / f"{name}.key")
    for n, p in enumerate(RESIDENTS):
        scene.keys[f"resident:{p}"] = Signer.generate(f"resident-{n}")
        key = scene.keys[f"resident:{p}"].verifier().encode()
        assert scene.send(BUREAU, {"type": "resident.enroll", "pseudonym": p, "key": key,
                                   "age_class": "adult"})[
            "status"] == "committed"  # fmt: skip
        scene.case(p, f"s-{n}", deposit=True)
    scene.case(ERASED, "s-0b", deposit=False)
    return scene


@pytest.fixture
def scene(tmp_path: Path, db_url: str) -> Iterator[Scene]:
    config = _config(tmp_path, db_url)
    with _client(config) as client:
        yield _scene(client, config)


# ------------------------------------------------------------------ what a disk reader does
def key_material(node_dir: Path) -> list[bytes]:
    """The node's vault key files, as a reader of its data directory finds them: every
    32-byte window of each (whatever header a format might add)."""
    keys = []
    for path in sorted(node_dir.rglob("*")):
        if path.is_file() and "vault" in path.name and ".key" in path.name:
            data = path.read_bytes()
            assert len(data) <= 1024, path
            keys += [data[i : i + 32] for i in range(len(data) - 31)]
    return keys


def unwrapped(blobs: Iterable[bytes], keys: list[bytes]) -> set[bytes]:
    """Every 32-byte data key that any window of ``blobs`` opens to under any of ``keys``
    (XSalsa20-Poly1305 secretbox: nonce 24 ‖ tag 16 ‖ key 32, at any offset)."""
    found: set[bytes] = set()
    out = ffi.new("unsigned char[]", 32)
    opener = lib.crypto_secretbox_open_easy
    for blob in blobs:
        buf = ffi.from_buffer(blob)
        for key in keys:
            for i in range(len(blob) - 71):
                if opener(out, buf + i + 24, 48, buf + i, key) == 0:
                    found.add(bytes(ffi.buffer(out, 32)))
    return found


def opens(data_key: bytes, item: tuple[str, bytes]) -> bool:
    locator, sealed = item
    try:
        bindings.crypto_aead_xchacha20poly1305_ietf_decrypt(
            sealed[24:], locator.encode(), sealed[:24], data_key
        )
    except Exception:
        return False
    return True


def vault_rows(vault: Vault, p: str) -> tuple[list[bytes], list[tuple[str, bytes]]]:
    """(wrapped keys, (locator, sealed) items) the vault holds for ``p`` now."""
    with vault.engine.connect() as conn:
        wrapped = conn.execute(
            text("SELECT wrapped_key FROM vault_keys WHERE resident = :p"), {"p": p}
        ).all()
        items = conn.execute(
            text("SELECT locator, ciphertext FROM vault_items WHERE resident = :p"), {"p": p}
        ).all()
    return [bytes(w) for (w,) in wrapped], [(loc, bytes(c)) for loc, c in items]


def files_of(directory: Path) -> dict[str, bytes]:
    return {str(p): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()}


def postgres_files(url: str, since_lsn: str) -> tuple[dict[str, bytes], dict[str, bytes]]:
    """(relation files of the database, WAL segments written since ``since_lsn``), read raw
    from the server's data directory: the WAL first (a checkpoint may recycle segments), then
    the relation files after a checkpoint, dead rows included."""
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    read = text("SELECT pg_read_binary_file(:p, 0, 67108864, true)")
    try:
        with engine.connect() as conn:
            names = conn.execute(text(
                "SELECT name FROM pg_ls_waldir() WHERE name ~ '^[0-9A-F]{24}$' "
                "AND name >= pg_walfile_name(CAST(:lsn AS pg_lsn)) "
                "AND name <= pg_walfile_name(pg_current_wal_lsn()) ORDER BY name"
            ), {"lsn": since_lsn}).scalars().all()  # fmt: skip
            wal = {
                n: bytes(conn.execute(read, {"p": f"pg_wal/{n}"}).scalar() or b"") for n in names
            }
            conn.execute(text("CHECKPOINT"))
            paths = conn.execute(text(
                "SELECT pg_relation_filepath(c.oid) FROM pg_class c "
                "JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname IN ('public', 'pg_toast') AND c.relkind IN ('r', 't', 'i')"
            )).scalars().all()  # fmt: skip
            relations = {}
            for path in paths:
                if data := conn.execute(read, {"p": path}).scalar():
                    relations[path] = bytes(data)
    finally:
        engine.dispose()
    return relations, wal


def wal_lsn(url: str) -> str:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return str(conn.execute(text("SELECT pg_current_wal_lsn()")).scalar())
    finally:
        engine.dispose()


def disk(node_dir: Path, db_url: str, since_lsn: str) -> tuple[dict[str, bytes], dict[str, bytes]]:
    """(every file of the data directory and, on PostgreSQL, the raw relation files; the
    PostgreSQL WAL segments since ``since_lsn``)."""
    blobs, wal = files_of(node_dir), dict[str, bytes]()
    if db_url.startswith("postgresql"):
        relations, wal = postgres_files(db_url, since_lsn)
        blobs |= relations
    return blobs, wal


@dataclass
class Before:
    """What an attacker would look for, taken while the resident was still enrolled."""

    data_key: bytes
    wrapped: list[bytes]
    items: list[tuple[str, bytes]]
    salt: bytes
    live_keys: set[bytes]


def before_erasure(scene: Scene, node_dir: Path) -> Before:
    wrapped, items = vault_rows(scene.node.vault, ERASED)
    assert wrapped and items
    keys = key_material(node_dir)
    found = unwrapped(wrapped, keys)
    [data_key] = [k for k in found if all(opens(k, item) for item in items)]
    live = set()
    for p in RESIDENTS[1:]:
        w, i = vault_rows(scene.node.vault, p)
        live |= {k for k in unwrapped(w, keys) if all(opens(k, item) for item in i)}
    assert len(live) == 2
    return Before(data_key, wrapped, items, scene.salts["s-0"], live)


def assert_nothing_decrypts(
    before: Before, node_dir: Path, db_url: str, since_lsn: str, first: bool = True
) -> None:
    """The attack: every file of the data directory (and on PostgreSQL the raw relation
    files), every window, against the node's current key material. ``first``: the WAL
    still holds the erased resident's wrapped key (a later scan's checkpoint may have
    recycled that segment)."""
    keys = key_material(node_dir)
    blobs, wal = disk(node_dir, db_url, since_lsn)
    found = unwrapped(blobs.values(), keys)
    assert before.data_key not in found, "the erased resident's data key unwraps from disk"
    assert not any(opens(k, item) for k in found for item in before.items)
    assert before.live_keys <= found  # the scan does find what is there to find
    everything = [*blobs.values(), *wal.values()]
    assert not any(before.salt in blob for blob in everything), "a salt outlived erasure"
    if wal:  # WAL segments are too large for every window: the wrapped key as it was stored
        if first:  # dead, but there
            assert any(w in seg for w in before.wrapped for seg in wal.values())
        for w in before.wrapped:
            for key in keys:
                with pytest.raises(CryptoError):
                    bindings.crypto_secretbox_open(w[24:], w[:24], key)


# ------------------------------------------------------------------------------- the tests
def test_after_erasure_the_api_refuses_reads_deposits_and_fetches(scene: Scene) -> None:
    assert scene.erase(ERASED)["status"] == "committed"
    me = f"resident:{ERASED}"
    now = int(time.time() * 1000)
    attempts: list[tuple[str, dict[str, Any]]] = [
        (me, {"type": "consent.grant", "consent_id": "c-late", "grantor": {"type": "self"},
              "basis": {"type": "consent"}, "notice": NOTICE, "separate": True, "purpose": "TREAT", "data_classes": ["test_result"],
              "source": SOURCE, "recipient": REQUESTER, "valid_from_ms": now,
              "valid_until_ms": now + 86_400_000}),
        (REQUESTER, {"type": "health.request", "case_id": "s-late", "resident": ERASED,
                     "source": SOURCE, "data_class": "test_result", "purpose": "TREAT"}),
        (SOURCE, {"type": "health.release", "case_id": "s-0b", "commitment": "0" * 64,
                  "locator": "vault:x"}),
        (REQUESTER, {"type": "health.access", "case_id": "s-0"}),
    ]  # fmt: skip
    for signer, body in attempts:
        assert scene.send(signer, body) == {"status": "refused", "reason": "resident_erased"}
    for caller, method, path in [
        (SOURCE, "PUT", "/v1/health/cases/s-0b/payload"),
        (REQUESTER, "GET", "/v1/health/cases/s-0/payload"),
        (REQUESTER, "GET", "/v1/health/cases/s-0"),
        (SOURCE, "GET", "/v1/health/cases/s-0b"),
    ]:
        r = scene.call(caller, method, path, b"late document" if method == "PUT" else b"")
        assert r.status_code == 410, (path, r.status_code, r.text)
        assert r.json()["type"].endswith("resident-erased"), r.text
    # a stranger's forgery naming the resident learns nothing of the erasure
    forged = sign_transaction({"chain_id": CHAIN, "signer": REQUESTER, "nonce": "forged",
                               **attempts[1][1]}, Signer.generate("mallory"))  # fmt: skip
    r = scene.client.post("/v1/tx", json=forged.to_json())
    assert r.status_code == 400 and r.json()["type"].endswith("bad-signature"), r.text
    # the resident's key is revoked: it signs no read either
    r = scene.call(me, "GET", f"/v1/residents/{ERASED}/access")
    assert r.status_code == 401, r.text
    # the others are served as before (each fetch on a read of its own)
    assert (
        scene.send(REQUESTER, {"type": "health.access", "case_id": "s-1"})["status"] == "committed"
    )
    r = scene.call(REQUESTER, "GET", "/v1/health/cases/s-1/payload")
    assert r.status_code == 200, r.text
    with pytest.raises(Unreadable):
        scene.node.vault.store(CaseRef("s-0b", ERASED, SOURCE), b"a deposit behind the API's back")


def test_a_reader_of_the_data_directory_decrypts_nothing_of_an_erased_resident(
    tmp_path: Path, db_url: str
) -> None:
    since = wal_lsn(db_url) if db_url.startswith("postgresql") else ""
    config = _config(tmp_path, db_url)
    with _client(config) as client:
        scene = _scene(client, config)
        before = before_erasure(scene, config.parent)
        assert scene.erase(ERASED)["status"] == "committed"
        assert_nothing_decrypts(before, config.parent, db_url, since)
    assert_nothing_decrypts(before, config.parent, db_url, since, first=False)  # stopped too


def test_a_crash_between_the_commit_and_the_shredding_still_ends_in_nothing_decryptable(
    tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    since = wal_lsn(db_url) if db_url.startswith("postgresql") else ""
    config = _config(tmp_path, db_url)

    def crash(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("simulated crash after the block's commit, before shredding")

    with _client(config) as client:
        scene = _scene(client, config)
        before = before_erasure(scene, config.parent)
        monkeypatch.setattr(Vault, "erase", crash)
        status = scene.erase(ERASED)
        assert status["status"] == "committed"
        # the crash window is real: the key material is all still there
        blobs, _ = disk(config.parent, db_url, since)
        assert before.data_key in unwrapped(blobs.values(), key_material(config.parent))
        with scene.node.engine.connect() as conn:  # and the debt is on record, durably
            assert shredding.pending(conn) == [ERASED]
    monkeypatch.undo()
    with _client(config):  # restarted: whatever was left undone is done
        assert_nothing_decrypts(before, config.parent, db_url, since, first=False)
