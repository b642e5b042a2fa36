"""Light processes keep SimPy's clock and event order (sim.waits)."""

from __future__ import annotations

import gc
from collections.abc import Generator

import pytest
import simpy

from sim.waits import start


def _sleeper(env: simpy.Environment, name: str, waits: list[float], log: list) -> Generator:
    log.append((env.now, name, "start"))
    for w in waits:
        yield w
        log.append((env.now, name, "woke"))


def _process(env: simpy.Environment, waits: list[float], log: list) -> Generator:
    for w in waits:
        yield env.timeout(w)
        log.append((env.now, "process", "woke"))


def test_sleepers_and_processes_share_one_clock_in_time_order() -> None:
    env = simpy.Environment()
    log: list[tuple[float, str, str]] = []
    start(env, _sleeper(env, "a", [1.5, 2.0], log))
    env.process(_process(env, [1.0, 1.0, 1.0], log))
    start(env, _sleeper(env, "b", [0.25], log))
    env.run()
    assert log == [
        (0.0, "a", "start"),  # a sleeper runs at once, up to its first wait
        (0.0, "b", "start"),
        (0.25, "b", "woke"),
        (1.0, "process", "woke"),
        (1.5, "a", "woke"),
        (2.0, "process", "woke"),
        (3.0, "process", "woke"),
        (3.5, "a", "woke"),
    ]
    assert env.now == 3.5


def test_run_until_stops_between_wakes_and_resumes() -> None:
    env = simpy.Environment()
    log: list[tuple[float, str, str]] = []
    start(env, _sleeper(env, "a", [1.0, 1.0, 1.0], log))
    env.run(until=1.5)
    assert env.now == 1.5 and [t for t, _, _ in log] == [0.0, 1.0]
    env.run(until=10)
    assert [t for t, _, _ in log] == [0.0, 1.0, 2.0, 3.0]


def test_a_negative_wait_is_an_error_like_simpy_timeouts() -> None:
    env = simpy.Environment()
    start(env, _sleeper(env, "a", [1.0, -0.5], []))
    with pytest.raises(ValueError, match=r"(?i)negative"):
        env.run()


def test_a_run_leaves_the_garbage_collector_as_it_found_it(simulate) -> None:
    """The cyclic collector pauses while a replication runs, and only then; pausing it is
    safe only because a run makes no reference cycles (checked by the next test)."""
    assert gc.isenabled()
    before = gc.get_threshold()
    gc.collect()
    run = simulate(
        {
            "population": {"users": 100},
            "arrivals": {"duration_s": 60, "profile": [{"start_s": 0, "rate_per_s": 1.0}]},
        }
    )
    assert run.summary["authentications"] > 0
    assert gc.isenabled()
    assert gc.get_threshold() == before


def test_a_replication_makes_no_reference_cycles_per_sign_in(simulate) -> None:
    """Pausing the collector during a run is safe only if sign-ins make no cycles: what a
    run leaves for ``gc.collect`` (set-up, pydantic, pyarrow) must not grow with its size."""

    def unreachable_after(users: int, rate: float, name: str) -> tuple[int, int]:
        tree = {
            "population": {"users": users},
            "arrivals": {"duration_s": 60, "profile": [{"start_s": 0, "rate_per_s": rate}]},
        }
        gc.collect()
        gc.disable()
        try:
            run = simulate(tree, name=name)
            return run.summary["authentications"], gc.collect()
        finally:
            gc.enable()

    unreachable_after(100, 1.0, "warm-up")  # first-use caches and imports
    small_auths, small = unreachable_after(100, 1.0, "small")
    large_auths, large = unreachable_after(2000, 20.0, "large")
    assert large_auths > 10 * small_auths
    # one cycle per sign-in would add over a thousand; set-up noise is a few dozen
    assert large <= small + 100, (small, large)
