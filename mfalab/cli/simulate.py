"""``mfalab run``, ``mfalab sweep`` and ``mfalab schema``: the simulator's commands.

Heavy imports (simpy, pyarrow, dask, rich) happen inside the handlers so that ``mfalab
--help`` stays fast. A bad scenario is a ``UsageError`` (exit 2) listing one
"file: key: reason" line per problem. ``run`` and ``sweep`` spread their replications over
``--workers`` processes (default: every core this process may use) or the dask cluster at
``--scheduler``; the output is the same byte for byte (``sim.parallel``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from mfalab.cli import UsageError

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


#: The address schemes of a dask.distributed scheduler.
_SCHEDULER_SCHEMES = ("tcp", "tls", "ws", "wss", "ucx")


def _scheduler(text: str) -> str:
    """A dask scheduler address, ``tcp://HOST:PORT`` (``HOST:PORT`` means tcp)."""
    address = text if "://" in text else f"tcp://{text}"
    example = "expected a dask scheduler address such as tcp://HOST:8786"
    try:
        parts = urlsplit(address)
        port = parts.port
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: {example}") from None
    if parts.scheme not in _SCHEDULER_SCHEMES:
        raise argparse.ArgumentTypeError(
            f"{text!r}: unknown scheme {parts.scheme!r} "
            f"(one of {', '.join(_SCHEDULER_SCHEMES)}); {example}"
        )
    if not parts.hostname or port is None or parts.path not in ("", "/"):
        raise argparse.ArgumentTypeError(f"{text!r}: {example}")
    return address


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
        help="run a scenario over a parameter grid, on every core or a dask cluster",
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
        "--no-report",
        action="store_true",
        help="do not write the side-by-side report.html of the points",
    )
    sweep.set_defaults(handler=_sweep)

    schema = subparsers.add_parser("schema", help="print the scenario JSON Schema")
    schema.set_defaults(handler=_schema)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--replications", type=_positive_int, help="replications (default: the scenario's)"
    )
    parser.add_argument("--seed", type=_seed, help="seed (default: the scenario's)")
    parser.add_argument(
        "--workers",
        type=_positive_int,
        metavar="N",
        help="processes running the replications, one at a time each (default: one per "
        "core this process may use); the output does not depend on it",
    )
    parser.add_argument(
        "--scheduler",
        type=_scheduler,
        metavar="tcp://HOST:8786",
        help="run the replications on this dask.distributed cluster instead; its workers "
        "must see --out (a shared mount)",
    )
    parser.add_argument(
        "--out",
        metavar="DIR",
        help="output directory (default: a new runs/<scenario>-<UTC timestamp>); an "
        "existing non-empty directory is refused unless --force",
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="write into an existing non-empty --out (the previous run's files there are "
        "replaced; other files are kept)",
    )
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


def _workers(args: argparse.Namespace) -> int:
    """``--workers``, or one per core; refused next to ``--scheduler``, whose cluster has its
    own workers (saying nothing would leave the user thinking it counted)."""
    if args.scheduler and args.workers is not None:
        raise UsageError(
            "--workers and --scheduler: choose one (the dask cluster at --scheduler runs "
            "the replications on its own workers)"
        )
    from sim.parallel import available_cores

    return args.workers or available_cores()


def _context(args: argparse.Namespace, overrides: dict[str, Any]) -> dict[str, Any]:
    return {"scenario_file": str(args.scenario), "scale": args.scale, "overrides": overrides}


def _run(args: argparse.Namespace) -> int:
    from rich.console import Console

    from sim.output import write_json
    from sim.parallel import SchedulerError
    from sim.runner import expected_authentications, run_scenario
    from sim.summary import render_summary

    overrides = {key: values[0] for key, values in _assignments(args.set, single=True)}
    workers = _workers(args)
    scenario = _load(args, overrides)
    replications = args.replications or scenario.replications
    seed = scenario.seed if args.seed is None else args.seed
    out = _output_dir(args)
    console = Console()
    long_run = expected_authentications(scenario) * replications >= _LONG_RUN
    try:
        summary = run_scenario(
            scenario,
            out=out,
            seed=seed,
            replications=replications,
            context=_context(args, overrides),
            workers=workers,
            scheduler=args.scheduler,
            show_progress=long_run,
            console=Console(stderr=True),
        )
    except SchedulerError as exc:
        raise UsageError(str(exc)) from None
    cost = _monthly_cost(out)
    if cost is not None:
        summary["monthly_cost"] = cost
    priced = _price_attacks(out, summary)
    if cost is not None or priced:
        write_json(out / "summary.json", summary)
    render_summary(summary, console)
    console.print(f"run directory: {out}")
    if not args.no_report:
        return _report(out, console)
    return 0


