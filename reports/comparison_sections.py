"""The report of several runs or sweep points side by side: one section per question, one
row (or line) per point, instead of every section once per run."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path

import pandas as pd

from reports import billing, charts, reliability
from reports.billing_sections import run_prices
from reports.loaders import SimRun, point_label, sweep_points
from reports.render import Page
from reports.sim_sections import sender_rows

__all__ = [
    "COMPARISON_CHARTS",
    "comparison_sections",
    "labelled_points",
]

#: Charts of a comparison of several runs/sweep points (which has no per-run sections).
COMPARISON_CHARTS = ("comparison", "time-to-auth-cdf-compare")
#: The comparison's first table; its other figures (in-time shares, retries, denials) go in a
#: second one so that each fits a 1280 px window.
_HEADLINE_MAIN = ("authentications", "success_rate", "ci_low", "ci_high", "p50", "p95", "p99")


def labelled_points(run: SimRun) -> list[tuple[str, SimRun]]:
    """Each sweep point (or the run) with the label a reader recognises: the directory's name
    and what the user set — ``mfalab run --set`` overrides (meta.json) and swept values."""
    overrides = run.meta.get("overrides") if isinstance(run.meta, dict) else None
    overrides = overrides if isinstance(overrides, dict) else {}
    params = run.parameters
    if not params:
        return [(_named(run.label, overrides), run)]
    keys = run.auths.groupby(params, observed=True, sort=True).size().index
    labelled = []
    for key, point in zip(keys, sweep_points(run), strict=True):
        values = key if isinstance(key, tuple) else (key,)
        chosen = {**overrides, **dict(zip(params, values, strict=True))}
        labelled.append((_named(run.label, chosen), point))
    return labelled


def _named(label: str, parameters: dict[str, object]) -> str:
    return " ".join(filter(None, [label, point_label(parameters)]))


def comparison_sections(
    page: Page,
    points: Sequence[tuple[str, SimRun]],
    pricing: str | Path | billing.Pricing | None,
    signins_per_user_month: float | None,
) -> None:
    """Several runs or sweep points: one section per question, a row (or line) per point."""
    section = page.section("Runs side by side", "comparison")
    rows = []
    for label, run in points:
        row = reliability.compare([run]).iloc[0].to_dict()
        row.pop("run", None)
        rows.append({"label": label, **row})
    table = pd.DataFrame(rows)
    section.text(
        f"{len(points)} runs or sweep points, one row each. The success rate is pooled over "
        "replications; its 95 % interval is Student's t on the ratio estimator across "
        "replications when there are several, Wilson otherwise (the same as mfalab run and "
        "summary.json). Each run's own report (mfalab report DIR) has its charts by segment, "
        "attempts, flows, denials and queues."
    )
    main = ["label", *(c for c in _HEADLINE_MAIN if c in table), "replications"]
    section.table("Success and time to authenticate", table[main], markdown=True, max_rows=60)
    rest = ["label", *(c for c in table.columns if c not in main)]
    section.table("In time, retries and denials", table[rest], markdown=True, max_rows=60)
    groups = {label: run.auths for label, run in points}
    percentiles = [_percentile_row(label, run.auths) for label, run in points]
    bounds = pd.DataFrame(
        [{"p95_ci_low": p.pop("_p95_low"), "p95_ci_high": p.pop("_p95_high")} for p in percentiles]
    )
    section.chart(
        "comparison",
        "chart-comparison",
        charts.comparison_chart(pd.concat([table, bounds], axis=1), groups),
        "Success rate and p95 time to authenticate per run, with 95 % intervals",
    )
    section.chart(
        "time-to-auth-cdf-compare",
        "chart-time-to-auth-cdf-compare",
        charts.time_to_auth_cdf_chart(groups),
        "Time to authenticate, every run/point",
    )

    timing = page.section("Time to authenticate", "timing")
    timing.table(
        "Percentiles (s), successes, with the p95's 95 % t interval over replications",
        pd.DataFrame(percentiles),
        markdown=True,
        max_rows=60,
    )

    segments = page.section("Success by segment", "segments")
    segments.text("Success rate of each run (rows) for each value of the segment (columns).")
    for segment in ("country", "carrier", "method", "sender_kind", "provider", "server"):
        segments.table(
            f"By {segment.replace('_', ' ')}",
            _success_pivot(points, segment),
            max_rows=60,
        )

    senders = page.section("Per sender (short code / long code)", "senders")
    senders.table(
        "Per sender (short code / long code)",
        _stacked(points, sender_rows),
        markdown=True,
        max_rows=80,
    )

    failures = page.section("Denials and abandonment", "denials")
    failures.table(
        "Final denials by reason",
        _stacked(points, lambda run: reliability.denials_by_reason(run.auths)),
        markdown=True,
        max_rows=60,
    )
    failures.table(
        "Abandonment causes",
        _stacked(points, lambda run: reliability.abandonment_causes(run.auths)),
        max_rows=60,
    )

    queues = page.section("Queues and utilisation", "queues")
    queues.table(
        "Busiest resources (three per run)",
        _stacked(points, lambda run: reliability.busiest_resources(run.resources).head(3)),
        markdown=True,
        max_rows=60,
    )

    costs = page.section("Billing", "billing")
    currencies = set()
    frames = []
    for label, run in points:
        prices = pricing if isinstance(pricing, billing.Pricing) else run_prices(run, pricing)
        currencies.add(prices.currency)
        estimate = billing.usage_from_run(run, signins_per_user_month=signins_per_user_month)
        cost = billing.monthly_costs(estimate.usage, prices, messages=estimate.messages)
        keep = [c for c in ("model", "billed", "unit", "total", "current") if c in cost]
        frames.append(cost[keep].assign(currency=prices.currency).pipe(_first, "label", label))
    costs.text("Each run's month is scaled from its simulated window as in its own report.")
    costs.table(
        f"Cost per month ({', '.join(sorted(currencies))})",
        pd.concat(frames, ignore_index=True),
        markdown=True,
        max_rows=60,
    )


def _first(frame: pd.DataFrame, column: str, value: object) -> pd.DataFrame:
    frame = frame.copy()
    frame.insert(0, column, value)
    return frame


def _stacked(
    points: Sequence[tuple[str, SimRun]], table_of: Callable[[SimRun], pd.DataFrame]
) -> pd.DataFrame:
    """One table per point, stacked, with the point's label as the first column."""
    frames = [_first(table_of(run), "label", label) for label, run in points]
    frames = [f for f in frames if not f.empty]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def _success_pivot(points: Sequence[tuple[str, SimRun]], segment: str) -> pd.DataFrame:
    """Rows = points, columns = segment values, cells = success rate (percent text, with the
    authentications) — one compact table instead of one per run."""
    rows = []
    for label, run in points:
        table = reliability.success_rate(run.auths, by=segment)
        row: dict[str, object] = {"label": label}
        for item in table.itertuples(index=False):
            value = str(getattr(item, segment)) or "(none)"
            row[value] = f"{item.success_rate:.2%} of {item.authentications:,}"
        rows.append(row)
    return pd.DataFrame(rows).fillna("–")


def _percentile_row(label: str, auths: pd.DataFrame) -> dict[str, object]:
    times = reliability.time_to_auth_percentiles(auths).iloc[0]
    replications = int(auths["replication"].nunique()) if len(auths) else 0
    interval, low, high = "–", math.nan, math.nan
    if replications > 1:
        p95 = reliability.replication_ci(auths, ["p95"]).iloc[0]
        if not math.isnan(p95["ci_low"]):
            low, high = float(p95["ci_low"]), float(p95["ci_high"])
            interval = f"{low:.1f} – {high:.1f} s"
    return {
        "label": label,
        "successes": int(times["successes"]),
        "p50": times["p50"],
        "p95": times["p95"],
        "p99": times["p99"],
        "p95 interval": interval,
        "replications": replications,
        "_p95_low": low,  # for the chart's error bars; not shown
        "_p95_high": high,
    }
