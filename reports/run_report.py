"""The report of one or more runs: the answer a planner or analyst acts on.

``write_run_report`` reads simulator run directories (``mfalab run``/``mfalab sweep``) and
load-test directories (``mfalab loadtest``: Locust ``--csv`` files and ``thresholds.json``),
and engine logs of a real server (``mfalab logs export`` Parquet, ``logs=``: a reliability and
billing section for real traffic, see ``reports.traffic``), and writes a self-contained HTML
page (every chart embedded) plus a Markdown summary beside it.
Two or more runs — or one sweep — are also compared side by side. Every number comes from the
``reports`` library functions, so a notebook reproduces the page cell by cell.

The page is assembled here; each kind of input has its sections in its own module
(``sim_sections``, ``comparison_sections``, ``loadtest_sections``, ``traffic_sections``,
``billing_sections``, ``fraud_sections`` for runs with attackers).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from reports import billing
from reports.billing_sections import run_prices
from reports.comparison_sections import COMPARISON_CHARTS, comparison_sections, labelled_points
from reports.fraud_sections import FRAUD_CHARTS, fraud_sections
from reports.loaders import (
    LocustResults,
    ReportInputError,
    SimRun,
    is_locust_dir,
    is_sim_run,
    load_engine_logs,
    load_locust,
    load_run,
)
from reports.loadtest_sections import LOADTEST_CHARTS, loadtest_section
from reports.render import Page
from reports.sim_sections import SIM_CHARTS, sim_sections
from reports.traffic_sections import traffic_sections

__all__ = [
    "COMPARISON_CHARTS",
    "FRAUD_CHARTS",
    "LOADTEST_CHARTS",
    "SIM_CHARTS",
    "Report",
    "build_report",
    "run_prices",
    "write_run_report",
]


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
    points = [point for run in sims for point in labelled_points(run)]
    if len(points) > 1:  # one comparison, not every section once per run
        comparison_sections(page, points, pricing, signins_per_user_month)
    elif points:
        run = points[0][1]
        prices = pricing if isinstance(pricing, billing.Pricing) else run_prices(run, pricing)
        sim_sections(page, run, 0, prices, signins_per_user_month)
    for index, run in enumerate(sims):
        prices = pricing if isinstance(pricing, billing.Pricing) else run_prices(run, pricing)
        fraud_sections(page, run, index, prices)
    for index, results in enumerate(tests):
        loadtest_section(page, results, index)
    if traffic_logs:
        prices = pricing if isinstance(pricing, billing.Pricing) else billing.load_pricing(pricing)
        for index, (label, frame) in enumerate(traffic_logs):
            traffic_sections(page, label, frame, index, prices, enabled_users, licensed_users)
    return Report(html=page.to_html(), markdown=page.to_markdown(), charts=tuple(page.charts))


def _unique(label: str, seen: set[str]) -> str:
    candidate, n = label, 2
    while candidate in seen:
        candidate, n = f"{label} ({n})", n + 1
    seen.add(candidate)
    return candidate
