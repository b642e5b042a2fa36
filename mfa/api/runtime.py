"""What one server process runs: settings, the engine and its ports, metrics, the sink.

``build_runtime`` is the only place that turns ``MFALAB_*`` settings into an engine: the
repository (``MFALAB_DB_URL``), the pending store (``MFALAB_PENDING``), the gateway
(``MFALAB_GATEWAY``), the policy (``MFALAB_MODE``/``MFALAB_OTP_TIMEOUT``) and the server's
identity. The runtime lives on ``app.state`` — never in a module global — and is closed by
the app's lifespan, so a graceful shutdown releases the database and Redis cleanly.
"""

from __future__ import annotations

import asyncio
import hmac
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, TypeVar

import anyio
import anyio.to_thread
import httpx

from mfa.api.metrics import Metrics
from mfa.clock import Clock, SystemClock
from mfa.delivery.sink import SinkGateway
from mfa.engine import Engine, ServerIdentity
from mfa.errors import MfaError
from mfa.fraud_counters import FraudCounters, MemoryFraudCounters
from mfa.policy import Mode, Policy
from mfa.settings import Settings

__all__ = [
    "Runtime",
    "ServerConfigError",
    "SimulatedGatewayFactory",
    "build_runtime",
    "sink_of",
]

#: Builds the gateway ``MFALAB_GATEWAY=simulated:<scenario>`` names, from the scenario file's
#: path, the sink it fills and the server's clock; the gateway has ``close()``. The engine's
#: package knows no simulator (the layer contract in ``pyproject.toml``): the composition root
#: (``mfalab.server``) passes one in. It raises ``OSError``/``ValueError`` for a bad file.
SimulatedGatewayFactory = Callable[[str, SinkGateway, Clock], Any]
T = TypeVar("T")


class ServerConfigError(MfaError):
    """The server cannot start with these settings; the message names the variable."""


@dataclass(eq=False)
class Runtime:
    settings: Settings
    engine: Engine
    metrics: Metrics
    #: The outbox ``GET /v1/sink/messages`` reads (None: the gateway is not the sink).
    sink: SinkGateway | None
    api_key: bytes
    closers: list[Callable[[], None]] = field(default_factory=list)
    _http: httpx.AsyncClient | None = None
    #: the last health check: (monotonic time, failing stores)
    _health: tuple[float, list[str]] | None = None
    #: the threads ``call`` runs engine steps on (made on first use)
    _engine_pool: ThreadPoolExecutor | None = None

    async def call(self, step: Callable[..., T], *args: Any) -> T:
        """Run one engine step (``engine.begin``, ``engine.verify``...) for a request.

        With stores across the network a step spends most of its time waiting on round
        trips; on the event loop that wait would hold every other request of this worker,
        so it runs on one of ``MFALAB_ENGINE_THREADS`` threads instead (a bounded pool: a
        burst queues here, not in the database's pool). With every store in this process
        the step runs on the loop: it is shorter than a thread hop.

        The pool is asyncio's own executor: its hop costs ≈ 25 µs of CPU against ≈ 55 µs
        for ``anyio.to_thread.run_sync`` with a limiter (uvloop, 2 threads, 8 callers). A
        step that has started runs to its end even if the request is cancelled; one still
        queued is dropped."""
        if self._engine_threads == 0:
            return step(*args)
        if self._engine_pool is None:
            self._engine_pool = ThreadPoolExecutor(
                self._engine_threads, thread_name_prefix="mfalab-engine"
            )
        return await asyncio.get_running_loop().run_in_executor(self._engine_pool, step, *args)

    @cached_property
    def _engine_threads(self) -> int:
        """``MFALAB_ENGINE_THREADS`` or its default, worked out once, not per request."""
        return self.settings.engine_thread_count

    def key_matches(self, presented: str) -> bool:
        return hmac.compare_digest(presented.encode("utf-8", "replace"), self.api_key)

    def http(self) -> httpx.AsyncClient:
        """A client for the other servers of the cluster (created on first use)."""
        if self._http is None:
            self._http = httpx.AsyncClient(
                timeout=httpx.Timeout(5.0),
                headers={"Authorization": "Bearer " + self.api_key.decode()},
            )
        return self._http

    async def failing(self, within: float = 0.5, fresh: float = 0.5) -> list[str]:
        """The stores that do not answer a ping within ``within`` seconds: ``"database"``,
        ``"redis"``. Each ping runs in a worker thread, so a hung store delays this answer
        by ``within`` at most and never blocks the event loop. A result is reused for
        ``fresh`` seconds (``/healthz`` stays the bare endpoint load tests measure), unless
        a request met a store failure since (``forget_health``)."""
        now = time.monotonic()
        if self._health is not None and now - self._health[0] < fresh:
            return list(self._health[1])
        found = await self._ping_stores(within)
        self._health = (time.monotonic(), found)
        return list(found)

    def forget_health(self) -> None:
        """A store just failed a request: the next ``/healthz`` asks again."""
        self._health = None

    async def _ping_stores(self, within: float) -> list[str]:
        checks = {
            "database": getattr(self.engine.repository, "ping", None),
            "redis": getattr(self.engine.pending, "ping", None),
        }
        found: list[str] = []

        async def check(name: str, ping: Callable[[], None]) -> None:
            with anyio.move_on_after(within) as scope:
                try:
                    await anyio.to_thread.run_sync(ping, abandon_on_cancel=True)
                except Exception:
                    found.append(name)
            if scope.cancelled_caught:
                found.append(name)

        async with anyio.create_task_group() as group:
            for name, ping in checks.items():
                if ping is not None:
                    group.start_soon(check, name, ping)
        return sorted(found)

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None
        if self._engine_pool is not None:
            self._engine_pool.shutdown(wait=True)  # the steps under way end first
            self._engine_pool = None
        while self.closers:
            self.closers.pop()()


def sink_of(gateway: object) -> SinkGateway | None:
    """The sink behind a gateway: the sink itself, or the one a simulated gateway fills."""
    if isinstance(gateway, SinkGateway):
        return gateway
    inner = getattr(gateway, "sink", None)
    return inner if isinstance(inner, SinkGateway) else None


def _required(value: object, variable: str) -> str:
    secret = getattr(value, "get_secret_value", None)
    text = secret() if secret is not None else value
    if not isinstance(text, str) or not text.strip():
        raise ServerConfigError(f"{variable} is required to serve (see docs/api.md)")
    return text


def build_runtime(
    settings: Settings,
    *,
    engine: Engine | None = None,
    simulated_gateway: SimulatedGatewayFactory | None = None,
) -> Runtime:
    """Open every port named by ``settings``; an injected ``engine`` is used as is (its
    owner closes it). ``simulated_gateway`` builds the gateway a ``simulated:`` setting
    names; without one such a setting is refused by name."""
    api_key = _required(settings.api_key, "MFALAB_API_KEY").encode()
    if engine is not None:
        return Runtime(settings, engine, Metrics(), sink_of(engine.gateway), api_key)

    from mfa.storage import derive_key, open_pending, open_repository

    secret = derive_key(_required(settings.secret_key, "MFALAB_SECRET_KEY"))
    closers: list[Callable[[], None]] = []
    try:
        server = ServerIdentity(settings.server_name, settings.server_ip)
    except ValueError as exc:
        raise ServerConfigError(f"MFALAB_SERVER_NAME: {exc}") from None
    clock = SystemClock()
    repository = open_repository(settings.db_url, secret_key=secret, timeout=settings.db_timeout)
    closers.append(getattr(repository, "close", _nothing))
    try:
        pending = open_pending(
            settings.pending, namespace=settings.redis_namespace, timeout=settings.redis_timeout
        )
        closers.append(getattr(pending, "close", _nothing))
        sink = SinkGateway()
        gateway = _gateway(settings, sink, clock, simulated_gateway, closers)
        policy = Policy(
            mode=Mode(settings.mode),
            pending_timeout_seconds=settings.otp_timeout,
            push_number_matching=settings.push_number_matching,
            fraud=settings.fraud_policy,
        )
        fraud_counters = _open_fraud_counters(settings, closers)
        built = Engine(
            server=server,
            clock=clock,
            repository=repository,
            pending=pending,
            gateway=gateway,  # type: ignore[arg-type]
            secret_key=secret,
            policy=policy,
            fraud_counters=fraud_counters,
        )
    except BaseException:
        while closers:
            closers.pop()()
        raise
    return Runtime(settings, built, Metrics(), sink, api_key, closers)


def _gateway(
    settings: Settings,
    sink: SinkGateway,
    clock: Clock,
    simulated_gateway: SimulatedGatewayFactory | None,
    closers: list[Callable[[], None]],
) -> object:
    """The sink, or the simulated gateway ``MFALAB_GATEWAY`` names (it fills the sink)."""
    scenario = settings.scenario_path
    if scenario is None:
        return sink
    if simulated_gateway is None:
        raise ServerConfigError(
            f"MFALAB_GATEWAY: {scenario}: a simulated gateway needs the simulator;"
            " start the server with `mfalab serve` (factory mfalab.server:create_app)"
        )
    try:
        gateway = simulated_gateway(scenario, sink, clock)
    except (OSError, ValueError) as exc:  # the simulator's ScenarioError is one
        raise ServerConfigError(f"MFALAB_GATEWAY: {scenario}: {exc}") from None
    closers.append(gateway.close)
    return gateway


def _open_fraud_counters(settings: Settings, closers: list[Callable[[], None]]) -> FraudCounters:
    """The fraud defences' counters (``MFALAB_FRAUD_COUNTERS``): shared in Redis for a
    cluster, or this process's memory. Not opened while every counted defence is off."""
    url = settings.fraud_counters_url
    if url == "memory" or not settings.fraud_policy.active:
        return MemoryFraudCounters()
    from mfa.storage.redis_fraud import RedisFraudCounters

    counters = RedisFraudCounters(
        url, namespace=settings.redis_namespace, timeout=settings.redis_timeout
    )
    closers.append(counters.close)
    return counters


def _nothing() -> None:
    return None
