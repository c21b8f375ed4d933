"""A single development node: one key, one log, a checkpoint signed after every append.

Stands in for the cluster until consensus exists; the auditor endpoints it serves are the same.
"""

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine

from node import logstore
from node.db import open_database, sqlite_url
from node.keys import read_signer, write_signer
from tlog.checkpoint import Checkpoint
from tlog.note import Signer, signature_line


@dataclass
class DevNode:
    engine: Engine
    signer: Signer
    origin: str

    @staticmethod
    def open(data_dir: Path, origin: str, name: str = "dev-node") -> "DevNode":
        data_dir.mkdir(parents=True, exist_ok=True)
        key_path = data_dir / "node.key"
        if not key_path.exists():
            write_signer(key_path, Signer.generate(name))
        signer = read_signer(key_path)
        (data_dir / "verifier-keys.txt").write_text(signer.verifier().encode() + "\n")
        return DevNode(open_database(sqlite_url(data_dir / "node.db")), signer, origin)

    def append(self, leaves: list[bytes]) -> tuple[int, int]:
        """Append and sign the new tree head in one transaction; return (first index, size)."""
        with self.engine.begin() as conn:
            first = logstore.tree_size(conn)
            size, root = logstore.append_leaves(conn, leaves)
            body = Checkpoint(self.origin, size, root).body()
            logstore.add_checkpoint(conn, size, body)
            logstore.add_cosignature(
                conn, size, self.signer.name, signature_line(body, self.signer)
            )
        return first, size
