"""The HTML report and Markdown summary: every chart present, numbers from the rows, the CLI."""

from __future__ import annotations

import base64
import io
import os
import re
from pathlib import Path

import pytest
from PIL import Image

from mfa.cli import main
from reports.run_report import COMPARISON_CHARTS, LOADTEST_CHARTS, SIM_CHARTS, write_run_report
from reports.screenshot import check_png, find_chromium, screenshot
from tests.reports.conftest import FakeRun

SAMPLE = Path(__file__).resolve().parents[2] / "notebooks" / "data" / "locust"
PNG = re.compile(
    r'<figure id="([^"]+)" data-chart="([^"]+)">'
    r'<img alt="[^"]*" src="data:image/png;base64,([^"]+)"'
)


def figures(page: str) -> dict[str, bytes]:
    """data-chart kind → decoded PNG, for every embedded chart."""
    return {kind: base64.b64decode(data) for _, kind, data in PNG.findall(page)}


@pytest.fixture(scope="module")
def report(fake_run: FakeRun, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("report") / "one.html"
    return write_run_report([fake_run.path], out)


def test_the_html_embeds_every_chart_as_a_png(report: Path) -> None:
    page = report.read_text(encoding="utf-8")
    charts = figures(page)
    assert set(charts) == set(SIM_CHARTS)
    for kind, png in charts.items():
        assert png.startswith(b"\x89PNG\r\n\x1a\n")
        with Image.open(io.BytesIO(png)) as image:  # a drawn chart, not a blank canvas
            assert image.width >= 400 and image.height >= 200, kind
            assert len(image.convert("RGB").getcolors(maxcolors=4096) or range(4096)) >= 8, kind
    # self-contained: nothing is fetched from anywhere
    assert not re.search(r'(src|href)="(https?:)?//', page)


def test_the_numbers_are_those_of_the_rows(report: Path, fake_run: FakeRun) -> None:
    rows = fake_run.auths
    rate = sum(r.outcome == "success" for r in rows) / len(rows)  # pooled over replications
    summary = report.with_suffix(".md").read_text(encoding="utf-8")
    assert f"{100 * rate:.2f} % of {len(rows):,} authentications succeeded" in summary
    page = report.read_text(encoding="utf-8")
    assert f"{100 * rate:.2f} % of {len(rows):,} authentications succeeded" in page
    wrong = sum(r.wrong_server for r in rows)
    assert f"| wrong_server | {wrong} |" in summary
    # the bill: 60 enabled users, 15 licences (scenario), per-user model → 45 × 1.40
    assert "| per_user | 45 | enabled users without a licence | 63.00 |" in summary


def test_two_runs_are_compared_side_by_side(
    fake_run: FakeRun, other_run: FakeRun, tmp_path: Path
) -> None:
    out = write_run_report([fake_run.path, other_run.path], tmp_path / "both.html")
    page = out.read_text(encoding="utf-8")
    kinds = [kind for _, kind, _ in PNG.findall(page)]
    assert sorted(kinds) == sorted(COMPARISON_CHARTS)  # one comparison, no per-run sections
    summary = out.with_suffix(".md").read_text(encoding="utf-8")
    assert "## Runs side by side" in summary
    assert "| us-ca-gb |" in summary and "| one-server |" in summary


def test_a_load_test_directory_is_reported(tmp_path: Path) -> None:
    if not (SAMPLE / "sample_stats.csv").exists():
        pytest.fail(f"the shipped Locust sample is missing from {SAMPLE}")
    out = write_run_report([SAMPLE], tmp_path / "load.html")
    page = out.read_text(encoding="utf-8")
    assert set(figures(page)) == set(LOADTEST_CHARTS)
    summary = out.with_suffix(".md").read_text(encoding="utf-8")
    assert "wrong_server" in summary and "**Thresholds**" in summary


def test_the_command_writes_the_report_beside_the_run(
    fake_run: FakeRun, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "cli.html"
    assert main(["report", str(fake_run.path), "--out", str(out)]) == 0
    assert out.exists() and out.with_suffix(".md").exists()
    assert str(out) in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["/nonexistent/run"], "no such directory"),
        (["{tmp}"], "neither a simulator run"),
        (["{run}", "--out", "{tmp}/r.pdf"], "give a FILE.html"),
        (["{run}", "--pricing", "{tmp}/none.yaml"], "cannot be read"),
    ],
)
def test_bad_input_is_one_clear_message_and_exit_2(
    fake_run: FakeRun,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    message: str,
) -> None:
    argv = ["report", *(a.format(tmp=tmp_path, run=fake_run.path) for a in args)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_a_malformed_run_names_the_file(tmp_path: Path) -> None:
    run = tmp_path / "broken"
    (run / "auths").mkdir(parents=True)
    (run / "auths" / "part-00000.parquet").write_text("not parquet", encoding="utf-8")
    assert main(["report", str(run)]) == 2


@pytest.mark.slow
def test_a_headless_browser_renders_the_report(report: Path, tmp_path: Path) -> None:
    if find_chromium() is None:
        if os.environ.get("MFALAB_REQUIRE_SERVICES") == "1":
            pytest.fail("chromium is required (apt-get install -y chromium)")
        pytest.skip("chromium is not installed")
    shot = screenshot(report, tmp_path / "shot.png", height=2400)
    verdict = check_png(shot)
    assert verdict.ok, verdict
    assert (verdict.width, verdict.height) == (1280, 2400)
