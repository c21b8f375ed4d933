"""The auditor's offline verifier CLI over every external vector."""

import base64
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from node.cli import main
from tests.conftest import VECTORS
from tests.test_tlog_vectors import NOT_32_BYTES, transparency_dev_cases
from tlog.note import Signer


def _proof_arg(hashes: list[str] | None) -> str:
    return ",".join(hashes or [])


def _inclusion_args(
    leaf_hash_b64: str, index: int, size: int, root: str, proof: list[str] | None
) -> list[str]:
    return [
        "verify", "inclusion",
        "--leaf-hash", base64.b64decode(leaf_hash_b64).hex(),
        "--index", str(index), "--size", str(size),
        "--root", root, "--proof", _proof_arg(proof),
    ]  # fmt: skip


def _consistency_args(
    first: int, second: int, r1: str, r2: str, proof: list[str] | None
) -> list[str]:
    return [
        "verify", "consistency",
        "--first", str(first), "--second", str(second),
        "--first-root", r1, "--second-root", r2, "--proof", _proof_arg(proof),
    ]  # fmt: skip


def test_go_tlog_vectors_all_verify(tlog_vectors: Any, capsys: pytest.CaptureFixture[str]) -> None:
    for v in tlog_vectors["inclusion"]:
        args = _inclusion_args(
            v["leaf_hash"], v["leaf_index"], v["tree_size"], v["root"], v["proof"]
        )
        assert main(args) == 0, v
    for v in tlog_vectors["consistency"]:
        args = _consistency_args(
            v["first"], v["second"], v["first_root"], v["second_root"], v["proof"]
        )
        assert main(args) == 0, v
    assert "valid:" in capsys.readouterr().out


def _expressible(path: Path) -> bool:
    """`--proof ''` is the empty proof, so a proof of one empty hash cannot be written on the
    command line; tests/test_tlog_vectors.py checks those two cases through the library."""
    return bool(json.loads(path.read_text())["proof"] != [""])


@pytest.mark.parametrize(
    "path", [p for p in transparency_dev_cases() if _expressible(p)], ids=lambda p: p.name
)
def test_transparency_dev_vectors(path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    case = json.loads(path.read_text())
    if "leafIdx" in case:
        args = _inclusion_args(
            case["leafHash"] or "",
            case["leafIdx"],
            case["treeSize"],
            case["root"] or "",
            case["proof"],
        )
    else:
        args = _consistency_args(
            case["size1"], case["size2"], case["root1"] or "", case["root2"] or "", case["proof"]
        )
    code = main(args)
    want_err = (
        case["wantErr"] or str(path.relative_to(VECTORS / "transparency-dev")) in NOT_32_BYTES
    )
    assert code == (1 if want_err else 0), case["desc"]
    if code == 1:
        err = capsys.readouterr().err
        assert err.startswith("invalid: ") and err.count("\n") == 1


def test_leaf_file_and_checkpoint(tmp_path: Path, tlog_vectors: Any, note_vectors: Any) -> None:
    v = next(x for x in tlog_vectors["inclusion"] if x["tree_size"] == 13 and x["leaf_index"] == 6)
    leaf = tmp_path / "leaf"
    leaf.write_bytes(b"leaf-6")
    base = ["verify", "inclusion", "--leaf-file", str(leaf), "--index", "6", "--size", "13"]
    assert main([*base, "--root", v["root"], "--proof", ",".join(v["proof"])]) == 0
    leaf.write_bytes(b"leaf-7")
    assert main([*base, "--root", v["root"], "--proof", ",".join(v["proof"])]) == 1

    keys = tmp_path / "keys.txt"
    keys.write_text("# validators\n" + "\n".join(note_vectors["verifier_keys"]) + "\n")
    for i, vector in enumerate(note_vectors["vectors"]):
        note = tmp_path / f"cp{i}"
        note.write_text(vector["note"])
        code = main(
            [
                "verify",
                "checkpoint",
                "--file",
                str(note),
                "--keys",
                str(keys),
                "--quorum",
                str(vector["quorum"]),
            ]
        )
        assert code == (0 if vector["valid"] else 1), vector["why"]


@pytest.mark.parametrize(
    "args",
    [
        ["verify", "inclusion", "--index", "0", "--size", "1", "--root", "AA==", "--proof", ""],
        [
            "verify",
            "inclusion",
            "--leaf-hash",
            "zz",
            "--index",
            "0",
            "--size",
            "1",
            "--root",
            "AA==",
            "--proof",
            "",
        ],
        [
            "verify",
            "consistency",
            "--first",
            "1",
            "--second",
            "2",
            "--first-root",
            "!!",
            "--second-root",
            "AA==",
            "--proof",
            "",
        ],
        [
            "verify",
            "consistency",
            "--first",
            "x",
            "--second",
            "2",
            "--first-root",
            "AA==",
            "--second-root",
            "AA==",
            "--proof",
            "",
        ],
        ["verify", "checkpoint", "--file", "f", "--keys", "k"],
        ["verify"],
        [],
    ],
)
def test_usage_errors_exit_2(args: list[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(args)
    assert exc.value.code == 2


def test_bad_keys_file_is_a_usage_error(tmp_path: Path) -> None:
    keys = tmp_path / "keys.txt"
    keys.write_text("not a key\n")
    note = tmp_path / "note"
    note.write_text("x\n\n— a AAAAAAAA\n")
    assert (
        main(["verify", "checkpoint", "--file", str(note), "--keys", str(keys), "--quorum", "1"])
        == 2
    )


def test_installed_console_script(tmp_path: Path) -> None:
    """The real ``shanhe`` entry point, as an auditor runs it."""
    shanhe = Path(sys.executable).parent / "shanhe"
    signer = Signer.generate("auditor-test")
    keys = tmp_path / "keys"
    keys.write_text(signer.verifier().encode() + "\n")
    note = tmp_path / "note"
    from tlog.checkpoint import Checkpoint
    from tlog.note import sign_note

    note.write_text(sign_note(Checkpoint("o", 1, bytes(32)).body(), [signer]))
    ok = subprocess.run(
        [shanhe, "verify", "checkpoint", "--file", note, "--keys", keys, "--quorum", "1"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert ok.returncode == 0 and ok.stdout.startswith("valid: o size 1"), ok
    bad = subprocess.run(
        [shanhe, "verify", "checkpoint", "--file", note, "--keys", keys, "--quorum", "2"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert bad.returncode == 1 and bad.stderr.startswith("invalid: no_quorum"), bad
