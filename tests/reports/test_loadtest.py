"""Load-test tables read from the shipped Locust sample, checked against the raw CSV."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pytest

from reports import loadtest
from reports.loaders import LocustResults, ReportInputError, load_locust

SAMPLE = Path(__file__).resolve().parents[2] / "notebooks" / "data" / "locust"


def rows(name: str) -> list[dict[str, str]]:
    with (SAMPLE / name).open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def results() -> LocustResults:
    return load_locust(SAMPLE)


def test_per_request_table_matches_the_stats_csv(results: LocustResults) -> None:
    raw = {r["Name"]: r for r in rows("sample_stats.csv")}
    table = loadtest.latency_table(results).set_index("name")
    for name, row in raw.items():
        assert table.loc[name, "requests"] == int(row["Request Count"])
        assert table.loc[name, "failures"] == int(row["Failure Count"])
        assert table.loc[name, "p95"] == float(row["95%"])
        ratio = int(row["Failure Count"]) / int(row["Request Count"])
        assert table.loc[name, "fail_ratio"] == pytest.approx(ratio)
    head = loadtest.headline(results)
    assert head["requests"] == int(raw["Aggregated"]["Request Count"])
    assert head["p99"] == float(raw["Aggregated"]["99%"])


def test_failures_are_grouped_by_the_engine_reason(results: LocustResults) -> None:
    raw = rows("sample_failures.csv")
    table = loadtest.failures_by_reason(results)
    assert table["occurrences"].sum() == sum(int(r["Occurrences"]) for r in raw)
    assert "wrong_server" in set(table["reason"])


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        ("wrong_server", "wrong_server"),
        ("CatchResponseError('expired')", "expired"),
        ('CatchResponseError("rate_limited")', "rate_limited"),
        ("HTTPError('503 Server Error: Service Unavailable for url: /v1/auth')", "http_503"),
        (
            "ConnectionRefusedError(111, 'Connection refused')",
            "ConnectionRefusedError(111, 'Connection refused')",
        ),
    ],
)
def test_failure_reason_unwraps_locust_error_text(error: str, reason: str) -> None:
    assert loadtest.failure_reason(error) == reason


def test_over_time_is_the_aggregated_history(results: LocustResults) -> None:
    raw = [r for r in rows("sample_stats_history.csv") if r["Name"] == "Aggregated"]
    timeline = loadtest.over_time(results)
    assert len(timeline) == len(raw)
    assert timeline["elapsed_s"].iloc[0] == 0
    assert timeline["elapsed_s"].iloc[-1] == int(raw[-1]["Timestamp"]) - int(raw[0]["Timestamp"])
    assert timeline["rps"].max() == pytest.approx(max(float(r["Requests/s"]) for r in raw))


def test_thresholds_are_read_as_written(results: LocustResults) -> None:
    raw = json.loads((SAMPLE / "thresholds.json").read_text(encoding="utf-8"))
    table = loadtest.threshold_results(results)
    assert table.to_dict("records") == [
        {"threshold": t["threshold"], "value": t["value"], "passed": t["passed"]} for t in raw
    ]
    assert loadtest.headline(results)["thresholds_failed"] == sum(not t["passed"] for t in raw)


def test_bad_locust_input_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(ReportInputError, match=re.escape("no *_stats.csv")):
        load_locust(tmp_path)
    (tmp_path / "x_stats.csv").write_text("Type,Name\nGET,/\n", encoding="utf-8")
    with pytest.raises(ReportInputError, match=re.escape("x_stats.csv: missing columns")):
        load_locust(tmp_path)
    (tmp_path / "x_stats.csv").unlink()
    (tmp_path / "y_stats.csv").write_text((SAMPLE / "sample_stats.csv").read_text("utf-8"))
    (tmp_path / "thresholds.json").write_text('[{"threshold": "p95<1ms"}]', encoding="utf-8")
    with pytest.raises(ReportInputError, match=re.escape("thresholds.json: item 0 has no 'value'")):
        load_locust(tmp_path)


TIMES = "avg_ms,p50_ms,p95_ms,p99_ms,max_ms,failure_reasons"
NEW_LOGINS = f"""flow,scheduled,logins,dropped,per_s,successes,failures,success_ratio,{TIMES}
sms,777,777,0,17.2,777,0,1.0,40,40,40,40,40,
All,1508,777,731,17.2,777,731,0.515252,40,40,40,40,40,dropped=731
arrivals:started,,777,,17.2,,,,3,0,10,20,30,
arrivals:dropped,,731,731,16.2,,,,,,,,,
setup:/v1/users (setup),,40,0,1.0,40,0,1.0,29000,29000,29000,29000,29000,
"""

#: as the locustfiles wrote it before: no scheduled/dropped columns, dropped as an arrival row
OLD_LOGINS = f"""flow,logins,per_s,successes,failures,success_ratio,{TIMES}
sms,777,17.2,777,0,1.0,40,40,40,40,40,
All,777,17.2,777,0,1.0,40,40,40,40,40,
arrivals:started,777,17.2,777,0,1.0,3,0,10,20,30,
arrivals:dropped,731,16.2,731,0,1.0,0,0,0,0,0,
"""


@pytest.mark.parametrize("logins", [NEW_LOGINS, OLD_LOGINS], ids=["now", "before"])
def test_the_headline_counts_dropped_arrivals_as_failed_logins(logins: str, tmp_path: Path) -> None:
    for name in ("sample_stats.csv", "sample_failures.csv", "sample_stats_history.csv"):
        (tmp_path / name).write_text((SAMPLE / name).read_text("utf-8"), encoding="utf-8")
    (tmp_path / "sample_logins.csv").write_text(logins, encoding="utf-8")
    head = loadtest.headline(load_locust(tmp_path))
    assert (head["scheduled"], head["completed"], head["dropped"]) == (1508, 777, 731)
    assert head["succeeded"] == 777
    assert head["login_success_ratio"] == pytest.approx(777 / 1508)
    sentence = loadtest.headline_sentence(head)
    assert "1,508 logins scheduled, 777 completed, 731 dropped" in sentence
    assert "777 succeeded (51.53 % of scheduled)" in sentence
    if logins is NEW_LOGINS:
        assert "Setup requests (before the measured logins, not in thresholds): 40" in sentence
