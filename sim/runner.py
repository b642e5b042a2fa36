"""Running a scenario: replications, streamed output, the summary.

``run_replication`` runs one replication into three ``TableWriter``s (the sweep runs it on
dask workers); ``run_scenario`` runs them all into a run directory and returns the summary.
SimPy advances in slices of simulated time so that buffered rows are flushed regularly
(bounded memory) and a progress bar can follow.
"""

from __future__ import annotations

import platform
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

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
from sim.scenario import Scenario
from sim.scenario_file import dump_scenario
from sim.summary import Tally, summarize

__all__ = ["expected_authentications", "run_replication", "run_scenario", "seeds"]

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
    resources: TableWriter,
    on_progress: Callable[[float], None] | None = None,
) -> Tally:
    """Run one replication to its end; ``on_progress`` gets simulated seconds advanced."""
    duration = scenario.arrivals.duration_s
    step = max(duration / _SLICES, scenario.output.sample_interval_s)
    reported = 0.0
    with collector_paused():
        replication = Replication(
            scenario,
            seed,
            index,
            on_auth=auths.append,
            on_delivery=deliveries.append,
            on_sample=resources.append,
        )
        env = replication.env
        auths.on_columns = replication.tally.add_auths
        deliveries.on_columns = replication.tally.add_deliveries
        while True:
            replication.run(until=env.now + step)
            auths.maybe_flush()
            deliveries.maybe_flush()
            if on_progress is not None:
                done = min(env.now, duration)
                on_progress(done - reported)
                reported = done
            if replication.done:
                break
        auths.flush()  # the tally counts rows as they are written: all of them by now
        deliveries.flush()
        auths.on_columns = deliveries.on_columns = None
        tally = replication.close()
    if on_progress is not None and reported < duration:
        on_progress(duration - reported)
    return tally


def run_scenario(
    scenario: Scenario,
    *,
    out: Path,
    seed: int,
    replications: int,
    context: Mapping[str, Any],
    show_progress: bool = False,
    console: Any = None,
) -> dict[str, Any]:
    """Run every replication into ``out`` (a run directory) and return the summary."""
    started = time.perf_counter()
    started_at = datetime.now(UTC).isoformat(timespec="seconds")
    prepare_run_dir(out)
    (out / "scenario.yaml").write_text(dump_scenario(scenario), encoding="utf-8")
    chunk = scenario.output.chunk_rows
    resources = TableWriter(out / "resources.parquet", RESOURCE_SCHEMA, chunk_rows=chunk)
    tallies: list[Tally] = []
    duration = scenario.arrivals.duration_s
    progress = _progress(show_progress, console)
    with progress:
        task = progress.add_task(f"simulating {scenario.name}", total=duration * replications)
        for index, sequence in enumerate(seeds(seed, replications)):
            auths = TableWriter(
                out / "auths" / f"part-{index:05d}.parquet", AUTH_SCHEMA, chunk_rows=chunk
            )
            deliveries = TableWriter(
                out / "deliveries" / f"part-{index:05d}.parquet", DELIVERY_SCHEMA, chunk_rows=chunk
            )
            tally = run_replication(
                scenario,
                sequence,
                index,
                auths=auths,
                deliveries=deliveries,
                resources=resources,
                on_progress=lambda dt: progress.advance(task, dt),
            )
            auths.close()
            deliveries.close()
            tallies.append(tally)
    resources.close()
    wall = time.perf_counter() - started
    summary = summarize(
        tallies,
        context={"scenario": scenario.name, "question": scenario.question, **context},
    )
    write_json(out / "summary.json", summary)
    total = summary["authentications"]
    write_json(
        out / "meta.json", _meta(scenario, context, seed, replications, wall, total, started_at)
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
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>5.1f} %"),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    )
