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
    "latency_table",
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


def headline(results: LocustResults) -> dict[str, float]:
    """Totals of the ``Aggregated`` row, and whether every threshold passed."""
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
    }
