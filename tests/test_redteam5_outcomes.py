"""Red team 5, issue #11 item 6: the SDK read a ``committed`` answer without an ``outcome`` as
``applied`` (``status.get("outcome", "applied")``): a node that does not say what became of a
transaction (one from before outcomes were recorded, or a proxy that trims the answer) had a
refused ``health.access`` printed as applied by ``shanhe tx ... --wait``, exit 0. Fix: an
outcome not stated is not applied (``unknown``), and the CLI exits 1."""

from pathlib import Path
from typing import Any

import httpx
import pytest

from api import tx_cli
from api.client import ShanheClient, TxOutcome
from node.keys import write_signer
from tlog.note import Signer

HASH = "ab" * 32


def test_a_committed_answer_without_an_outcome_is_not_applied() -> None:
    outcome = TxOutcome.of({"tx_hash": HASH, "status": "committed", "height": 3, "leaf_index": 9})
    assert not outcome.applied and outcome.outcome == "unknown"
    stated = {"tx_hash": HASH, "status": "committed", "height": 3, "outcome": "applied"}
    assert TxOutcome.of(stated).applied


@pytest.mark.parametrize(
    "answer",
    [
        {"status": "committed", "height": 3, "leaf_index": 9},
        {"status": "committed", "height": 3, "leaf_index": 9, "outcome": "refused",
         "reason": "not_recipient"},
        {"status": "rejected", "height": 3, "reason": "wrong_state", "message": "case is X"},
        {"status": "pending"},
    ],
)  # fmt: skip
def test_wait_exits_zero_only_when_the_node_says_applied(
    answer: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    def node(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/network":
            return httpx.Response(200, json={"chain_id": "c"})
        if request.url.path == "/v1/tx":
            return httpx.Response(202, json={"tx_hash": HASH, "status": "pending"})
        return httpx.Response(200, json={"tx_hash": HASH, **answer})

    http = httpx.Client(base_url="http://node", transport=httpx.MockTransport(node))
    monkeypatch.setattr(tx_cli, "ShanheClient", lambda url: ShanheClient(url, http))
    monkeypatch.setattr(ShanheClient, "wait", lambda self, h: self._get(f"/v1/tx/{h}").json())
    key = tmp_path / "hosp.key"
    write_signer(key, Signer.generate("hosp-330881"))
    code = tx_cli.submit(
        "http://node", key, {"type": "health.access", "case_id": "s-1"}, None, True
    )
    out = capsys.readouterr().out
    assert code == 1, out
    assert "applied" not in out.splitlines()[-1], out
