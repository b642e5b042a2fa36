"""Locust's distributed mode: one master and two worker processes run the same locustfile;
the master's statistics (Locust's and the per-login ones) add up both workers' work."""

from __future__ import annotations

import json
import os
import subprocess
import urllib.request
from pathlib import Path

import pytest

from mfa.api.children import free_port
from tests.loadtests.conftest import LocustRun, locust_command, running_cluster

pytestmark = pytest.mark.slow


def _logs(url: str, api_key: str) -> list[dict[str, object]]:
    request = urllib.request.Request(
        f"{url}/v1/logs", headers={"Authorization": f"Bearer {api_key}"}
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        return json.loads(answer.read())  # type: ignore[no-any-return]


def test_one_master_and_two_workers_add_up(tmp_path: Path) -> None:
    with running_cluster(servers=1) as cluster:
        port = str(free_port())
        env = {**os.environ, "MFALAB_API_KEY": cluster.api_key}
        prefix = tmp_path / "locust"
        master = subprocess.Popen(
            locust_command(
                "sms",
                cluster.urls[0],
                prefix,
                *("--master", "--expect-workers", "2", "--master-bind-port", port),
                *("--run-id", "dist", "-u", "10", "-t", "6s", "--think", "0.05-0.3"),
                *("--threshold", "logins>0", "--stop-timeout", "10"),
            ),
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        workers = [
            subprocess.Popen(
                locust_command("sms", cluster.urls[0], prefix, "--worker", "--master-port", port),
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            for _ in range(2)
        ]
        output, _ = master.communicate(timeout=90)
        for worker in workers:
            assert worker.wait(timeout=30) == 0
        records = _logs(cluster.urls[0], cluster.api_key)
    run = LocustRun(master.returncode, prefix, output)
    assert run.code == 0, output
    begins = run.requests("/v1/auth (sms)")
    ours = [r for r in records if str(r["unique_id"]).startswith("lt-dist-")]
    # every begin the workers made is in the server's log, and the master counted them all
    assert begins == len(ours) > 20
    successes = sum(1 for r in ours if r["status"] == "success")
    assert int(run.logins["sms"]["successes"]) == successes
    # the accounts are split between the workers by index: both parities logged in
    assert {int(str(r["unique_id"]).rsplit("-", 1)[1]) % 2 for r in ours} == {0, 1}
