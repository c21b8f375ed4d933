"""The deterministic network simulation over many seeds (CI: 300; ``--seeds N`` soaks)."""

import pytest

from tests.sim import InvariantViolation, Simulation, run_seed


def test_simulation_seeds(request: pytest.FixtureRequest) -> None:
    seeds = int(request.config.getoption("--seeds"))
    failures = []
    heights = []
    evidence = torn = flood = untimely = refused = 0
    for seed in range(seeds):
        try:
            result = run_seed(seed)
        except InvariantViolation as exc:
            failures.append(f"{exc}\n  replay: python -m tests.sim --seed {seed} --verbose")
            continue
        heights.append(result.height)
        evidence += result.evidence
        torn += result.torn
        flood += result.flood_dropped
        untimely += result.untimely
        refused += result.refused
    assert not failures, "\n".join(failures[:5])
    # the faults were really exercised, and the network made progress through them
    assert evidence > 0 and torn > 0
    # Byzantine floods were cut off, skewed or late proposals judged untimely, and bad blocks
    # (bad evidence, equivocated junk) refused
    assert flood > 0 and untimely > 0 and refused > 0
    assert min(heights) >= 1 and sum(heights) / len(heights) > 5


def test_a_replayed_seed_is_identical() -> None:
    a, b = Simulation(7), Simulation(7)
    assert a.scenario == b.scenario
    assert a.run() == b.run()


@pytest.mark.parametrize("seed", [50227, 62371])
def test_seeds_that_once_lost_liveness(seed: int) -> None:
    """Found by soaking beyond CI's seeds: two validators locked on a block the two others,
    whose clocks ran faster, never saw a polka for; they only re-proposed it after the others
    had timed out, and the others proposed fresh blocks the locked ones refused."""
    result = run_seed(seed)
    assert result.height > 1
