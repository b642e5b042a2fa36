"""What the benchmark scripts share: a headless Locust run, its CSV files, the CPU time of a
process tree, and a PostgreSQL database of a run's own.

One copy, so that the scripts measure alike (the same Locust command, the same CPU
accounting). The scripts run as ``python bench/<script>.py``, which puts this folder on
``sys.path``: they import it as ``benchkit``.
"""

from __future__ import annotations

import csv
import os
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import psutil

from mfalab.cli.loadtest import locust_command

LOADTESTS = Path(__file__).resolve().parents[1] / "loadtests"
#: where a benchmark creates (and drops) PostgreSQL databases of its own
PG_URL = os.environ.get("MFALAB_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/test")
#: the Redis server of a benchmark's pending codes (under a key namespace of its own)
REDIS_URL = os.environ.get("MFALAB_BENCH_REDIS", "redis://127.0.0.1:6379/0")


def csv_rows(path: Path) -> list[dict[str, str]]:
    """The rows of a CSV file with a header (none when a run did not write it)."""
    if not path.exists():
        return []
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def tree_cpu_seconds(pid: int) -> float:
    """User + system CPU time so far of a process and all its descendants (a uvicorn
    parent and its workers, a Locust process): a child that already exited is not counted."""
    root = psutil.Process(pid)
    total = 0.0
    for process in [root, *root.children(recursive=True)]:
        try:
            times = process.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total


def start_locust(
    locustfile: Path,
    host: str,
    out: Path,
    seconds: float,
    api_key: str,
    *,
    users: int | None = None,
    rate: float | None = None,
    extra: Sequence[str] = (),
) -> subprocess.Popen[str]:
    """One headless Locust run of ``locustfile`` (files in ``out``), its output piped as
    text: the caller reads it while the run goes, or at the end with ``communicate``."""
    command = locust_command(
        locustfile, host=host, out=out, duration=seconds, users=users, rate=rate, extra=extra
    )
    return subprocess.Popen(
        command,
        env={**os.environ, "MFALAB_API_KEY": api_key},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def create_postgres_database(server_url: str) -> str:
    """A new, empty database on the server of ``server_url`` (a URL of a database that
    exists, where ``CREATE DATABASE`` runs); its URL. A benchmark never writes into a
    database someone else uses, and dropping it leaves nothing behind."""
    name = f"mfalab_bench_{os.getpid()}_{time.monotonic_ns()}"
    postgres_admin(server_url, f'CREATE DATABASE "{name}"')
    return server_url.rsplit("/", 1)[0] + "/" + name


def drop_postgres_database(server_url: str, database_url: str) -> None:
    """Drop a database made by ``create_postgres_database`` (its sessions are closed)."""
    name = database_url.rsplit("/", 1)[1]
    postgres_admin(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def postgres_admin(server_url: str, statement: str) -> list[tuple[Any, ...]]:
    """Run one statement outside a transaction (as ``CREATE DATABASE`` needs); its rows."""
    import sqlalchemy as sa

    admin = sa.create_engine(
        server_url.replace("postgresql://", "postgresql+psycopg://", 1),
        isolation_level="AUTOCOMMIT",
    )
    try:
        with admin.connect() as conn:
            result = conn.exec_driver_sql(statement)
            return [tuple(row) for row in result] if result.returns_rows else []
    finally:
        admin.dispose()
