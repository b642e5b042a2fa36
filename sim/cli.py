"""``mfalab run``, ``mfalab sweep`` and ``mfalab schema``: the simulator's commands.

Heavy imports (simpy, pyarrow, dask, rich) happen inside the handlers so that ``mfalab
--help`` stays fast. A bad scenario is a ``UsageError`` (exit 2) listing one
"file: key: reason" line per problem.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from mfa.cli import UsageError

__all__ = ["register"]

_LONG_RUN = 100_000  # expected authentications above which a progress bar is shown


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be at least 1")
    return value


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError("a seed is a non-negative whole number")
    return value


def _scale(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value > 0:
        raise argparse.ArgumentTypeError("the scale must be positive")
    return value


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    run = subparsers.add_parser(
        "run",
        help="simulate a scenario: Parquet rows, summary table, report",
        description="Simulate a scenario with real engine instances on SimPy's clock.",
    )
    run.add_argument("scenario", metavar="SCENARIO", help="a scenario YAML file (scenarios/)")
    _common(run)
    run.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override one key, e.g. --set servers.count=3 (repeatable)",
    )
    run.add_argument("--no-report", action="store_true", help="do not write report.html")
    run.set_defaults(handler=_run)

    sweep = subparsers.add_parser(
        "sweep",
        help="run a scenario over a parameter grid on dask.distributed",
        description="Run the grid of --set values x replications; one combined dataset.",
    )
    sweep.add_argument("scenario", metavar="SCENARIO", help="a scenario YAML file")
    _common(sweep)
    sweep.add_argument(
        "--set",
        action="append",
        default=[],
        required=True,
        metavar="KEY=V1,V2,...",
        help="a swept key and its values, e.g. --set servers.count=1,2,4 (repeatable)",
    )
    sweep.add_argument(
        "--scheduler", metavar="tcp://HOST:8786", help="a dask scheduler (default: local)"
    )
    sweep.add_argument(
        "--workers", type=_positive_int, default=2, help="local worker processes (default 2)"
    )
    sweep.set_defaults(handler=_sweep)

    schema = subparsers.add_parser("schema", help="print the scenario JSON Schema")
    schema.set_defaults(handler=_schema)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--replications", type=_positive_int, help="replications (default: the scenario's)"
    )
    parser.add_argument("--seed", type=_seed, help="seed (default: the scenario's)")
    parser.add_argument("--out", metavar="DIR", help="output directory (default runs/<name>)")
    parser.add_argument(
        "--scale",
        type=_scale,
        default=1.0,
        help="multiply users and arrival rates (e.g. 0.05 for a quick check)",
    )


def _assignments(items: list[str], *, single: bool) -> list[tuple[str, list[Any]]]:
    from sim.scenario_file import parse_assignment

    out = []
    for item in items:
        try:
            key, values = parse_assignment(item)
        except ValueError as exc:
            raise UsageError(f"--set {exc}") from None
        if single and len(values) != 1:
            raise UsageError(f"--set {item}: run takes one value per key; sweep takes several")
        out.append((key, values))
    return out


def _load(args: argparse.Namespace, overrides: dict[str, Any]) -> Any:
    from sim.scenario_file import ScenarioError, load_scenario

    try:
        return load_scenario(args.scenario, overrides=overrides, scale=args.scale)
    except ScenarioError as exc:
        raise UsageError(str(exc)) from None


def _context(args: argparse.Namespace, overrides: dict[str, Any]) -> dict[str, Any]:
    return {"scenario_file": str(args.scenario), "scale": args.scale, "overrides": overrides}


def _run(args: argparse.Namespace) -> int:
    from rich.console import Console

    from sim.runner import expected_authentications, run_scenario
    from sim.summary import render_summary

    overrides = {key: values[0] for key, values in _assignments(args.set, single=True)}
    scenario = _load(args, overrides)
    replications = args.replications or scenario.replications
    seed = scenario.seed if args.seed is None else args.seed
    out = Path(args.out) if args.out else Path("runs") / Path(args.scenario).stem
    console = Console()
    long_run = expected_authentications(scenario) * replications >= _LONG_RUN
    summary = run_scenario(
        scenario,
        out=out,
        seed=seed,
        replications=replications,
        context=_context(args, overrides),
        show_progress=long_run,
        console=Console(stderr=True),
    )
    render_summary(summary, console)
    console.print(f"run directory: {out}")
    if not args.no_report:
        return _report(out, console)
    return 0


def _report(out: Path, console: Any) -> int:
    try:
        from reports.run_report import write_run_report
    except ImportError:
        return 0
    try:
        path = write_run_report([out])
    except Exception as exc:
        print(
            f"mfalab run: the run is in {out}, but the report failed "
            f"({exc.__class__.__name__}: {exc})",
            file=sys.stderr,
        )
        return 1
    console.print(f"report: {path}")
    return 0


def _sweep(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from sim.scenario_file import ScenarioError
    from sim.sweep import run_sweep

    assignments = _assignments(args.set, single=False)
    scenario = _load(args, {})
    if args.out is None:
        raise UsageError("--out DIR is required for a sweep")
    replications = args.replications or scenario.replications
    seed = scenario.seed if args.seed is None else args.seed
    console = Console()
    try:
        result = run_sweep(
            scenario,
            assignments,
            source=str(args.scenario),
            out=Path(args.out),
            seed=seed,
            replications=replications,
            scheduler=args.scheduler,
            workers=args.workers,
            context={"scenario_file": str(args.scenario), "scale": args.scale},
            console=Console(stderr=True),
        )
    except ScenarioError as exc:
        raise UsageError(str(exc)) from None
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    except OSError as exc:
        raise UsageError(f"cannot reach the dask scheduler or write {args.out}: {exc}") from None
    table = Table(title=f"{scenario.name}: sweep of {', '.join(result['parameters'])}")
    for key in result["parameters"]:
        table.add_column(key)
    for column in ("success", "95 % CI", "p95 time", "denials (engine)", "busiest sender"):
        table.add_column(column)
    for point in result["points"]:
        summary = point["summary"]
        rate = summary["success_rate"]
        p95 = summary["time_to_auth_s"]["p95"]
        busiest = summary["busiest"]["sender"]
        denials = ", ".join(f"{k} {v}" for k, v in summary["engine_denials"].items()) or "—"
        table.add_row(
            *(json.dumps(point["parameters"][k]) for k in result["parameters"]),
            f"{100 * rate['mean']:.2f} %",
            f"{100 * rate['ci95'][0]:.2f}–{100 * rate['ci95'][1]:.2f} %",
            "—" if p95 is None else f"{p95:.1f} s",
            denials,
            busiest["name"] if busiest else "—",
        )
    console.print(table)
    console.print(f"dataset: {args.out} (auths/, deliveries/, resources.parquet)")
    return 0


def _schema(args: argparse.Namespace) -> int:
    from sim.scenario import Scenario

    print(json.dumps(Scenario.model_json_schema(), indent=2))
    return 0
