"""The same Locust client against the embedded and the production back ends (issue 15).

Run on demand, not a test. Set-ups (``--setups``, all four by default):

* ``sqlite-1``, ``sqlite-2``: one mfalab server, 1 or 2 uvicorn workers, a fresh SQLite file,
  pending codes in memory;
* ``postgres-1``, ``postgres-2``: the same on PostgreSQL with pending codes in Redis. Each
  set-up gets a database of its own, created on the server of ``--pg`` (default
  ``MFALAB_BENCH_PG`` or ``postgresql://postgres@127.0.0.1:5432/test``) and dropped at the
  end, and a Redis key namespace of its own on ``--redis`` (default ``MFALAB_BENCH_REDIS``
  or ``redis://127.0.0.1:6379/0``), whose keys are deleted at the end;
* any other worker count the same way (``postgres-4``), and a suffix ``-tK`` for the
  server's ``MFALAB_ENGINE_THREADS`` (``postgres-4-t0``: the engine on each worker's event
  loop, no thread pool).

Every server runs for the whole benchmark; one warm-up run each (``--warmup`` seconds, not
recorded), then ``--rounds`` rounds, each running every set-up once in turn (interleaved,
so that the machine's other load spreads evenly over the set-ups). A run is one headless
Locust process: ``--locustfile`` (default ``loadtests/sms.py``: begin → read the text from
the sink → verify), ``--users`` users, no think time, for ``--seconds``; its accounts are
enrolled before its clock starts (sized for ``--max-rate`` sign-ins/s: each account may
take 4 texts per 5 minutes) and the enrolment is outside every figure.

Figures per round, over the load phase only (from Locust's "Ramping to" line to its
"… shutting down" line, so the enrolment is left out):

* sign-ins/s: successful logins (begin + verify) per second while the users ran (Locust);
* p50 / p95: of the begin and verify requests together (``/v1/auth`` in the request name);
* server CPU ms per sign-in: user + system CPU of the server process and all its uvicorn
  workers (psutil, before/after) divided by the successful sign-ins; the sink reads the
  client makes count in it, as in every set-up;
* PostgreSQL CPU per sign-in: the backends connected to the set-up's database (found in
  ``pg_stat_activity`` at both ends; a backend that exits within the round is missed);
  Redis CPU per sign-in: the whole ``redis-server`` process, so other clients of that Redis
  server count too;
* Locust CPU in cores: when it nears 1.0 the client, not the server, is the limit.

Printed: a Markdown table (min–max over the rounds), the load average before and after;
written: ``--out`` (JSON: every round and the summary) and, beside it, each run's Locust
files in ``<set-up>/round-<n>/``.

    .venv/bin/python bench/backends_bench.py                      # 3 rounds of 15 s, 32 users
    .venv/bin/python bench/backends_bench.py --setups sqlite-1,postgres-2 --rounds 5

A smoke run, to show the output's form (not figures: 5-second rounds of 8 users while other
agents loaded the 2 cores, 2026-12-05 12:01 UTC):

    .venv/bin/python bench/backends_bench.py --rounds 1 --seconds 5 --users 8 --warmup 2

    machine: 2 cores; load average 2.88 (before)
    round 1 sqlite-1: 481 sign-ins/s, load average 3.70
    round 1 sqlite-2: 402 sign-ins/s, load average 3.65
    round 1 postgres-1: 130 sign-ins/s, load average 4.11
    round 1 postgres-2: 104 sign-ins/s, load average 3.85

    Locust sms.py, 8 users, no wait, 1 interleaved round(s) of 5 s, same client for all

    | set-up | sign-ins/s | p50 ms | p95 ms | server CPU ms | PostgreSQL ms | Redis ms | Locust |
    |---|---:|---:|---:|---:|---:|---:|---:|
    | SQLite + memory, 1 worker | 481 | 5 | 9 | 1.19 | – | – | 0.38 |
    | SQLite + memory, 2 workers | 402 | 6 | 13 | 1.21 | – | – | 0.32 |
    | PostgreSQL + Redis, 1 worker | 130 | 26 | 44 | 5.28 | 2.13 | 0.26 | 0.15 |
    | PostgreSQL + Redis, 2 workers | 104 | 32 | 55 | 6.87 | 2.36 | 0.32 | 0.16 |
    sign-ins/s: begin + verify, min–max over the rounds; p50/p95: begin and verify requests;
    CPU (user + system), ms per sign-in: the server and all its workers, the PostgreSQL
    backends of its database, the whole redis-server; Locust: the client's CPU in cores
    (near 1.0: the client is the limit)

    load average 2.88 before, 3.85 after (other processes share the cores)
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import sys
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import psutil
from benchkit import (
    LOADTESTS,
    PG_URL,
    REDIS_URL,
    create_postgres_database,
    csv_rows,
    drop_postgres_database,
    postgres_admin,
    start_locust,
    tree_cpu_seconds,
)

from mfa.api.cluster import Cluster, ClusterSpec
from mfalab.server import SERVER_ENTRY

#: the begin and verify requests (not the sink reads): "/v1/auth (sms)", "/v1/auth/{auth_id}/…"
AUTH_REQUESTS = "/v1/auth"
PERCENTILES = {"p50": f"p50[{AUTH_REQUESTS}]>=0", "p95": f"p95[{AUTH_REQUESTS}]>=0"}
#: texts an account may take per send window with room for a resend (the engine's 5, less 1)
TEXTS_PER_ACCOUNT = 4
#: Locust's log lines around the load phase: after the enrolment ("Ramping to 32 users");
#: after the last login, before the summary's 1.2 s pause ("Shape test completed, shutting
#: down", "--run-time limit reached, shutting down"; else "Shutting down (exit code 0)")
LOAD_STARTS, LOAD_ENDS = "Ramping to", "shutting down"


@dataclass(frozen=True, slots=True)
class Setup:
    name: str
    label: str
    postgres: bool
    workers: int
    #: ``MFALAB_ENGINE_THREADS`` of the server; ``None``: the server's default
    engine_threads: int | None = None


#: The default set-ups; ``setup_named`` reads others of the same form.
SETUPS = ("sqlite-1", "sqlite-2", "postgres-1", "postgres-2")
_SETUP_NAME = re.compile(r"(sqlite|postgres)-([1-9][0-9]?)(?:-t([0-9]{1,3}))?")


def setup_named(name: str) -> Setup | None:
    """``sqlite-N`` or ``postgres-N``: N uvicorn workers; a suffix ``-tK`` sets
    ``MFALAB_ENGINE_THREADS=K`` (``-t0``: the engine on the event loop). ``None`` if the
    name is not of that form."""
    found = _SETUP_NAME.fullmatch(name)
    if found is None:
        return None
    backend, workers, threads = found.groups()
    postgres = backend == "postgres"
    label = "PostgreSQL + Redis" if postgres else "SQLite + memory"
    label += f", {workers} worker{'s' if workers != '1' else ''}"
    if threads is not None:
        label += f", {threads} engine threads" if threads != "0" else ", engine on the loop"
    return Setup(name, label, postgres, int(workers), None if threads is None else int(threads))


@dataclass(frozen=True, slots=True)
class Running:
    """A set-up's server, up for the whole benchmark."""

    setup: Setup
    cluster: Cluster
    database: str | None  # the set-up's own PostgreSQL database
    pg: str  # where that database was created (the server's admin connection)


