"""``mfalab cluster`` is a supervisor, not a fuse (issue 11, defect 8).

A server killed with kill -9 is restarted after its last log lines are shown; the other
servers answer throughout; the work directory — the default database with the audit log,
and the server logs explaining the crash — is named on start and on exit, and is kept.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.mfalab.cli.test_serve import _clean_env, _free_pair, _read_until


@pytest.mark.slow
def test_a_killed_server_is_restarted_the_others_serve_and_nothing_is_deleted(
    tmp_path: Path,
) -> None:
    base = _free_pair()
    proc = subprocess.Popen(
        [sys.executable, "-m", "mfalab", "cluster", "--servers", "2", "--base-port", str(base)],
        env=_clean_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    output: list[str] = []
    try:
        lines = _read_until(proc, "Ctrl-C or SIGTERM stops the cluster.")
        workdir = Path(next(line.split()[1] for line in lines if line.startswith("workdir")))
        pids = dict(
            item.split("=")
            for line in lines
            if line.startswith("pids")
            for item in line.split()[1:]
        )
        key = next(line for line in lines if line.startswith("API key")).rsplit(" ", 1)[1]
        mfa1, mfa2 = f"http://127.0.0.1:{base}", f"http://127.0.0.1:{base + 1}"
        headers = {"Authorization": f"Bearer {key}"}
        assert (
            httpx.post(mfa1 + "/v1/users", json={"user_id": "ann"}, headers=headers).status_code
            == 201
        )

        # read the cluster's output in the background while mfa2 dies and comes back
        reader = threading.Thread(
            target=lambda: output.extend(iter(proc.stdout.readline, "")),  # type: ignore[union-attr]
            daemon=True,
        )
        reader.start()
        os.kill(int(pids["mfa2"]), signal.SIGKILL)
        deadline = time.monotonic() + 60
        back = False
        while time.monotonic() < deadline:
            assert httpx.get(mfa1 + "/healthz", timeout=2).status_code == 200  # mfa1 serves on
            try:
                back = httpx.get(mfa2 + "/healthz", timeout=1).json()["server"] == "mfa2"
            except httpx.HTTPError:
                back = False
            if back and any("mfa2 restarted" in line for line in output):
                break
            time.sleep(0.2)
        assert back, "".join(output)
        text = "".join(output)
        assert "mfa2 stopped unexpectedly (exit code -9)" in text
        assert "last log lines" in text
        assert proc.poll() is None  # the cluster did not stop
        # the restarted server shares the database: the user is still there
        registration = httpx.get(mfa2 + "/v1/users/ann/registration", headers=headers)
        assert registration.status_code == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    assert proc.returncode == 0
    time.sleep(0.3)
    assert f"work directory kept: {workdir}" in "".join(output)
    assert (workdir / "mfalab.db").exists()
    assert (workdir / "mfa1.log").exists() and (workdir / "mfa2.log").exists()
    assert "ann" in _users(workdir / "mfalab.db")


def _users(db: Path) -> list[str]:
    import sqlite3

    with sqlite3.connect(db) as conn:
        return [r[0] for r in conn.execute("select user_id from users")]


def test_a_cluster_object_keeps_its_work_directory(tmp_path: Path) -> None:
    from mfa.api.cluster import Cluster, ClusterSpec
    from mfalab.server import SERVER_ENTRY

    cluster = Cluster(
        ClusterSpec(server=SERVER_ENTRY, servers=1, base_port=0, workdir=str(tmp_path / "w"))
    )
    (cluster.workdir / "mfa1.log").write_text("evidence\n")
    cluster.stop()
    del cluster
    import gc

    gc.collect()
    assert (tmp_path / "w" / "mfa1.log").read_text() == "evidence\n"
