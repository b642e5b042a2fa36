"""``sim.parallel``: tasks spread over processes or a dask cluster come back as one process
would give them — in task order, with the same bytes on disk."""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path

import pytest

from sim import parallel
from sim.parallel import SchedulerError, available_cores, run_tasks, where
from sim.runner import run_scenario
from sim.scenario_file import load_scenario

ROOT = Path(__file__).parents[2]
SHIPPED = ROOT / "scenarios" / "three_servers_round_robin.yaml"


def _signal(action: str, flag: str, value: int) -> int:
    """A task for the pool (module level, so a spawned process can import it): "wait" returns
    only once a "touch" task has created ``flag``, so it finishes last."""
    path = Path(flag)
    if action == "touch":
        path.touch()
        return value
    deadline = time.monotonic() + 60
    while not path.exists():
        if time.monotonic() > deadline:
            raise TimeoutError("the other task never ran")
        time.sleep(0.01)
    return value


def _fail_on(value: int, bad: int) -> int:
    if value == bad:
        raise ValueError(f"task {value} failed")
    return value


def test_results_are_in_task_order_not_in_the_order_tasks_finish(tmp_path):
    flag = str(tmp_path / "flag")
    finished: list[int] = []
    results = run_tasks(
        _signal,
        [("wait", flag, 10), ("touch", flag, 20)],
        workers=2,
        on_done=finished.append,
    )
    assert finished == [1, 0]  # the first task finished last ...
    assert results == [10, 20]  # ... and its result is still first


def test_one_worker_runs_in_this_process_and_two_in_others():
    assert run_tasks(os.getpid, [(), ()], workers=1) == [os.getpid()] * 2
    assert os.getpid() not in run_tasks(os.getpid, [(), ()], workers=2)


@pytest.mark.parametrize("workers", [1, 2])
def test_a_failing_task_raises_its_own_error(workers):
    with pytest.raises(ValueError, match="task 1 failed"):
        run_tasks(_fail_on, [(0, 1), (1, 1), (2, 1)], workers=workers)


def test_workers_must_be_at_least_one():
    with pytest.raises(ValueError, match="at least 1"):
        run_tasks(os.getpid, [()], workers=0)


def test_the_default_is_every_core_this_process_may_use():
    cores = available_cores()
    assert 1 <= cores <= (os.cpu_count() or 1)
    if hasattr(os, "sched_getaffinity"):
        assert cores == len(os.sched_getaffinity(0))


def test_meta_says_where_the_tasks_ran():
    assert where(4, None, tasks=3) == "3 processes"
    assert where(4, None, tasks=1) == where(1, None, tasks=5) == "this process"
    assert where(1, "tcp://h:8786", tasks=5) == "dask cluster at tcp://h:8786"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_an_unreachable_scheduler_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(parallel, "_CONNECT_TIMEOUT", "1s")
    address = f"tcp://127.0.0.1:{_free_port()}"
    with pytest.raises(SchedulerError, match=f"cannot reach the dask scheduler at {address}"):
        run_tasks(os.getpid, [()], scheduler=address)


def _files(run: Path) -> dict[str, bytes]:
    """Every file of a run directory but ``meta.json``, which records the wall-clock time
    and where the run ran."""
    return {
        str(path.relative_to(run)): path.read_bytes()
        for path in sorted(run.rglob("*"))
        if path.is_file() and path.name != "meta.json"
    }


def test_a_dask_cluster_writes_the_same_bytes_as_one_process(tmp_path):
    from distributed import LocalCluster

    scenario = load_scenario(SHIPPED, scale=0.05)
    here, there = tmp_path / "here", tmp_path / "there"
    run_scenario(scenario, out=here, seed=3, replications=3, context={}, workers=1)
    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None, silence_logs=40
    ) as cluster:
        run_scenario(
            scenario,
            out=there,
            seed=3,
            replications=3,
            context={},
            scheduler=cluster.scheduler_address,
        )
    files = _files(here)
    assert len([name for name in files if name.startswith("auths/")]) == 3
    assert files == _files(there)