@dataclass(frozen=True, slots=True)
class CpuMark:
    """CPU seconds used so far, by process group, at one instant."""

    wall: float
    server: float
    locust: float
    postgres: Mapping[int, float]  # by backend pid
    redis: float


@dataclass(frozen=True, slots=True)
class Round:
    """One Locust run against one set-up: counts, latencies and CPU over its load phase."""

    setup: str
    round: int
    signins: int
    failures: int
    signins_per_s: float
    p50_ms: float | None
    p95_ms: float | None
    load_seconds: float
    server_cpu_s: float
    postgres_cpu_s: float | None
    redis_cpu_s: float | None
    locust_cpu_s: float
    load_average: float
    exit_code: int
    pool_too_small: bool

    def per_signin_ms(self, cpu_seconds: float | None) -> float | None:
        if cpu_seconds is None or not self.signins:
            return None
        return cpu_seconds / self.signins * 1000.0


def redis_processes() -> list[psutil.Process]:
    return [p for p in psutil.process_iter(["name"]) if p.info["name"] == "redis-server"]


def cpu_of(processes: Iterable[psutil.Process]) -> float:
    total = 0.0
    for process in processes:
        try:
            times = process.cpu_times()
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        total += times.user + times.system
    return total


def postgres_backends(pg: str, database: str | None) -> dict[int, float]:
    """CPU seconds of each backend connected to ``database`` (none without one)."""
    if database is None:
        return {}
    name = database.rsplit("/", 1)[1]
    # asked through ``pg``'s database: the asking session is not one of the counted backends
    rows = postgres_admin(pg, f"SELECT pid FROM pg_stat_activity WHERE datname = '{name}'")
    found = {}
    for (pid,) in rows:
        try:
            found[int(pid)] = cpu_of([psutil.Process(int(pid))])
        except psutil.NoSuchProcess:
            continue
    return found


