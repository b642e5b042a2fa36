"""``mfalab report [RUN_DIR …] [--logs FILE.parquet …] [--out FILE.html]``: the report.

Takes simulator run directories, sweeps and load-test directories in any mix; two or more are
compared side by side. ``--logs`` adds a real server's traffic: the engine log written by
``mfalab logs export`` gets a reliability and a billing section. Writes the self-contained
HTML page and the Markdown summary beside it.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from mfalab.cli import UsageError

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "report",
        help="write the HTML report (and Markdown summary) of runs, sweeps, load tests and "
        "engine logs",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("run_dirs", nargs="*", metavar="RUN_DIR", type=Path)
    parser.add_argument(
        "--logs",
        type=Path,
        action="append",
        default=[],
        metavar="FILE.parquet",
        help="an engine log from `mfalab logs export` (repeatable): adds a reliability and "
        "billing section for real traffic",
    )
    parser.add_argument(
        "--enabled-users",
        type=int,
        metavar="N",
        help="with --logs: users enabled for MFA each month (default: the users seen in the "
        "month's log, a lower bound)",
    )
    parser.add_argument(
        "--licensed-users",
        type=int,
        default=0,
        metavar="N",
        help="with --logs: users holding a licence each month (default 0)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        metavar="FILE.html",
        help="where to write the HTML (default: RUN_DIR/report.html of the first run, else "
        "FILE-report.html beside the first --logs file); the Markdown summary goes beside it "
        "with the .md suffix",
    )
    parser.add_argument(
        "--pricing",
        type=Path,
        metavar="FILE",
        help="YAML prices overriding reports/pricing.yaml (historical Azure MFA list prices)",
    )
    parser.add_argument(
        "--signins-per-user-month",
        type=float,
        metavar="N",
        help="sign-ins per user per month for scaling a simulated window to a month "
        # 21 is reports.billing_usage.DEFAULT_SIGNINS_PER_USER_MONTH (not imported: the
        # command line starts without pandas; tests/mfalab/cli/test_report_help.py keeps
        # them equal)
        "(default: the scenario's billing.signins_per_user_month, else 21: one per working "
        "day, assumed)",
    )
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from reports.loaders import ReportInputError
    from reports.run_report import write_run_report

    if args.out is not None and args.out.suffix.lower() not in (".html", ".htm"):
        raise UsageError(f"--out {args.out}: the report is HTML; give a FILE.html")
    if args.signins_per_user_month is not None and args.signins_per_user_month < 0:
        raise UsageError("--signins-per-user-month: must not be negative")
    if not args.run_dirs and not args.logs:
        raise UsageError("give at least one RUN_DIR or --logs FILE.parquet")
    if (args.enabled_users is not None or args.licensed_users) and not args.logs:
        raise UsageError("--enabled-users and --licensed-users apply to --logs only")
    for name in ("enabled_users", "licensed_users"):
        value = getattr(args, name)
        if value is not None and value < 0:
            raise UsageError(f"--{name.replace('_', '-')}: must not be negative")
    try:
        written = write_run_report(
            args.run_dirs,
            args.out,
            pricing=args.pricing,
            signins_per_user_month=args.signins_per_user_month,
            logs=args.logs,
            enabled_users=args.enabled_users,
            licensed_users=args.licensed_users,
        )
    except ReportInputError as exc:
        raise UsageError(str(exc)) from None
    print(f"report: {written}")
    print(f"summary: {written.with_suffix('.md')}")
    return 0
