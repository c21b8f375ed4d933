"""docs/api.md is a script: its ``sh`` blocks, run in order against a fresh 4-node cluster,
go through every flow of the demo with curl and the shanhe CLI and must all succeed (a line
starting with ``!`` must fail, as the page says)."""

import os
import re
import subprocess
import sys
from pathlib import Path

from contracts.personal_data import valid_id_number
from tests.cluster import Cluster

DOC = Path(__file__).resolve().parent.parent / "docs" / "api.md"


def script() -> str:
    blocks = re.findall(r"```sh\n(.*?)```", DOC.read_text(), flags=re.S)
    lines = []
    for line in "".join(blocks).splitlines():
        if line.startswith("! "):  # bash's `!` would also exempt the line from `set -e`
            command = re.sub(r"\s+#.*$", "", line[2:])
            line = f'if {command}; then echo "unexpectedly succeeded: {command}" >&2; exit 1; fi'
        lines.append(line)
    return "\n".join(lines)


def test_the_api_walkthrough_runs_as_written(tmp_path: Path) -> None:
    c = Cluster(tmp_path / "net").start_all()
    try:
        env = {
            **os.environ,
            "D": str(c.dir),
            "NODE": c.urls[0],
            "NODE2": c.urls[1],
            "SH": str(Path(sys.executable).parent / "shanhe"),
        }
        run = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", script()],
            env=env, capture_output=True, text=True, timeout=300, cwd=tmp_path,
        )  # fmt: skip
        assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
        out = run.stdout
        assert '"status": "committed"' in out and "matching the commitment on the log" in out
        assert "valid: " in out  # the checkpoint verified at quorum
        case = [line for line in out.splitlines() if line.startswith('{"case_id":"share-')][-1]
        assert '"status":"REVOKED"' in case and '"recorded_status":"RELEASED"' in case
        assert "refused (consent_withdrawn) at height" in out  # the read after the withdrawal
        logs = [
            line
            for line in out.splitlines()
            if line.startswith('{"resident"') and '"entries"' in line
        ]
        access = logs[0]  # after the withdrawal
        assert access.count('"outcome":"refused"') == 2 and '"action":"E"' in access
        # the emergency: she sees the break-glass, its release and read, and the refused request
        emergency = logs[-1]
        assert emergency.count('"emergency_reason":"unconscious"') >= 4
        assert '"reason":"out_of_scope"' in emergency and '"reason":"emergency"' in emergency
        report = [line for line in out.splitlines() if line.startswith('{"since"')][-1]
        assert '"hospital":"hosp-330881"' in report and '"emergency_reads":1' in report
        bases = [
            line
            for line in out.splitlines()
            if line.startswith('{"resident"') and '"bases"' in line
        ]
        assert len(bases) == 1 and '"citation":"sil_pension"' in bases[0]
        # the proof of insurance: checked offline, then online while it stood, then revoked
        assert "valid: proof pf-330825-" in out and "online: active at" in out
        assert "proof_revoked: superseded" in run.stderr
    finally:
        c.stop()
    # the page's residents' ID numbers reached agency systems only: no node database holds one
    stored = b"".join(p.read_bytes() for p in c.dir.glob("node-*/node.db*"))
    assert len(stored) > 100_000 and id_numbers_in(stored) == []
    assert valid_id_number("330824194503080022") and valid_id_number("330825198002140036")


def id_numbers_in(data: bytes) -> list[bytes]:
    """Every standalone 18-character GB 11643 ID number (valid check character) in ``data``."""
    found = re.findall(rb"(?<![0-9A-Za-z])[0-9]{17}[0-9X](?![0-9A-Za-z])", data)
    return [n for n in found if valid_id_number(n.decode())]
