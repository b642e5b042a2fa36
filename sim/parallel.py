"""Where replications run: in this process, on a pool of processes, or on a dask cluster.

A run's replications and a sweep's (grid point, replication) pairs are independent tasks.
Each gets its random numbers from the scenario's seed and its own index
(``sim.runner.seeds``), never from the worker that happens to run it, and writes only its own
files; ``run_tasks`` hands the results back in task order, not in the order they finish. So
the output is byte for byte the same on one worker or on many: spreading tasks over cores
is a matter of architecture, not of the model.

- ``workers=1``: the tasks run one after another in this process (no start-up cost, and
  the simplest thing to debug or profile);
- ``workers=N``: a ``ProcessPoolExecutor`` of N processes forked by a ``forkserver``
  (where the OS has one; else ``spawn``). The fork server is a fresh interpreter that imports
  what a replication needs once (``_PRELOAD``) and forks each worker from that state: no
  state inherited from the parent (as with ``spawn``, unlike ``fork``), but no worker pays
  the imports again. With ``spawn`` each worker paid ≈0.5 CPU-s of imports, and pandas
  (≈0.2 s) on its first Parquet column, against ≈2.5 CPU-s per replication of the US
  baseline: the main reason two workers fell short of twice one (``bench/sim_bench.py``);
- ``scheduler="tcp://HOST:8786"``: the workers of a running dask.distributed cluster, which
  must be able to import ``mfalab`` and see the output directory (a shared mount).

A task is a module-level function and its arguments, all picklable.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Any, TypeVar

__all__ = ["SchedulerError", "available_cores", "run_tasks", "where"]

R = TypeVar("R")

_CONNECT_TIMEOUT = "10s"  # how long to try a dask scheduler before saying it is unreachable

#: What the fork server imports once for all its workers: the replication and sweep tasks
#: (numpy, pyarrow, simpy, the engine, …) and pandas, which pyarrow imports on its first
#: conversion of a column (its pandas shim looks at every input), so each worker would.
_PRELOAD = ("sim.runner", "sim.sweep", "pandas")


class SchedulerError(Exception):
    """The dask scheduler given with ``--scheduler`` could not be reached."""


def available_cores() -> int:
    """The cores this process may run on (its CPU affinity where the OS has one), the
    default number of workers: one process per core."""
    process_cpu_count = getattr(os, "process_cpu_count", None)  # Python 3.13+
    if process_cpu_count is not None:
        return process_cpu_count() or 1
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0)) or 1
    return os.cpu_count() or 1


def where(workers: int, scheduler: str | None, tasks: int) -> str:
    """Where ``run_tasks`` runs ``tasks`` tasks, in words (for ``meta.json``)."""
    if scheduler:
        return f"dask cluster at {scheduler}"
    processes = min(workers, tasks)
    if processes <= 1:
        return "this process"
    return f"{processes} processes"


def run_tasks(
    task: Callable[..., R],
    arguments: Sequence[tuple[Any, ...]],
    *,
    workers: int = 1,
    scheduler: str | None = None,
    on_done: Callable[[int], None] | None = None,
) -> list[R]:
    """``[task(*args) for args in arguments]``, spread over ``workers`` processes or the
    dask cluster at ``scheduler``; results in the order of ``arguments`` whatever order the
    tasks finish in. ``on_done(i)`` is called in this process as task ``i`` finishes (a
    progress bar). The first task to fail raises its exception here. With a ``scheduler``,
    the cluster's own workers run the tasks and ``workers`` is not used."""
    if workers < 1:
        raise ValueError(f"workers must be at least 1, not {workers}")
    done = on_done or (lambda index: None)
    if scheduler:
        return _on_dask(task, arguments, scheduler, done)
    if workers == 1 or len(arguments) <= 1:
        return _in_process(task, arguments, done)
    return _on_process_pool(task, arguments, min(workers, len(arguments)), done)


def _in_process(
    task: Callable[..., R], arguments: Sequence[tuple[Any, ...]], done: Callable[[int], None]
) -> list[R]:
    results = []
    for index, args in enumerate(arguments):
        results.append(task(*args))
        done(index)
    return results


def _on_process_pool(
    task: Callable[..., R],
    arguments: Sequence[tuple[Any, ...]],
    workers: int,
    done: Callable[[int], None],
) -> list[R]:
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=_pool_context())
    try:
        futures = {pool.submit(task, *args): index for index, args in enumerate(arguments)}
        return _gather(futures, as_completed(futures), done)
    finally:
        # on an error or Ctrl-C, drop the tasks not yet started instead of running them
        pool.shutdown(wait=True, cancel_futures=True)


def _pool_context() -> multiprocessing.context.BaseContext:
    """A fork server that has imported ``_PRELOAD`` (started on first use, kept for the
    life of this process, so a sweep's or a second run's pool starts at once), or ``spawn``
    where there is no fork server (Windows). Each worker still gets this process's working
    directory and ``sys.path`` when it starts, but the environment variables the server
    started with: a replication reads none."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(list(_PRELOAD))  # read when the server starts
    return context


def _on_dask(
    task: Callable[..., R],
    arguments: Sequence[tuple[Any, ...]],
    scheduler: str,
    done: Callable[[int], None],
) -> list[R]:
    from distributed import Client
    from distributed import as_completed as dask_completed

    try:
        client = Client(scheduler, timeout=_CONNECT_TIMEOUT)
    except OSError as exc:  # TimeoutError is an OSError
        raise SchedulerError(f"cannot reach the dask scheduler at {scheduler}: {exc}") from None
    try:
        futures = {
            client.submit(task, *args, pure=False): index for index, args in enumerate(arguments)
        }
        return _gather(futures, dask_completed(list(futures)), done)
    finally:
        client.close()


def _gather(futures: dict[Any, int], finished: Any, done: Callable[[int], None]) -> list[Any]:
    """Each result into its task's slot as it finishes (``finished`` yields the futures, of
    ``concurrent.futures`` or of dask: both have ``result()``)."""
    results: list[Any] = [None] * len(futures)
    for future in finished:
        index = futures[future]
        results[index] = future.result()
        done(index)
    return results
