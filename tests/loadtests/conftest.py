"""Helpers for the load-test tests: real clusters, Locust as a subprocess, its CSVs read back.

Every run is short (a few seconds of load) and targets only 127.0.0.1 on free ports.
"""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

# Locust monkey-patches the standard library with gevent when it is first imported; the
# test process imports it only for unit tests of pure helpers, so it must not patch the
# sockets and threads other tests in this process rely on. The Locust runs themselves are
# subprocesses and patch as usual (the variable is removed again right away).
os.environ["LOCUST_SKIP_MONKEY_PATCH"] = "1"
try:
    import locust  # noqa: F401
finally:
    del os.environ["LOCUST_SKIP_MONKEY_PATCH"]

LOADTESTS = Path(__file__).resolve().parents[2] / "loadtests"


def _rows(path: Path) -> list[dict[str, str]]:
    if not path.exists():
        return []
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


@dataclass(frozen=True)
class LocustRun:
    """A finished Locust run and the files it wrote under ``prefix``."""

    code: int
    prefix: Path
    output: str

    @property
    def stats(self) -> list[dict[str, str]]:
        return _rows(Path(f"{self.prefix}_stats.csv"))

    @property
    def failures(self) -> list[dict[str, str]]:
        return _rows(Path(f"{self.prefix}_failures.csv"))

    @property
    def exceptions(self) -> list[dict[str, str]]:
        return _rows(Path(f"{self.prefix}_exceptions.csv"))

    @property
    def logins(self) -> dict[str, dict[str, str]]:
        return {row["flow"]: row for row in _rows(Path(f"{self.prefix}_logins.csv"))}

    def requests(self, name_part: str) -> int:
        """Requests whose name contains ``name_part`` (Locust's stats CSV)."""
        return sum(
            int(r["Request Count"])
            for r in self.stats
            if r["Name"] != "Aggregated" and name_part in r["Name"]
        )

    def failed(self, name_part: str, error: str | None = None) -> int:
        """Failures of those requests, all or with one error (the engine's reason)."""
        return sum(
            int(r["Occurrences"])
            for r in self.failures
            if name_part in r["Name"] and (error is None or r["Error"] == error)
        )

    def total(self) -> int:
        return next(int(r["Request Count"]) for r in self.stats if r["Name"] == "Aggregated")


def locust_command(scenario: str, host: str, prefix: Path, *args: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "locust",
        "-f",
        str(LOADTESTS / f"{scenario}.py"),
        "--headless",
        "--host",
        host,
        "--csv",
        str(prefix),
        "--only-summary",
        *args,
    ]


def run_locust(
    scenario: str, host: str, prefix: Path, api_key: str, *args: str, timeout: float = 60
) -> LocustRun:
    """Run one headless scenario to its end (``-t`` must be among ``args``)."""
    prefix.parent.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        locust_command(scenario, host, prefix, *args),
        env={**os.environ, "MFALAB_API_KEY": api_key},
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return LocustRun(done.returncode, prefix, done.stdout + done.stderr)


@contextmanager
def running_cluster(**spec: Any) -> Iterator[Any]:
    from mfa.api.cluster import Cluster, ClusterSpec
    from mfalab.server import SERVER_ENTRY

    cluster = Cluster(ClusterSpec(server=SERVER_ENTRY, base_port=0, lb_port=0, **spec))
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()


def mfalab_loadtest(out: Path, *args: str, env: dict[str, str] | None = None) -> LocustRun:
    """``mfalab loadtest ... --out OUT`` as a user runs it; the results under ``OUT/locust``."""
    done = subprocess.run(
        [sys.executable, "-m", "mfalab", "loadtest", "--out", str(out), "--no-report", *args],
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
    )
    return LocustRun(done.returncode, out / "locust", done.stdout + done.stderr)


@pytest.fixture
def nginx_available() -> None:
    """Skip without nginx, unless CI makes it mandatory (MFALAB_REQUIRE_SERVICES=1)."""
    from mfa.api.nginx import find_nginx

    if find_nginx() is None and shutil.which("nginx") is None:
        message = "nginx is not installed (apt-get install -y nginx)"
        if os.environ.get("MFALAB_REQUIRE_SERVICES") == "1":
            pytest.fail(message + " and MFALAB_REQUIRE_SERVICES=1 makes it mandatory")
        pytest.skip(message)