def mark(running: Running, locust_pid: int, redis: Sequence[psutil.Process]) -> CpuMark:
    server = running.cluster.pids[0]
    assert server is not None
    try:
        locust = tree_cpu_seconds(locust_pid)
    except psutil.NoSuchProcess:
        locust = math.nan
    return CpuMark(
        wall=time.monotonic(),
        server=tree_cpu_seconds(server),
        locust=locust,
        postgres=postgres_backends(running.pg, running.database),
        redis=cpu_of(redis),
    )


@contextmanager
def started(setup: Setup, tag: str, pg: str, redis_url: str) -> Iterator[Running]:
    """Start one set-up's server (and its database); stop and clean up on leaving."""
    database = create_postgres_database(pg) if setup.postgres else None
    namespace = f"mfalab-bench-{tag}-{setup.name}"
    try:
        spec = ClusterSpec(
            server=SERVER_ENTRY,
            servers=1,
            base_port=0,
            workers=setup.workers,
            pending=redis_url if setup.postgres else "memory",
            db_url=database,
            extra_env=server_env(setup, namespace),
        )
        with Cluster(spec) as cluster:
            yield Running(setup, cluster, database, pg)
    finally:
        if database is not None:
            drop_postgres_database(pg, database)
            delete_redis_keys(redis_url, namespace)


def server_env(setup: Setup, namespace: str) -> dict[str, str]:
    env = {"MFALAB_REDIS_NAMESPACE": namespace} if setup.postgres else {}
    if setup.engine_threads is not None:
        env["MFALAB_ENGINE_THREADS"] = str(setup.engine_threads)
    return env


def delete_redis_keys(redis_url: str, namespace: str) -> None:
    import redis

    client = redis.Redis.from_url(redis_url)
    try:
        keys = list(client.scan_iter(match=f"{namespace}:*", count=1000))
        for start in range(0, len(keys), 1000):
            client.delete(*keys[start : start + 1000])
    finally:
        client.close()


def locust_args(args: argparse.Namespace, seconds: float) -> list[str]:
    """No think time; accounts enough for ``--max-rate`` sign-ins/s over the run (and the
    2 s a run may overshoot) without reaching the engine's send limit."""
    pool = math.ceil(args.max_rate * (seconds + 2) / TEXTS_PER_ACCOUNT) + 2 * args.users
    thresholds = [a for text in PERCENTILES.values() for a in ("--threshold", text)]
    return ["--think", "0", "--user-pool", str(pool), *thresholds]


def run_locust(
    running: Running, args: argparse.Namespace, out: Path, seconds: float
) -> tuple[int, CpuMark, CpuMark, bool]:
    """One Locust run; its exit code, the CPU marks at the load's start and end and
    whether the account pool made logins wait (too small for the rate)."""
    out.mkdir(parents=True, exist_ok=True)
    cluster, redis = running.cluster, redis_processes()
    process = start_locust(
        Path(args.locustfile),
        cluster.urls[0],
        out,
        seconds,
        cluster.api_key,
        users=args.users,
        extra=locust_args(args, seconds),
    )
    watchdog = threading.Timer(seconds + 300, process.kill)
    watchdog.start()
    begin = end = None
    waited = False
    assert process.stdout is not None
    with open(out / "locust.log", "w", encoding="utf-8") as log:
        for line in process.stdout:
            log.write(line)
            if begin is None and LOAD_STARTS in line:
                begin = mark(running, process.pid, redis)
            elif end is None and LOAD_ENDS in line.lower():
                end = mark(running, process.pid, redis)
            waited = waited or "account pool is too small" in line
    code = process.wait()
    watchdog.cancel()
    if begin is None:
        raise RuntimeError(f"Locust never started its users (exit code {code}): {out}")
    return code, begin, end or mark(running, process.pid, redis), waited


