"""A cluster of named MFA servers on this machine, optionally behind nginx.

``Cluster(ClusterSpec(server=entry, servers=3))`` starts ``mfa1``..``mfa3`` as separate
processes (``python -m <entry.module> <entry.arguments> --host H --port P --workers N``, the
``ServerEntry`` the caller declares: the package that composes the app, e.g. with a simulated
gateway, is above this one and is not named here) that share one database and one API key,
configured by ``MFALAB_*`` in their environment, and in server mode keep
their pending codes in their own memory — the seed's multi-server deployment, where only the
server that sent a code can validate it. With ``pending="redis://..."`` every server sees
every code. ``lb="nginx"`` puts nginx in front (``policy`` round_robin, random, sticky or auth_id).

The schema is created once by the parent before the servers start, so N servers never race
to create the same tables. ``stop`` (also on leaving the ``with`` block) stops the load
balancer first, then every server with SIGTERM — uvicorn finishes the requests in flight
and closes the database — and SIGKILL only after a grace period.

The cluster is a supervisor, not a fuse: ``revive`` restarts a server that died (the others
keep serving), handing back its exit code and last log lines so the caller can show why;
a server that keeps dying is given up after ``_MAX_RESTARTS`` restarts in
``_RESTART_WINDOW`` seconds. The work directory (the default SQLite database with the
audit log, and every server's log) is never deleted: it is the evidence of what happened.
"""

from __future__ import annotations

import atexit
import base64
import os
import secrets
import sys
import tempfile
import time
import weakref
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

import httpx

from mfa.api.children import ChildProcess, free_port
from mfa.api.nginx import POLICIES, Backend, NginxBalancer, NginxMissing
from mfa.errors import MfaError
from mfa.settings import shared_store_problem

__all__ = ["Cluster", "ClusterError", "ClusterSpec", "NginxMissing", "Revival", "ServerEntry"]

_GRACE_SECONDS = 10.0
_START_TIMEOUT = 60.0
#: a server restarted this many times within the window is left down
_MAX_RESTARTS = 5
_RESTART_WINDOW = 60.0


class ClusterError(MfaError):
    """The cluster could not be set up or started; the message says which part and why."""


@dataclass(frozen=True)
class ServerEntry:
    """How to start one server process: ``python -m <module> <arguments>`` followed by
    ``--host``, ``--port`` and ``--workers``; it reads ``MFALAB_*`` from its environment and
    answers ``GET /healthz`` when ready. Declared by the composition root (``mfalab.server``),
    so the engine's package starts servers without naming the package above it."""

    module: str
    arguments: tuple[str, ...] = ()

    def argv(self, host: str, port: int, workers: int) -> list[str]:
        return [
            sys.executable,
            "-m",
            self.module,
            *self.arguments,
            *("--host", host, "--port", str(port), "--workers", str(workers)),
        ]


@dataclass(frozen=True)
class ClusterSpec:
    """What to start. ``base_port=0``/``lb_port=0`` pick free ports (tests)."""

    server: ServerEntry  # how one server process is started
    servers: int = 1
    base_port: int = 8001
    host: str = "127.0.0.1"
    pending: str = "memory"  # or redis://...
    db_url: str | None = None  # default: a fresh SQLite file in the cluster's temp dir
    mode: str = "server"  # or "cloud"
    otp_timeout: float = 300.0
    gateway: str = "sink"  # or "simulated:scenarios/<x>.yaml"
    api_key: str | None = None  # generated if None
    secret_key: str | None = None  # generated if None (shared by all servers)
    workers: int = 1
    lb: str | None = None  # None or "nginx"
    policy: str = "round_robin"  # round_robin | random | sticky | auth_id (nginx routing)
    lb_port: int = 8000
    extra_env: Mapping[str, str] = field(default_factory=dict)
    #: where the database (by default) and the server logs go; a new temp dir if None.
    #: Never deleted by the cluster.
    workdir: str | None = None

    def check(self) -> None:
        problems = []
        if self.servers < 1:
            problems.append("servers must be at least 1")
        if self.workers < 1:
            problems.append("workers must be at least 1")
        if self.mode not in ("server", "cloud"):
            problems.append(f"mode {self.mode!r} is not 'server' or 'cloud'")
        if self.pending != "memory" and not self.pending.startswith(("redis://", "rediss://")):
            problems.append(f"pending {self.pending!r} is not 'memory' or a redis:// URL")
        if self.lb not in (None, "nginx"):
            problems.append(f"lb {self.lb!r} is not 'nginx'")
        if self.policy not in POLICIES:
            problems.append(f"policy {self.policy!r} is not one of {', '.join(POLICIES)}")
        if self.otp_timeout <= 0:
            problems.append("otp_timeout must be positive")
        shared = shared_store_problem(
            mode=self.mode, pending=self.pending, processes=self.servers * self.workers
        )
        if shared is not None:
            problems.append(shared)
        if problems:
            raise ClusterError("; ".join(problems))


