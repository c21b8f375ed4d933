"""Red team 4 (#11 item 3): a granted read cannot be pushed out of reach, and refusals cannot
be used to flood a resident's access log and the chain."""

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from node.ratelimit import RateLimiter
from tests.test_erasure_node import Scene, _client
from tests.test_reads_recorded import (
    LIVE,
    PAYLOAD,
    REQUESTER,
    STRANGER,
    _configured,
    _scene,
)


def entries(scene: Scene) -> int:
    """How many entries the resident's access log has, as committed."""
    count = scene.node.committed_value(f"access_count/{LIVE}")
    return int(count or 0)


@pytest.fixture
def live(tmp_path: Path) -> Iterator[Scene]:
    config = _configured(tmp_path)
    with _client(config) as client:
        yield _scene(client, config)


def test_a_flood_of_refusals_does_not_push_a_granted_read_out_of_reach(live: Scene) -> None:
    """Attack: the requesting hospital's fetch looked for its granted ``health.access`` only
    among the resident's latest 200 access-log entries. Any signed caller who knows the case
    id (every agency reads the log) makes 201 refused reads of the case file between the
    hospital's health.access and its fetch: each is an entry in her log, and the fetch is
    refused as ``read_not_recorded``. (A Byzantine validator did it with one record: an
    ``access.refused`` naming the requester, the case and a purpose code.) Fix: the case
    records the seq of its latest granted read, which only a ``health.access`` sets."""
    scene = live
    assert (
        scene.send(REQUESTER, {"type": "health.access", "case_id": "s-1"})["status"] == "committed"
    )
    scene.client.app.state.key_reads = RateLimiter.per_second(10_000)  # type: ignore[attr-defined]
    before = entries(scene)
    for _ in range(201):
        assert scene.call(STRANGER, "GET", "/v1/health/cases/s-1").status_code == 403
    deadline = time.monotonic() + 60
    while entries(scene) < before + 201 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert entries(scene) >= before + 201
    r = scene.call(REQUESTER, "GET", PAYLOAD)
    assert r.status_code == 200, r.text
    r = scene.call(REQUESTER, "GET", PAYLOAD)  # still one fetch for one read
    assert r.status_code == 403 and r.json()["detail"] == "read_not_recorded", r.text
