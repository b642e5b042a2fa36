"""What mfalab's locustfiles share: options, routing, accounts, the four login flows, the
open workload, login statistics and pass/fail thresholds.

Each locustfile (``sms.py``, ``totp.py``, ``push.py``, ``app_password.py``, ``mixed.py``)
only names its User class; everything else lives here, in one module, so the scenarios stay
a few lines each and every rule is written once.

The load generator plays the users and their phones, never the MFA server: whether a code
is wrong, expired, replayed or from the wrong server is what the server answers (the
engine's ``DenialReason``), and that answer is what Locust records as the failure, so
``wrong_server``, ``expired`` and ``rate_limited`` are separate rows of its failure table.
What the client decides on its own is only what a person would: how long to wait for a text
before asking for a new one, which code the phone shows, and when to give up.

Two kinds of numbers come out of a run: Locust's per-request statistics (the HTTP API as
the servers see it) and the per-*login* statistics kept here (a login is begin → code →
verify, including the wait for the text and any resend), merged across workers through
Locust's own report events and written next to Locust's CSVs.
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import math
import random
import re
import secrets
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from hashlib import sha256
from pathlib import Path
from types import SimpleNamespace
from typing import Any, ClassVar
from urllib.parse import quote
from weakref import WeakKeyDictionary

import gevent
import pyotp
from gevent.event import Event
from gevent.pool import Pool
from locust import FastHttpUser, LoadTestShape, events, task
from locust.contrib.fasthttp import FastHttpSession
from locust.env import Environment
from locust.event import EventHook
from locust.runners import MasterRunner, WorkerRunner
from locust.stats import (
    CSV_STATS_INTERVAL_SEC,
    RequestStats,
    StatsEntry,
    setup_distributed_stats_event_listeners,
)

from mfa.cli.loadtest import ROUTING_POLICIES, parse_duration
from mfa.delivery.message import extract_code
from mfa.engine import parse_auth_id
from mfa.policy import Policy
from mfa.push_proof import PushDevice
from mfa.reasons import AuthResult, AuthStatus
from mfa.users import parse_phone

__all__ = [
    "FLOWS",
    "ROUTING_POLICIES",
    "SETUP",
    "SHAPES",
    "Account",
    "AccountPool",
    "ArrivalLimiter",
    "Authenticator",
    "Denied",
    "LoadOptions",
    "LoadPlan",
    "MfaLoadShape",
    "MfaUser",
    "Profile",
    "Router",
    "Threshold",
    "account_for",
    "evaluate_thresholds",
    "parse_duration",
    "parse_mix",
    "parse_servers",
    "parse_thresholds",
]

log = logging.getLogger("mfalab.loadtest")

FLOWS = ("sms", "totp", "push", "app_password")
SHAPES = ("constant", "storm", "step")
DEFAULT_MIX = "sms=6,push=2,totp=1,app_password=1"

#: The client's patience comes from the engine's defaults ("up to five times in 5 minutes"):
#: wait a fifth of the window for a text, then ask for a new one, five sends at most.
_ENGINE_DEFAULTS = Policy()
DEFAULT_MAX_SENDS = _ENGINE_DEFAULTS.max_sends
DEFAULT_CODE_WAIT = _ENGINE_DEFAULTS.send_window_seconds / _ENGINE_DEFAULTS.max_sends

#: Request names: URL templates, so Locust groups every auth id under one row.
N_BEGIN = "/v1/auth ({flow})"
N_VERIFY = "/v1/auth/{{auth_id}}/verify ({flow})"
N_SINK = "/v1/sink/messages (phone)"
N_RESPOND = "/v1/push/{auth_id}/respond"
N_STATUS = "/v1/auth/{auth_id} (push status)"
N_APP_PASSWORD = "/v1/auth/app-password"
N_SETUP_USER = "/v1/users (setup)"
N_SETUP_METHOD = "/v1/users/{user_id}/methods (setup)"
N_SETUP_APP_PASSWORD = "/v1/users/{user_id}/app-passwords (setup)"
N_SETUP_POOL = "/v1/users/sync (pool, before the clock)"
N_SETUP_APPS = "/v1/users/sync (totp and app-password users, before the clock)"
N_SETUP_APP_PASSWORDS = "/v1/users/{user_id}/app-passwords (before the clock)"

#: Custom statistics: one LOGIN row per flow, ARRIVAL rows for the open workload, SETUP rows
#: for the enrolment requests users make before their first login (kept out of Locust's own
#: request table, so its totals and the plain thresholds measure the logins only).
LOGIN = "LOGIN"
ARRIVAL = "ARRIVAL"
SETUP = "SETUP"


# --------------------------------------------------------------------------- option values


def parse_servers(text: str) -> tuple[str, ...]:
    """``"http://127.0.0.1:8001,http://127.0.0.1:8002"`` → the base URLs, no trailing slash."""
    urls = tuple(u.strip().rstrip("/") for u in str(text).split(",") if u.strip())
    if not urls:
        raise argparse.ArgumentTypeError("give at least one server URL")
    for url in urls:
        if not re.fullmatch(r"https?://[^\s/]+(/[^\s]*)?", url):
            raise argparse.ArgumentTypeError(f"{url!r} is not an http(s):// URL")
    return urls


def _assignments(
    text: str, allowed: Iterable[str], form: str, shown: Iterable[str]
) -> Iterator[tuple[str, str, str]]:
    """``"a=1,b=2"`` → (item, key, value) for each comma-separated item; a key outside
    ``allowed`` (or an item without ``=``) is an argparse error naming the expected ``form``."""
    keys = set(allowed)
    for item in (p.strip() for p in str(text).split(",") if p.strip()):
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or key not in keys:
            raise argparse.ArgumentTypeError(f"{item!r}: expected {form} one of {', '.join(shown)}")
        yield item, key, value


def parse_mix(text: str) -> dict[str, float]:
    """``"sms=6,push=2,totp=1,app_password=1"`` → weights by flow (missing flows weigh 0)."""
    weights: dict[str, float] = {}
    for item, name, value in _assignments(text, FLOWS, "FLOW=WEIGHT with FLOW", FLOWS):
        try:
            weight = float(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{item!r}: the weight is not a number") from None
        if weight < 0 or not math.isfinite(weight):
            raise argparse.ArgumentTypeError(f"{item!r}: the weight must be 0 or more")
        weights[name] = weight
    if sum(weights.values()) <= 0:
        raise argparse.ArgumentTypeError(f"{text!r}: at least one flow needs a positive weight")
    return weights


def parse_think(text: str) -> tuple[float, float]:
    """``"1"`` or ``"0.5-1.5"`` (seconds) → the closed users' think time range."""
    low, _, high = str(text).partition("-")
    try:
        bounds = (float(low), float(high or low))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not SECONDS or MIN-MAX") from None
    if bounds[0] < 0 or bounds[1] < bounds[0]:
        raise argparse.ArgumentTypeError(f"{text!r}: need 0 <= MIN <= MAX")
    return bounds


_SHAPE_KEYS = {"ramp", "hold", "decay", "base", "step", "steps"}


def parse_shape_params(text: str) -> dict[str, float]:
    """``"ramp=20s,hold=10s,decay=30s,base=0.1"`` or ``"step=10s,steps=6"``."""
    params: dict[str, float] = {}
    for item, key, value in _assignments(
        text, _SHAPE_KEYS, "KEY=VALUE with KEY", sorted(_SHAPE_KEYS)
    ):
        number = float(value) if key in ("base", "steps") else parse_duration(value)
        if number < 0 or (key == "steps" and number < 1):
            raise argparse.ArgumentTypeError(f"{item!r}: out of range")
        params[key] = number
    return params


# --------------------------------------------------------------------------- thresholds

_THRESHOLD = re.compile(
    r"^\s*(?P<metric>[a-z_]*p\d+(?:\.\d+)?|[a-z_]+)\s*(?:\[(?P<selector>[^\]]+)\])?\s*"
    r"(?P<op><=|>=|<|>|==)\s*(?P<value>\d+(?:\.\d+)?)\s*(?P<unit>ms|s|%)?\s*$"
)
_PERCENTILE = re.compile(r"^(login_)?p(\d+(?:\.\d+)?)$")
_TIME_METRICS = {"avg", "min", "max", "med", "login_avg", "login_max"}
_RATIO_METRICS = {"fail_ratio", "success_ratio"}
_COUNT_METRICS = {
    "requests",
    "failures",
    "logins",
    "rps",
    "logins_per_s",
    "dropped",
    "scheduled",
}
_OPERATORS: dict[str, Callable[[float, float], bool]] = {
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
    "==": lambda a, b: a == b,
}


