"""k6-style pass/fail criteria, checked against the run's statistics at the end."""

from __future__ import annotations

import argparse
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from locust.stats import RequestStats, StatsEntry

from loadtests.names import ARRIVAL, LOGIN, SETUP

_THRESHOLD = re.compile(
    r"^\s*(?P<metric>[a-z_]*p\d+(?:\.\d+)?|[a-z_]+)\s*(?:\[(?P<selector>[^\]]+)\])?\s*"
    r"(?P<op><=|>=|<|>|==)\s*(?P<value>\d+(?:\.\d+)?)\s*(?P<unit>ms|s|%)?\s*$"
)
_PERCENTILE = re.compile(r"^(login_)?p(\d+(?:\.\d+)?)$")
_TIME_METRICS = {"avg", "min", "max", "med", "login_avg", "login_max"}
_RATIO_METRICS = {"fail_ratio", "success_ratio", "refused_ratio"}
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
    ``refused_ratio[flow]`` is the share of the flow's logins that failed: for an attacker
    flow (``pumping``, ``push_bombing``), whose success is the attacker's, the share the
    defences stopped. Times are in ms unless written ``s``; ratios may be written with ``%``.
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
                "rps, requests, failures, success_ratio, refused_ratio, login_pNN, login_avg, "
                "login_max, logins, logins_per_s, dropped, scheduled)"
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
        dropped = dropped_arrivals(custom)
        if metric == "dropped":
            return float(dropped)
        if metric == "scheduled":
            return float(merged(custom, LOGIN, None).num_requests + dropped)
        if login:
            entry = merged(custom, LOGIN, self.selector)
            metric = metric.removeprefix("login_").removeprefix("logins")
            metric = {"": "requests", "_per_s": "rps"}.get(metric, metric)
            if metric == "success_ratio" and self.selector is None:
                scheduled = entry.num_requests + dropped
                successes = entry.num_requests - entry.num_failures
                return successes / scheduled if scheduled else math.nan
        else:
            entry = merged(requests, None, self.selector)
            if self.selector is not None:  # setup requests count when the selector names them
                setup = merged(custom, SETUP, self.selector)
                if setup.num_requests:
                    entry = combined(entry, setup)
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
        if metric == "refused_ratio":
            return entry.num_failures / done
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


def merged(stats: RequestStats, method: str | None, selector: str | None) -> StatsEntry:
    """One entry adding up the rows whose method matches and whose name contains selector."""
    if method is None and selector is None:
        return stats.total
    entry = StatsEntry(stats, selector or "", method or "", use_response_times_cache=False)
    for (name, kind), row in stats.entries.items():
        if (method is None or kind == method) and (selector is None or selector in name):
            entry.extend(row)
    return entry


def combined(*entries: StatsEntry) -> StatsEntry:
    first = entries[0]
    entry = StatsEntry(first.stats, first.name, first.method, use_response_times_cache=False)
    for other in entries:
        entry.extend(other)
    return entry


def dropped_arrivals(custom: RequestStats) -> int:
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
