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
    # 20 starts per second for the whole 6 s (the clock starts once the accounts are
    # enrolled), up to 7 s as the shape sees the run time at its next one-second tick;
    # ±1/s for the second-long stops of Locust's shape ticks
    assert abs(float(started["per_s"]) - 20) <= 1, started
    assert 115 <= int(started["logins"]) <= 145, started
    assert "arrivals:dropped" not in run.logins
    assert int(run.logins["sms"]["successes"]) >= int(started["logins"]) - 5


def test_the_pool_is_enrolled_before_the_clock_and_reported_apart(
    server: Any, tmp_path: Path
) -> None:
    run = _run(
        server,
        tmp_path,
        "mixed",
        *("--mix", "sms=1,totp=1", "--totp-accounts", "1", "--user-pool", "300"),
        *("-u", "4", "-t", "3s", "--think", "0.1", "--threshold", "requests>0"),
    )
    assert run.code == 0, run.output
    assert "300 sms and 0 push accounts enrolled" in run.output
    assert "before the clock started (1 POST /v1/users/sync" in run.output
    # the enrolment (pool and the totp users') is not in Locust's request table ...
    assert not [r for r in run.stats if "setup" in r["Name"] or "/v1/users" in r["Name"]]
    # ... but reported apart, beside the sign-ins
    setup = {k: v for k, v in run.logins.items() if k.startswith("setup:")}
    assert int(setup["setup:/v1/users/sync (pool, before the clock)"]["logins"]) == 1
    # the 4 users' totp authenticators too: one sync request before the clock, none on start
    assert (
        int(setup["setup:/v1/users/sync (totp and app-password users, before the clock)"]["logins"])
        == 1
    )
    assert not [name for name in setup if name.endswith("(setup)")]
    assert run.logins["All"]["scheduled"] == run.logins["All"]["logins"]


def test_a_reused_run_id_gets_no_rate_limited(server: Any, tmp_path: Path) -> None:
    """Two runs with one --run-id at --think 0, each pool just large enough for its run:
    before, accounts were reused within and across runs (5,447 ``rate_limited`` in one)."""
    args = ("--run-id", "again", "--user-pool", "150", "-u", "4", "-t", "4s", "--think", "0")
    first = _run(server, tmp_path / "first", "sms", *args)
    second = _run(server, tmp_path / "second", "sms", *args)
    for run in (first, second):
        assert int(run.logins["sms"]["logins"]) > 100, run.output
        assert run.failed("", "rate_limited") == 0, run.output
        assert run.failures == [], run.output


def test_a_test_that_would_hit_the_send_limit_says_so_before_it_starts(
    server: Any, tmp_path: Path
) -> None:
    run = _run(server, tmp_path, "sms", "--rate", "50", "--user-pool", "10", "-t", "30s")
    assert run.code == 2, run.output
    assert "this test would run into the send limit (5 texts per 300 s per account)" in run.output
    assert "Traceback" not in run.output
    assert run.logins["All"]["logins"] == "0"  # nothing ran