@dataclass(frozen=True, slots=True)
class Threshold:
    """A k6-style pass/fail criterion, e.g. ``p95<200ms`` or ``success_ratio>0.98``.

    Request metrics (``pNN``, ``avg``, ``max``, ``fail_ratio``, ``rps``, ``requests``) read
    Locust's statistics of the measured requests; an optional ``[text]`` keeps only the
    request names containing ``text``. Setup requests (a user's enrolment before its first
    login, named ``... (setup)``) count only when the ``[text]`` names them, e.g.
    ``p95[setup]<1s``. Login metrics (``success_ratio``, ``login_pNN``, ``logins``) read the
    per-login statistics; ``[flow]`` keeps one flow. ``dropped`` counts arrivals the open
    workload could not start, ``scheduled`` the logins it was asked for (completed +
    dropped); without ``[flow]``, ``success_ratio`` is successes / scheduled, so a dropped
    arrival is a failed login (it has no flow yet: ``[flow]`` ratios count started logins).
    Times are in ms unless written ``s``; ratios may be written with ``%``.
    """

    text: str
    metric: str
    selector: str | None
    op: str
    limit: float

    @classmethod
    def parse(cls, text: str) -> Threshold:
        match = _THRESHOLD.match(text)
        if match is None:
            raise argparse.ArgumentTypeError(
                f"{text!r} is not METRIC[selector]<op>VALUE, e.g. p95<200ms, fail_ratio<0.01"
            )
        metric, unit = match["metric"], match["unit"]
        known = _TIME_METRICS | _RATIO_METRICS | _COUNT_METRICS
        if metric not in known and not _PERCENTILE.match(metric):
            raise argparse.ArgumentTypeError(
                f"{text!r}: unknown metric {metric!r} (pNN, avg, med, min, max, fail_ratio, "
                "rps, requests, failures, success_ratio, login_pNN, login_avg, login_max, "
                "logins, logins_per_s, dropped, scheduled)"
            )
        limit = float(match["value"])
        timed = metric in _TIME_METRICS or bool(_PERCENTILE.match(metric))
        if unit in ("ms", "s") and not timed:
            raise argparse.ArgumentTypeError(f"{text!r}: {metric} is not a time")
        if unit == "%" and metric not in _RATIO_METRICS:
            raise argparse.ArgumentTypeError(f"{text!r}: {metric} is not a ratio")
        if unit == "s":
            limit *= 1000.0
        elif unit == "%":
            limit /= 100.0
        return cls(text.strip(), metric, match["selector"], match["op"], limit)

    def measure(self, requests: RequestStats, custom: RequestStats) -> float:
        """The metric's value at the end of the run (NaN when there is nothing to measure)."""
        metric = self.metric
        login = metric in _RATIO_METRICS - {"fail_ratio"} or metric.startswith("login")
        dropped = _dropped(custom)
        if metric == "dropped":
            return float(dropped)
        if metric == "scheduled":
            return float(_merged(custom, LOGIN, None).num_requests + dropped)
        if login:
            entry = _merged(custom, LOGIN, self.selector)
            metric = metric.removeprefix("login_").removeprefix("logins")
            metric = {"": "requests", "_per_s": "rps"}.get(metric, metric)
            if metric == "success_ratio" and self.selector is None:
                scheduled = entry.num_requests + dropped
                successes = entry.num_requests - entry.num_failures
                return successes / scheduled if scheduled else math.nan
        else:
            entry = _merged(requests, None, self.selector)
            if self.selector is not None:  # setup requests count when the selector names them
                setup = _merged(custom, SETUP, self.selector)
                if setup.num_requests:
                    entry = _combined(entry, setup)
        done = entry.num_requests
        if metric == "requests":
            return float(done)
        if metric == "failures":
            return float(entry.num_failures)
        if metric == "rps":
            return float(entry.total_rps)
        if done == 0:
            return math.nan
        if metric == "fail_ratio":
            return entry.num_failures / done
        if metric == "success_ratio":
            return (done - entry.num_failures) / done
        if metric == "avg":
            return float(entry.avg_response_time)
        if metric == "min":
            return float(entry.min_response_time or 0)
        if metric == "max":
            return float(entry.max_response_time)
        if metric == "med":
            return float(entry.median_response_time)
        percentile = _PERCENTILE.match(metric)
        assert percentile is not None
        return float(entry.get_response_time_percentile(float(percentile[2]) / 100.0))

    def passes(self, value: float) -> bool:
        return not math.isnan(value) and _OPERATORS[self.op](value, self.limit)


def parse_thresholds(text: str) -> list[Threshold]:
    """One ``--threshold`` value: one threshold or several separated by commas."""
    return [Threshold.parse(part) for part in str(text).split(",") if part.strip()]


def _merged(stats: RequestStats, method: str | None, selector: str | None) -> StatsEntry:
    """One entry adding up the rows whose method matches and whose name contains selector."""
    if method is None and selector is None:
        return stats.total
    entry = StatsEntry(stats, selector or "", method or "", use_response_times_cache=False)
    for (name, kind), row in stats.entries.items():
        if (method is None or kind == method) and (selector is None or selector in name):
            entry.extend(row)
    return entry


def _combined(*entries: StatsEntry) -> StatsEntry:
    first = entries[0]
    entry = StatsEntry(first.stats, first.name, first.method, use_response_times_cache=False)
    for other in entries:
        entry.extend(other)
    return entry


def _dropped(custom: RequestStats) -> int:
    row = custom.entries.get(("dropped", ARRIVAL))
    return row.num_requests if row is not None else 0


def evaluate_thresholds(
    thresholds: Sequence[Threshold], requests: RequestStats, custom: RequestStats
) -> list[dict[str, Any]]:
    """``[{"threshold", "value", "passed"}]``: the rows of ``thresholds.json``."""
    rows = []
    for threshold in thresholds:
        value = threshold.measure(requests, custom)
        rows.append(
            {
                "threshold": threshold.text,
                "value": None if math.isnan(value) else round(value, 6),
                "passed": threshold.passes(value),
            }
        )
    return rows


# --------------------------------------------------------------------------- options


def _checked(parse: Callable[[str], Any]) -> Callable[[str], str]:
    """An argparse type that validates with ``parse`` but keeps the text: options travel to
    workers (and through the web UI) as plain strings and are parsed where they are used."""

    def check(text: str) -> str:
        if str(text).strip():
            parse(text)
        return str(text)

    check.__name__ = parse.__name__.removeprefix("parse_")
    return check


@events.init_command_line_parser.add_listener
def _add_options(parser: Any) -> None:
    parser.add_argument(
        "--servers",
        type=_checked(parse_servers),
        default="",
        help="MFA servers to spread requests over, comma-separated URLs (default: --host)",
    )
    parser.add_argument(
        "--lb",
        choices=ROUTING_POLICIES,
        default="round_robin",
        help="client-side routing across --servers, nginx's names: round_robin (one strict "
        "rotation, every request to the next server), random (each request to a server drawn "
        "independently), sticky (each user keeps one server), auth_id (a request about an "
        "authentication goes to the server its auth id names)",
    )
    parser.add_argument(
        "--sink",
        type=_checked(parse_servers),
        default="",
        help="the servers' own URLs, where the simulated phones read texts when --host is a "
        "load balancer (default: --servers, else --host)",
    )
    parser.add_argument(
        "--api-key",
        env_var="MFALAB_API_KEY",
        default="",
        is_secret=True,
        help="the servers' MFALAB_API_KEY (default: that environment variable)",
    )
    parser.add_argument(
        "--user-pool",
        type=int,
        default=0,
        help="accounts enrolled before the clock starts for sms logins (default: enough "
        "that no account exceeds the engine's send limit, 5 texts per 300 s, at the planned "
        "rate; at most 50000). A pool too small for the plan is refused before the start",
    )
    parser.add_argument(
        "--allow-rate-limit",
        action="store_true",
        default=False,
        help="start even when the sms pool is too small for the planned rate, to measure the "
        "send limit itself (rate_limited failures expected)",
    )
    parser.add_argument(
        "--mix",
        type=_checked(parse_mix),
        default=DEFAULT_MIX,
        help=f"weights of the mixed user's flows (default {DEFAULT_MIX})",
    )
    parser.add_argument(
        "--rate",
        type=float,
        default=None,
        help="open workload: authentications started per second (at the peak of --shape), "
        "whatever the response times; -u is then the number of users serving them "
        "(default: twice the rate, at least 10)",
    )
    parser.add_argument(
        "--shape",
        choices=SHAPES,
        default="constant",
        help="load over time: constant, storm (a 9:00 login storm: ramp, hold, decay) or "
        "step (equal steps up to the peak, to find the knee)",
    )
    parser.add_argument(
        "--shape-params",
        type=_checked(parse_shape_params),
        default="",
        help="storm: ramp=,hold=,decay= (durations), base= (fraction of the peak); "
        "step: step= (duration), steps= (count)",
    )
    parser.add_argument(
        "--arrivals",
        choices=("uniform", "poisson"),
        default="uniform",
        help="open workload: evenly spaced starts or a Poisson process",
    )
    parser.add_argument(
        "--max-lag",
        type=float,
        default=1.0,
        help="open workload: an arrival no user could start within this many seconds is "
        "dropped (counted, like k6's dropped iterations)",
    )
    parser.add_argument(
        "--think",
        type=_checked(parse_think),
        default="0.5-1.5",
        help="closed workload: seconds between a user's logins, N or MIN-MAX (default 0.5-1.5)",
    )
    parser.add_argument(
        "--code-wait",
        type=float,
        default=DEFAULT_CODE_WAIT,
        help=f"seconds a user waits for a text before asking for a new code "
        f"(default {DEFAULT_CODE_WAIT:g}: the engine's send window / max sends)",
    )
    parser.add_argument(
        "--max-sends",
        type=int,
        default=DEFAULT_MAX_SENDS,
        help=f"sends a user asks for before giving up (default {DEFAULT_MAX_SENDS})",
    )
    parser.add_argument(
        "--push-timeout",
        type=float,
        default=30.0,
        help="seconds the login page polls a push authentication before giving up",
    )
    parser.add_argument(
        "--totp-accounts",
        type=int,
        default=4,
        help="authenticators each totp user enrols on start: it logs in at most this many "
        "times per 30 s step, then waits for the next step (codes are never reused)",
    )
    parser.add_argument(
        "--threshold",
        type=_checked(parse_thresholds),
        action="append",
        default=[],
        help="pass/fail criterion checked at the end, repeatable or comma-separated, e.g. "
        '"p95<200ms", "fail_ratio<0.01", "success_ratio>0.98"; violated: exit code 3',
    )
    parser.add_argument("--seed", type=int, default=None, help="seed of the users' choices")
    parser.add_argument(
        "--run-id",
        default="",
        include_in_web_ui=False,
        help="prefix of the accounts this run creates (default: random). Each start enrols "
        "a fresh pool under it, so a reused run id never inherits the send quota its "
        "accounts used in an earlier run",
    )