def measure(running: Running, args: argparse.Namespace, out: Path, index: int) -> Round:
    code, begin, end, waited = run_locust(running, args, out, args.seconds)
    logins = {r["flow"]: r for r in csv_rows(out / "locust_logins.csv")}
    every = logins.get("All", {})
    done = int(every.get("logins") or 0)
    succeeded = int(every.get("successes") or 0)
    per_s = float(every.get("per_s") or 0.0)
    values = {}
    if (out / "thresholds.json").exists():
        values = {
            r["threshold"]: r["value"] for r in json.loads((out / "thresholds.json").read_text())
        }
    backends = {pid: cpu - begin.postgres.get(pid, 0.0) for pid, cpu in end.postgres.items()}
    return Round(
        setup=running.setup.name,
        round=index,
        signins=succeeded,
        failures=int(every.get("failures") or 0),
        signins_per_s=round(per_s * succeeded / done, 1) if done else 0.0,
        p50_ms=values.get(PERCENTILES["p50"]),
        p95_ms=values.get(PERCENTILES["p95"]),
        load_seconds=round(end.wall - begin.wall, 2),
        server_cpu_s=round(end.server - begin.server, 3),
        postgres_cpu_s=round(sum(backends.values()), 3) if running.database else None,
        redis_cpu_s=round(end.redis - begin.redis, 3) if running.setup.postgres else None,
        locust_cpu_s=round(end.locust - begin.locust, 3),
        load_average=round(os.getloadavg()[0], 2),
        exit_code=code,
        pool_too_small=waited,
    )


def known(values: Iterable[float | None]) -> list[float]:
    """The figures a round has (a set-up without PostgreSQL has no PostgreSQL CPU)."""
    return [v for v in values if v is not None and not math.isnan(v)]


def span(values: Iterable[float | None], digits: int = 0) -> str:
    """``"820–1,330"`` over the rounds (one value alone when they agree); ``–`` for none."""
    figures = known(values)
    if not figures:
        return "–"
    low, high = (f"{v:,.{digits}f}" for v in (min(figures), max(figures)))
    return low if low == high else f"{low}–{high}"


TABLE_HEADER = (
    "| set-up | sign-ins/s | p50 ms | p95 ms | server CPU ms | PostgreSQL ms | Redis ms "
    "| Locust |\n|---|---:|---:|---:|---:|---:|---:|---:|"
)
TABLE_NOTE = "\n".join(
    (
        "sign-ins/s: begin + verify, min–max over the rounds; p50/p95: begin and verify requests;",
        "CPU (user + system), ms per sign-in: the server and all its workers, the PostgreSQL",
        "backends of its database, the whole redis-server; Locust: the client's CPU in cores",
        "(near 1.0: the client is the limit)",
    )
)


def table_row(setup: Setup, rounds: Sequence[Round]) -> str:
    """One set-up's line of the table: each column's range over the rounds."""
    cores = [r.locust_cpu_s / r.load_seconds if r.load_seconds else None for r in rounds]
    cells = [
        setup.label,
        span([r.signins_per_s for r in rounds]),
        span([r.p50_ms for r in rounds]),
        span([r.p95_ms for r in rounds]),
        span([r.per_signin_ms(r.server_cpu_s) for r in rounds], 2),
        span([r.per_signin_ms(r.postgres_cpu_s) for r in rounds], 2),
        span([r.per_signin_ms(r.redis_cpu_s) for r in rounds], 2),
        span(cores, 2),
    ]
    return "| " + " | ".join(cells) + " |"


