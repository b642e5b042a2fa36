"""The same cures through a real load balancer: nginx with sticky or auth-id routing, or
round robin over a shared Redis store, never lets a verify reach the wrong server."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.loadtests.conftest import mfalab_loadtest

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("nginx_available")]

LOAD = ("--scenario", "sms", "--users", "12", "--duration", "5s", "--", "--think", "0.05-0.3")


def _check(run_dir: Path, *args: str, env: dict[str, str] | None = None) -> None:
    run = mfalab_loadtest(run_dir, "--servers", "3", "--via-nginx", *args, *LOAD, env=env)
    assert run.requests("verify (sms)") > 50, run.output
    assert run.failures == [], run.output
    assert run.code == 0, run.output


@pytest.mark.parametrize("policy", ["sticky", "auth_id"])
def test_nginx_affinity_removes_wrong_server(policy: str, tmp_path: Path) -> None:
    _check(tmp_path, "--lb", policy)


@pytest.mark.redis
def test_nginx_round_robin_over_redis_removes_wrong_server(
    redis_url: str, redis_namespace: str, tmp_path: Path
) -> None:
    _check(
        tmp_path,
        *("--lb", "round_robin", "--pending", redis_url),
        env={"MFALAB_REDIS_NAMESPACE": redis_namespace},
    )
