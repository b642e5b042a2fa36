"""``mfalab loadtest``: a cluster, a Locust scenario against it, the results kept.

One command does what an engineer would otherwise do in three terminals: start N named
servers (``mfa.api.cluster.Cluster``, optionally behind nginx), run a locustfile from
``loadtests/`` headless against them with ``--csv``/``--html`` into ``--out``, and stop
everything afterwards — also on Ctrl-C, SIGTERM or a failure — exiting with Locust's exit
code (3 when a ``--threshold`` was violated). Locust runs as a child process in its own
session, so its gevent monkey-patching never touches this process, which only supervises
and passes a Ctrl-C or SIGTERM on to it as one SIGINT.

Routing: without ``--via-nginx`` the load generator spreads requests itself (``--lb``, see
``loadtests/routing.py``); with it, nginx does (``policy`` = ``--lb``) and the simulated
phones read texts from the servers directly.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

from loadtests.parameters import ROUTING_POLICIES, parse_duration
from mfalab.cli import UsageError

__all__ = ["ROUTING_POLICIES", "SCENARIOS", "locust_command", "parse_duration", "register"]

SCENARIOS = ("mixed", "sms", "totp", "push", "app_password", "pumping", "push_bombing", "healthz")
#: How long Locust may take to write its results after the run time (or a Ctrl-C).
_SHUTDOWN_GRACE = 30.0


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "loadtest",
        help="start a cluster and load-test it with a Locust scenario (headless)",
        description="Start N servers (optionally behind nginx), run loadtests/<scenario>.py "
        "headless against them, write Locust's CSV/HTML results into --out, stop everything. "
        "Arguments after -- go to Locust, e.g. -- --threshold 'p95<200ms' --shape storm.",
    )
    parser.add_argument("--servers", type=_positive_int, default=1, metavar="N")
    parser.add_argument(
        "--pending",
        default="memory",
        help="memory (each server keeps its codes) or redis://HOST:PORT/DB (shared)",
    )
    parser.add_argument(
        "--lb",
        choices=ROUTING_POLICIES,
        default="round_robin",
        help="routing of begin vs verify across the servers: by the load generator, or by "
        "nginx with --via-nginx",
    )
    parser.add_argument(
        "--via-nginx", action="store_true", help="put nginx in front (policy = --lb)"
    )
    load = parser.add_mutually_exclusive_group()
    load.add_argument("--users", type=_positive_int, metavar="N", help="closed: N users (10)")
    load.add_argument(
        "--rate",
        type=_positive_float,
        metavar="R",
        help="open: R authentications started per second",
    )
    parser.add_argument("--duration", type=parse_duration, default=60.0, help="e.g. 60s, 5m")
    parser.add_argument("--scenario", choices=SCENARIOS, default="mixed")
    parser.add_argument(
        "--out", default=None, help="results directory (default runs/loadtest-<time>)"
    )
    parser.add_argument("--db", default=None, metavar="URL", help="default: a temp SQLite file")
    parser.add_argument("--gateway", default="sink", help="sink, or simulated:scenarios/<x>.yaml")
    parser.add_argument(
        "--workers", type=_positive_int, default=1, metavar="N", help="uvicorn workers/server"
    )
    parser.add_argument(
        "--base-port", type=int, default=0, help="first server port (default: free ports)"
    )
    parser.add_argument("--lb-port", type=int, default=0, help="nginx port (default: a free port)")
    parser.add_argument(
        "--no-report", action="store_true", help="skip the HTML report (reports package)"
    )
    parser.add_argument("locust_args", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    parser.set_defaults(handler=_loadtest)


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} must be at least 1")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text} must be more than 0")
    return value


def locust_command(
    locustfile: Path,
    *,
    host: str,
    out: Path,
    duration: float,
    users: int | None,
    rate: float | None,
    servers: Sequence[str] = (),
    lb: str = "round_robin",
    sink: Sequence[str] = (),
    extra: Sequence[str] = (),
) -> list[str]:
    """The headless Locust command line (the API key travels in the environment)."""
    command = [
        sys.executable,
        "-m",
        "locust",
        "-f",
        str(locustfile),
        "--headless",
        "--host",
        host,
        "--run-time",
        f"{max(1, math.ceil(duration))}s",
        "--csv",
        str(out / "locust"),
        "--csv-full-history",
        "--html",
        str(out / "locust.html"),
        "--only-summary",
        # the logins in progress at the end finish rather than being cut between begin
        # and verify (a later --stop-timeout among the extra arguments wins)
        "--stop-timeout",
        "10",
    ]
    if rate is not None:
        command += ["--rate", f"{rate:g}"]
        if users is not None:
            command += ["--users", str(users)]
    else:
        command += ["--users", str(users or 10)]
    if len(servers) > 1:
        command += ["--servers", ",".join(servers), "--lb", lb]
    if sink:
        command += ["--sink", ",".join(sink)]
    return [*command, *extra]


def _loadtest(args: argparse.Namespace) -> int:
    from mfa.api.cluster import Cluster, ClusterError, ClusterSpec
    from mfalab.server import SERVER_ENTRY

    extra = list(args.locust_args)
    if extra[:1] == ["--"]:
        extra = extra[1:]
    if extra and not extra[0].startswith("-"):
        raise UsageError(f"unexpected argument {extra[0]!r} (Locust arguments go after --)")
    locustfile = Path(__file__).resolve().parents[2] / "loadtests" / f"{args.scenario}.py"
    if not locustfile.exists():
        raise UsageError(f"scenario file {locustfile} is missing")
    out = Path(args.out or f"runs/loadtest-{time.strftime('%Y%m%d-%H%M%S')}")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"--out {out}: {exc.strerror}") from None
    extra_env = {}
    if args.pending != "memory" and not os.environ.get("MFALAB_REDIS_NAMESPACE"):
        # this run's codes apart from any other cluster sharing the Redis server
        extra_env["MFALAB_REDIS_NAMESPACE"] = f"mfalab-lt-{secrets.token_hex(4)}"
    try:
        spec = ClusterSpec(
            server=SERVER_ENTRY,
            servers=args.servers,
            base_port=args.base_port,
            pending=args.pending,
            db_url=args.db,
            gateway=args.gateway,
            workers=args.workers,
            lb="nginx" if args.via_nginx else None,
            policy=args.lb,
            lb_port=args.lb_port,
            extra_env=extra_env,
        )
        cluster = Cluster(spec)
    except (ClusterError, ValueError) as exc:  # a bad spec is the user's input
        raise UsageError(str(exc)) from None

    manifest: dict[str, Any] = {
        "kind": "loadtest",
        "scenario": args.scenario,
        "servers": args.servers,
        "pending": "memory" if args.pending == "memory" else "redis",
        "lb": args.lb,
        "via_nginx": args.via_nginx,
        "users": args.users,
        "rate": args.rate,
        "duration_s": args.duration,
        "gateway": args.gateway,
        "locust_args": extra,
        "names": cluster.names,
        "started_at": time.time(),
    }
    code = 1
    with _interrupts_unwind():
        try:
            _start(cluster)
            host = cluster.lb_url or cluster.urls[0]
            command = locust_command(
                locustfile,
                host=host,
                out=out,
                duration=args.duration,
                users=args.users,
                rate=args.rate,
                servers=() if args.via_nginx else cluster.urls,
                lb=args.lb,
                sink=cluster.urls if args.via_nginx else (),
                extra=extra,
            )
            manifest.update(urls=cluster.urls, lb_url=cluster.lb_url, command=command[1:])
            _write_manifest(out, manifest)
            print(f"mfalab loadtest: {args.scenario} against {host} → {out}", flush=True)
            code = _run_locust(command, {**os.environ, "MFALAB_API_KEY": cluster.api_key})
        except KeyboardInterrupt:
            code = 130
        finally:
            cluster.stop()
    manifest.update(exit_code=code, finished_at=time.time())
    _write_manifest(out, manifest)
    if not args.no_report and (out / "locust_stats.csv").exists():
        _report(out)
    return code


def _start(cluster: Any) -> None:
    from mfa.api.cluster import ClusterError, NginxMissing

    try:
        cluster.start()
    except (ClusterError, NginxMissing) as exc:
        raise UsageError(f"the cluster did not start: {exc}", exit_code=1) from None


def _run_locust(command: Sequence[str], env: dict[str, str]) -> int:
    """Run Locust to its end. It runs in its own session, so a Ctrl-C reaches only this
    process, which passes exactly one SIGINT on (two would cut Locust's shutdown short)."""
    process = subprocess.Popen(
        list(command), env=env, stdin=subprocess.DEVNULL, start_new_session=True
    )
    try:
        return process.wait()
    except KeyboardInterrupt:
        _interrupt(process)
        raise


def _interrupt(process: subprocess.Popen[bytes]) -> None:
    """Locust writes its results on SIGINT; the grace running out or a second Ctrl-C kills it."""
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
    try:
        process.wait(_SHUTDOWN_GRACE)
    except (subprocess.TimeoutExpired, KeyboardInterrupt):
        process.kill()
        process.wait()


@contextmanager
def _interrupts_unwind() -> Iterator[None]:
    """Ctrl-C (SIGINT) and SIGTERM unwind as ``KeyboardInterrupt``, so the ``finally`` that
    stops the cluster runs and Locust is asked to write its results.

    SIGINT is set explicitly, not left as found: a command started as a background job of a
    non-interactive shell (``make test &``, many CI runners) inherits SIGINT *ignored*, and
    Python then installs no Ctrl-C handler — the SIGINT would be lost, and Locust, inheriting
    the ignore, would never stop either. A handler set here is reset to the default in the
    children at exec, so Locust gets its own Ctrl-C handling back too."""

    def interrupt(_signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous_int = signal.signal(signal.SIGINT, signal.default_int_handler)
    previous_term = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous_term)
        signal.signal(signal.SIGINT, previous_int)


def _write_manifest(out: Path, manifest: dict[str, Any]) -> None:
    (out / "loadtest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")


def _report(out: Path) -> None:
    try:
        from reports.run_report import write_run_report

        path = write_run_report([out])
    except Exception as exc:  # the load test itself is done: say why, go on
        print(f"mfalab loadtest: no report ({exc.__class__.__name__}: {exc})", file=sys.stderr)
        return
    print(f"mfalab loadtest: report {path}")
