"""Outcomes tell the truth (#11 item 6), on a live node: a transaction that is on the log but
whose request the rules refused reads as ``committed`` with outcome ``refused`` and its reason
(GET /v1/tx, the SDK, ``shanhe tx --wait``, which exits 1), and a health case reads as it
stands now: REVOKED once its consent was withdrawn, EXPIRED once it ran out."""

import hashlib
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from api.client import ShanheClient, TxOutcome
from node.cli import main
from node.keys import read_signer, write_signer
from tests.cluster import Cluster
from tlog.note import Signer

pytestmark = pytest.mark.timeout(300)

ME = hashlib.sha256(b"outcomes resident").hexdigest()
REQUESTER, SOURCE, STRANGER = "hosp-330881", "hosp-330824", "hosp-330802"


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    c = Cluster(tmp_path_factory.mktemp("outcomes") / "net", nodes=1).start_all()
    try:
        yield c
    finally:
        c.stop()


def key(c: Cluster, agency: str) -> str:
    return str(c.dir / "agencies" / f"{agency}.key")


def tx(c: Cluster, signer_key: str, tx_type: str, *fields: str, as_name: str = "") -> list[str]:
    """``shanhe tx <type> --wait`` arguments: ``k=v`` fields, ``k:=json`` JSON ones."""
    args = ["tx", tx_type, "--node", c.urls[0], "--key", signer_key, "--wait"]
    for f in fields:
        name, sep, value = f.partition(":=")
        args += ["--set-json", f"{name}={value}"] if sep else ["--set", f]
    return args + (["--as", as_name] if as_name else [])


def run(capsys: pytest.CaptureFixture[str], args: list[str]) -> tuple[int, dict[str, Any], str]:
    """Exit code, the status JSON ``--wait`` printed, and the outcome line."""
    code = main(args)
    lines = capsys.readouterr().out.strip().splitlines()
    return code, json.loads(lines[-2]), lines[-1]


def consent(c: Cluster, consent_id: str, until_ms: int) -> list[str]:
    now = int(time.time() * 1000)
    return tx(
        c, str(c.dir / "me.key"), "consent.grant", f"consent_id={consent_id}",
        'grantor:={"type": "self"}', 'basis:={"type": "consent"}', "purpose=TREAT",
        'notice:={"hash": "abababababababababababababababababababababababababababababababab", "version": "notice-2026-1"}', "separate:=true",
        'data_classes:=["test_result"]', f"source={SOURCE}", f"recipient={REQUESTER}",
        f"valid_from_ms:={now - 1000}", f"valid_until_ms:={until_ms}", as_name=f"resident:{ME}",
    )  # fmt: skip


def released_case(c: Cluster, capsys: pytest.CaptureFixture[str], case: str, until_ms: int) -> None:
    """A case authorized by the resident under its own consent, deposited and released."""
    assert run(capsys, consent(c, f"c-{case}", until_ms))[0] == 0
    request = tx(c, key(c, REQUESTER), "health.request", f"case_id={case}", f"resident={ME}",
                 f"source={SOURCE}", "data_class=test_result", "purpose=TREAT")  # fmt: skip
    assert run(capsys, request)[0] == 0
    authorize = tx(c, str(c.dir / "me.key"), "health.authorize", f"case_id={case}",
                   f"consent_id=c-{case}", as_name=f"resident:{ME}")  # fmt: skip
    assert run(capsys, authorize)[0] == 0
    client = ShanheClient(c.urls[0])
    deposited = client.deposit(case, b"test result", read_signer(Path(key(c, SOURCE))), SOURCE)
    release = tx(c, key(c, SOURCE), "health.release", f"case_id={case}",
                 f"commitment={deposited['commitment']}", f"locator={deposited['locator']}")  # fmt: skip
    assert run(capsys, release)[0] == 0


