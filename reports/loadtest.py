"""Load-test results: throughput and latency over time, failures by reason, thresholds.

Locust writes one ``--csv`` family per test (``reports.loaders.load_locust``). Its failure rows
carry the engine's denial reason — the locustfiles call ``response.failure(reason)`` — which
Locust stores as the repr of the exception (``CatchResponseError('wrong_server')``); this module
unwraps it so ``wrong_server``, ``expired`` and ``rate_limited`` line up with the simulator's
denial tables. The ``Aggregated`` rows are Locust's own totals over every request name.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from reports.loaders import LocustResults

__all__ = [
    "AGGREGATED",
    "failure_reason",
    "failures_by_reason",
    "headline",
    "headline_sentence",
    "latency_table",
    "login_figures",
    "over_time",
    "threshold_results",
]

AGGREGATED = "Aggregated"

_WRAPPED = re.compile(r"^\w+\((['\"])(?P<inner>.*)\1\)$", re.DOTALL)
_HTTP_STATUS = re.compile(r"^(?:HTTPError\(')?(?P<code>\d{3}) ")


def failure_reason(error: str) -> str:
    """``CatchResponseError('wrong_server')`` → ``wrong_server``; ``HTTPError('503 Server
    Error: …')`` → ``http_503``; anything else is kept as written."""
    text = str(error).strip()
    match = _WRAPPED.match(text)
    if match:
        text = match.group("inner").strip()
    status = _HTTP_STATUS.match(text)
    if status:
        return f"http_{status.group('code')}"
    return text


def over_time(results: LocustResults, name: str = AGGREGATED) -> pd.DataFrame:
    """Per second of the test: users, requests/s, failures/s and latency percentiles (ms)."""
    history = results.history
    if history.empty:
        return pd.DataFrame(columns=["elapsed_s", "users", "rps", "failures_per_s"])
    rows = history[history["name"] == name]
    keep = [
        c
        for c in ("time", "elapsed_s", "users", "rps", "failures_per_s", "p50", "p95", "p99")
        if c in rows.columns
    ]
    return rows[keep].reset_index(drop=True)


def latency_table(results: LocustResults) -> pd.DataFrame:
    """One row per request name (and the aggregate): counts, failure ratio, rate, percentiles."""
    stats = results.stats
    keep = [
        c
        for c in (
            "method",
            "name",
            "requests",
            "failures",
            "rps",
            "median_ms",
            "p95",
            "p99",
            "max_ms",
        )
        if c in stats.columns
    ]
    table = stats[keep].copy()
    with np.errstate(divide="ignore", invalid="ignore"):
        table.insert(
            4,
            "fail_ratio",
            np.where(table["requests"] > 0, table["failures"] / table["requests"], np.nan),
        )
    return table.reset_index(drop=True)


def failures_by_reason(results: LocustResults) -> pd.DataFrame:
    """Failure occurrences by reason (and request name), most frequent first."""
    failures = results.failures
    if failures.empty:
        return pd.DataFrame(columns=["reason", "name", "occurrences", "share"])
    frame = failures.assign(reason=failures["error"].map(failure_reason))
    table = frame.groupby(["reason", "name"], sort=False)["occurrences"].sum().reset_index()
    table["share"] = table["occurrences"] / table["occurrences"].sum()
    return table.sort_values("occurrences", ascending=False, ignore_index=True)


def threshold_results(results: LocustResults) -> pd.DataFrame:
    """The pass/fail thresholds checked when the test quit (``thresholds.json``)."""
    return results.thresholds.copy()


def _count(row: pd.Series | None, column: str) -> int:
    if row is None or column not in row.index:
        return 0
    value = pd.to_numeric(row[column], errors="coerce")
    return 0 if pd.isna(value) else int(value)


def login_figures(results: LocustResults) -> dict[str, float]:
    """The sign-ins of a load test (``PREFIX_logins.csv``): ``scheduled`` = ``completed`` +
    ``dropped`` (open-workload arrivals no user was free to start), and ``succeeded``;
    ``login_success_ratio`` is succeeded / scheduled, so a dropped arrival is a failed login.
    Also reads the files written before the ``scheduled``/``dropped`` columns existed (then
    the ``arrivals:dropped`` row counts the drops). ``setup_requests``: enrolment requests,
    apart from the measured ones."""
    logins = results.logins
    if logins.empty or "flow" not in logins.columns:
        return {}
    by_flow = {str(row["flow"]): row for _, row in logins.iterrows()}
    everything = by_flow.get("All")
    completed = _count(everything, "logins")
    if everything is not None and "dropped" in logins.columns:
        dropped = _count(everything, "dropped")
    else:
        dropped = _count(by_flow.get("arrivals:dropped"), "logins")
    succeeded = _count(everything, "successes")
    scheduled = completed + dropped
    setup = sum(_count(row, "logins") for flow, row in by_flow.items() if flow.startswith("setup:"))
    return {
        "scheduled": scheduled,
        "completed": completed,
        "dropped": dropped,
        "succeeded": succeeded,
        "login_success_ratio": succeeded / scheduled if scheduled else float("nan"),
        "setup_requests": setup,
    }


def headline_sentence(head: dict[str, float]) -> str:
    """The load test in one paragraph: the sign-ins first (what a user experienced), then
    the requests and the thresholds."""
    parts = []
    if "scheduled" in head:
        ratio = head["login_success_ratio"]
        share = "n/a" if np.isnan(ratio) else f"{ratio:.2%}".replace("%", " %")
        parts.append(
            f"{head['scheduled']:,} logins scheduled, {head['completed']:,} completed, "
            f"{head['dropped']:,} dropped; {head['succeeded']:,} succeeded ({share} of "
            "scheduled)."
        )
    fail = "n/a" if np.isnan(head["fail_ratio"]) else f"{head['fail_ratio']:.2%}"
    parts.append(
        f"Requests: {head['requests']:,}, {head['failures']:,} failed ({fail}); "
        f"{head['rps']:.1f} requests/s; p50 {head['p50']:.0f} ms, p95 {head['p95']:.0f} ms, "
        f"p99 {head['p99']:.0f} ms; thresholds: "
        f"{head['thresholds'] - head['thresholds_failed']}/{head['thresholds']} passed."
    )
    if head.get("setup_requests"):
        parts.append(
            "Setup requests (before the measured logins, not in thresholds): "
            f"{head['setup_requests']:,}."
        )
    return " ".join(parts)


def headline(results: LocustResults) -> dict[str, float]:
    """Totals of the ``Aggregated`` row, whether every threshold passed, and the sign-ins
    (``login_figures``) when the test wrote them."""
    total = results.stats[results.stats["name"] == AGGREGATED]
    if total.empty:
        total = results.stats
    requests = int(total["requests"].sum())
    failures = int(total["failures"].sum())
    row = total.iloc[-1] if len(total) else pd.Series(dtype=float)
    thresholds = results.thresholds
    return {
        "requests": requests,
        "failures": failures,
        "fail_ratio": failures / requests if requests else float("nan"),
        "rps": float(row.get("rps", np.nan)),
        "p50": float(row.get("p50", np.nan)),
        "p95": float(row.get("p95", np.nan)),
        "p99": float(row.get("p99", np.nan)),
        "thresholds": len(thresholds),
        "thresholds_failed": int((~thresholds["passed"].astype(bool)).sum()),
        **login_figures(results),
    }
