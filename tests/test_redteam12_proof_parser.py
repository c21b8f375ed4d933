"""Red team 12: a proof file with a non-ASCII character where base64 belongs.

``base64.b64decode(str, validate=True)`` raises a plain ``ValueError`` for a non-ASCII
string, not ``binascii.Error``; the tlog-proof and checkpoint parsers caught only the latter.
A hostile resident hands an agency a proof file whose ``extra`` line or a proof hash holds
``é``: ``shanhe verify proof`` ended in a traceback (and the SDK's ``check_proof`` raised)
instead of the precise refusal ``malformed_proof``; a checkpoint root likewise escaped
``parse_checkpoint`` (``shanhe verify checkpoint``, block sync's served checkpoint)."""

from pathlib import Path

import pytest

from node.cli import main
from tests.contract_world import World
from tests.test_proofs import KEYS, ORIGIN, QUORUM, _issued, check, w  # noqa: F401  (fixture)
from tlog.checkpoint import parse_checkpoint
from tlog.errors import Invalid
from tlog.proof_file import parse_tlog_proof


def _variants(text: str) -> dict[str, str]:
    head, _, checkpoint = text.partition("\n\n")
    lines = head.split("\n")
    assert lines[1].startswith("extra ") and lines[2].startswith("index ")
    extra = "\n".join([lines[0], "extra é" + lines[1][6:], *lines[2:]])
    hashed = "\n".join([*lines[:3], "é" + lines[3][1:], *lines[4:]])
    return {"extra": extra + "\n\n" + checkpoint, "hash": hashed + "\n\n" + checkpoint}


def test_non_ascii_base64_in_a_proof_file_is_malformed(w: World) -> None:  # noqa: F811
    _, _, text = _issued(w)
    for name, forged in _variants(text).items():
        got = parse_tlog_proof(forged)
        assert isinstance(got, Invalid) and got.code == "malformed_proof", name
        checked = check(forged)
        assert isinstance(checked, Invalid) and checked.code == "malformed_proof", name


def test_non_ascii_root_in_a_checkpoint_is_malformed() -> None:
    got = parse_checkpoint("shanhe.example/test-chain\n1\né\n")
    assert isinstance(got, Invalid) and got.code == "malformed_checkpoint"


def test_shanhe_verify_proof_refuses_it_without_a_traceback(
    w: World,  # noqa: F811
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _, _, text = _issued(w)
    keys = tmp_path / "keys"
    keys.write_text("".join(k.encode() + "\n" for k in KEYS))
    for name, forged in _variants(text).items():
        path = tmp_path / f"{name}.tlog-proof"
        path.write_text(forged, encoding="utf-8")
        code = main(["verify", "proof", str(path), "--verifier-keys", str(keys),
                     "--quorum", str(QUORUM), "--now-ms", "0", "--origin", ORIGIN])  # fmt: skip
        assert code == 1, name
        assert "malformed_proof" in capsys.readouterr().err, name
