"""``mfalab serve`` and ``mfalab cluster``: the engine over HTTP, one server or several.

``serve`` runs one named server with uvicorn (``--workers N`` processes on one port).
``cluster`` runs N named servers sharing one database, optionally behind nginx, prints their
URLs and stops them all on Ctrl-C or SIGTERM. Configuration comes from ``MFALAB_*`` (see
docs/api.md); a bad value is reported with its variable name, exit code 2.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from mfalab.cli import UsageError
from mfalab.cli.loadtest import ROUTING_POLICIES

if TYPE_CHECKING:
    from mfa.api.cluster import Cluster, ClusterSpec

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    serve = subparsers.add_parser(
        "serve",
        help="serve the engine over HTTP (FastAPI/uvicorn)",
        description="Serve the engine over HTTP. Configuration: MFALAB_* (docs/api.md).",
    )
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=_positive, default=1, metavar="N")
    serve.add_argument(
        "--dev",
        action="store_true",
        help="development: generate MFALAB_API_KEY (printed once) and MFALAB_SECRET_KEY when "
        "unset; with a generated secret key and no MFALAB_DB_URL, use a throwaway database",
    )
    serve.add_argument("--access-log", action="store_true", help="log every request")
    serve.set_defaults(handler=_serve)

    cluster = subparsers.add_parser(
        "cluster",
        help="run N named servers sharing one database, optionally behind nginx",
        description="Start mfa1..mfaN on consecutive ports; Ctrl-C or SIGTERM stops them all.",
    )
    cluster.add_argument("--servers", type=_positive, default=3, metavar="N")
    cluster.add_argument("--base-port", type=int, default=8001)
    cluster.add_argument("--host", default="127.0.0.1")
    cluster.add_argument(
        "--pending",
        default=os.environ.get("MFALAB_PENDING", "memory"),
        help="memory (codes in each server's memory) or redis://HOST:PORT/DB (shared)",
    )
    cluster.add_argument("--db", default=None, metavar="URL", help="default: a temp SQLite file")
    cluster.add_argument("--mode", choices=("server", "cloud"), default="server")
    cluster.add_argument("--otp-timeout", type=float, default=300.0, metavar="SECONDS")
    cluster.add_argument("--gateway", default="sink", help="sink or simulated:scenarios/<x>.yaml")
    cluster.add_argument("--workers", type=_positive, default=1, metavar="N")
    cluster.add_argument("--lb", choices=("nginx",), default=None)
    cluster.add_argument("--policy", choices=ROUTING_POLICIES, default="round_robin")
    cluster.add_argument("--lb-port", type=int, default=8000)
    cluster.add_argument(
        "--workdir",
        default=None,
        metavar="DIR",
        help="database (by default) and server logs; default: a new temp dir. Never deleted",
    )
    cluster.set_defaults(handler=_cluster)


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} must be at least 1")
    return value


# ---------------------------------------------------------------------------- serve


def _serve(args: argparse.Namespace) -> int:
    import uvicorn
    from pydantic import ValidationError

    from mfa.errors import MfaError
    from mfa.settings import Settings, shared_store_problem
    from mfalab.server import create_app

    with _dev_environment(args.dev, args.workers), _metrics_directory(args.workers):
        try:
            settings = Settings()
        except ValidationError as exc:
            raise UsageError(_settings_problem(exc)) from None
        if settings.api_key is None:
            raise UsageError("MFALAB_API_KEY is required (or run `mfalab serve --dev`)")
        if settings.secret_key is None:
            raise UsageError("MFALAB_SECRET_KEY is required (or run `mfalab serve --dev`)")
        problem = shared_store_problem(
            mode=settings.mode, pending=settings.pending, processes=args.workers
        )
        if problem is not None:
            raise UsageError(problem)
        try:
            # built here first so a bad database, store or key fails now, with its name
            app = create_app(settings)
        except MfaError as exc:
            raise UsageError(str(exc)) from None
        options = {
            "host": args.host,
            "port": args.port,
            "log_level": "info",
            "access_log": args.access_log,
            "timeout_graceful_shutdown": 10,
            "server_header": False,
        }
        print(
            f"mfalab serve: {settings.server_name} on http://{args.host}:{args.port}"
            f" ({args.workers} worker{'s' if args.workers > 1 else ''}, "
            f"pending={settings.pending}, mode={settings.mode})",
            flush=True,
        )
        if args.workers > 1 and settings.pending == "memory":
            print(
                "mfalab serve: note: with MFALAB_PENDING=memory each worker keeps its own codes"
                " and outbox; a client must stay on one connection per sign-in"
                " (see docs/api.md)",
                flush=True,
            )
        with _sigterm_stops():
            if args.workers == 1:
                uvicorn.run(app, **options)  # type: ignore[arg-type]
            else:
                # each worker builds its own app from the same environment
                uvicorn.run(
                    "mfalab.server:create_app", factory=True, workers=args.workers, **options
                )  # type: ignore[arg-type]
    return 0


class _Stop(Exception):
    """SIGTERM: leave the serving loop normally, so clean-ups run and the exit code is 0."""


@contextmanager
def _sigterm_stops(*, reraise: bool = False) -> Iterator[None]:
    """SIGTERM raises ``_Stop`` in the main thread. uvicorn shuts down gracefully on
    SIGTERM and then re-raises the signal to the handler it found: ours ends ``serve``
    normally instead of the default handler killing the process before its clean-ups."""

    def on_term(signum: int, frame: object) -> None:
        raise _Stop()

    previous = signal.signal(signal.SIGTERM, on_term)
    try:
        yield
    except _Stop:
        if reraise:
            raise
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextmanager
def _dev_environment(dev: bool, workers: int) -> Iterator[None]:
    if not dev:
        yield
        return
    throwaway: str | None = None
    if not os.environ.get("MFALAB_API_KEY"):
        key = secrets.token_urlsafe(32)
        os.environ["MFALAB_API_KEY"] = key
        print(f"mfalab serve --dev: API key (shown once): {key}", flush=True)
    if not os.environ.get("MFALAB_SECRET_KEY"):
        from mfa.api.cluster import _new_secret_key

        os.environ["MFALAB_SECRET_KEY"] = _new_secret_key()
        if not os.environ.get("MFALAB_DB_URL"):
            # data sealed with a key nobody kept is unreadable after a restart: throw it away
            throwaway = tempfile.mkdtemp(prefix="mfalab-dev-")
            os.environ["MFALAB_DB_URL"] = f"sqlite:///{throwaway}/mfalab.db"
            print(f"mfalab serve --dev: throwaway database in {throwaway}", flush=True)
    try:
        yield
    finally:
        if throwaway is not None:
            shutil.rmtree(throwaway, ignore_errors=True)


@contextmanager
def _metrics_directory(workers: int) -> Iterator[None]:
    """Several workers share their Prometheus samples through files in one directory."""
    if workers == 1 or os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        yield
        return
    directory = tempfile.mkdtemp(prefix="mfalab-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = directory
    try:
        yield
    finally:
        os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)
        shutil.rmtree(directory, ignore_errors=True)


def _settings_problem(exc: object) -> str:
    errors = getattr(exc, "errors", lambda: [])()
    parts = []
    for err in errors:
        name = "MFALAB_" + "_".join(str(p) for p in err.get("loc", ())).upper()
        message = str(err.get("msg", "invalid")).removeprefix("Value error, ")
        parts.append(f"{name}: {message}")
    return "; ".join(parts) or str(exc)


# ---------------------------------------------------------------------------- cluster


def _cluster(args: argparse.Namespace) -> int:
    from mfa.api.cluster import Cluster, ClusterError, ClusterSpec
    from mfalab.server import SERVER_ENTRY

    spec = ClusterSpec(
        server=SERVER_ENTRY,
        servers=args.servers,
        base_port=args.base_port,
        host=args.host,
        pending=args.pending,
        db_url=args.db or os.environ.get("MFALAB_DB_URL") or None,
        mode=args.mode,
        otp_timeout=args.otp_timeout,
        gateway=args.gateway,
        api_key=os.environ.get("MFALAB_API_KEY") or None,
        secret_key=os.environ.get("MFALAB_SECRET_KEY") or None,
        workers=args.workers,
        lb=args.lb,
        policy=args.policy,
        lb_port=args.lb_port,
        workdir=args.workdir,
    )
    try:
        cluster = Cluster(spec)
    except ClusterError as exc:
        raise UsageError(str(exc)) from None

    try:
        with _sigterm_stops(reraise=True):
            return _run_cluster(cluster, spec)
    except (KeyboardInterrupt, _Stop):
        print("mfalab cluster: stopping", flush=True)
        return 0
    finally:
        cluster.stop()
        print(f"mfalab cluster: work directory kept: {cluster.workdir}", flush=True)


def _run_cluster(cluster: Cluster, spec: ClusterSpec) -> int:
    from mfa.api.cluster import ClusterError, NginxMissing

    print(f"workdir   {cluster.workdir}  (database by default, server logs; kept)", flush=True)
    try:
        cluster.start()
    except NginxMissing as exc:
        raise UsageError(str(exc)) from None
    except ClusterError as exc:
        print(f"mfalab cluster: {exc}", file=sys.stderr)
        return 1
    for name, url in zip(cluster.names, cluster.urls, strict=True):
        print(f"{name}  {url}")
    if cluster.lb_url:
        print(f"lb    {cluster.lb_url}  (nginx, {spec.policy})")
    print(f"database  {cluster.db_url}")
    print(f"pending   {spec.pending}")
    print(
        "pids      "
        + " ".join(f"{n}={p}" for n, p in zip(cluster.names, cluster.pids, strict=True))
    )
    if spec.api_key is None:
        print(f"API key (shown once): {cluster.api_key}")
    print("Ctrl-C or SIGTERM stops the cluster.", flush=True)
    while True:
        time.sleep(0.5)
        # a server that died is restarted; the others keep serving meanwhile
        for revival in cluster.revive():
            print(
                f"mfalab cluster: {revival.name} stopped unexpectedly (exit code "
                f"{revival.exit_code}); its last log lines:\n{revival.log_tail}",
                file=sys.stderr,
                flush=True,
            )
            if revival.restarted:
                index = cluster.names.index(revival.name)
                print(
                    f"mfalab cluster: {revival.name} restarted (pid {cluster.pids[index]})",
                    file=sys.stderr,
                    flush=True,
                )
            else:
                print(f"mfalab cluster: {revival.problem}", file=sys.stderr, flush=True)
