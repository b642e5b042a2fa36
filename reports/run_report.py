"""The report of one or more runs: the answer a planner or analyst acts on.

``write_run_report`` reads simulator run directories (``mfalab run``/``mfalab sweep``) and
load-test directories (``mfalab loadtest``: Locust ``--csv`` files and ``thresholds.json``),
and engine logs of a real server (``mfalab logs export`` Parquet, ``logs=``: a reliability and
billing section for real traffic, see ``reports.traffic``), and writes a self-contained HTML
page (every chart embedded) plus a Markdown summary beside it.
Two or more runs — or one sweep — are also compared side by side. Every number comes from the
``reports`` library functions, so a notebook reproduces the page cell by cell.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from reports import billing, charts, loadtest, reliability, traffic
from reports.loaders import (
    LocustResults,
    ReportInputError,
    SimRun,
    is_locust_dir,
    is_sim_run,
    load_engine_logs,
    load_locust,
    load_run,
    point_label,
    sweep_points,
)
from reports.render import Page, Section
from reports.senders import sender_table
from sim.metrics import CATALOGUE, LOADTEST, TRAFFIC

__all__ = [
    "LOADTEST_CHARTS",
    "SIM_CHARTS",
    "Report",
    "build_report",
    "run_prices",
    "write_run_report",
]

#: Charts every simulator run gets, by ``data-chart`` kind.
SIM_CHARTS = (
    "success-by-segment",
    "time-to-auth-cdf",
    "attempts",
    "denials-by-reason",
    "fallback-flows",
    "resources",
    "cost-by-model",
)
#: Charts of a comparison of several runs/sweep points (which has no per-run sections).
COMPARISON_CHARTS = ("comparison", "time-to-auth-cdf-compare")
#: The comparison's first table; its other figures (in-time shares, retries, denials) go in a
#: second one so that each fits a 1280 px window.
_HEADLINE_MAIN = ("authentications", "success_rate", "ci_low", "ci_high", "p50", "p95", "p99")
#: The per-sender table's columns in the report (``reports.senders.sender_table``).
_SENDER_COLUMNS = (
    "sender",
    "sender_kind",
    "sent",
    "delivered",
    "delivery_rate",
    "latency_p50",
    "latency_p95",
    "utilisation",
    "peak_utilisation",
)
#: Charts every load test gets.
LOADTEST_CHARTS = ("loadtest-throughput", "loadtest-latency", "loadtest-failures")

_SEGMENT_TABLES = ("country", "carrier", "method", "sender_kind", "provider", "server", "attempts")
_OPTIONAL_SEGMENTS = ("connectivity", "signal", "security_app")


@dataclass(frozen=True, slots=True)
class Report:
    html: str
    markdown: str
    charts: tuple[str, ...]


def write_run_report(
    run_dirs: Sequence[str | Path],
    out: str | Path | None = None,
    *,
    pricing: str | Path | billing.Pricing | None = None,
    signins_per_user_month: float | None = None,
    logs: Sequence[str | Path] = (),
    enabled_users: int | None = None,
    licensed_users: int = 0,
) -> Path:
    """Write ``out`` (default ``<first run dir>/report.html``, or ``<logs>-report.html``
    beside the first logs file) and the Markdown summary beside it (same name, ``.md``);
    return the HTML path."""
    if not run_dirs and not logs:
        raise ReportInputError("(no runs)", "give at least one run directory or --logs file")
    if out is not None:
        target = Path(out)
    elif run_dirs:
        target = Path(run_dirs[0]) / "report.html"
    else:
        first = Path(logs[0])
        target = first.with_name(f"{first.stem}-report.html")
    report = build_report(
        run_dirs,
        pricing=pricing,
        signins_per_user_month=signins_per_user_month,
        logs=logs,
        enabled_users=enabled_users,
        licensed_users=licensed_users,
    )
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(report.html, encoding="utf-8")
    target.with_suffix(".md").write_text(report.markdown, encoding="utf-8")
    return target


def build_report(
    run_dirs: Sequence[str | Path],
    *,
    pricing: str | Path | billing.Pricing | None = None,
    signins_per_user_month: float | None = None,
    logs: Sequence[str | Path] = (),
    enabled_users: int | None = None,
    licensed_users: int = 0,
) -> Report:
    sims: list[SimRun] = []
    tests: list[LocustResults] = []
    labels: set[str] = set()
    for raw in run_dirs:
        path = Path(raw)
        label = _unique(path.name or str(path), labels)
        if is_sim_run(path):
            sims.append(load_run(path, label=label))
        elif is_locust_dir(path):
            tests.append(load_locust(path, label=label))
        elif not path.exists():
            raise ReportInputError(path, "no such directory")
        else:
            raise ReportInputError(
                path, "neither a simulator run (auths/) nor a load test (*_stats.csv)"
            )
    traffic_logs = [(_unique(Path(p).stem, labels), load_engine_logs(p)) for p in logs]
    names = ", ".join([*(r.label for r in [*sims, *tests]), *(label for label, _ in traffic_logs)])
    sources = (
        [f"{len(run_dirs)} director{'y' if len(run_dirs) == 1 else 'ies'}"] if run_dirs else []
    )
    if logs:
        sources.append(f"{len(logs)} engine log{'' if len(logs) == 1 else 's'}")
    page = Page(
        title=f"mfalab report — {names}",
        subtitle=f"generated {datetime.now(UTC):%Y-%m-%d %H:%M} UTC from {' and '.join(sources)}",
    )
    points = [point for run in sims for point in _labelled_points(run)]
    if len(points) > 1:  # one comparison, not every section once per run
        _comparison(page, points, pricing, signins_per_user_month)
    elif points:
        run = points[0][1]
        prices = pricing if isinstance(pricing, billing.Pricing) else run_prices(run, pricing)
        _sim_sections(page, run, 0, prices, signins_per_user_month)
    for index, results in enumerate(tests):
        _loadtest_section(page, results, index)
    if traffic_logs:
        prices = pricing if isinstance(pricing, billing.Pricing) else billing.load_pricing(pricing)
        for index, (label, frame) in enumerate(traffic_logs):
            _traffic_section(page, label, frame, index, prices, enabled_users, licensed_users)
    return Report(html=page.to_html(), markdown=page.to_markdown(), charts=tuple(page.charts))


def run_prices(run: SimRun, pricing_file: str | Path | None = None) -> billing.Pricing:
    """Shipped defaults < the scenario's billing.prices < --pricing FILE."""
    scenario_prices = run.scenario.get("billing", {})
    scenario_prices = scenario_prices.get("prices") if isinstance(scenario_prices, dict) else None
    if scenario_prices is not None and not isinstance(scenario_prices, dict):
        raise ReportInputError(run.path / "scenario.yaml", "billing.prices: expected a mapping")
    return billing.load_pricing(pricing_file, scenario_prices=scenario_prices)