def _output_dir(args: argparse.Namespace) -> Path:
    """``--out``, refused when it holds anything and ``--force`` is not given; without it a
    new ``runs/<scenario>-<UTC timestamp>`` (a suffix when that exists: never reused)."""
    if args.out:
        out = Path(args.out)
        if out.exists() and not out.is_dir():
            raise UsageError(f"--out {out}: exists and is not a directory")
        if out.is_dir() and any(out.iterdir()) and not args.force:
            raise UsageError(
                f"--out {out}: the directory exists and is not empty; choose another "
                "directory, or add --force to replace the run's files in it"
            )
        return out
    from datetime import UTC, datetime

    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    base = Path("runs") / f"{Path(args.scenario).stem}-{stamp}"
    out, n = base, 2
    while out.exists():
        out, n = base.with_name(f"{base.name}-{n}"), n + 1
    return out


def _monthly_cost(out: Path) -> dict[str, Any] | None:
    """The month's cost under each billing model, priced by ``reports.billing`` (the report's
    own figures: the scenario's prices over the shipped ones, the month scaled by the rule
    it states); ``None`` when the reports package is not installed or cannot price it."""
    try:
        from reports import billing
        from reports.loaders import ReportInputError, load_run
        from reports.run_report import run_prices
    except ImportError:
        return None
    try:
        run = load_run(out)
        prices = run_prices(run, None)
        estimate = billing.usage_from_run(run)
        costs = billing.monthly_costs(estimate.usage, prices, messages=estimate.messages)
    except ReportInputError as exc:
        print(f"mfalab: no cost per billing model: {exc}", file=sys.stderr)
        return None
    except Exception as exc:  # the run is written: a pricing failure must not lose it
        print(
            f"mfalab: no cost per billing model ({exc.__class__.__name__}: {exc})",
            file=sys.stderr,
        )
        return None
    return {
        "currency": prices.currency,
        "models": {str(row.model): round(float(row.total), 2) for row in costs.itertuples()},
        "current_model": estimate.usage.model.value if estimate.usage.model else None,
        "rule": estimate.rule,
        "prices": prices.source,
    }


def _price_attacks(out: Path, summary: dict[str, Any]) -> bool:
    """Put the pumping attack's cost and cost avoided (per replication-hour, priced by
    ``reports.fraud`` with the run's prices) into the summary's ``fraud`` block; whether it
    did."""
    pumping = (summary.get("fraud") or {}).get("pumping")
    if not pumping:
        return False
    try:
        from reports.fraud import attack_cost
        from reports.loaders import load_run
        from reports.run_report import run_prices
    except ImportError:
        return False
    try:
        prices = run_prices(load_run(out), None)
    except Exception as exc:  # the run is written: a pricing failure must not lose it
        print(f"mfalab: no attack cost ({exc.__class__.__name__}: {exc})", file=sys.stderr)
        return False
    cost, avoided = attack_cost(pumping, prices)
    pumping["attack_cost"] = {
        "currency": prices.currency,
        "per_replication_hour": round(cost, 2),
        "avoided_per_replication_hour": round(avoided, 2),
        "prices": "provider_sms_per_message",
    }
    return True


def _report(out: Path, console: Any) -> int:
    try:
        from reports.run_report import write_run_report
    except ImportError:
        return 0
    try:
        path = write_run_report([out])
    except Exception as exc:
        print(
            f"mfalab: the results are in {out}, but the report failed "
            f"({exc.__class__.__name__}: {exc})",
            file=sys.stderr,
        )
        return 1
    console.print(f"report: {path}")
    return 0