def summary_of(setup: Setup, rounds: Sequence[Round]) -> dict[str, Any]:
    """The table's line in numbers: [min, max] over the rounds of each figure."""

    def low_high(values: Iterable[float | None]) -> list[float] | None:
        figures = known(values)
        return [min(figures), max(figures)] if figures else None

    return {
        "setup": setup.name,
        "label": setup.label,
        "rounds": len(rounds),
        "signins_per_s": low_high(r.signins_per_s for r in rounds),
        "p50_ms": low_high(r.p50_ms for r in rounds),
        "p95_ms": low_high(r.p95_ms for r in rounds),
        "server_cpu_ms_per_signin": low_high(r.per_signin_ms(r.server_cpu_s) for r in rounds),
        "postgres_cpu_ms_per_signin": low_high(r.per_signin_ms(r.postgres_cpu_s) for r in rounds),
        "redis_cpu_ms_per_signin": low_high(r.per_signin_ms(r.redis_cpu_s) for r in rounds),
    }


def warnings(rounds: Sequence[Round]) -> list[str]:
    found = []
    for r in rounds:
        if r.failures or r.exit_code != 0:
            found.append(
                f"{r.setup} round {r.round}: {r.failures} failed logins, exit {r.exit_code}"
            )
        if r.pool_too_small:
            found.append(
                f"{r.setup} round {r.round}: logins waited for accounts (raise --max-rate)"
            )
    return found


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--setups",
        default=",".join(SETUPS),
        help="comma-separated, of: " + ", ".join(SETUPS) + " (and e.g. postgres-4-t0: "
        "4 workers, MFALAB_ENGINE_THREADS=0)",
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=15.0, help="load per run")
    parser.add_argument("--users", type=int, default=32, help="Locust users (no think time)")
    parser.add_argument("--warmup", type=float, default=5.0, help="seconds per set-up; 0: none")
    parser.add_argument("--pg", default=PG_URL, help="a PostgreSQL database to create others from")
    parser.add_argument("--redis", default=REDIS_URL, help="the Redis server of the pending codes")
    parser.add_argument("--locustfile", default=str(LOADTESTS / "sms.py"))
    parser.add_argument(
        "--max-rate", type=float, default=2000.0, help="sign-ins/s the account pools are sized for"
    )
    parser.add_argument("--out", default="runs/bench-backends/bench.json", help="JSON results")
    args = parser.parse_args(argv)
    unknown = [s for s in args.setups.split(",") if setup_named(s) is None]
    if unknown:
        parser.error(
            f"unknown set-ups {unknown}: use sqlite-N or postgres-N, optionally -tK "
            f"(N workers, K engine threads)"
        )
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    setups = [s for name in args.setups.split(",") if (s := setup_named(name)) is not None]
    out = Path(args.out)
    files = out.parent
    before = os.getloadavg()[0]
    print(f"machine: {os.cpu_count()} cores; load average {before:.2f} (before)", flush=True)
    rounds: list[Round] = []
    with ExitStack() as stack:
        tag = f"{os.getpid()}"
        running = [
            stack.enter_context(started(setup, tag, args.pg, args.redis)) for setup in setups
        ]
        if args.warmup > 0:
            for each in running:
                run_locust(each, args, files / each.setup.name / "warmup", args.warmup)
        for index in range(1, args.rounds + 1):
            for each in running:  # interleaved: every set-up once per round
                result = measure(each, args, files / each.setup.name / f"round-{index}", index)
                rounds.append(result)
                print(
                    f"round {index} {each.setup.name}: {result.signins_per_s:,.0f} sign-ins/s, "
                    f"load average {result.load_average:.2f}",
                    flush=True,
                )
    after = os.getloadavg()[0]
    lines = [
        TABLE_HEADER,
        *(table_row(s, [r for r in rounds if r.setup == s.name]) for s in setups),
    ]
    print(
        f"\nLocust {Path(args.locustfile).name}, {args.users} users, no wait, "
        f"{args.rounds} interleaved round(s) of {args.seconds:g} s, same client for all\n"
    )
    print("\n".join(lines))
    print(TABLE_NOTE)
    print(
        f"\nload average {before:.2f} before, {after:.2f} after (other processes share the cores)"
    )
    for line in warnings(rounds):
        print("warning:", line)
    summary = {
        "command": sys.argv,
        "settings": vars(args),
        "cores": os.cpu_count(),
        "load_average": {"before": before, "after": after},
        "summary": [summary_of(s, [r for r in rounds if r.setup == s.name]) for s in setups],
        "rounds": [asdict(r) for r in rounds],
        "table": lines,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
