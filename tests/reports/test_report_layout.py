"""What a reader sees (issue 14): tables that fit a 1280 px window, axes that show differences,
intervals where there are replications, no empty panels, a per-sender table, and a
side-by-side report of several directories that is one comparison — not the runs repeated."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import PolyCollection
from matplotlib.figure import Figure

from reports import charts, reliability
from reports.loaders import load_run
from reports.run_report import build_report, write_run_report
from reports.screenshot import find_chromium, overflowing_tables
from reports.senders import sender_table
from tests.reports import fakeruns
from tests.reports.conftest import SCENARIO, FakeRun

# ---------------------------------------------------------------------- fixtures


def _with_column(path: Path, name: str, value: object) -> pa.Table:
    table = pq.read_table(path)
    return table.append_column(name, pa.array([value] * table.num_rows))


def _sweep(root: Path, parameter: str, values: list[object], seed: int) -> Path:
    """A sweep directory: the record files of each point with the swept column added."""
    points = []
    for index, value in enumerate(values):
        rows = fakeruns.generate(seed=seed + index, servers=1 + index)
        points.append(
            (value, fakeruns.write_run(root.parent / f".{root.name}-{index}", *rows, parts=1))
        )
    for member in ("auths", "deliveries"):
        (root / member).mkdir(parents=True, exist_ok=True)
        for index, (value, point) in enumerate(points):
            part = point / member / "part-00000.parquet"
            pq.write_table(
                _with_column(part, parameter, value), root / member / f"part-{index:05d}.parquet"
            )
    pq.write_table(
        pa.concat_tables([_with_column(p / "resources.parquet", parameter, v) for v, p in points]),
        root / "resources.parquet",
    )
    for name in ("scenario.yaml", "meta.json", "summary.json"):
        (root / name).write_bytes((points[0][1] / name).read_bytes())
    return root


@pytest.fixture(scope="module")
def five(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Five directories as a planner compares them: three runs made with different
    ``--set`` overrides and two sweeps over different parameters."""
    base = tmp_path_factory.mktemp("five")
    dirs = []
    for index, overrides in enumerate(({}, {"servers.count": 2}, {"servers.count": 3})):
        rows = fakeruns.generate(seed=20 + index, servers=1 + index, replications=3)
        run = fakeruns.write_run(base / f"d{index + 1}", *rows, scenario=SCENARIO)
        (run / "meta.json").write_text(json.dumps({"seed": 7, "overrides": overrides}))
        dirs.append(run)
    dirs.append(_sweep(base / "d4", "servers.count", [1.0, 3.0], seed=40))
    dirs.append(_sweep(base / "d5", "failover.enabled", [True, False], seed=50))
    return dirs


