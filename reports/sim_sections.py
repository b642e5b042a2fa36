"""The sections of one simulator run's report: summary, success by segment, time to
authenticate, attempts, denials, fallback flows, deliveries, queues, billing.

Every figure comes from ``reports.reliability`` / ``reports.billing`` and is labelled and
formatted by the metric catalogue (``outputs.metrics``), so a notebook reproduces a section
cell by cell."""

from __future__ import annotations

import pandas as pd

from outputs.metrics import CATALOGUE
from reports import billing, charts, reliability
from reports.billing_sections import sim_billing_section
from reports.loaders import SimRun
from reports.render import Page
from reports.senders import SENDER_COLUMNS, sender_table

__all__ = [
    "SIM_CHARTS",
    "sender_rows",
    "sim_sections",
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

_SEGMENT_TABLES = ("country", "carrier", "method", "sender_kind", "provider", "server", "attempts")
_OPTIONAL_SEGMENTS = ("connectivity", "signal", "security_app")


def sender_rows(run: SimRun) -> pd.DataFrame:
    table = sender_table(run.deliveries, run.resources)
    return table[[c for c in SENDER_COLUMNS if c in table]]


def sim_sections(
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
        sender_rows(run),
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

    sim_billing_section(page, run, tag, prefix, prices, signins_per_user_month)


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
