"""Red team 4 (#11 item 3): a granted read cannot be pushed out of reach, and refusals cannot
be used to flood a resident's access log and the chain."""

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from api.authz import REFUSAL_BURST, REFUSAL_TIME
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
    state = scene.client.app.state  # type: ignore[attr-defined]
    state.key_reads = state.key_refusals = RateLimiter.per_second(10_000)
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


def test_refused_reads_cannot_flood_a_residents_log_and_the_chain(live: Scene) -> None:
    """Attack: every refused read of a resident's data is a node-signed transaction on the
    log forever and an entry in her access log, submitted outside every per-signer limit; only
    the reader's per-key read limit (100 a second) bounded them. One agency key (or a hostile
    resident's, with a pseudonym) made the node write 100 transactions a second about a
    resident it chose. Fix: a key may cause ``REFUSALS_PER_KEY`` recorded refusals (a burst of
    ``REFUSAL_BURST``); past them its reads are answered 429 before anything is decided, so
    no refusal goes unrecorded and none floods the log."""
    scene, node = live, live.node
    recorded = node.counters["refusals_recorded"]
    answers = [scene.call(STRANGER, "GET", "/v1/health/cases/s-1").status_code for _ in range(100)]
    assert answers.count(403) <= REFUSAL_BURST + 1, answers
    assert set(answers) == {403, 429}
    assert node.counters["refusals_recorded"] - recorded == answers.count(403)
    r = scene.call(STRANGER, "GET", "/v1/health/cases/s-1")
    assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
    # the parties still read: the budget is the refusing key's
    assert scene.call(REQUESTER, "GET", "/v1/health/cases/s-1").status_code == 200


def test_the_refusal_budget_tells_no_case_id_apart(live: Scene) -> None:
    """Attack on the fix above: if only recorded refusals spent the budget, a key with one
    refusal left would learn whether an id exists from whether its next read is a 429. Every
    refusal spends it, an unknown id's too."""
    scene = live
    for _ in range(REFUSAL_BURST + 1):
        r = scene.call(STRANGER, "GET", "/v1/health/cases/no-such-case")
        if r.status_code == 429:
            break
        assert r.status_code == 403
    assert r.status_code == 429, "unknown ids spend the budget like known ones"
    assert scene.call(STRANGER, "GET", "/v1/health/cases/s-1").status_code == 429


def test_an_unknown_case_id_takes_as_long_to_refuse_as_another_partys(live: Scene) -> None:
    """Attack: the answers are alike in status, type and body, but not in time: a refusal of
    an existing case is recorded (a database write, a signature, the mempool) before the 403,
    an unknown id's is not, about twice as fast. Timed over a few requests, ids are probed
    (at the refusal budget's pace)."""
    scene = live
    state = scene.client.app.state  # type: ignore[attr-defined]
    state.key_reads = state.key_refusals = RateLimiter.per_second(10_000)

    def took(path: str) -> float:
        start = time.perf_counter()
        assert scene.call(STRANGER, "GET", path).status_code == 403
        return time.perf_counter() - start

    known = min(took("/v1/health/cases/s-1") for _ in range(30))
    unknown = min(took("/v1/health/cases/no-such-case") for _ in range(30))
    assert known < unknown * 1.3 + 0.0003, (known, unknown)
    # fixed: every refusal is answered REFUSAL_TIME after the request arrived
    assert min(known, unknown) >= REFUSAL_TIME, (known, unknown)