def _number(value: Any, kind: Callable[[Any], Any]) -> Any:
    return None if value in (None, "", "None") else kind(value)


@dataclass(frozen=True, slots=True)
class LoadOptions:
    """The options as the users read them, parsed from the strings every process holds."""

    servers: tuple[str, ...]
    lb: str
    sink: tuple[str, ...]
    api_key: str
    user_pool: int
    allow_rate_limit: bool
    mix: Mapping[str, float]
    rate: float | None
    arrivals: str
    max_lag: float
    think: tuple[float, float]
    code_wait: float
    max_sends: int
    push_timeout: float
    totp_accounts: int
    thresholds: tuple[Threshold, ...]
    seed: int | None
    run_id: str

    @classmethod
    def of(cls, environment: Environment) -> LoadOptions:
        ns = environment.parsed_options
        get = (lambda name, default: getattr(ns, name, default)) if ns else (lambda _n, d: d)
        texts = get("threshold", None) or []
        texts = [texts] if isinstance(texts, str) else texts
        servers, sink = get("servers", ""), get("sink", "")
        return cls(
            servers=parse_servers(servers) if servers else (),
            lb=get("lb", "round_robin"),
            sink=parse_servers(sink) if sink else (),
            api_key=get("api_key", "") or "",
            user_pool=_number(get("user_pool", 0), int) or 0,
            allow_rate_limit=get("allow_rate_limit", False) in (True, "True", "true", "1"),
            mix=parse_mix(get("mix", "") or DEFAULT_MIX),
            rate=_number(get("rate", None), float),
            arrivals=get("arrivals", "uniform"),
            max_lag=float(get("max_lag", 1.0)),
            think=parse_think(get("think", "") or "0.5-1.5"),
            code_wait=float(get("code_wait", DEFAULT_CODE_WAIT)),
            max_sends=int(get("max_sends", DEFAULT_MAX_SENDS)),
            push_timeout=float(get("push_timeout", 30.0)),
            totp_accounts=max(1, int(get("totp_accounts", 4))),
            thresholds=tuple(t for text in texts for t in parse_thresholds(text)),
            seed=_number(get("seed", None), int),
            run_id=get("run_id", "") or "",
        )


# --------------------------------------------------------------------------- load shapes


