"""The report of one load test (``mfalab loadtest``'s Locust results): throughput, latency,
sign-ins, failures by reason and the thresholds."""

from __future__ import annotations

from outputs.metrics import LOADTEST
from reports import charts, loadtest
from reports.loaders import LocustResults
from reports.render import Page, Section

__all__ = [
    "LOADTEST_CHARTS",
    "loadtest_section",
]

#: Charts every load test gets.
LOADTEST_CHARTS = ("loadtest-throughput", "loadtest-latency", "loadtest-failures")


def loadtest_section(page: Page, results: LocustResults, index: int) -> None:
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
