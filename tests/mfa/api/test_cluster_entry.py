"""The cluster starts each server through the ``ServerEntry`` its caller declares (the
composition root declares ``mfalab.server.SERVER_ENTRY``); ``mfa`` names no package above it."""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import pytest

from mfa.api.cluster import Cluster, ClusterError, ClusterSpec, ServerEntry

ROOT = Path(__file__).resolve().parents[3]
STAND_IN = ServerEntry(module="tests.mfa.api.healthz_only_server")


@pytest.fixture(autouse=True)
def _importable_tests(monkeypatch: pytest.MonkeyPatch) -> None:
    """The stand-in is a module of this repository's tests: on the servers' path."""
    path = os.environ.get("PYTHONPATH", "")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(p for p in (str(ROOT), path) if p))


def test_the_cluster_runs_the_declared_entry_on_each_port(tmp_path: Path) -> None:
    spec = ClusterSpec(server=STAND_IN, servers=2, base_port=0, workdir=str(tmp_path))
    with Cluster(spec) as cluster:
        for name, url in zip(cluster.names, cluster.urls, strict=True):
            answer = httpx.get(f"{url}/healthz", timeout=5).json()
            assert answer == {"status": "ok", "server": name, "stand_in": True}


def test_an_entry_that_cannot_start_is_reported_with_its_log(tmp_path: Path) -> None:
    spec = ClusterSpec(
        server=ServerEntry(module="no_such_server_module"), base_port=0, workdir=str(tmp_path)
    )
    with pytest.raises(ClusterError, match=r"(?s)mfa1 exited .*no_such_server_module"):
        Cluster(spec).start()


def test_the_composition_root_declares_its_serve_command() -> None:
    from mfalab.server import SERVER_ENTRY

    argv = SERVER_ENTRY.argv("127.0.0.1", 8001, 2)
    assert argv[1:] == [
        *("-m", "mfalab", "serve", "--host", "127.0.0.1", "--port", "8001", "--workers", "2")
    ]
