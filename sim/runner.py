"""Running a scenario: replications, streamed output, the summary.

``run_replication`` runs one replication, streaming its authentications and messages into
two ``TableWriter``s; SimPy advances in slices of simulated time so that buffered rows are
flushed regularly (bounded memory). ``run_scenario`` runs every replication as one task of
``sim.parallel.run_tasks`` (one process per replication, on every core by default): each
task writes its own ``auths/`` and ``deliveries/`` parts and sends back its tally and its
resource samples, which this process writes into one ``resources.parquet`` in replication
order. A replication's seed comes from the scenario's seed and its index, so the run
directory is byte for byte the same whatever the number of workers.
"""

from __future__ import annotations

import platform
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from outputs.records import ResourceSample
from sim.collector import collector_paused
from sim.model import Replication
from sim.output import (
    AUTH_SCHEMA,
    DELIVERY_SCHEMA,
    RESOURCE_SCHEMA,
    TableWriter,
    prepare_run_dir,
    write_json,
)
from sim.parallel import run_tasks, where
from sim.scenario import Scenario
from sim.scenario_file import dump_scenario
from sim.summary import Tally, summarize

__all__ = [
    "ReplicationResult",
    "expected_authentications",
    "replication_task",
    "run_replication",
    "run_scenario",
    "seeds",
]

_SLICES = 200


def seeds(seed: int, replications: int) -> list[np.random.SeedSequence]:
    """One independent ``SeedSequence`` per replication (the same for every sweep point)."""
    return np.random.SeedSequence(seed).spawn(replications)


def expected_authentications(scenario: Scenario) -> float:
    arrivals = scenario.arrivals
    starts = [p.start_s for p in arrivals.profile]
    ends = [*starts[1:], arrivals.duration_s]
    return sum(
        p.rate_per_s * max(0.0, min(end, arrivals.duration_s) - p.start_s)
        for p, end in zip(arrivals.profile, ends, strict=True)
    )


def run_replication(
    scenario: Scenario,
    seed: np.random.SeedSequence,
    index: int,
    *,
    auths: TableWriter,
    deliveries: TableWriter,
    on_sample: Callable[[ResourceSample], None],
) -> Tally:
    """Run one replication to its end: rows to the writers (flushed as they fill), resource
    samples to ``on_sample``."""
    step = max(scenario.arrivals.duration_s / _SLICES, scenario.output.sample_interval_s)
    with collector_paused():
        replication = Replication(
            scenario,
            seed,
            index,
            on_auth=auths.append,
            on_delivery=deliveries.append,
            on_sample=on_sample,
        )
        env = replication.env
        auths.on_columns = replication.tally.add_auths
        deliveries.on_columns = replication.tally.add_deliveries
        while not replication.done:
            replication.run(until=env.now + step)
            auths.maybe_flush()
            deliveries.maybe_flush()
        auths.flush()  # the tally counts rows as they are written: all of them by now
        deliveries.flush()
        auths.on_columns = deliveries.on_columns = None
        return replication.close()


@dataclass(frozen=True)
class ReplicationResult:
    """What one replication sends back to the run (plain, picklable data): its counters,
    and its resource samples, few enough to travel (one per resource per sample interval)."""

    tally: dict[str, Any]
    samples: list[ResourceSample]


def replication_task(
    scenario: Scenario, seed: np.random.SeedSequence, index: int, out: str
) -> ReplicationResult:
    """One replication of a run, on whichever worker: writes ``auths/part-<index>.parquet``
    and ``deliveries/part-<index>.parquet`` under ``out``."""
    root = Path(out)
    chunk = scenario.output.chunk_rows
    part = f"part-{index:05d}.parquet"
    auths = TableWriter(root / "auths" / part, AUTH_SCHEMA, chunk_rows=chunk)
    deliveries = TableWriter(root / "deliveries" / part, DELIVERY_SCHEMA, chunk_rows=chunk)
    samples: list[ResourceSample] = []
    tally = run_replication(
        scenario, seed, index, auths=auths, deliveries=deliveries, on_sample=samples.append
    )
    auths.close()
    deliveries.close()
    return ReplicationResult(tally=tally.as_dict(), samples=samples)


def run_scenario(
    scenario: Scenario,
    *,
    out: Path,
    seed: int,
    replications: int,
    context: Mapping[str, Any],
    workers: int = 1,
    scheduler: str | None = None,
    show_progress: bool = False,
    console: Any = None,
) -> dict[str, Any]:
    """Run every replication into ``out`` (a run directory) and return the summary; the
    replications run on ``workers`` processes, or on the dask cluster at ``scheduler``."""
    started = time.perf_counter()
    started_at = datetime.now(UTC).isoformat(timespec="seconds")
    prepare_run_dir(out)
    (out / "scenario.yaml").write_text(dump_scenario(scenario), encoding="utf-8")
    tasks = [
        (scenario, sequence, index, str(out.resolve()))
        for index, sequence in enumerate(seeds(seed, replications))
    ]
    progress = _progress(show_progress, console)
    with progress:
        bar = progress.add_task(f"simulating {scenario.name}", total=replications)
        results = run_tasks(
            replication_task,
            tasks,
            workers=workers,
            scheduler=scheduler,
            on_done=lambda _: progress.advance(bar, 1),
        )
    resources = TableWriter(
        out / "resources.parquet", RESOURCE_SCHEMA, chunk_rows=scenario.output.chunk_rows
    )
    for result in results:  # in replication order, whichever finished first
        for sample in result.samples:
            resources.append(sample)
    resources.close()
    wall = time.perf_counter() - started
    summary = summarize(
        [Tally.from_dict(result.tally) for result in results],
        context={"scenario": scenario.name, "question": scenario.question, **context},
    )
    write_json(out / "summary.json", summary)
    total = summary["authentications"]
    ran_on = where(workers, scheduler, replications)
    write_json(
        out / "meta.json",
        _meta(scenario, context, seed, replications, wall, total, started_at, ran_on),
    )
    return summary


def _meta(
    scenario: Scenario,
    context: Mapping[str, Any],
    seed: int,
    replications: int,
    wall: float,
    total: int,
    started_at: str,
    ran_on: str,
) -> dict[str, Any]:
    import pyarrow
    import simpy

    from mfa import __version__

    return {
        "mfalab_version": __version__,
        "scenario": scenario.name,
        **context,
        "seed": seed,
        "replications": replications,
        "sample_interval_s": scenario.output.sample_interval_s,
        "started_at": started_at,
        "wall_time_s": round(wall, 3),
        "authentications": total,
        "authentications_per_wall_second": round(total / wall, 1) if wall > 0 else None,
        "ran_on": ran_on,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "simpy": simpy.__version__,
        "pyarrow": pyarrow.__version__,
    }


class _NoProgress:
    def __enter__(self) -> _NoProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def add_task(self, *args: Any, **kwargs: Any) -> int:
        return 0

    def advance(self, task: int, amount: float) -> None:
        return None


def _progress(show: bool, console: Any) -> Any:
    if not show:
        return _NoProgress()
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    return Progress(
        TextColumn("{task.description}: replications"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )
