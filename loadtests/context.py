"""One test's setup, per process: the ``init`` and ``test_start`` hooks and the context
every user of the process shares.

At the start the master fixes the plan and the pool id the workers follow (sent with the
spawn messages), enrols the pools once, then starts the clock: the run time and Locust's
rates count the logins only, not the enrolment before them."""

from __future__ import annotations

import logging
import math
import random
import secrets
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from weakref import WeakKeyDictionary

import gevent
from locust import events
from locust.contrib.fasthttp import FastHttpSession
from locust.env import Environment
from locust.event import EventHook
from locust.runners import MasterRunner, WorkerRunner
from locust.stats import RequestStats, setup_distributed_stats_event_listeners

from loadtests.accounts import (
    Account,
    AccountPool,
    Authenticator,
    account_for,
    plan_pool,
    push_account_for,
)
from loadtests.enrolment import SetupError, enrol_apps, enrol_pool
from loadtests.messaging import namespaced
from loadtests.names import N_SETUP_POOL, SETUP
from loadtests.options import ENGINE_DEFAULTS, LoadOptions, parse_servers
from loadtests.routing import Router, discover_names
from loadtests.shapes import ArrivalLimiter, LoadPlan

log = logging.getLogger("mfalab.loadtest")


@dataclass(slots=True)
class LoadContext:
    """Everything one process's users share during one test."""

    options: LoadOptions
    headers: dict[str, str]
    router: Router
    pool: AccountPool
    push_pool: AccountPool
    rng: random.Random
    tag: str
    arrivals: ArrivalLimiter | None = None
    #: authenticators and app passwords enrolled before the clock, taken by users on start
    totp_apps: deque[Authenticator] = field(default_factory=deque)
    app_passwords: deque[tuple[str, str]] = field(default_factory=deque)
    #: False when the setup failed: the run is quitting and no user logs in
    ready: bool = True
    _users: int = 0

    def new_user_id(self, flow: str) -> str:
        self._users += 1
        return f"lt-{self.options.run_id}-{self.tag}-{self._users}-{flow}"


_CONTEXTS: WeakKeyDictionary[Environment, LoadContext] = WeakKeyDictionary()
_CUSTOM_STATS: WeakKeyDictionary[Environment, RequestStats] = WeakKeyDictionary()


def shared_context(environment: Environment) -> LoadContext:
    try:
        return _CONTEXTS[environment]
    except KeyError:
        raise SetupError("the test has not started (no test_start event)") from None


def custom_stats(environment: Environment) -> RequestStats:
    """Per-login (``LOGIN``) and arrival (``ARRIVAL``) statistics of this environment."""
    if environment not in _CUSTOM_STATS:
        _CUSTOM_STATS[environment] = RequestStats(use_response_times_cache=False)
    return _CUSTOM_STATS[environment]


def _plan(environment: Environment) -> LoadPlan:
    """Workers take the master's plan (they do not see ``-u``/``-t``); others compute it."""
    options = environment.parsed_options
    data = getattr(options, "mfalab_plan", None) if options else None
    if is_worker(environment) and data:
        return LoadPlan.from_dict(data)
    return LoadPlan.of(options)


def is_worker(environment: Environment) -> bool:
    return isinstance(environment.runner, WorkerRunner)


def _setup_session(base_url: str) -> FastHttpSession:
    """An HTTP session outside Locust's statistics, for setup and discovery."""
    return FastHttpSession(base_url, request_event=EventHook(), user=None, concurrency=16)


@events.init.add_listener
def _on_init(environment: Environment, **_kwargs: Any) -> None:
    """Fix what must be equal on every process (the run id) before workers start: the
    master sends the custom options to its workers with each spawn message."""
    options = environment.parsed_options
    stats = custom_stats(environment)
    setup_distributed_stats_event_listeners(namespaced(environment.events, "mfalab"), stats)
    if options is None or is_worker(environment):
        return
    if not getattr(options, "run_id", ""):
        options.run_id = secrets.token_hex(4)
    # headless Locust fills in -u 1 and -r 1 later; remember what was really given
    options.mfalab_auto_users = getattr(options, "num_users", None) is None
    options.mfalab_auto_spawn = getattr(options, "spawn_rate", None) is None
    if not environment.host and getattr(options, "servers", ""):
        environment.host = parse_servers(options.servers)[0]


@events.test_start.add_listener
def _on_test_start(environment: Environment, **_kwargs: Any) -> None:
    """Build this process's context; on the master (or a single process) also fix the plan
    the workers follow and create the account pool."""
    options = LoadOptions.of(environment)
    worker = is_worker(environment)
    runner = environment.runner
    if not worker and environment.parsed_options is not None:
        # sent to the workers with the spawn messages that follow this event
        environment.parsed_options.mfalab_plan = LoadPlan.of(environment.parsed_options).as_dict()
        environment.parsed_options.mfalab_workers = max(1, getattr(runner, "worker_count", 1))
    plan = _plan(environment)
    host = (environment.host or (options.servers[0] if options.servers else "")).rstrip("/")
    headers = {"Authorization": f"Bearer {options.api_key}"} if options.api_key else {}
    session = _setup_session(host)
    names = discover_names(session, dict.fromkeys([*options.sink, *options.servers] or [host]))
    index = max(0, int(getattr(runner, "worker_index", 0) or 0)) if runner else 0
    # each worker uses the accounts whose index ≡ its worker index (mod workers)
    workers = int(getattr(environment.parsed_options, "mfalab_workers", 1) or 1) if worker else 1
    weights = flow_weights_of(environment, options)
    pools = plan_pool(plan, options, weights)
    if not worker and environment.parsed_options is not None:
        # a fresh pool under the run id at every start: a reused run id never inherits the
        # send quota an earlier run used (sent to the workers with the spawn messages)
        environment.parsed_options.mfalab_pool = f"{options.run_id}-{secrets.token_hex(3)}"
    pool_id = getattr(environment.parsed_options, "mfalab_pool", None) or options.run_id
    rng = random.Random(None if options.seed is None else options.seed * 1009 + index)

    def share(count: int, make: Callable[[str, int], Account]) -> list[Account]:
        # each worker uses the accounts whose index ≡ its worker index (mod workers)
        return [make(pool_id, i) for i in range(index % workers, count, workers)]

    context = LoadContext(
        options=options,
        headers=headers,
        router=Router(options.servers or (host,), options.lb, names),
        pool=AccountPool(
            share(pools.sms, account_for),
            limit=None if options.allow_rate_limit else pools.limit,
            window=float(ENGINE_DEFAULTS.send_window_seconds),
        ),
        push_pool=AccountPool(
            share(pools.push, push_account_for),
            limit=None if options.allow_rate_limit else pools.limit,
            window=float(ENGINE_DEFAULTS.send_window_seconds),
        ),
        rng=rng,
        tag=f"w{index}{secrets.token_hex(2)}",
    )
    _CONTEXTS[environment] = context
    stats = custom_stats(environment)
    stats.clear_all()  # login rates count from here, not from the setup
    if not worker and (pools.sms or pools.push):  # the master enrols the accounts, once
        try:
            if pools.too_small and not options.allow_rate_limit:
                raise SetupError(pools.problem(options, plan))
            batches = max(1, int(getattr(environment.parsed_options, "mfalab_workers", 1) or 1))
            timings = enrol_pool(session, headers, pool_id, pools, batches)
        except SetupError as exc:
            log.error("mfalab: %s", exc)
            context.ready = False
            environment.process_exit_code = 2
            if runner is not None:
                gevent.spawn(runner.quit)
            return
        for seconds in timings:  # reported apart: a SETUP row, never in the request table
            stats.log_request(SETUP, N_SETUP_POOL, seconds * 1000.0, 0)
    if not isinstance(runner, MasterRunner):  # the processes that run users
        users = math.ceil(plan.users / workers)
        try:
            enrol_apps(session, headers, context, stats, f"{pool_id}-{context.tag}", users, weights)
        except SetupError as exc:  # the users enrol on start instead
            log.warning("mfalab: %s; each user enrols on start instead", exc)
        except Exception:  # never a run without its clock: log, and users enrol on start
            log.exception("mfalab: enrolling the totp and app-password users failed")
    if not worker:
        _start_the_clock(environment)
    if plan.rate is not None:  # the schedule starts once users can log in
        context.arrivals = ArrivalLimiter(
            plan.rate_at,
            share=_process_share(environment, plan.users),
            poisson=options.arrivals == "poisson",
            rng=rng,
            max_lag=options.max_lag,
        )


def _start_the_clock(environment: Environment) -> None:
    """The run time and Locust's rates count from the end of the enrolment, not from the
    test start: the measured run is the logins only."""
    shape = environment.shape_class
    if shape is not None:
        shape.reset_time()
    if environment.runner is not None:
        environment.runner.stats.clear_all()


def flow_weights_of(environment: Environment, options: LoadOptions) -> dict[str, float]:
    """The flows this test's user classes run, summed over the classes (the MFA users: those
    that name their ``flow_weights``; the healthz user has none)."""
    total: dict[str, float] = {}
    for user_class in environment.user_classes:
        weights_of = getattr(user_class, "flow_weights", None)
        if isinstance(user_class, type) and callable(weights_of):
            for name, weight in weights_of(options).items():
                total[name] = total.get(name, 0.0) + weight
    return total


def _process_share(environment: Environment, planned: int) -> Callable[[], float]:
    """The fraction of the arrivals this process starts: its share of the users (a worker
    holds some of them; a single process all)."""

    def share() -> float:
        runner = environment.runner
        if not is_worker(environment) or runner is None:
            return 1.0
        return min(1.0, runner.user_count / planned)

    return share
