"""Red team, round 2: one agency-signed transaction stops every validator that runs on
PostgreSQL (the production setup, docker-compose.yml).

The bounded decoder accepts ``\\u0000`` in strings, keys included (it is valid JSON, and RFC
8785 re-encodes it as an escape, so state values and blocks are fine). But a rule that refuses
unexpected fields names them in its message (``contracts/fields.py`` ``only``), and a
rejected transaction's message is stored in ``tx_results.message``, a PostgreSQL ``text``
column, which cannot hold a NUL character. Admission does not run the rules, so the
transaction is acknowledged 202, proposed, decided, and every PostgreSQL node's commit step
fails: each stops with the fatal line (as designed for a failed commit), and on restart it
fetches the same block and fails again. Broken: liveness (a halt for good from one request
of any agency or resident), and nothing acknowledged after it commits."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from contracts.tx import sign_transaction
from tests.cluster import Cluster
from tests.conftest import _fresh_postgres, _postgres_server

pytestmark = [pytest.mark.timeout(300), pytest.mark.postgres]


@pytest.fixture
def pg_cluster(tmp_path: Path) -> Iterator[Cluster]:
    server = _postgres_server()
    dbs = [_fresh_postgres(server) for _ in range(4)]
    urls = [next(db) for db in dbs]
    c = Cluster(tmp_path / "net", db_urls=urls).start_all()
    try:
        yield c
    finally:
        c.stop()
        for db in dbs:
            next(db, None)


def test_a_nul_in_a_field_name_does_not_stop_postgresql_nodes(pg_cluster: Cluster) -> None:
    c = pg_cluster
    body = {"type": "governance.approve", "chain_id": c.chain_id, "signer": c.agency.name,
            "nonce": "nul-1", "proposal_id": "p-1", "x\u0000": 1}  # fmt: skip
    poison = sign_transaction(body, c.agency)
    refused = c.submit(0, poison)  # control characters are malformed at admission now
    assert refused.status_code == 400 and refused.json()["type"].endswith("malformed-transaction")
    after = c.anchor("after the NUL")
    assert c.submit(1, after).status_code == 202
    committed = True
    try:
        c.wait_for(lambda: c.committed_everywhere([0, 1, 2, 3], after.hash.hex()), 30, "commit")
    except TimeoutError:
        committed = False
    fatal = [line for i in range(4) for line in c.log(i).splitlines() if "FATAL" in line]
    assert not fatal, f"{len(fatal)} nodes stopped: {fatal[0][:400]}"
    assert committed