def _sweep(args: argparse.Namespace) -> int:
    from rich.console import Console

    from sim.parallel import SchedulerError
    from sim.scenario_file import ScenarioError
    from sim.sweep import run_sweep

    assignments = _assignments(args.set, single=False)
    workers = _workers(args)
    scenario = _load(args, {})
    out = _output_dir(args)
    replications = args.replications or scenario.replications
    seed = scenario.seed if args.seed is None else args.seed
    console = Console()
    try:
        result = run_sweep(
            scenario,
            assignments,
            source=str(args.scenario),
            out=out,
            seed=seed,
            replications=replications,
            scheduler=args.scheduler,
            workers=workers,
            context={"scenario_file": str(args.scenario), "scale": args.scale},
            console=Console(stderr=True),
        )
    except (ScenarioError, SchedulerError, ValueError) as exc:
        raise UsageError(str(exc)) from None
    except OSError as exc:
        raise UsageError(f"cannot write {out}: {exc}") from None
    console.print(_sweep_table(scenario.name, result))
    console.print(f"dataset: {out} (auths/, deliveries/, resources.parquet)")
    if not args.no_report:
        return _report(out, console)
    return 0


def _sweep_table(name: str, result: dict[str, Any]) -> Any:
    """One row per grid point; values as typed, figures formatted by the catalogue."""
    from rich.table import Table

    from outputs.metrics import CATALOGUE, format_parameter

    table = Table(title=f"{name}: sweep of {', '.join(result['parameters'])}")
    for key in result["parameters"]:
        table.add_column(key)
    attacked = any("fraud" in point["summary"] for point in result["points"])
    for column in (
        "success",
        "95 % CI",
        "in 60 s",
        "p95 time",
        "codes in time",
        "denials (engine)",
        "busiest sender",
        *(("attack sent / h", "attack refused", "taken over", "real refused") if attacked else ()),
    ):
        table.add_column(column)
    for point in result["points"]:
        summary = point["summary"]
        rate = summary["success_rate"]
        busiest = summary["busiest"]["sender"]
        denials = ", ".join(f"{k} {v:,}" for k, v in summary["engine_denials"].items()) or "—"
        table.add_row(
            *(format_parameter(point["parameters"][k]) or "—" for k in result["parameters"]),
            CATALOGUE.format("success_rate", rate["estimate"]),
            f"{CATALOGUE.format('ci_low', rate['low'])} – "
            f"{CATALOGUE.format('ci_high', rate['high'])}",
            CATALOGUE.format("signed_in_within_60s", summary["signed_in_within_60s"]["estimate"]),
            CATALOGUE.format("p95", summary["time_to_auth_s"]["p95"]),
            CATALOGUE.format(
                "delivered_within_code_lifetime",
                summary["delivered_within_code_lifetime"]["estimate"],
            ),
            denials,
            busiest["name"] if busiest else "—",
            *(_attack_cells(summary.get("fraud") or {}) if attacked else ()),
        )
    return table


def _attack_cells(fraud: dict[str, Any]) -> tuple[str, str, str, str]:
    """A sweep row's attack columns: messages sent an hour and the refused share (of every
    attack together), push-bombing takeovers, real sign-ins a defence refused."""
    from outputs.metrics import CATALOGUE

    blocks = [fraud[k] for k in ("pumping", "push_bombing") if k in fraud]
    begins = sum(b["attack_begins"] for b in blocks)
    refused = sum(b["attack_refused"] for b in blocks)
    per_hour = sum(b["attack_sent_per_hour"]["estimate"] or 0 for b in blocks)
    bombing = fraud.get("push_bombing")
    collateral = fraud.get("collateral") or {}
    return (
        CATALOGUE.format("attack_sent_per_hour", per_hour) if blocks else "—",
        CATALOGUE.format("attack_refused_share", refused / begins) if begins else "—",
        f"{bombing['takeovers']:,} / {bombing['victims']:,}" if bombing else "—",
        CATALOGUE.format(
            "signins_refused_by_defences", collateral.get("signins_refused_by_defences")
        ),
    )


def _schema(args: argparse.Namespace) -> int:
    from sim.scenario import Scenario

    print(json.dumps(Scenario.model_json_schema(), indent=2))
    return 0