@pytest.fixture(scope="module")
def five_report(five: list[Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_run_report(five, tmp_path_factory.mktemp("five-report") / "five.html")


@pytest.fixture(scope="module")
def one_report(fake_run: FakeRun, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_run_report([fake_run.path], tmp_path_factory.mktemp("one") / "one.html")


@pytest.fixture(scope="module")
def loadtest_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    sample = Path(__file__).resolve().parents[2] / "notebooks" / "data" / "locust"
    return write_run_report([sample], tmp_path_factory.mktemp("load") / "load.html")


def _visible_text(page: str) -> str:
    """The page without embedded images: what a reader can read."""
    return re.sub(r'src="data:[^"]+"', 'src=""', page)


def _toc(page: str) -> list[str]:
    nav = page.split("<nav>", 1)[1].split("</nav>", 1)[0]
    return re.findall(r"<li><a href=\"#[^\"]+\">([^<]+)</a></li>", nav)


# ---------------------------------------------------------------------- several directories


def test_five_directories_are_one_comparison_not_five_reports(five_report: Path) -> None:
    page = five_report.read_text(encoding="utf-8")
    toc = _toc(page)
    assert len(toc) <= 10, toc
    assert sum("side by side" in entry for entry in toc) == 1, toc
    # no section repeated per run or sweep point
    assert not [entry for entry in toc if re.match(r"d\d", entry)], toc
    assert page.count('data-chart="') <= 6


def test_comparison_labels_read_as_the_user_wrote_them(five_report: Path) -> None:
    page = _visible_text(five_report.read_text(encoding="utf-8"))
    summary = five_report.with_suffix(".md").read_text(encoding="utf-8")
    for text in (page, summary):
        assert not re.search(r"\bnan\b", text, flags=re.IGNORECASE)
        assert "servers.count=3.0" not in text and "servers.count=1.0" not in text
        # the sweep points and the overrides of single runs name what differs
        assert "servers.count=3" in text and "failover.enabled=false" in text.lower()
        assert "d2 servers.count=2" in text


# ---------------------------------------------------------------------- tables fit


@pytest.mark.slow
@pytest.mark.parametrize("which", ["one_report", "five_report", "loadtest_report"])
def test_every_table_fits_its_card_at_1280_px(which: str, request: pytest.FixtureRequest) -> None:
    if find_chromium() is None:
        if os.environ.get("MFALAB_REQUIRE_SERVICES") == "1":
            pytest.fail("chromium is required (apt-get install -y chromium)")
        pytest.skip("chromium is not installed")
    report: Path = request.getfixturevalue(which)
    tables, overflowing = overflowing_tables(report, width=1280)
    assert tables >= 4
    assert overflowing == []


# ---------------------------------------------------------------------- axes and intervals


def _close_rates(auths: pd.DataFrame, seed: int = 3) -> pd.DataFrame:
    """The rows with outcomes redrawn so every segment succeeds 93–100 % of the time."""
    rng = np.random.default_rng(seed)
    frame = auths.copy()
    success = rng.random(len(frame)) < 0.97
    frame["outcome"] = pd.Categorical(np.where(success, "success", "denied"))
    frame["reason"] = pd.Categorical(np.where(success, "", "wrong_code"))
    frame["time_to_auth"] = np.where(success, rng.uniform(5, 40, len(frame)), np.nan)
    return frame


def test_segment_bars_zoom_to_close_rates_and_say_so(fake_run: FakeRun) -> None:
    auths = _close_rates(load_run(fake_run.path).auths)
    figure = charts.success_by_segment_chart(auths)
    used = [ax for ax in figure.axes if ax.get_visible() and ax.axison]
    assert used
    for ax in used:
        low, high = ax.get_xlim()
        assert 50 <= low < 93 and high >= 100, ax.get_title()
        # the range is stated, not only drawn
        assert f"{low:.0f}" in ax.get_xlabel()


def test_comparison_bars_zoom_to_close_rates() -> None:
    table = pd.DataFrame(
        {
            "run": ["a", "b"],
            "authentications": [1000, 1000],
            "success_rate": [0.949, 0.992],
            "ci_low": [0.93, 0.985],
            "ci_high": [0.962, 0.996],
            "p50": [10.0, 9.0],
            "p95": [40.0, 30.0],
            "p99": [60.0, 50.0],
            "replications": [1, 1],
        }
    )
    figure = charts.comparison_chart(table)
    low, _ = figure.axes[0].get_xlim()
    assert 50 <= low < 93
    assert f"{low:.0f}" in figure.axes[0].get_xlabel()


def test_replicated_runs_show_intervals_on_the_cdf_and_p95(other_run: FakeRun) -> None:
    run = load_run(other_run.path)  # three replications
    cdf = charts.time_to_auth_cdf_chart({run.label: run.auths})
    assert any(isinstance(c, PolyCollection) for c in cdf.axes[0].collections)
    table = reliability.compare([run])
    figure = charts.comparison_chart(table, {run.label: run.auths})
    p95_axes = figure.axes[1]
    assert p95_axes.containers and any(
        getattr(c, "has_xerr", False) for c in p95_axes.containers
    ), "p95 bars without error bars from replications"


def test_replicated_percentiles_carry_their_interval(one_report: Path) -> None:
    page = _visible_text(one_report.read_text(encoding="utf-8"))
    section = page.split("Percentiles (s), successes", 1)[1].split("</table>", 1)[0]
    assert "95 % interval" in section and "replications" in section


# ---------------------------------------------------------------------- empty panels, labels


def _samples(kind_queues: dict[str, int]) -> pd.DataFrame:
    rows = []
    for kind, queue in kind_queues.items():
        for t in range(0, 600, 10):
            rows.append(
                {
                    "replication": 0,
                    "time": float(t),
                    "kind": kind,
                    "name": f"{kind}-1",
                    "queue_length": queue if t % 20 else 0,
                    "busy": 1,
                    "capacity": 4.0,
                    "utilisation": 0.25,
                }
            )
    return pd.DataFrame(rows)


def test_queue_panels_that_never_queued_are_omitted() -> None:
    figure = charts.resources_chart(_samples({"sender": 3, "provider": 0, "server": 0}))
    titles = [ax.get_title() for ax in figure.axes if ax.get_visible()]
    assert "sender: queue length" in titles
    assert "provider: queue length" not in titles and "server: queue length" not in titles
    assert "provider: utilisation (%)" in titles  # utilisation is still worth seeing


def _boxes_overlap(a, b) -> bool:
    return a.x0 < b.x1 and b.x0 < a.x1 and a.y0 < b.y1 and b.y0 < a.y1


def test_the_cost_labels_stay_clear_of_the_title() -> None:
    costs = pd.DataFrame(
        {
            "model": ["per_user", "per_auth", "licence"],
            "consumption": [400.0, 1200.0, 0.0],
            "message_fees": [0.0, 0.0, 0.0],
            "licences": [0.0, 0.0, 900.0],
            "total": [400.0, 1200.0, 900.0],
            "current": [True, False, False],
        }
    )
    figure: Figure = charts.cost_chart(costs)
    renderer = FigureCanvasAgg(figure).get_renderer()
    figure.draw(renderer)
    ax = figure.axes[0]
    title = ax.title.get_window_extent(renderer)
    frame = ax.get_window_extent(renderer)
    labels = [t for t in ax.texts if t.get_text()]
    assert len(labels) == 3
    for label in labels:
        box = label.get_window_extent(renderer)
        assert not _boxes_overlap(box, title), label.get_text()
        assert box.y1 <= frame.y1, f"{label.get_text()} sticks out of the plot"


# ---------------------------------------------------------------------- per sender


def test_per_sender_table_from_the_rows(fake_run: FakeRun) -> None:
    run = load_run(fake_run.path)
    table = sender_table(run.deliveries, run.resources).set_index("sender")
    texts = [d for d in fake_run.deliveries if d.sender]
    assert set(table.index) == {d.sender for d in texts}
    for sender, row in table.iterrows():
        mine = [d for d in texts if d.sender == sender]
        delivered = [d for d in mine if not np.isnan(d.delivered_at)]
        assert row["sender_kind"] == mine[0].sender_kind
        assert row["sent"] == len(mine)
        assert row["delivered"] == len(delivered)
        assert row["delivery_rate"] == pytest.approx(len(delivered) / len(mine))
        latency = [d.delivered_at - d.requested_at for d in delivered]
        assert row["latency_p50"] == pytest.approx(np.quantile(latency, 0.5))
        assert row["latency_p95"] == pytest.approx(np.quantile(latency, 0.95))
        samples = [
            r.utilisation for r in fake_run.resources if r.kind == "sender" and r.name == sender
        ]
        if samples:  # the fake run samples one sender; the others show no figure, not 0
            assert row["utilisation"] == pytest.approx(np.mean(samples))
            assert row["peak_utilisation"] == pytest.approx(max(samples))
        else:
            assert np.isnan(row["utilisation"])
    assert table["utilisation"].notna().any()


def test_the_report_has_the_per_sender_table(one_report: Path) -> None:
    summary = one_report.with_suffix(".md").read_text(encoding="utf-8")
    block = summary.split("**Per sender", 1)[1].split("\n\n", 2)[1]
    header = block.splitlines()[0]
    for column in ("sender", "sender_kind", "sent", "delivered", "delivery_rate", "utilisation"):
        assert column in header
    assert "+447700900001" in block and "long_code" in block and "short_code" in block


def test_five_directories_compare_senders_and_costs(five: list[Path]) -> None:
    report = build_report(five)
    assert "**Per sender" in report.markdown
    assert "Cost per month" in report.markdown
