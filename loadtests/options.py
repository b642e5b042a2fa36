"""The load tests' own command-line options and the values users read from them.

Options travel to the workers (and through the web UI) as plain strings; ``LoadOptions``
parses them where they are used. The client's patience defaults come from the engine's
policy, never a copy of it."""

from __future__ import annotations

import argparse
import math
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from locust import events
from locust.env import Environment

from loadtests.parameters import ROUTING_POLICIES, parse_duration
from loadtests.thresholds import Threshold, parse_thresholds
from mfa.policy import Policy

FLOWS = ("sms", "totp", "push", "app_password", "pumping", "push_bombing")
SHAPES = ("constant", "storm", "step")
DEFAULT_MIX = "sms=6,push=2,totp=1,app_password=1"
#: The pumped range by default: one US exchange, apart from the legitimate accounts' +1646.
DEFAULT_ATTACK_PREFIXES = "+1305555"

#: The client's patience comes from the engine's defaults ("up to five times in 5 minutes"):
#: wait a fifth of the window for a text, then ask for a new one, five sends at most.
ENGINE_DEFAULTS = Policy()
DEFAULT_MAX_SENDS = ENGINE_DEFAULTS.max_sends
DEFAULT_CODE_WAIT = ENGINE_DEFAULTS.send_window_seconds / ENGINE_DEFAULTS.max_sends


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


def parse_prefixes(text: str) -> tuple[str, ...]:
    """``"+1305555,+88235"`` → the attacked number prefixes (``+`` and digits each)."""
    prefixes = tuple(p.strip() for p in str(text).split(",") if p.strip())
    if not prefixes:
        raise argparse.ArgumentTypeError("give at least one prefix, e.g. +1305555")
    for prefix in prefixes:
        if not re.fullmatch(r"\+\d{2,14}", prefix):
            raise argparse.ArgumentTypeError(f"{prefix!r} is not + and 2 to 14 digits")
    return prefixes


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
    parser.add_argument(
        "--attack-prefixes",
        type=_checked(parse_prefixes),
        default=DEFAULT_ATTACK_PREFIXES,
        help=f"pumping: the number prefixes the bots' accounts get numbers in, comma-separated "
        f"(default {DEFAULT_ATTACK_PREFIXES})",
    )
    parser.add_argument(
        "--attack-ips",
        type=int,
        default=4,
        help="pumping and push bombing: how many client IPs the bots send from (default 4)",
    )
    parser.add_argument(
        "--blind-approval",
        type=float,
        default=0.1,
        help="push bombing: the chance the victim approves a push blindly (default 0.1)",
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


def optional_number(value: Any, kind: Callable[[Any], Any]) -> Any:
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
    attack_prefixes: tuple[str, ...] = (DEFAULT_ATTACK_PREFIXES,)
    attack_ips: int = 4
    blind_approval: float = 0.1

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
            user_pool=optional_number(get("user_pool", 0), int) or 0,
            allow_rate_limit=get("allow_rate_limit", False) in (True, "True", "true", "1"),
            mix=parse_mix(get("mix", "") or DEFAULT_MIX),
            rate=optional_number(get("rate", None), float),
            arrivals=get("arrivals", "uniform"),
            max_lag=float(get("max_lag", 1.0)),
            think=parse_think(get("think", "") or "0.5-1.5"),
            code_wait=float(get("code_wait", DEFAULT_CODE_WAIT)),
            max_sends=int(get("max_sends", DEFAULT_MAX_SENDS)),
            push_timeout=float(get("push_timeout", 30.0)),
            totp_accounts=max(1, int(get("totp_accounts", 4))),
            thresholds=tuple(t for text in texts for t in parse_thresholds(text)),
            seed=optional_number(get("seed", None), int),
            run_id=get("run_id", "") or "",
            attack_prefixes=parse_prefixes(get("attack_prefixes", "") or DEFAULT_ATTACK_PREFIXES),
            attack_ips=max(1, int(get("attack_ips", 4))),
            blind_approval=min(1.0, max(0.0, float(get("blind_approval", 0.1)))),
        )