def test_a_refused_read_is_committed_and_reported_as_refused(
    node: Cluster, capsys: pytest.CaptureFixture[str]
) -> None:
    c = node
    me = Signer.generate(f"resident:{ME}")
    write_signer(c.dir / "me.key", me)
    enroll = tx(c, key(c, "ssb-330825"), "resident.enroll", f"pseudonym={ME}",
                f"key={me.verifier().encode()}", "age_class=adult")  # fmt: skip
    code, status, line = run(capsys, enroll)
    assert code == 0 and status["outcome"] == "applied" and line.startswith("applied at height")
    released_case(c, capsys, "s-1", int(time.time() * 1000) + 86_400_000)

    # the requester's read: applied, exit 0
    code, status, line = run(capsys, tx(c, key(c, REQUESTER), "health.access", "case_id=s-1"))
    assert code == 0 and status["status"] == "committed" and status["outcome"] == "applied"
    assert "reason" not in status
    # a stranger's read: on the log (a leaf, an access-log entry), its outcome refused, exit 1
    # (before, this printed "committed" and exited 0)
    code, status, line = run(capsys, tx(c, key(c, STRANGER), "health.access", "case_id=s-1"))
    assert code == 1 and status["status"] == "committed" and isinstance(status["leaf_index"], int)
    assert status["outcome"] == "refused" and status["reason"] == "not_recipient"
    assert line.startswith("refused (not_recipient) at height")
    # the SDK says the same
    outcome = ShanheClient(c.urls[0]).outcome(status["tx_hash"])
    assert outcome == TxOutcome.of(status) and not outcome.applied
    assert (outcome.outcome, outcome.reason) == ("refused", "not_recipient")
    # rejected: nothing changed, no leaf, exit 1 with the reason
    code, status, line = run(capsys, enroll)
    assert code == 1 and status["status"] == "rejected" and "leaf_index" not in status
    assert status["reason"] == "already_enrolled" and "outcome" not in status
    assert line.startswith("rejected (already_enrolled: ")


def test_a_case_reads_revoked_after_withdrawal_and_expired_after_its_consent_ran_out(
    node: Cluster, capsys: pytest.CaptureFixture[str]
) -> None:
    c = node
    if not (c.dir / "me.key").exists():
        test_a_refused_read_is_committed_and_reported_as_refused(node, capsys)
    client = ShanheClient(c.urls[0])
    me = read_signer(c.dir / "me.key")
    hospital = read_signer(Path(key(c, REQUESTER)))

    def seen(case: str) -> list[tuple[str, str]]:
        """The case's status and recorded status, to the resident and to the hospital."""
        views = [client.health_case(case, me, f"resident:{ME}"),
                 client.health_case(case, hospital, REQUESTER)]  # fmt: skip
        return [(v["status"], v["recorded_status"]) for v in views]

    assert seen("s-1") == [("RELEASED", "RELEASED")] * 2
    withdraw = tx(c, str(c.dir / "me.key"), "consent.withdraw", "consent_id=c-s-1",
                  as_name=f"resident:{ME}")  # fmt: skip
    assert run(capsys, withdraw)[0] == 0
    assert seen("s-1") == [("REVOKED", "RELEASED")] * 2
    # and from the shell, as `shanhe request` prints the case file
    args = ["request", "/v1/health/cases/s-1", "--node", c.urls[0], "--key", key(c, REQUESTER)]
    assert main(args) == 0
    assert json.loads(capsys.readouterr().out)["status"] == "REVOKED"
    # a read now is refused for the withdrawal, and reported so
    code, status, _ = run(capsys, tx(c, key(c, REQUESTER), "health.access", "case_id=s-1"))
    assert code == 1 and (status["outcome"], status["reason"]) == ("refused", "consent_withdrawn")

    # a consent that runs out a few seconds from now: RELEASED, then EXPIRED
    until = int(time.time() * 1000) + 6_000
    released_case(c, capsys, "s-2", until)
    assert seen("s-2") == [("RELEASED", "RELEASED")] * 2
    time.sleep(max(0.0, until / 1000 - time.time()) + 0.2)
    assert seen("s-2") == [("EXPIRED", "RELEASED")] * 2
    statuses = {
        c["consent_id"]: (c["status"], c["recorded_status"]) for c in client.consents(ME, me)
    }
    assert statuses["c-s-2"] == ("expired", "active")
    assert statuses["c-s-1"] == ("withdrawn", "withdrawn")
    code, status, _ = run(capsys, tx(c, key(c, REQUESTER), "health.access", "case_id=s-2"))
    assert code == 1 and (status["outcome"], status["reason"]) == ("refused", "consent_expired")
