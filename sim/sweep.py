"""Sweeps: one scenario, a grid of parameter values, every point × replication as a task.

``mfalab sweep SCENARIO --set servers.count=1,2,4 --set servers.lb_policy=sticky,auth_id``
runs the Cartesian product of the values. Each (point, replication) is one task of
``sim.parallel.run_tasks`` that runs ``sim.runner.run_replication`` and writes its own
Parquet parts straight into the output directory, with the swept parameters (and
``grid_point``) as extra columns, so the result is one dataset a report can group by
parameter. Every point uses the same replication seeds (common random numbers): the same
people arrive at the same moments whatever the grid changes, which makes differences
between points sharper.

By default the tasks run on one process per core; ``--scheduler tcp://HOST:8786`` uses a
dask.distributed cluster, whose workers must see the output directory (a shared mount).
Whichever runs them, the dataset is byte for byte the same.
"""

from __future__ import annotations

import itertools
import shutil
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from sim.output import (
    AUTH_SCHEMA,
    DELIVERY_SCHEMA,
    RESOURCE_SCHEMA,
    TableWriter,
    prepare_run_dir,
    write_json,
)
from sim.parallel import run_tasks, where
from sim.runner import run_replication, seeds
from sim.scenario import Scenario
from sim.scenario_file import apply_overrides, dump_scenario
from sim.summary import Tally, summarize

__all__ = ["grid_points", "run_sweep", "run_task"]

_PARTS = "_resource_parts"


def grid_points(assignments: Sequence[tuple[str, Sequence[Any]]]) -> list[dict[str, Any]]:
    """The Cartesian product of ``[(key, values), ...]`` as ``{key: value}`` points."""
    keys = [key for key, _ in assignments]
    if len(set(keys)) != len(keys):
        raise ValueError("each key may be swept once")
    return [
        dict(zip(keys, combo, strict=True))
        for combo in itertools.product(*(v for _, v in assignments))
    ]


def run_task(
    scenario: Mapping[str, Any],
    point: Mapping[str, Any],
    grid_point: int,
    replication: int,
    seed: int,
    replications: int,
    out: str,
) -> dict[str, Any]:
    """One (grid point, replication) on a worker; returns the tally as plain data."""
    resolved = Scenario.model_validate(scenario)
    root = Path(out)
    constants = {"grid_point": grid_point, **point}
    name = f"part-g{grid_point:04d}-r{replication:04d}.parquet"
    chunk = resolved.output.chunk_rows
    auths = TableWriter(root / "auths" / name, AUTH_SCHEMA, chunk_rows=chunk, constants=constants)
    deliveries = TableWriter(
        root / "deliveries" / name, DELIVERY_SCHEMA, chunk_rows=chunk, constants=constants
    )
    resources = TableWriter(
        root / _PARTS / name, RESOURCE_SCHEMA, chunk_rows=chunk, constants=constants
    )
    tally = run_replication(
        resolved,
        seeds(seed, replications)[replication],
        replication,
        auths=auths,
        deliveries=deliveries,
        on_sample=resources.append,
    )
    for writer in (auths, deliveries, resources):
        writer.close()
    return tally.as_dict()


def run_sweep(
    base: Scenario,
    assignments: Sequence[tuple[str, Sequence[Any]]],
    *,
    source: str,
    out: Path,
    seed: int,
    replications: int,
    scheduler: str | None = None,
    workers: int = 1,
    context: Mapping[str, Any] | None = None,
    console: Any = None,
) -> dict[str, Any]:
    """Run the grid; returns the sweep summary (also written to ``out/summary.json``)."""
    points = grid_points(assignments)
    # validate every point before anything runs: a bad value fails the sweep up front
    scenarios = [apply_overrides(base, point, source) for point in points]
    started = time.perf_counter()
    prepare_run_dir(out)
    shutil.rmtree(out / _PARTS, ignore_errors=True)
    (out / "scenario.yaml").write_text(dump_scenario(base), encoding="utf-8")
    where_to = str(out.resolve())
    tasks = [
        (scenario.model_dump(mode="json"), point, g, r, seed, replications, where_to)
        for g, (point, scenario) in enumerate(zip(points, scenarios, strict=True))
        for r in range(replications)
    ]
    progress = _progress(console)
    with progress:
        bar = progress.add_task("sweeping", total=len(tasks))
        done = run_tasks(
            run_task,
            tasks,
            workers=workers,
            scheduler=scheduler,
            on_done=lambda _: progress.advance(bar, 1),
        )
    tallies = [Tally.from_dict(tally) for tally in done]  # point by point, in replication order
    _combine_resources(out)
    results = []
    for g, point in enumerate(points):
        point_tallies = tallies[g * replications : (g + 1) * replications]
        summary = summarize(
            point_tallies, context={"scenario": base.name, "grid_point": g, **point}
        )
        summary.pop("resources")
        results.append({"grid_point": g, "parameters": point, "summary": summary})
    sweep = {
        "scenario": base.name,
        "question": base.question,
        **(context or {}),
        "seed": seed,
        "replications": replications,
        "parameters": [key for key, _ in assignments],
        "points": results,
    }
    write_json(out / "summary.json", sweep)
    write_json(
        out / "meta.json",
        {
            **(context or {}),
            "kind": "sweep",
            "seed": seed,
            "replications": replications,
            "grid": points,
            "ran_on": where(workers, scheduler, len(tasks)),
            "wall_time_s": round(time.perf_counter() - started, 3),
        },
    )
    return sweep


def _combine_resources(out: Path) -> None:
    """Resource samples are small: one ``resources.parquet`` like a run directory's."""
    parts = sorted((out / _PARTS).glob("*.parquet"))
    if parts:
        tables = [pq.read_table(p) for p in parts]
        import pyarrow as pa

        pq.write_table(
            pa.concat_tables(tables, promote_options="permissive"), out / "resources.parquet"
        )
    shutil.rmtree(out / _PARTS, ignore_errors=True)


def _progress(console: Any) -> Any:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        console=console,
        transient=True,
        disable=console is None,
    )