def _unique(label: str, seen: set[str]) -> str:
    candidate, n = label, 2
    while candidate in seen:
        candidate, n = f"{label} ({n})", n + 1
    seen.add(candidate)
    return candidate


# ---------------------------------------------------------------------- simulator runs


def _labelled_points(run: SimRun) -> list[tuple[str, SimRun]]:
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


def _comparison(
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
        _stacked(points, _sender_rows),
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


def _sender_rows(run: SimRun) -> pd.DataFrame:
    table = sender_table(run.deliveries, run.resources)
    return table[[c for c in _SENDER_COLUMNS if c in table]]


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


def _sim_sections(
    page: Page,
    run: SimRun,
    index: int,
    prices: billing.Pricing,
    signins_per_user_month: float | None,
) -> None:
    auths, tag = run.auths, f"{index}"
    name = run.scenario.get("name") if isinstance(run.scenario.get("name"), str) else None
    prefix = f"{run.label}: "

    summary = page.section(prefix + "summary", f"summary-{tag}")
    head = reliability.headline(auths)
    if name:
        summary.text(f"Scenario {name!r}, run directory {run.path}.")
    replications = int(auths["replication"].nunique()) if len(auths) else 0
    lifetime = reliability.code_lifetime(run.scenario)
    head["delivered_within_code_lifetime"] = reliability.delivered_within_code_lifetime(
        run.deliveries, lifetime
    )
    summary.text(_headline_sentence(head, replications, lifetime))
    summary.table("Headline", _headline_table(head), markdown=True)
    if replications > 1:
        summary.table(
            "Across replications (mean and 95 % t interval)",
            _interval_table(
                reliability.replication_ci(auths, ("p50", "p95", "p99", "attempts_per_success"))
            ),
            markdown=True,
        )

    segments = page.section(prefix + "success by segment", f"segments-{tag}")
    segments.chart(
        "success-by-segment",
        f"chart-success-by-segment-{tag}",
        charts.success_by_segment_chart(auths),
        "Success rate by country, carrier, first method, sender kind, provider and server",
    )
    for segment in _SEGMENT_TABLES + _OPTIONAL_SEGMENTS:
        if segment in _OPTIONAL_SEGMENTS and segment not in auths.columns:
            continue
        segments.table(f"By {segment.replace('_', ' ')}", reliability.success_rate(auths, segment))

    timing = page.section(prefix + "time to authenticate", f"timing-{tag}")
    timing.chart(
        "time-to-auth-cdf",
        f"chart-time-to-auth-cdf-{tag}",
        charts.time_to_auth_cdf_chart({run.label: auths}),
        "Share of all authentications done within t seconds",
    )
    if replications > 1:
        timing.table(
            "Percentiles (s), successes",
            _interval_table(reliability.replication_ci(auths, ["p50", "p95", "p99"])),
        )
    else:
        timing.table("Percentiles (s), successes", reliability.time_to_auth_percentiles(auths))
    timing.table("By first method", reliability.time_to_auth_percentiles(auths, "method"))
    timing.table("By country", reliability.time_to_auth_percentiles(auths, "country"))

    attempts = page.section(prefix + "attempts", f"attempts-{tag}")
    attempts.text(
        "Attempts per success: "
        f"{CATALOGUE.format('attempts_per_success', reliability.attempts_per_success(auths))} "
        f"— {CATALOGUE['attempts_per_success'].definition}"
    )
    attempts.chart(
        "attempts",
        f"chart-attempts-{tag}",
        charts.attempts_chart(auths),
        "Authentications by begins, and cumulative success within n begins",
    )
    attempts.table("By begins", reliability.attempts_distribution(auths))

    failures = page.section(prefix + "denials and abandonment", f"denials-{tag}")
    if (
        auths["outcome"].astype(str).eq("denied").any()
        or reliability.denial_events(auths)["events"].any()
    ):
        failures.chart(
            "denials-by-reason",
            f"chart-denials-by-reason-{tag}",
            charts.denials_chart(auths),
            "Denials by reason (final) and denials met along the way",
        )
    else:
        failures.text("No authentication met a denial.")
    failures.table("Final denials by reason", reliability.denials_by_reason(auths), markdown=True)
    failures.table("Denials along the way", reliability.denial_events(auths), markdown=True)
    failures.table("Abandonment", reliability.abandonment(auths))
    failures.table("Abandonment by first method", reliability.abandonment(auths, "method"))
    failures.table("Abandonment causes", reliability.abandonment_causes(auths))

    flows = page.section(prefix + "method fallback flows", f"flows-{tag}")
    flows.chart(
        "fallback-flows",
        f"chart-fallback-flows-{tag}",
        charts.fallback_chart(auths),
        "Method sequences and how they ended",
    )
    flows.table("Flows", reliability.fallback_flows(auths))

    delivery = page.section(prefix + "deliveries", f"deliveries-{tag}")
    for by in ("channel", "provider", "sender_kind", "country"):
        delivery.table(f"By {by.replace('_', ' ')}", reliability.delivery_rate(run.deliveries, by))
    delivery.table("Lost messages by cause", reliability.loss_causes(run.deliveries))
    delivery.table(
        "Per sender (short code / long code); utilisation as the run recorded it",
        _sender_rows(run),
        markdown=True,
    )

    queues = page.section(prefix + "queues and utilisation", f"queues-{tag}")
    if run.resources.empty:
        queues.text("The run recorded no queue samples.")
    else:
        queues.chart(
            "resources",
            f"chart-resources-{tag}",
            charts.resources_chart(run.resources),
            "Queue length and utilisation over time per sender, provider and server "
            "(panels of queues that never formed are left out)",
        )
    queues.table("Busiest resources", reliability.busiest_resources(run.resources), markdown=True)

    _billing_section(page, run, tag, prefix, prices, signins_per_user_month)


def _headline_table(head: dict[str, float]) -> pd.DataFrame:
    """One row per headline figure: its catalogue label, value and definition (a table a
    reader can read down, rather than one row of sixteen columns)."""
    rows = []
    for name, value in head.items():
        metric = CATALOGUE.get(name)
        rows.append(
            {
                "figure": metric.label if metric else name,
                "value": CATALOGUE.format(name, value),
                "definition": metric.definition if metric else "",
            }
        )
    return pd.DataFrame(rows)


def _interval_table(table: pd.DataFrame) -> pd.DataFrame:
    """Means over replications with their t interval, formatted by the catalogue."""
    rows = []
    for item in table.itertuples(index=False):
        rows.append(
            {
                "metric": CATALOGUE[item.metric].label if item.metric in CATALOGUE else item.metric,
                "mean": CATALOGUE.format(item.metric, item.mean),
                "95 % interval": f"{CATALOGUE.format(item.metric, item.ci_low)} – "
                f"{CATALOGUE.format(item.metric, item.ci_high)}",
                "replications": item.replications,
            }
        )
    return pd.DataFrame(rows)


def _headline_sentence(head: dict[str, float], replications: int, lifetime: float) -> str:
    """The headline in words; every figure formatted by its catalogue entry."""
    if not head["authentications"]:
        return "The run holds no authentications."

    def fmt(name: str) -> str:
        return CATALOGUE.format(name, head[name])

    return (
        f"{fmt('success_rate')} of {head['authentications']:,} authentications succeeded "
        f"(pooled; 95 % interval {fmt('ci_low')} – {fmt('ci_high')}, "
        + (
            f"Student t over {replications} replications"
            if replications > 1
            else "Wilson, one replication"
        )
        + f"); {fmt('signed_in_within_30s')} signed in within 30 s and "
        f"{fmt('signed_in_within_60s')} within 60 s; time to authenticate p50 {fmt('p50')}, "
        f"p95 {fmt('p95')}, p99 {fmt('p99')}; {fmt('delivered_within_code_lifetime')} of sms "
        f"and voice messages delivered within the code lifetime ({lifetime:g} s); "
        f"{fmt('attempts_per_success')} attempts (begins) per success; "
        f"{fmt('denied_share')} denied, {fmt('abandoned_share')} abandoned."
    )


def _billing_section(
    page: Page,
    run: SimRun,
    tag: str,
    prefix: str,
    prices: billing.Pricing,
    signins_per_user_month: float | None,
) -> None:
    section = page.section(prefix + "billing", f"billing-{tag}")
    estimate = billing.usage_from_run(run, signins_per_user_month=signins_per_user_month)
    usage = estimate.usage
    costs = billing.monthly_costs(usage, prices, messages=estimate.messages)
    section.text(f"Month scaled from the simulated window: {estimate.rule}.")
    section.table(
        "Usage (mfa.billing.BillingUsage)",
        pd.DataFrame(
            [
                {
                    "model": usage.model.value if usage.model else "(not set)",
                    "enabled_users": usage.enabled_users,
                    "licensed_users": usage.licensed_users,
                    "billable_users": usage.billable_users,
                    "authentications": usage.authentications,
                    "window_signins": estimate.window_signins,
                    "window_billable": estimate.window_billable,
                    "sms_month": round(estimate.messages.get("sms", 0.0)),
                    "voice_month": round(estimate.messages.get("voice", 0.0)),
                }
            ]
        ),
        markdown=True,
    )
    section.chart(
        "cost-by-model",
        f"chart-cost-by-model-{tag}",
        charts.cost_chart(costs, prices.currency),
        f"Monthly cost by billing model ({prices.currency})",
    )
    section.table(f"Cost per month ({prices.currency})", costs, markdown=True)
    even = billing.break_even_auths_per_user(usage, prices)
    per_user_rate = usage.authentications / usage.enabled_users if usage.enabled_users else 0.0
    if not math.isnan(even):
        cheaper = "per-authentication" if per_user_rate < even else "per-user"
        section.text(
            f"Break-even: {even:.2f} authentications per enabled user per month; this run makes "
            f"{per_user_rate:.2f}, so the {cheaper} model is cheaper."
        )
    what_if = billing.switch_what_if(usage, prices, push_users=estimate.push_users)
    section.text(
        f"Switching {what_if.current} → {what_if.target}: {what_if.current_cost:,.2f} → "
        f"{what_if.target_cost:,.2f} {prices.currency} a month (saving "
        f"{what_if.monthly_saving:,.2f}). The engine says: {what_if.engine_says or 'no change'}"
    )
    for step in what_if.steps:
        section.text(f"• {step}")
    note = " (historical list prices)" if prices.historical else ""
    dated = f", as of {prices.as_of}" if prices.as_of else ""
    section.text(
        f"Prices: {prices.source}{note}{dated}; per user {prices.per_user_month:g}/month, "
        f"{prices.per_auth_price:g} per {prices.per_auth_block} authentication(s), licence "
        f"{prices.licence_user_year:g}/user/year, per SMS {prices.sms_per_message:g}, per call "
        f"{prices.voice_per_call:g}. Override with --pricing FILE."
    )


# ---------------------------------------------------------------------- real traffic


def _traffic_section(
    page: Page,
    label: str,
    logs: pd.DataFrame,
    index: int,
    prices: billing.Pricing,
    enabled_users: int | None,
    licensed_users: int,
) -> None:
    """Reliability and billing of a real server's traffic, from its engine log."""
    section = page.section(f"{label}: real traffic (engine log)", f"traffic-{index}")
    head = traffic.headline(logs)
    if not head["authentications"]:
        section.text("The log holds no authentication.")
        return
    first, last = logs["began_at"].min(), logs["began_at"].max()
    section.text(
        f"{head['authentications']:,} authentications began from {first:%Y-%m-%d %H:%M} to "
        f"{last:%Y-%m-%d %H:%M} UTC; {head['successes']:,} succeeded "
        f"({TRAFFIC.format('success_share', head['success_share'])} of those that finished); "
        f"time from begin to success p50 {TRAFFIC.format('p50', head['p50'])}, "
        f"p95 {TRAFFIC.format('p95', head['p95'])}; {head['unfinished']:,} never "
        f"finished (pending: not answered, or not yet); {head['billable']:,} billable."
    )
    section.table("By method", traffic.by_column(logs, "mode"), markdown=True, catalogue=TRAFFIC)
    section.table(
        "By server", traffic.by_column(logs, "server_name"), markdown=True, catalogue=TRAFFIC
    )
    section.table(
        "Not successful, by status and reason",
        traffic.refusals(logs),
        markdown=True,
        catalogue=TRAFFIC,
    )
    section = page.section(f"{label}: billing of real traffic", f"traffic-billing-{index}")
    tables = []
    for month in traffic.usage_by_month(
        logs, enabled_users=enabled_users, licensed_users=licensed_users
    ):
        usage = month.usage
        section.text(
            f"{usage.month}: {usage.authentications:,} billable authentications; "
            f"{usage.enabled_users:,} enabled users, {usage.licensed_users:,} licensed "
            f"(users: {month.users_rule})."
        )
        costs = billing.monthly_costs(usage, prices).drop(columns=["current"])
        tables.append(costs.assign(month=usage.month).set_index("month").reset_index())
    section.table(
        f"Cost per month under each model ({prices.currency})",
        pd.concat(tables, ignore_index=True),
        markdown=True,
        catalogue=TRAFFIC,
    )
    section.text(
        "The log has no user table: for the bill of record, with the users enabled and "
        "licensed in each month and the providers active in it, run "
        "`mfalab billing --db URL --month YYYY-MM` on the server's database."
    )
    _prices_note(section, prices)


def _prices_note(section: Section, prices: billing.Pricing) -> None:
    note = " (historical list prices)" if prices.historical else ""
    dated = f", as of {prices.as_of}" if prices.as_of else ""
    section.text(
        f"Prices: {prices.source}{note}{dated}; per user {prices.per_user_month:g}/month, "
        f"{prices.per_auth_price:g} per {prices.per_auth_block} authentication(s), licence "
        f"{prices.licence_user_year:g}/user/year. Override with --pricing FILE."
    )


# ---------------------------------------------------------------------- load tests


def _loadtest_section(page: Page, results: LocustResults, index: int) -> None:
    section: Section = page.section(f"{results.label}: load test", f"loadtest-{index}")
    head = loadtest.headline(results)
    section.text(loadtest.headline_sentence(head))
    timeline = loadtest.over_time(results)
    section.chart(
        "loadtest-throughput",
        f"chart-loadtest-throughput-{index}",
        charts.loadtest_throughput_chart(timeline),
        "Requests and failures per second, and users",
    )
    section.chart(
        "loadtest-latency",
        f"chart-loadtest-latency-{index}",
        charts.loadtest_latency_chart(timeline),
        "Latency percentiles over time (ms)",
    )
    if not results.logins.empty:
        section.table(
            "Sign-ins (begin to verdict)", results.logins, markdown=True, catalogue=LOADTEST
        )
    section.table("Requests", loadtest.latency_table(results), markdown=True, catalogue=LOADTEST)
    failures = loadtest.failures_by_reason(results)
    section.chart(
        "loadtest-failures",
        f"chart-loadtest-failures-{index}",
        charts.loadtest_failures_chart(failures),
        "Failures by reason",
    )
    section.table("Failures by reason", failures, markdown=True, catalogue=LOADTEST)
    section.table(
        "Thresholds", loadtest.threshold_results(results), markdown=True, catalogue=LOADTEST
    )