def _new_secret_key() -> str:
    return base64.urlsafe_b64encode(os.urandom(32)).decode("ascii")


_LIVE: weakref.WeakSet[Cluster] = weakref.WeakSet()


@atexit.register
def _stop_leftovers() -> None:  # pragma: no cover - only when a caller forgot stop()
    for cluster in list(_LIVE):
        cluster.stop()


@dataclass(frozen=True)
class Revival:
    """A server that died and what the supervisor did about it."""

    name: str
    exit_code: int | None
    #: the last lines of its log, read before the restart
    log_tail: str
    restarted: bool
    #: why it was not restarted (``restarted`` is False), or why the restart failed
    problem: str | None = None


class Cluster:
    def __init__(self, spec: ClusterSpec) -> None:
        spec.check()
        self.spec = spec
        self.api_key: str = spec.api_key or secrets.token_urlsafe(24)
        self._secret_key = spec.secret_key or _new_secret_key()
        self.names: list[str] = [f"mfa{i + 1}" for i in range(spec.servers)]
        if spec.base_port == 0:
            ports = [free_port(spec.host) for _ in self.names]
        else:
            ports = [spec.base_port + i for i in range(spec.servers)]
        self.ports = ports
        self.urls: list[str] = [f"http://{spec.host}:{port}" for port in ports]
        self.lb_url: str | None = None
        if spec.workdir is None:
            self.workdir = Path(tempfile.mkdtemp(prefix="mfalab-cluster-"))
        else:
            self.workdir = Path(spec.workdir)
            self.workdir.mkdir(parents=True, exist_ok=True)
        #: restart times of each server, for the restart limit
        self._restarts: list[list[float]] = [[] for _ in range(spec.servers)]
        self._given_up: set[int] = set()
        self._stopped = False
        self.db_url: str = spec.db_url or f"sqlite:///{self.workdir / 'mfalab.db'}"
        self._servers: list[ChildProcess] = [
            ChildProcess(
                name,
                spec.server.argv(spec.host, port, spec.workers),
                env=self._server_env(i),
                log_path=self.workdir / f"{name}.log",
            )
            for i, (name, port) in enumerate(zip(self.names, ports, strict=True))
        ]
        self._balancer: NginxBalancer | None = None

    # ------------------------------------------------------------------ lifecycle

    def __enter__(self) -> Cluster:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> Cluster:
        """Start every server (and nginx); return when each ``/healthz`` answers."""
        spec = self.spec
        if spec.lb == "nginx":
            from mfa.api.nginx import find_nginx

            if find_nginx() is None:
                raise NginxMissing()
        _LIVE.add(self)
        try:
            self._create_schema()
            for child in self._servers:
                child.start()
            for index in range(len(self._servers)):
                self._wait_healthy(index)
            if spec.lb == "nginx":
                lb_port = spec.lb_port or free_port(spec.host)
                backends = [
                    Backend(name, spec.host, port)
                    for name, port in zip(self.names, self.ports, strict=True)
                ]
                self._balancer = NginxBalancer(
                    backends, policy=spec.policy, host=spec.host, port=lb_port
                )
                try:
                    self._balancer.start()
                except RuntimeError as exc:
                    raise ClusterError(str(exc)) from None
                self.lb_url = self._balancer.url
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Load balancer first, then all servers at once (SIGTERM, then SIGKILL)."""
        if self._balancer is not None:
            self._balancer.stop(_GRACE_SECONDS)
            self._balancer = None
            self.lb_url = None
        for child in self._servers:
            child.signal()
        for child in self._servers:
            child.wait(_GRACE_SECONDS)
        _LIVE.discard(self)
        self._stopped = True

    def restart(self, index: int) -> None:
        """Stop server ``index`` gracefully and start it again (its memory is lost)."""
        child = self._servers[index]
        child.stop(_GRACE_SECONDS)
        child.start()
        self._wait_healthy(index)

    def revive(self) -> list[Revival]:
        """Restart every server that died since the last call (not those ``stop`` ended),
        and say which, with their last log lines. The other servers are not touched."""
        if self._stopped:
            return []
        found: list[Revival] = []
        now = time.monotonic()
        for index, child in enumerate(self._servers):
            if child.running() or index in self._given_up or child.pid is None:
                continue
            name, code, tail = self.names[index], child.exit_code(), child.log_tail()
            recent = [t for t in self._restarts[index] if now - t < _RESTART_WINDOW]
            if len(recent) >= _MAX_RESTARTS:
                self._given_up.add(index)
                problem = (
                    f"{name} died {len(recent) + 1} times within {_RESTART_WINDOW:.0f} s; "
                    "left down (see its log)"
                )
                found.append(Revival(name, code, tail, restarted=False, problem=problem))
                continue
            self._restarts[index] = [*recent, now]
            child.start()
            try:
                self._wait_healthy(index)
            except ClusterError as exc:
                found.append(Revival(name, code, tail, restarted=False, problem=str(exc)))
                continue
            found.append(Revival(name, code, tail, restarted=True))
        return found

    def running(self) -> list[bool]:
        return [child.running() for child in self._servers]

    @property
    def pids(self) -> list[int | None]:
        """Process ids of the servers (uvicorn's parent process with ``workers > 1``)."""
        return [child.pid for child in self._servers]

    def log_tail(self, index: int, lines: int = 25) -> str:
        return self._servers[index].log_tail(lines)

    # ------------------------------------------------------------------ internals

    def _server_env(self, index: int) -> dict[str, str]:
        spec = self.spec
        peers = [url for i, url in enumerate(self.urls) if i != index]
        env = dict(os.environ)
        env.update(
            {
                "MFALAB_API_KEY": self.api_key,
                "MFALAB_SECRET_KEY": self._secret_key,
                "MFALAB_DB_URL": self.db_url,
                "MFALAB_PENDING": spec.pending,
                "MFALAB_MODE": spec.mode,
                "MFALAB_OTP_TIMEOUT": str(spec.otp_timeout),
                "MFALAB_SERVER_NAME": self.names[index],
                "MFALAB_SERVER_IP": spec.host,
                "MFALAB_GATEWAY": spec.gateway,
                "MFALAB_SINK_PEERS": ",".join(peers),
                "PYTHONUNBUFFERED": "1",
            }
        )
        env.update(spec.extra_env)
        return env

    def _create_schema(self) -> None:
        """Open the shared database once, so the servers find their tables ready."""
        from mfa.storage import derive_key, open_repository

        try:
            repository = open_repository(self.db_url, secret_key=derive_key(self._secret_key))
        except MfaError as exc:
            raise ClusterError(f"database {self.db_url!r}: {exc}") from None
        close = getattr(repository, "close", None)
        if close is not None:
            close()

    def _wait_healthy(self, index: int, timeout: float = _START_TIMEOUT) -> None:
        child, url, name = self._servers[index], self.urls[index], self.names[index]
        deadline = time.monotonic() + timeout
        with httpx.Client(timeout=1.0) as client:
            while True:
                if not child.running():
                    raise ClusterError(
                        f"{name} exited with code {child.exit_code()} at start-up:\n"
                        + child.log_tail()
                    )
                try:
                    answer = client.get(url + "/healthz")
                    if answer.status_code == 200:
                        served = answer.json().get("server")
                        if served != name:
                            raise ClusterError(
                                f"{url} answers as {served!r}, not {name!r}: is the port taken?"
                            )
                        return
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise ClusterError(
                        f"{name} did not answer on {url} within {timeout:.0f} s:\n"
                        + child.log_tail()
                    )
                time.sleep(0.05)
