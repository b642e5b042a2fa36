"""Against one real server: every flow logs in without a failure, the open workload starts
logins at the asked rate, and a violated threshold fails the run."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.loadtests.conftest import LocustRun, run_locust, running_cluster

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server() -> Iterator[Any]:
    with running_cluster(servers=1) as cluster:
        yield cluster


def _run(server: Any, out: Path, scenario: str, *args: str) -> LocustRun:
    return run_locust(scenario, server.urls[0], out / "locust", server.api_key, *args)


def test_every_flow_logs_in_without_a_failure(server: Any, tmp_path: Path) -> None:
    run = _run(
        server,
        tmp_path,
        "mixed",
        *("--mix", "sms=1,push=1,totp=1,app_password=1", "--totp-accounts", "2"),
        *("-u", "8", "-t", "8s", "--think", "0.1-0.3", "--stop-timeout", "10"),
        *("--threshold", "success_ratio>0.99", "--threshold", "fail_ratio<0.01"),
    )
    assert run.code == 0, run.output
    logins = run.logins
    for flow in ("sms", "push", "totp", "app_password"):
        assert int(logins[flow]["logins"]) > 0, flow
        assert logins[flow]["failures"] == "0", logins[flow]
    assert run.failures == [] and run.exceptions == []
    # every begin of an sms login read its code from the sink and verified it (the logins
    # in progress at the end finish: --stop-timeout)
    assert run.requests("/v1/auth (sms)") == run.requests("verify (sms)") > 0
    rows = json.loads((tmp_path / "thresholds.json").read_text())
    assert [r["passed"] for r in rows] == [True, True]


def test_a_violated_threshold_exits_non_zero_with_one_line_each(
    server: Any, tmp_path: Path
) -> None:
    run = _run(
        server,
        tmp_path,
        "sms",
        *("-u", "4", "-t", "4s", "--think", "0.1"),
        *("--threshold", "requests>1000000,success_ratio>0.5"),
    )
    assert run.code == 3, run.output
    assert "threshold requests>1000000: FAILED" in run.output
    assert "threshold success_ratio>0.5: passed" in run.output
    rows = json.loads((tmp_path / "thresholds.json").read_text())
    assert [(r["threshold"], r["passed"]) for r in rows] == [
        ("requests>1000000", False),
        ("success_ratio>0.5", True),
    ]
    assert rows[0]["value"] == run.total()


def test_the_open_workload_starts_logins_at_the_rate(server: Any, tmp_path: Path) -> None:
    run = _run(server, tmp_path, "sms", "--rate", "20", "-t", "6s", "--max-lag", "5")
    assert run.code == 0, run.output
    started = run.logins["arrivals:started"]
    # 20 starts per second while the users ran (about 6 s; the run's first moments go to
    # creating the accounts): ±1/s for the second-long stops of Locust's shape ticks
    assert abs(float(started["per_s"]) - 20) <= 1, started
    assert 100 <= int(started["logins"]) <= 125, started
    assert "arrivals:dropped" not in run.logins
    assert int(run.logins["sms"]["successes"]) >= int(started["logins"]) - 5