@dataclass(frozen=True, slots=True)
class Profile:
    """The load over time as a fraction of the peak (of ``--users`` or ``--rate``)."""

    shape: str = "constant"
    ramp: float = 0.0
    hold: float = 0.0
    decay: float = 0.0
    base: float = 0.1
    step: float = 10.0
    steps: int = 5

    @classmethod
    def resolve(cls, shape: str, params: Mapping[str, float], duration: float | None) -> Profile:
        """Fill what ``--shape-params`` left out from the run time (60 s when none)."""
        total = duration or 60.0
        if shape == "storm":
            return cls(
                "storm",
                ramp=params.get("ramp", 0.25 * total),
                hold=params.get("hold", 0.15 * total),
                decay=params.get("decay", 0.60 * total),
                base=min(1.0, params.get("base", 0.1)),
            )
        if shape == "step":
            steps = int(params.get("steps", 5))
            return cls("step", step=params.get("step", total / steps), steps=steps)
        return cls("constant")

    def level(self, t: float) -> float:
        if self.shape == "storm":
            if t < self.ramp:
                return self.base + (1.0 - self.base) * t / self.ramp
            t -= self.ramp
            if t < self.hold:
                return 1.0
            t -= self.hold
            if t < self.decay:
                return 1.0 - (1.0 - self.base) * t / self.decay
            return self.base
        if self.shape == "step":
            return min(self.steps, int(t // self.step) + 1) / self.steps
        return 1.0

    @property
    def length(self) -> float | None:
        """When the shape is over (``None``: it runs until the run time or Ctrl-C)."""
        if self.shape == "storm":
            return self.ramp + self.hold + self.decay
        if self.shape == "step":
            return self.step * self.steps
        return None

    def as_dict(self) -> dict[str, Any]:
        return {f: getattr(self, f) for f in self.__slots__}  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class LoadPlan:
    """How many users run and, in the open workload, how many logins start per second.

    Closed (``rate is None``): ``users × level(t)`` users, each logging in, thinking and
    logging in again. Open: ``users`` users take their turns from an arrival schedule of
    ``rate × level(t)`` starts per second, so the start rate does not slow down when the
    servers do (the difference between a login storm and a polite benchmark).
    """

    profile: Profile
    users: int
    spawn_rate: float
    rate: float | None = None
    duration: float | None = None

    @classmethod
    def of(cls, options: Any) -> LoadPlan:
        """From Locust's ``-u``/``-r``/``-t`` and ours (``--rate``, ``--shape``, ...)."""
        rate = _number(getattr(options, "rate", None), float)
        duration = getattr(options, "run_time", None) or None
        params = getattr(options, "shape_params", "") or ""
        profile = Profile.resolve(
            getattr(options, "shape", "constant"), parse_shape_params(params), duration
        )
        users = None if getattr(options, "mfalab_auto_users", False) else options.num_users
        if rate is not None:
            users = users or max(10, math.ceil(rate * 2))
        users = max(1, int(users or 1))
        spawn_rate = None if getattr(options, "mfalab_auto_spawn", False) else options.spawn_rate
        spawn_rate = spawn_rate or min(float(users), 100.0)
        return cls(profile, users, float(spawn_rate), rate, duration)

    def tick(self, t: float) -> tuple[int, float] | None:
        ends = [x for x in (self.duration, self.profile.length) if x]
        if ends and t >= min(ends):
            return None
        if self.rate is not None:
            return self.users, self.spawn_rate
        if self.profile.shape == "constant":
            return self.users, self.spawn_rate
        # the shape moves every second: spawn fast enough to follow it
        return math.ceil(self.users * self.profile.level(t)), max(self.spawn_rate, self.users)

    def rate_at(self, t: float) -> float:
        return (self.rate or 0.0) * self.profile.level(t)

    def as_dict(self) -> dict[str, Any]:
        return {
            "profile": self.profile.as_dict(),
            "users": self.users,
            "spawn_rate": self.spawn_rate,
            "rate": self.rate,
            "duration": self.duration,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LoadPlan:
        return cls(
            Profile(**data["profile"]),
            int(data["users"]),
            float(data["spawn_rate"]),
            data.get("rate"),
            data.get("duration"),
        )


class MfaLoadShape(LoadTestShape):
    """The one load shape of every scenario: closed users, an arrival rate (``--rate``), a
    9:00 storm or steps (``--shape``); it reads ``-u``, ``-r`` and ``-t`` itself."""

    use_common_options = True

    def tick(self) -> tuple[int, float] | None:
        assert self.runner is not None
        return LoadPlan.of(self.runner.environment.parsed_options).tick(self.get_run_time())


# --------------------------------------------------------------------------- open workload


class ArrivalLimiter:
    """An arrival schedule shared by the users of one process.

    ``wait()`` claims the next start time and sleeps until it; the caller then begins a
    login. Start times follow ``rate(t)`` (× this process's share of the users), evenly spaced
    or as a Poisson process, whether or not earlier logins have finished. When every user is
    busy a start runs late (the lag is reported); one more than ``max_lag`` late is dropped,
    as k6 drops iterations it has no virtual user for.
    """

    def __init__(
        self,
        rate: Callable[[float], float],
        *,
        share: Callable[[], float] = lambda: 1.0,
        poisson: bool = False,
        rng: random.Random | None = None,
        max_lag: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Any] = gevent.sleep,
    ) -> None:
        self._rate = rate
        self._share = share
        self._poisson = poisson
        self._rng = rng or random.Random()
        self._max_lag = max_lag
        self._clock = clock
        self._sleep = sleep
        self._start = clock()
        self._next = self._start
        self.dropped = 0

    def wait(self) -> tuple[float, float]:
        """Sleep until the next start; returns (scheduled start, lag in seconds)."""
        while True:
            now = self._clock()
            slot = self._next
            rate = self._rate(slot - self._start) * self._share()
            if rate <= 0:  # nothing to start now: look again shortly
                self._next = max(slot, now) + 0.1
                self._sleep(0.1)
                continue
            gap = self._rng.expovariate(rate) if self._poisson else 1.0 / rate
            lag = now - slot
            if lag > self._max_lag:
                missed = max(1, int((lag - self._max_lag) * rate))
                self.dropped += missed
                self._next = slot + missed / rate
                continue
            self._next = slot + gap
            if slot > now:
                self._sleep(slot - now)
                return slot, 0.0
            return slot, lag


# --------------------------------------------------------------------------- routing


class Router:
    """Client-side load balancing over ``--servers``.

    The policies are nginx's and the simulator's, under the same names.
    ``round_robin`` is nginx's default: one strict rotation of this process's requests, so
    with few users the turns phase-lock (one user against two servers: begin on one, verify
    on the other, every time: ``wrong_server`` 1, not 1/2). ``random`` lands each request
    on a server drawn independently (nginx's ``random``): a verify reaches the server that
    sent the code 1 time in k. ``sticky`` keeps each user on one server; ``auth_id`` sends a
    request about an authentication to the server its auth id names (the routing the seed's
    multi-server setup needs), and a begin round robin.
    """

    def __init__(self, urls: Sequence[str], policy: str, names: Mapping[str, str]) -> None:
        if policy not in ROUTING_POLICIES:
            raise ValueError(f"unknown routing policy {policy!r}")
        self.urls = tuple(urls)
        self.policy = policy
        self.names = dict(names)
        self._pinned = 0
        self._turn = 0
        self._draw = random.Random()

    def _next(self) -> str:
        if self.policy == "random":
            return self.urls[self._draw.randrange(len(self.urls))]
        url = self.urls[self._turn % len(self.urls)]
        self._turn += 1
        return url

    def pin(self) -> str | None:
        """The server a new sticky user keeps (``None`` for the other policies)."""
        if self.policy != "sticky":
            return None
        url = self.urls[self._pinned % len(self.urls)]
        self._pinned += 1
        return url

    def base(self, pinned: str | None = None, auth_id: str | None = None) -> str:
        """Where the next request goes; ``auth_id`` names the authentication it is about."""
        if pinned is not None:
            return pinned
        if self.policy == "auth_id" and auth_id is not None:
            parsed = parse_auth_id(auth_id)
            if parsed is not None and parsed[0] in self.names:
                return self.names[parsed[0]]
        return self._next()


def discover_names(session: FastHttpSession, urls: Iterable[str]) -> dict[str, str]:
    """Server name → URL, from each server's ``GET /healthz`` (which names the server)."""
    names: dict[str, str] = {}
    for url in urls:
        response = session.request("GET", f"{url}/healthz")
        body = _json(response)
        if response.status_code == 200 and isinstance(body, dict) and body.get("server"):
            names.setdefault(str(body["server"]), url)
        else:
            log.warning("%s/healthz did not name a server (status %s)", url, response.status_code)
    return names


# --------------------------------------------------------------------------- accounts

_PHONE_SPACE = 8_000_000
#: The largest pool sized automatically (5 sync batches of the API's 10,000 users).
_MAX_AUTO_POOL = 50_000
#: The shortest sms login a closed workload is assumed to repeat at (begin, one read of the
#: sink, verify on a fast local server): at ``--think 0`` the planned rate is users / this.
_MIN_LOGIN_S = 0.05
#: How far past its run time a run may go on starting logins (seconds).
_RUN_OVERSHOOT_S = 2.0
#: The most users one ``POST /v1/users/sync`` takes (``mfa.api.schemas.SYNC_MAX_USERS``; not
#: imported, so the load generator does not load the web app).
SYNC_BATCH_LIMIT = 10_000


@dataclass(frozen=True, slots=True)
class Account:
    """A pre-enrolled account: an sms account (its default method, to ``phone``) or a push
    account (an activated push method with ``device_token`` and the public key of
    ``device_seed``).

    ``device_seed`` is the private key of the account's authenticator app (Ed25519, 32
    bytes), derived from the pool id like everything else here so that the master registers
    the public key and every worker signs with the same key, without exchanging anything.
    Anyone who knows the run id can derive it: load-test accounts only."""

    user_id: str
    phone: str
    device_token: str
    device_seed: bytes

    @property
    def device(self) -> PushDevice:
        return _device(self.device_seed)


@lru_cache(maxsize=_MAX_AUTO_POOL)
def _device(seed: bytes) -> PushDevice:
    return PushDevice.from_seed(seed)


def account_for(run_id: str, index: int) -> Account:
    """The ``index``-th account of a pool: the same on the master and on every worker, so
    the master can enrol them and the workers use them without exchanging anything."""
    offset = int.from_bytes(sha256(run_id.encode()).digest()[:8], "big") % _PHONE_SPACE
    n = (offset + index) % _PHONE_SPACE
    phone = parse_phone(f"+1646{200 + n // 10_000:03d}{n % 10_000:04d}").e164
    seed = sha256(f"mfalab-loadtest-device:{run_id}:{index}".encode()).digest()
    return Account(f"lt-{run_id}-{index:06d}", phone, f"device-{run_id}-{index:06d}", seed)


def push_account_for(pool_id: str, index: int) -> Account:
    """The ``index``-th push account of a pool (apart from the sms accounts: each has one
    method, the one a sync enrols; push notifications count toward the same send limit)."""
    return account_for(f"{pool_id}-push", index)


class AccountPool:
    """Accounts leased one login at a time, least recently used first, so two concurrent
    logins never read each other's texts and sends spread over the accounts.

    With a ``limit`` (texts per ``window`` seconds, the engine's send limit) the pool also
    keeps the texts it asked for per account and never leases an account without room for
    a login and one resend: when the least recently used account has none, the lease waits
    until it has, so the client slows down rather than measuring ``rate_limited``."""

    def __init__(
        self,
        accounts: Iterable[Account],
        *,
        limit: int | None = None,
        window: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._free: deque[Account] = deque(accounts)
        self._returned = Event()
        self._limit = limit
        self._window = window
        self._clock = clock
        self._sends: dict[str, deque[float]] = {}
        #: leases that waited for an account's send quota (the pool is too small)
        self.quota_waits = 0
        #: per account, the newest ``sent_at`` of a text already used
        self.read_up_to: dict[str, float] = {}

    def __len__(self) -> int:
        return len(self._free)

    def sent(self, account: Account) -> None:
        """The server accepted a send to ``account`` (one text of its quota)."""
        if self._limit is not None:
            self._sends.setdefault(account.user_id, deque()).append(self._clock())

    def room_in(self, account: Account) -> float:
        """Seconds until ``account`` may start a login without reaching the send limit."""
        if self._limit is None:
            return 0.0
        sends = self._sends.get(account.user_id)
        if not sends:
            return 0.0
        now = self._clock()
        while sends and sends[0] <= now - self._window:
            sends.popleft()
        keep = max(1, self._limit - 1)  # a login may need a resend
        if len(sends) < keep:
            return 0.0
        return sends[len(sends) - keep] + self._window - now

    def lease(self, timeout: float = 30.0) -> Account | None:
        deadline = time.monotonic() + timeout
        while not self._free:
            self._returned.clear()
            if not self._returned.wait(max(0.0, deadline - time.monotonic())):
                return None
        account = self._free.popleft()
        wait = self.room_in(account)
        if wait > 0:
            self.quota_waits += 1
            if self.quota_waits == 1:
                log.warning(
                    "mfalab: the account pool is too small for this rate: a login waits "
                    "%.1f s for an account's send quota (raise --user-pool)",
                    wait,
                )
            if wait > deadline - time.monotonic():
                self.release(account)
                return None
            gevent.sleep(wait)
        return account

    def release(self, account: Account) -> None:
        self._free.append(account)
        self._returned.set()


@dataclass(frozen=True, slots=True)
class PoolPlan:
    """How many accounts a run enrols before its clock starts, and why.

    ``logins[flow]`` is the most logins of that flow (sms, push: both count toward the
    engine's send limit) the plan starts within one send window (or the run, when shorter);
    an account may take ``max_sends - 1`` of them per window (room for a resend), so
    ``needed[flow]`` accounts keep every returning account under the limit."""

    sizes: Mapping[str, int]
    logins: Mapping[str, float]
    needed: Mapping[str, int]
    window: float
    limit: int
    period: float

    @property
    def sms(self) -> int:
        return self.sizes.get("sms", 0)

    @property
    def push(self) -> int:
        return self.sizes.get("push", 0)

    @property
    def short(self) -> list[str]:
        """The flows whose pool is smaller than their logins need."""
        return [f for f, n in self.needed.items() if self.sizes.get(f, 0) < n]

    @property
    def too_small(self) -> bool:
        return bool(self.short)

    def problem(self, options: LoadOptions, plan: LoadPlan) -> str:
        how = (
            f"--rate {plan.rate:g}"
            if plan.rate is not None
            else f"{plan.users} users at --think {options.think[0]:g}-{options.think[1]:g} s "
            f"(a login takes at least {_MIN_LOGIN_S:g} s)"
        )
        given = (
            f"--user-pool {options.user_pool}"
            if options.user_pool
            else f"the largest automatic pool ({_MAX_AUTO_POOL})"
        )
        flows = "; ".join(
            f"up to {self.logins[f]:,.0f} {f} logins in {self.window:g} s, which need "
            f"{self.needed[f]:,} accounts, but the pool has {self.sizes.get(f, 0):,}"
            for f in self.short
        )
        return (
            f"this test would run into the send limit ({self.limit} texts per "
            f"{self.period:g} s per account): {how} starts {flows} ({given}). Raise "
            "--user-pool, lower the load, or add --allow-rate-limit to measure the limit itself"
        )


#: The flows whose logins send (a text or a push notification) and so use pooled accounts.
POOLED_FLOWS = ("sms", "push")


def plan_pool(plan: LoadPlan, options: LoadOptions, weights: Mapping[str, float]) -> PoolPlan:
    """Size the sms and push pools from the planned rate and the engine's send limit."""
    limit, period = _ENGINE_DEFAULTS.max_sends, float(_ENGINE_DEFAULTS.send_window_seconds)
    # a run lasts up to _RUN_OVERSHOOT_S past its run time (the shape stops at its next
    # one-second tick; the logins in progress finish)
    window = min((plan.duration or period) + _RUN_OVERSHOOT_S, period)
    total = sum(weights.values()) or 1.0
    if plan.rate is not None:
        rate = plan.rate  # the peak of the shape: the bound
    else:
        rate = plan.users / (sum(options.think) / 2 + _MIN_LOGIN_S)
    per_account = max(1, limit - 1)
    concurrent = max(100, 2 * plan.users)  # every user holds one account during a login
    sizes: dict[str, int] = {}
    logins: dict[str, float] = {}
    needed: dict[str, int] = {}
    for flow in POOLED_FLOWS:
        share = weights.get(flow, 0.0) / total
        if share <= 0:
            continue
        logins[flow] = rate * share * window
        needed[flow] = math.ceil(logins[flow] / per_account)
        sizes[flow] = options.user_pool or min(_MAX_AUTO_POOL, max(concurrent, needed[flow]))
    return PoolPlan(sizes, logins, needed, window, limit, period)


def _auto_pool_size(plan: LoadPlan, options: LoadOptions) -> int:
    """The sms pool of an sms-only test (kept for the callers that size one flow)."""
    return plan_pool(plan, options, {"sms": 1.0}).sms


def enrol_accounts(
    session: FastHttpSession,
    headers: Mapping[str, str],
    accounts: Sequence[Account],
    *,
    method: str,
    batches: int = 1,
) -> list[float]:
    """Enrol ``accounts`` with ``method`` (sms: their phone; push: their device token and
    the app's public key, active at once) through ``POST /v1/users/sync``, in ``batches``
    requests (one per worker; more when one would exceed the API's 10,000 users). Returns
    each request's seconds; any refusal is a ``SetupError`` naming the server's reason."""
    count = max(1, batches, math.ceil(len(accounts) / SYNC_BATCH_LIMIT))
    size = math.ceil(len(accounts) / count) if accounts else 0
    timings: list[float] = []
    for first in range(0, len(accounts), max(1, size)):
        chunk = accounts[first : first + size]
        users = [
            {"user_id": a.user_id, "method": method, "phone": a.phone}
            if method == "sms"
            else {
                "user_id": a.user_id,
                "method": method,
                "device_token": a.device_token,
                "public_key": a.device.public_key,
            }
            for a in chunk
        ]
        started = time.monotonic()
        response = session.request(
            "POST", "/v1/users/sync", json={"users": users}, headers=dict(headers)
        )
        timings.append(time.monotonic() - started)
        if response.status_code != 200:
            body = _json(response)
            detail = body.get("detail") if isinstance(body, dict) else None
            raise SetupError(
                f"enrolling {len(chunk)} {method} accounts (POST /v1/users/sync) failed: "
                f"{response.status_code or response.error}: {detail}"
            )
    return timings


class SetupError(Exception):
    """The run cannot start (bad API key, unreachable server, ...)."""


# --------------------------------------------------------------------------- the context


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


def _context(environment: Environment) -> LoadContext:
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
    if _is_worker(environment) and data:
        return LoadPlan.from_dict(data)
    return LoadPlan.of(options)


def _is_worker(environment: Environment) -> bool:
    return isinstance(environment.runner, WorkerRunner)


def _setup_session(base_url: str) -> FastHttpSession:
    """An HTTP session outside Locust's statistics, for setup and discovery."""
    return FastHttpSession(base_url, request_event=EventHook(), user=None, concurrency=16)


def _json(response: Any) -> Any:
    try:
        return json.loads(response.content or b"null")
    except (ValueError, TypeError):
        return None


@events.init.add_listener
def _on_init(environment: Environment, **_kwargs: Any) -> None:
    """Fix what must be equal on every process (the run id) before workers start: the
    master sends the custom options to its workers with each spawn message."""
    options = environment.parsed_options
    stats = custom_stats(environment)
    setup_distributed_stats_event_listeners(_namespaced(environment.events, "mfalab"), stats)
    if options is None or _is_worker(environment):
        return
    if not getattr(options, "run_id", ""):
        options.run_id = secrets.token_hex(4)
    # headless Locust fills in -u 1 and -r 1 later; remember what was really given
    options.mfalab_auto_users = getattr(options, "num_users", None) is None
    options.mfalab_auto_spawn = getattr(options, "spawn_rate", None) is None
    if not environment.host and getattr(options, "servers", ""):
        environment.host = parse_servers(options.servers)[0]


def _namespaced(real: Any, key: str) -> SimpleNamespace:
    """Locust's distributed-statistics listeners, with their payload under ``data[key]`` so
    the login statistics travel beside Locust's own without colliding."""

    def report(listener: Callable[..., None]) -> None:
        real.report_to_master.add_listener(
            lambda client_id, data: listener(client_id=client_id, data=data.setdefault(key, {}))
        )

    def receive(listener: Callable[..., None]) -> None:
        def on_worker_report(client_id: str, data: dict[str, Any]) -> None:
            if key in data:
                listener(client_id=client_id, data=data[key])

        real.worker_report.add_listener(on_worker_report)

    return SimpleNamespace(
        report_to_master=SimpleNamespace(add_listener=report),
        worker_report=SimpleNamespace(add_listener=receive),
    )


@events.test_start.add_listener
def _on_test_start(environment: Environment, **_kwargs: Any) -> None:
    """Build this process's context; on the master (or a single process) also fix the plan
    the workers follow and create the account pool."""
    options = LoadOptions.of(environment)
    worker = _is_worker(environment)
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
    weights = _flow_weights(environment, options)
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
            window=float(_ENGINE_DEFAULTS.send_window_seconds),
        ),
        push_pool=AccountPool(
            share(pools.push, push_account_for),
            limit=None if options.allow_rate_limit else pools.limit,
            window=float(_ENGINE_DEFAULTS.send_window_seconds),
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
            timings = _enrol_pool(session, headers, pool_id, pools, batches)
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
            _enrol_apps(
                session, headers, context, stats, f"{pool_id}-{context.tag}", users, weights
            )
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


def _enrol_pool(
    session: FastHttpSession,
    headers: Mapping[str, str],
    pool_id: str,
    pools: PoolPlan,
    batches: int,
) -> list[float]:
    """Enrol the sms and push pools, one sync request per worker for each; the seconds of
    each request."""
    started = time.monotonic()
    timings: list[float] = []
    if pools.sms:
        accounts = [account_for(pool_id, i) for i in range(pools.sms)]
        timings += enrol_accounts(session, headers, accounts, method="sms", batches=batches)
    if pools.push:
        accounts = [push_account_for(pool_id, i) for i in range(pools.push)]
        timings += enrol_accounts(session, headers, accounts, method="push", batches=batches)
    log.info(
        "mfalab: %d sms and %d push accounts enrolled in %.1f s before the clock started "
        "(%d POST /v1/users/sync; pool %s; %s sms and push logins planned per %g s, %d accounts "
        "needed)",
        pools.sms,
        pools.push,
        time.monotonic() - started,
        len(timings),
        pool_id,
        f"{sum(pools.logins.values()):,.0f}",
        pools.window,
        sum(pools.needed.values()),
    )
    return timings


def _enrol_apps(
    session: FastHttpSession,
    headers: Mapping[str, str],
    context: LoadContext,
    stats: RequestStats,
    prefix: str,
    users: int,
    weights: Mapping[str, float],
) -> None:
    """This process's totp authenticators (``--totp-accounts`` per user, one sync request)
    and app passwords (one user each, one sync request, then one request per password),
    before the clock, so users start logging in at once; reported apart (``SETUP`` rows)."""
    options = context.options
    if weights.get("totp", 0) > 0:
        ids = [f"lt-{prefix}-t{i:06d}" for i in range(users * options.totp_accounts)]
        for chunk in _chunks(ids):
            started = time.monotonic()
            entries = [{"user_id": user_id, "method": "totp"} for user_id in chunk]
            body = _sync(session, headers, entries)
            stats.log_request(SETUP, N_SETUP_APPS, (time.monotonic() - started) * 1000.0, 0)
            for method in body.get("methods", []):
                uri, secret = method.get("otpauth_uri"), method.get("secret")
                app = pyotp.parse_uri(uri) if uri else pyotp.TOTP(str(secret))
                assert isinstance(app, pyotp.TOTP)
                context.totp_apps.append(Authenticator(str(method["user_id"]), app))
    if weights.get("app_password", 0) > 0:
        ids = [f"lt-{prefix}-a{i:06d}" for i in range(users)]
        for chunk in _chunks(ids):
            started = time.monotonic()
            # a push method without a device: a user record that can never receive a text
            _sync(session, headers, [{"user_id": u, "method": "push"} for u in chunk])
            stats.log_request(SETUP, N_SETUP_APPS, (time.monotonic() - started) * 1000.0, 0)

        def create(user_id: str) -> None:
            started = time.monotonic()
            path = f"/v1/users/{quote(user_id)}/app-passwords"
            response = session.request("POST", path, headers=dict(headers))
            stats.log_request(
                SETUP, N_SETUP_APP_PASSWORDS, (time.monotonic() - started) * 1000.0, 0
            )
            body = _json(response)
            if response.status_code == 201 and isinstance(body, dict):
                context.app_passwords.append((user_id, str(body.get("app_password"))))

        Pool(16).map(create, ids)


def _chunks(items: Sequence[Any]) -> Iterator[Sequence[Any]]:
    for first in range(0, len(items), SYNC_BATCH_LIMIT):
        yield items[first : first + SYNC_BATCH_LIMIT]


def _sync(
    session: FastHttpSession, headers: Mapping[str, str], users: list[dict[str, Any]]
) -> dict[str, Any]:
    response = session.request(
        "POST", "/v1/users/sync", json={"users": users}, headers=dict(headers)
    )
    body = _json(response)
    if response.status_code != 200 or not isinstance(body, dict):
        detail = body.get("detail") if isinstance(body, dict) else None
        raise SetupError(
            f"enrolling {len(users)} users (POST /v1/users/sync) failed: "
            f"{response.status_code or response.error}: {detail}"
        )
    return body


def _start_the_clock(environment: Environment) -> None:
    """The run time and Locust's rates count from the end of the enrolment, not from the
    test start: the measured run is the logins only."""
    shape = environment.shape_class
    if shape is not None:
        shape.reset_time()
    if environment.runner is not None:
        environment.runner.stats.clear_all()


def _flow_weights(environment: Environment, options: LoadOptions) -> dict[str, float]:
    """The flows this test's user classes run, summed over the classes."""
    total: dict[str, float] = {}
    for user_class in environment.user_classes:
        if isinstance(user_class, type) and issubclass(user_class, MfaUser):
            for name, weight in user_class.flow_weights(options).items():
                total[name] = total.get(name, 0.0) + weight
    return total


def _process_share(environment: Environment, planned: int) -> Callable[[], float]:
    """The fraction of the arrivals this process starts: its share of the users (a worker
    holds some of them; a single process all)."""

    def share() -> float:
        runner = environment.runner
        if not _is_worker(environment) or runner is None:
            return 1.0
        return min(1.0, runner.user_count / planned)

    return share


# --------------------------------------------------------------------------- API calls


class Denied(Exception):
    """A failed request or login, named by the engine's denial reason (``wrong_server``) or,
    when the server gave none, by what the client saw (``http_500``, ``code_not_received``).
    Its ``repr`` is the bare reason, so each reason is one row in Locust's failure table."""

    def __repr__(self) -> str:
        return str(self.args[0])

    def __str__(self) -> str:
        return str(self.args[0])


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    body: Any
    reason: str | None

    @property
    def ok(self) -> bool:
        return self.reason is None

    def get(self, key: str) -> Any:
        return self.body.get(key) if isinstance(self.body, dict) else None


def _reason(status: int, expected: int, body: Any, error: BaseException | None) -> str | None:
    """The failure a response stands for, ``None`` when it is a success."""
    if status == 0:
        return _snake(type(error).__name__) if error else "no_response"
    given = body.get("reason") if isinstance(body, dict) else None
    if status != expected:
        return str(given) if given else f"http_{status}"
    if isinstance(body, dict) and (
        body.get("result") == AuthResult.DENIED
        or body.get("status") in (AuthStatus.DENIED, AuthStatus.EXPIRED)
    ):
        return str(given or body.get("status") or body.get("result"))
    return None


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower().removesuffix("_error")


# --------------------------------------------------------------------------- flows


class Flow:
    """One way to log in; ``login`` returns ``None`` on success or the failure's reason."""

    name: ClassVar[str] = ""

    def __init__(self, user: MfaUser) -> None:
        self.user = user

    def enrol(self) -> str | None:
        """Per-user enrolment (on start); returns a failure reason or ``None``."""
        return None

    def ready(self) -> None:
        """Wait until a login can start (before taking an arrival)."""

    def login(self) -> str | None:
        raise NotImplementedError

    def begin(self, user_id: str) -> Reply:
        return self.user.call(
            "POST",
            "/v1/auth",
            N_BEGIN.format(flow=self.name),
            {"user_id": user_id, "method": self.name},
            expected=201,
        )

    def verify(self, auth_id: str, code: str) -> Reply:
        return self.user.call(
            "POST",
            f"/v1/auth/{auth_id}/verify",
            N_VERIFY.format(flow=self.name),
            {"code": code},
            auth_id=auth_id,
        )

    def create_user(self) -> tuple[str, str | None]:
        user_id = self.user.shared.new_user_id(self.name)
        reply = self.user.call(
            "POST", "/v1/users", N_SETUP_USER, {"user_id": user_id}, expected=201
        )
        return user_id, reply.reason


class SmsFlow(Flow):
    """begin → the phone reads the text from the issuing server's sink → verify; when no
    text comes within ``--code-wait`` the user asks again, up to ``--max-sends`` sends."""

    name = "sms"

    def login(self) -> str | None:
        context = self.user.shared
        account = context.pool.lease()
        if account is None:
            return "pool_exhausted"
        try:
            return self._login(account)
        finally:
            context.pool.release(account)

    def _login(self, account: Account) -> str | None:
        options = self.user.shared.options
        since = time.time()
        issued: list[tuple[str, str]] = []  # (auth id, where its text can be read)
        for _send in range(max(1, options.max_sends)):
            reply = self.begin(account.user_id)
            if not reply.ok:
                return reply.reason
            self.user.shared.pool.sent(account)
            auth_id = str(reply.get("auth_id"))
            issued.append((auth_id, self._sink_of(reply.get("server"), auth_id)))
            found = self._read_code(account, issued, since, options.code_wait)
            if found is not None:
                auth_id, code = found
                return self.verify(auth_id, code).reason
        return "code_not_received"

    def _sink_of(self, server: Any, auth_id: str) -> str:
        names = self.user.shared.router.names
        parsed = parse_auth_id(auth_id)
        for name in (server, parsed[0] if parsed else None):
            if name in names:
                return names[name]
        return self.user.shared.router.urls[0]

    def _read_code(
        self,
        account: Account,
        issued: Sequence[tuple[str, str]],
        since: float,
        wait: float,
    ) -> tuple[str, str] | None:
        """Poll the sink(s) until a new text for this phone arrives; (auth id, code)."""
        pool = self.user.shared.pool
        deadline = time.monotonic() + wait
        delay = 0.0
        while True:
            for sink in dict.fromkeys(url for _id, url in reversed(issued)):
                found = self._newest(account, sink, issued, since, pool.read_up_to)
                if found is not None:
                    return found
            if time.monotonic() >= deadline:
                return None
            delay = min(1.0, max(0.05, delay * 2))
            gevent.sleep(min(delay, max(0.0, deadline - time.monotonic())))

    def _newest(
        self,
        account: Account,
        sink: str,
        issued: Sequence[tuple[str, str]],
        since: float,
        read_up_to: dict[str, float],
    ) -> tuple[str, str] | None:
        reply = self.user.call(
            "GET", f"/v1/sink/messages?to={quote(account.phone)}", N_SINK, base=sink
        )
        if not reply.ok or not isinstance(reply.body, list):
            return None
        ours = {auth_id for auth_id, _url in issued}
        floor = max(since - 1.0, read_up_to.get(account.user_id, 0.0))
        for message in reply.body:  # newest first
            if not isinstance(message, dict):
                continue
            sent = _timestamp(message.get("sent_at"))
            auth_id = message.get("auth_id")
            if auth_id is not None and auth_id not in ours:
                continue
            if auth_id is None and (sent is None or sent <= floor):
                continue
            code = message.get("code") or extract_code(str(message.get("text", "")))
            if not code:
                continue
            read_up_to[account.user_id] = max(sent or 0.0, read_up_to.get(account.user_id, 0.0))
            if auth_id is None:  # a text names no auth id: it answers the latest send here
                auth_id = next(a for a, url in reversed(issued) if url == sink)
            return str(auth_id), str(code)
        return None


def _timestamp(value: Any) -> float | None:
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value).timestamp()
        except ValueError:
            return None
    return None


@dataclass(slots=True)
class Authenticator:
    """An enrolled account and the authenticator app holding its secret."""

    user_id: str
    totp: pyotp.TOTP
    last_step: int | None = None

    def step(self, now: float) -> int:
        return int(now // self.totp.interval)

    def fresh(self, now: float) -> bool:
        """Whether the app shows a code not used yet (one login per time step)."""
        return self.last_step is None or self.step(now) > self.last_step


class TotpFlow(Flow):
    """Enrols ``--totp-accounts`` authenticators on start and logs in with one whose
    current code has not been used; when every one has logged in during this time step,
    the user waits for the next step: a code is never used twice."""

    name = "totp"

    def __init__(self, user: MfaUser) -> None:
        super().__init__(user)
        self.apps: list[Authenticator] = []

    def enrol(self) -> str | None:
        enrolled = self.user.shared.totp_apps
        while len(self.apps) < self.user.shared.options.totp_accounts:
            if enrolled:  # enrolled before the clock
                self.apps.append(enrolled.popleft())
                continue
            failed = self._enrol_one()
            if failed:
                return failed
        return None

    def _enrol_one(self) -> str | None:
        user_id, reason = self.create_user()
        if reason:
            return reason
        reply = self.user.call(
            "POST",
            f"/v1/users/{quote(user_id)}/methods",
            N_SETUP_METHOD,
            {"type": "totp", "default": True},
            expected=201,
        )
        if not reply.ok:
            return reply.reason
        uri, secret = reply.get("otpauth_uri"), reply.get("secret")
        app = pyotp.parse_uri(uri) if uri else pyotp.TOTP(str(secret))
        assert isinstance(app, pyotp.TOTP)
        self.apps.append(Authenticator(user_id, app))
        return None

    def ready(self) -> None:
        now = time.time()
        if self.apps and not any(app.fresh(now) for app in self.apps):
            oldest = min(self.apps, key=lambda app: app.last_step or 0)
            wake = ((oldest.last_step or 0) + 1) * oldest.totp.interval
            gevent.sleep(max(0.0, wake - now) + 0.01)

    def login(self) -> str | None:
        failed = self.enrol()
        if failed:
            return failed
        now = time.time()
        app = next((a for a in self.apps if a.fresh(now)), None)
        if app is None:
            self.ready()
            now = time.time()
            app = next(a for a in self.apps if a.fresh(now))
        reply = self.begin(app.user_id)
        if not reply.ok:
            return reply.reason
        now = time.time()
        app.last_step = app.step(now)
        return self.verify(str(reply.get("auth_id")), app.totp.at(now)).reason


class PushFlow(Flow):
    """begin → the device approves (``POST /v1/push/{auth_id}/respond``, signed with the
    account's key, with the number the login page shows) → the login page polls
    ``GET /v1/auth/{auth_id}`` until it is no longer pending."""

    name = "push"

    def login(self) -> str | None:
        context = self.user.shared
        account = context.push_pool.lease()
        if account is None:
            return "pool_exhausted"
        try:
            reply = self.begin(account.user_id)
            if not reply.ok:
                return reply.reason
            context.push_pool.sent(account)  # a notification counts toward the send limit
            auth_id = str(reply.get("auth_id"))
            # the person types the number the login page shows into the app (number
            # matching; absent when the servers run without it), the app signs its approval
            number = reply.get("number")
            typed = number if isinstance(number, int) else None
            body: dict[str, Any] = {
                "approve": True,
                "signature": account.device.answer(auth_id, True, typed),
            }
            if typed is not None:
                body["number"] = typed
            answer = self.user.call(
                "POST", f"/v1/push/{auth_id}/respond", N_RESPOND, body, auth_id=auth_id
            )
            if not answer.ok:
                return answer.reason
            return self._wait_for_status(auth_id, context.options.push_timeout)
        finally:
            context.push_pool.release(account)

    def _wait_for_status(self, auth_id: str, timeout: float) -> str | None:
        deadline = time.monotonic() + timeout
        delay = 0.05
        while True:
            status = self.user.call("GET", f"/v1/auth/{auth_id}", N_STATUS, auth_id=auth_id)
            if not status.ok or status.get("status") != AuthStatus.PENDING:
                return status.reason
            if time.monotonic() >= deadline:
                return "push_timeout"
            gevent.sleep(delay)
            delay = min(0.5, delay * 2)


class AppPasswordFlow(Flow):
    """Creates an app password on start (shown once) and signs in with it."""

    name = "app_password"

    def __init__(self, user: MfaUser) -> None:
        super().__init__(user)
        self.user_id: str | None = None
        self.password: str | None = None

    def enrol(self) -> str | None:
        if self.password is not None:
            return None
        if self.user.shared.app_passwords:  # enrolled before the clock
            self.user_id, self.password = self.user.shared.app_passwords.popleft()
            return None
        user_id, reason = self.create_user()
        if reason:
            return reason
        reply = self.user.call(
            "POST",
            f"/v1/users/{quote(user_id)}/app-passwords",
            N_SETUP_APP_PASSWORD,
            expected=201,
        )
        if not reply.ok:
            return reply.reason
        self.user_id, self.password = user_id, str(reply.get("app_password"))
        return None

    def login(self) -> str | None:
        failed = self.enrol()
        if failed or self.password is None:
            return failed or "not_enrolled"
        return self.user.call(
            "POST",
            "/v1/auth/app-password",
            N_APP_PASSWORD,
            {"user_id": self.user_id, "password": self.password},
        ).reason


FLOW_TYPES: dict[str, type[Flow]] = {
    f.name: f for f in (SmsFlow, TotpFlow, PushFlow, AppPasswordFlow)
}


# --------------------------------------------------------------------------- the user


class MfaUser(FastHttpUser):
    """A person logging in again and again with the flows of ``flow_weights`` (the mixed user
    takes ``--mix``). Closed workload: think ``--think`` seconds between logins; open
    workload (``--rate``): take the next start from the process's arrival schedule."""

    abstract = True
    #: the one flow of a single-flow scenario (the mixed user overrides ``flow_weights``)
    flow: ClassVar[str | None] = None

    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        self.shared = _context(environment)
        self.pinned = self.shared.router.pin()
        # one simulated client: nginx's sticky policy keys on this header, as all users
        # share the load generator's address
        self.headers = {**self.shared.headers, "X-Client-Id": self.shared.new_user_id("client")}
        self.mix = dict(self.flow_weights(self.shared.options))
        self.flows = {name: FLOW_TYPES[name](self) for name, w in self.mix.items() if w > 0}
        self._setup: FastHttpSession | None = None

    @classmethod
    def flow_weights(cls, options: LoadOptions) -> Mapping[str, float]:
        """The flows this user runs and their weights (the mixed user reads ``--mix``)."""
        return {cls.flow: 1.0} if cls.flow else {}

    def wait_time(self) -> float:
        if self.shared.arrivals is not None:
            return 0.0
        low, high = self.shared.options.think
        return self.shared.rng.uniform(low, high)

    def on_start(self) -> None:
        if not self.shared.ready:  # the setup failed: the run is quitting
            return
        for flow in self.flows.values():
            failed = flow.enrol()
            if failed:
                self._record(flow.name, time.perf_counter(), failed)

    @task
    def authenticate(self) -> None:
        if not self.shared.ready:  # the setup failed: wait for the quit, log in never
            gevent.sleep(1.0)
            return
        names = list(self.flows)
        weights = [self.mix[n] for n in names]
        flow = self.flows[self.shared.rng.choices(names, weights)[0]]
        flow.ready()
        started = time.perf_counter()
        arrivals = self.shared.arrivals
        if arrivals is not None:
            _scheduled, lag = arrivals.wait()
            # a login is timed from its scheduled start: a late start is part of its time
            started = time.perf_counter() - lag
            custom_stats(self.environment).log_request(ARRIVAL, "started", lag * 1000.0, 0)
            self._report_dropped(arrivals)
        try:
            reason = flow.login()
        except Exception:
            self._record(flow.name, started, "client_exception")
            raise
        self._record(flow.name, started, reason)

    def _report_dropped(self, arrivals: ArrivalLimiter) -> None:
        stats = custom_stats(self.environment)
        while arrivals.dropped:
            arrivals.dropped -= 1
            stats.log_request(ARRIVAL, "dropped", 0, 0)

    def _record(self, flow: str, started: float, reason: str | None) -> None:
        stats = custom_stats(self.environment)
        stats.log_request(LOGIN, flow, (time.perf_counter() - started) * 1000.0, 0)
        if reason is not None:
            stats.log_error(LOGIN, flow, reason)

    def call(
        self,
        method: str,
        path: str,
        name: str,
        payload: Mapping[str, Any] | None = None,
        *,
        expected: int = 200,
        auth_id: str | None = None,
        base: str | None = None,
    ) -> Reply:
        """One API request, routed, recorded under ``name`` and failed with the engine's
        denial reason when the server gives one."""
        url = (base or self.shared.router.base(self.pinned, auth_id)) + path
        client = self._setup_client() if name.endswith(" (setup)") else self.client
        with client.request(
            method,
            url,
            name=name,
            json=None if payload is None else dict(payload),
            headers=self.headers,
            catch_response=True,
        ) as response:
            body = _json(response) if response.status_code else None
            error = getattr(response, "error", None)
            reason = _reason(response.status_code, expected, body, error)
            if reason is None:
                response.success()
            else:
                response.failure(Denied(reason))
        return Reply(response.status_code, body, reason)

    def _setup_client(self) -> FastHttpSession:
        """A session for this user's enrolment: its requests go to the ``SETUP`` rows of the
        login statistics, not to Locust's request table (whose totals and thresholds
        measure the sign-ins)."""
        if self._setup is None:
            hook = EventHook()
            stats = custom_stats(self.environment)

            def record(name: str, response_time: float, exception: Any = None, **_: Any) -> None:
                stats.log_request(SETUP, name, response_time, 0)
                if exception is not None:
                    stats.log_error(SETUP, name, exception)

            hook.add_listener(record)
            self._setup = FastHttpSession(self.host, request_event=hook, user=None)
        return self._setup


# --------------------------------------------------------------------------- at the end


@events.quitting.add_listener
def _on_quitting(environment: Environment, **_kwargs: Any) -> None:
    """On the master (or a single process): print the logins, check the thresholds, write
    ``<csv prefix>_logins.csv`` and ``thresholds.json`` beside Locust's CSVs."""
    if _is_worker(environment) or environment.parsed_options is None:
        return
    options = LoadOptions.of(environment)
    stats = custom_stats(environment)
    prefix = getattr(environment.parsed_options, "csv_prefix", None)
    if prefix:
        # Locust rewrites its CSV files every CSV_STATS_INTERVAL_SEC and not again at exit:
        # give it one more turn, so the files hold the final numbers the thresholds read
        gevent.sleep(CSV_STATS_INTERVAL_SEC + 0.2)
    for line in login_summary(stats):
        log.info(line)
    if prefix:
        write_login_csv(stats, f"{prefix}_logins.csv")
    if not options.thresholds:
        return
    rows = evaluate_thresholds(options.thresholds, environment.stats, stats)
    for row in rows:
        value = "no data" if row["value"] is None else f"{row['value']:g}"
        verdict = "passed" if row["passed"] else "FAILED"
        log.info("threshold %s: %s (%s)", row["threshold"], verdict, value)
    if prefix:
        path = Path(prefix).parent / "thresholds.json"
        path.write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")
    if not all(r["passed"] for r in rows):
        environment.process_exit_code = 3
    elif environment.process_exit_code is None and not (
        environment.runner and environment.runner.exceptions
    ):
        environment.process_exit_code = 0


def login_figures(stats: RequestStats) -> dict[str, int]:
    """The run's sign-ins: ``scheduled`` = ``completed`` + ``dropped`` (arrivals of the open
    workload no user was free to start); ``succeeded`` of the completed ones."""
    everything = _merged(stats, LOGIN, None)
    dropped = _dropped(stats)
    completed = everything.num_requests
    return {
        "scheduled": completed + dropped,
        "completed": completed,
        "dropped": dropped,
        "succeeded": completed - everything.num_failures,
    }


def login_headline(figures: Mapping[str, int]) -> str:
    """``logins: 1,508 scheduled, 777 completed, 731 dropped; 777 succeeded (51.53 % of
    scheduled)``: a dropped login is a failed one, so the share is over the scheduled."""
    scheduled = figures["scheduled"]
    share = f"{figures['succeeded'] / scheduled:.2%}".replace("%", " %") if scheduled else "n/a"
    return (
        f"logins: {scheduled:,} scheduled, {figures['completed']:,} completed, "
        f"{figures['dropped']:,} dropped; {figures['succeeded']:,} succeeded "
        f"({share} of scheduled)"
    )


def login_summary(stats: RequestStats) -> list[str]:
    """The console lines: the headline, one line per flow, then setup requests apart."""
    figures = login_figures(stats)
    lines = [login_headline(figures)]
    for (name, kind), entry in sorted(stats.entries.items()):
        if kind != LOGIN or not entry.num_requests:
            continue
        reasons = {
            e.error: e.occurrences
            for e in stats.errors.values()
            if e.method == LOGIN and e.name == name
        }
        ok = entry.num_requests - entry.num_failures
        lines.append(
            f"logins {name}: {ok}/{entry.num_requests} succeeded, "
            f"p95 {entry.get_response_time_percentile(0.95)} ms"
            + (f", failed: {reasons}" if reasons else "")
        )
    if figures["dropped"]:
        lines.append(
            f"{figures['dropped']} arrivals dropped (failed logins): every user was busy; raise -u"
        )
    setup = _merged(stats, SETUP, None)
    if setup.num_requests:
        lines.append(
            f"setup (not in the request table or thresholds): {setup.num_requests} requests, "
            f"{setup.num_failures} failed, p95 {setup.get_response_time_percentile(0.95)} ms"
        )
    return lines


LOGIN_CSV_COLUMNS = (
    "flow",
    "scheduled",
    "logins",
    "dropped",
    "per_s",
    "successes",
    "failures",
    "success_ratio",
    "avg_ms",
    "p50_ms",
    "p95_ms",
    "p99_ms",
    "max_ms",
    "failure_reasons",
)


def write_login_csv(stats: RequestStats, path: str | Path) -> None:
    """One row per flow and one ``All`` row; ``logins`` are the completed sign-ins,
    ``scheduled`` = ``logins`` + ``dropped`` (only the ``All`` row has dropped arrivals: they
    had no flow yet) and ``success_ratio`` = successes / scheduled; ``per_s`` counts over the
    time the users ran; ``failure_reasons`` is ``reason=count;...``. Arrival rows (open
    workload) follow with flow ``arrivals:started``/``arrivals:dropped``: counts and start
    lag, no successes; then ``setup:<request>`` rows (enrolment before a user's first
    login, apart from the sign-ins)."""
    rows = []
    entries = [(n, k, e) for (n, k), e in sorted(stats.entries.items()) if k == LOGIN]
    everything = _merged(stats, LOGIN, None)
    for name, kind, entry in [*entries, ("All", LOGIN, everything)]:
        reasons: dict[str, int] = {}
        for error in stats.errors.values():
            if error.method == kind and (name == "All" or error.name == name):
                reasons[str(error.error)] = reasons.get(str(error.error), 0) + error.occurrences
        dropped = _dropped(stats) if name == "All" else 0
        if dropped:
            reasons["dropped"] = reasons.get("dropped", 0) + dropped
        rows.append(_login_row(name, entry, reasons, dropped))
    for (name, kind), entry in sorted(stats.entries.items()):
        if kind == ARRIVAL:
            rows.append(_count_row(f"arrivals:{name}", entry, dropped=name == "dropped"))
    for (name, kind), entry in sorted(stats.entries.items()):
        if kind == SETUP:
            row = _login_row(f"setup:{name}", entry, {}, 0)
            row[1] = ""  # setup requests are not scheduled logins
            rows.append(row)
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(LOGIN_CSV_COLUMNS)
        writer.writerows(rows)


def _login_row(name: str, entry: StatsEntry, reasons: Mapping[str, int], dropped: int) -> list[Any]:
    done = entry.num_requests
    scheduled = done + dropped
    successes = done - entry.num_failures
    return [
        name,
        scheduled,
        done,
        dropped,
        round(entry.total_rps, 3),
        successes,
        entry.num_failures + dropped,
        round(successes / scheduled, 6) if scheduled else "",
        *_times(entry),
        ";".join(f"{k}={v}" for k, v in sorted(reasons.items())),
    ]


def _count_row(name: str, entry: StatsEntry, *, dropped: bool) -> list[Any]:
    """An arrival row: how many, at what rate, how late they started (no sign-in verdict)."""
    done = entry.num_requests
    return [
        name,
        "",
        done,
        done if dropped else "",
        round(entry.total_rps, 3),
        "",
        "",
        "",
        *(["", "", "", "", ""] if dropped else _times(entry)),
        "",
    ]


def _times(entry: StatsEntry) -> list[Any]:
    done = entry.num_requests
    if not done:
        return ["", "", "", "", ""]
    return [
        round(entry.avg_response_time, 2),
        entry.get_response_time_percentile(0.5),
        entry.get_response_time_percentile(0.95),
        entry.get_response_time_percentile(0.99),
        round(entry.max_response_time, 2),
    ]
