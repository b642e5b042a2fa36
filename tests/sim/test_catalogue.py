"""Every figure an output shows is in the metric catalogue, and equals a recomputation from
the rows of a real simulator run (issue 14: "one name, one meaning")."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml

from mfalab.cli import main
from outputs.estimates import pooled_share
from outputs.metrics import CATALOGUE, LOADTEST, SIGNED_IN_WITHIN_S, Unit, format_parameter
from reports import render
from reports.loaders import load_run
from tests.sim.helpers import merged

#: summary.json keys that are not figures: the run's context and an interval's parts.
_CONTEXT = {"scenario", "question", "scenario_file", "scale", "overrides", "kind", "name"}
_PARTS = {"estimate", "low", "high", "ci95", "interval", "per_replication", "code_lifetime_s"}
#: summary.json mappings keyed by a reason, cause or channel, whose values are counts.
_COUNTS_BY_KEY = {"denials_by_reason", "engine_denials", "losses_by_cause"}

SCENARIO = {
    "name": "catalogued",
    "population": {"users": 500},
    "arrivals": {"duration_s": 400, "profile": [{"start_s": 0, "rate_per_s": 3.0}]},
    "servers": {"count": 2, "lb_policy": "round_robin", "timeout_s": 60},
}


@pytest.fixture(scope="module")
def real_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """``mfalab run`` of a small scenario (fixed seed, two replications), with its report,
    and what it printed."""
    import contextlib
    import io

    root = tmp_path_factory.mktemp("catalogue")
    source = root / "catalogued.yaml"
    source.write_text(yaml.safe_dump(merged({}, SCENARIO)), encoding="utf-8")
    out = root / "run"
    screen = io.StringIO()
    with contextlib.redirect_stdout(screen):
        code = main(["run", str(source), "--replications", "2", "--seed", "9", "--out", str(out)])
    assert code == 0
    return {
        "out": out,
        "printed": " ".join(screen.getvalue().replace("│", " ").split()),
        "summary": json.loads((out / "summary.json").read_text()),
        "run": load_run(out),
        "markdown": (out / "report.md").read_text(encoding="utf-8"),
    }


def _figures(tree: Any, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Any]]:
    """(path, value) of every number in summary.json that is a figure."""
    found = []
    if isinstance(tree, dict):
        for key, value in tree.items():
            if key in _CONTEXT or key in _PARTS:
                continue
            found.extend(_figures(value, (*path, str(key))))
    elif isinstance(tree, int | float) and not isinstance(tree, bool):
        found.append((path, tree))
    return found


def _metric_name(path: tuple[str, ...]) -> str:
    if path[0] in _COUNTS_BY_KEY or path[0] == "outcomes":
        return "denied" if path[0] != "outcomes" else path[-1]
    if path[0] == "monthly_cost":
        return "monthly_cost"
    if path[0] == "delivered_within_code_lifetime" and path[-1] == "messages":
        return "messages"
    return path[-1]


def test_every_catalogue_entry_is_defined_once_with_a_sentence():
    for catalogue in (CATALOGUE, LOADTEST):
        for name, metric in catalogue.items():
            assert metric.name == name and metric.label and metric.definition.endswith("."), name
            assert isinstance(metric.unit, Unit)


def test_every_figure_of_summary_json_is_catalogued(real_run):
    figures = _figures(real_run["summary"])
    assert len(figures) > 40
    missing = sorted({".".join(p) for p, _ in figures if _metric_name(p) not in CATALOGUE})
    assert missing == [], missing


def test_summary_json_agrees_with_the_rows(real_run):
    summary, run = real_run["summary"], real_run["run"]
    auths, deliveries = run.auths, run.deliveries
    ok = auths["outcome"].astype(str).eq("success")
    per = ok.groupby(auths["replication"])
    rate = pooled_share(per.sum().to_numpy(), per.size().to_numpy())
    assert summary["success_rate"]["estimate"] == round(ok.mean(), 6) == round(rate.estimate, 6)
    assert summary["success_rate"]["low"] == pytest.approx(rate.low, abs=1e-6)
    assert summary["success_rate"]["high"] == pytest.approx(rate.high, abs=1e-6)
    for limit in SIGNED_IN_WITHIN_S:
        share = (ok & (auths["time_to_auth"] <= limit)).mean()
        assert summary[f"signed_in_within_{limit}s"]["estimate"] == round(share, 6)
    codes = deliveries[deliveries["channel"].astype(str).isin(["sms", "voice"])]
    in_time = ((codes["delivered_at"] - codes["requested_at"]) <= 60).mean()
    assert summary["delivered_within_code_lifetime"]["estimate"] == round(in_time, 6)
    assert summary["attempts_per_success"] == round(auths["begins"].sum() / ok.sum(), 4)
    times = auths.loc[ok, "time_to_auth"].to_numpy()
    for name, q in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99)):
        assert summary["time_to_auth_s"][name] == pytest.approx(np.quantile(times, q), abs=1e-3)
    assert summary["outcomes"]["abandoned"] == auths["outcome"].astype(str).eq("abandoned").sum()
    for kind, by_name in summary["resources"].items():
        for name, figures in by_name.items():
            assert 0.0 <= figures["utilisation"] <= 1.0, (kind, name)
            assert 0.0 <= figures["peak_utilisation"] <= 1.0, (kind, name)
    assert (run.resources["utilisation"] <= 1.0).all()  # the Parquet samples as well


def test_the_console_prints_the_catalogue_figures_of_summary_json(real_run):
    summary, printed = real_run["summary"], real_run["printed"]
    rate = summary["success_rate"]
    assert (
        f"success rate {CATALOGUE.format('success_rate', rate['estimate'])} (95 % CI "
        f"{CATALOGUE.format('ci_low', rate['low'])} – {CATALOGUE.format('ci_high', rate['high'])}"
    ) in printed
    for limit in SIGNED_IN_WITHIN_S:
        name = f"signed_in_within_{limit}s"
        assert f"{CATALOGUE[name].label} {CATALOGUE.format(name, summary[name]['estimate'])}" in (
            printed
        )
    aps = CATALOGUE.format("attempts_per_success", summary["attempts_per_success"])
    assert f"attempts per success {aps} " in printed
    assert f"p95 {CATALOGUE.format('p95', summary['time_to_auth_s']['p95'])}" in printed


def test_the_report_headline_is_the_same_figures(real_run):
    """The report (from the rows) shows exactly what the console and summary.json show:
    the pooled success rate with the same interval, the same attempts per success."""
    summary, markdown = real_run["summary"], real_run["markdown"]
    rate = summary["success_rate"]
    for name, value in (
        ("success_rate", rate["estimate"]),
        ("ci_low", rate["low"]),
        ("ci_high", rate["high"]),
        ("attempts_per_success", summary["attempts_per_success"]),
        ("signed_in_within_30s", summary["signed_in_within_30s"]["estimate"]),
        ("signed_in_within_60s", summary["signed_in_within_60s"]["estimate"]),
        (
            "delivered_within_code_lifetime",
            summary["delivered_within_code_lifetime"]["estimate"],
        ),
    ):
        row = f"| {CATALOGUE[name].label} | {CATALOGUE.format(name, value)} |"
        assert row in markdown, row


def test_every_report_table_column_is_catalogued(real_run, monkeypatch):
    """Walk every table of the report of the real run: each numeric column has a catalogue
    entry (nothing is formatted by guessing), and a count is never shown as a percentage."""
    from reports.run_report import build_report
    from tests.reports.catalogued import assert_catalogued, report_tables

    tables = report_tables(monkeypatch, lambda: build_report([real_run["out"]]))
    assert len(tables) > 20
    assert_catalogued(tables)


def test_a_count_named_abandoned_is_not_a_percentage():
    """Defect 1: "abandoned 110600.00%" — a column named abandoned held a count."""
    table = pd.DataFrame({"method": ["sms"], "authentications": [40000], "abandoned": [1106]})
    shown = render.format_frame(table)
    assert shown.loc[0, "abandoned"] == "1,106"
    assert "%" not in render.markdown_table(table)


@pytest.mark.parametrize(
    ("value", "text"),
    [(3, "3"), (3.0, "3"), (np.int64(4), "4"), (np.float64(2.5), "2.5"), (True, "true"),
     (np.bool_(False), "false"), (math.nan, None), (None, None), ("sticky", "sticky")],
)  # fmt: skip
def test_swept_values_read_as_typed(value, text):
    assert format_parameter(value) == text


def test_the_sweep_report_compares_points_with_readable_labels(real_run, tmp_path):
    """A sweep next to a plain run: no "nan" parameters, integers as integers."""
    from reports import reliability
    from reports.loaders import SimRun

    auths = pd.concat(
        [real_run["run"].auths.assign(**{"servers.count": n}) for n in (1, 3)], ignore_index=True
    )
    sweep = SimRun(Path("sweep"), "sweep", auths, real_run["run"].deliveries, pd.DataFrame())
    table = reliability.compare([real_run["run"], sweep])
    assert table["servers.count"].tolist() == [None, 1, 3]
    from reports.charts import comparison_chart

    figure = comparison_chart(table)
    labels = [t.get_text() for ax in figure.axes for t in ax.get_yticklabels()]
    assert "sweep servers.count=3" in labels and not any("nan" in label for label in labels)
