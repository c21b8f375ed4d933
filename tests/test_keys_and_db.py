import os
import stat
from pathlib import Path

import pytest
from sqlalchemy import text

from node.db import open_database, sqlite_url
from node.keys import KeyFileError, read_signer, read_verifiers, write_signer
from tlog.note import Signer


def test_key_files_are_private_and_round_trip(tmp_path: Path) -> None:
    signer = Signer.generate("node-330800")
    path = tmp_path / "keys" / "node.key"
    write_signer(path, signer)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert read_signer(path) == signer
    with pytest.raises(FileExistsError):
        write_signer(path, Signer.generate("other"))


def test_readable_key_files_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "node.key"
    write_signer(path, Signer.generate("n"))
    os.chmod(path, 0o644)
    with pytest.raises(KeyFileError, match="chmod 600"):
        read_signer(path)


def test_verifier_file_errors_name_the_line(tmp_path: Path) -> None:
    path = tmp_path / "keys.txt"
    path.write_text(Signer.generate("a").verifier().encode() + "\n\nbroken\n")
    with pytest.raises(KeyFileError, match=r"keys.txt:3"):
        read_verifiers(path)


def test_sqlite_is_wal_with_full_sync(tmp_path: Path) -> None:
    engine = open_database(sqlite_url(tmp_path / "n.db"))
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA synchronous")).scalar() == 2  # FULL
    engine.dispose()
