"""The end of a run: the per-login statistics printed, written next to Locust's CSVs
(``<prefix>_logins.csv``) and checked against the thresholds (``thresholds.json``, exit 3).

A login is begin → code → verify, including the wait for the text and any resend: it is
what a person waits for, which Locust's per-request statistics do not show."""

from __future__ import annotations

import csv
import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import gevent
from locust import events
from locust.env import Environment
from locust.stats import CSV_STATS_INTERVAL_SEC, RequestStats, StatsEntry

from loadtests.context import custom_stats, is_worker
from loadtests.names import ARRIVAL, LOGIN, SETUP
from loadtests.options import LoadOptions
from loadtests.thresholds import dropped_arrivals, evaluate_thresholds, merged

log = logging.getLogger("mfalab.loadtest")


@events.quitting.add_listener
def _on_quitting(environment: Environment, **_kwargs: Any) -> None:
    """On the master (or a single process): print the logins, check the thresholds, write
    ``<csv prefix>_logins.csv`` and ``thresholds.json`` beside Locust's CSVs."""
    if is_worker(environment) or environment.parsed_options is None:
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
    everything = merged(stats, LOGIN, None)
    dropped = dropped_arrivals(stats)
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
    setup = merged(stats, SETUP, None)
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
    everything = merged(stats, LOGIN, None)
    for name, kind, entry in [*entries, ("All", LOGIN, everything)]:
        reasons: dict[str, int] = {}
        for error in stats.errors.values():
            if error.method == kind and (name == "All" or error.name == name):
                reasons[str(error.error)] = reasons.get(str(error.error), 0) + error.occurrences
        dropped = dropped_arrivals(stats) if name == "All" else 0
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
