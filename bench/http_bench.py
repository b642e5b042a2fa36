"""Benchmark of the real verify path over HTTP (on demand, not in CI).

For 1 and 2 uvicorn workers, on the same stack (one mfalab server, default SQLite database,
memory pending store, sink gateway), measure in the same run:

* the request rate of a bare endpoint, ``GET /healthz`` (no auth, no engine);
* sign-ins per second: begin (``POST /v1/auth``) → read the code (``GET /v1/sink/messages``)
  → verify (``POST /v1/auth/{id}/verify``), counting only verifies answered ``success``;

and report their ratio. Issue 3's target: the full verify path at >= 40% of the bare
endpoint. Both ratios are printed: sign-ins/s ÷ bare RPS (a sign-in is three requests, so
this one is at most 33% even if every request were as cheap as /healthz) and verify-path
requests/s ÷ bare RPS (the target's like-for-like reading).

The load comes from wrk (``apt-get install -y wrk``) with ``bench/http_verify.lua``; wrk is
C, so the client is not the bottleneck on a 2-core machine. Users are created first through
the API; each user gets at most 5 codes per 5 minutes (the engine's send limit), so
``--users`` must be about 2.5 times the sign-ins of one run (12,000 for 5 rounds at ~1,000
sign-ins/s); the run reports any refused begin.

    .venv/bin/python bench/http_bench.py [--duration 5] [--rounds 3] [--connections 8]
                                         [--workers 1,2] [--users 12000] [--db URL]
                                         [--pending memory|redis://…]

Each worker count runs ``--rounds`` alternations of a bare measurement and a sign-in
measurement (``--duration`` seconds each) and reports the median round, so that load from
other processes on a shared machine does not favour one side.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
from benchkit import tree_cpu_seconds

from mfa.api import Cluster, ClusterSpec
from mfalab.server import SERVER_ENTRY

LUA = Path(__file__).with_name("http_verify.lua")
_RPS = re.compile(r"Requests/sec:\s+([0-9.]+)")
_COUNT = re.compile(r"(\d+) requests in ")
_COUNTS = re.compile(r"MFALAB ok=(\d+) denied=(\d+) refused=(\d+) missing=(\d+)")
_P99 = re.compile(r"99%\s+([0-9.]+)(us|ms|s)")


def bench_phone(n: int) -> str:
    return f"+1425{200 + n // 10000:03d}{n % 10000:04d}"


@dataclass(frozen=True)
class Round:
    """One bare measurement followed at once by one sign-in measurement.

    ``*_per_cpu`` are requests per CPU-second of the server's processes: on a machine shared
    with other work, wall-clock rates move with the neighbours' load, per-CPU rates much less.
    """

    bare_rps: float
    bare_p99_ms: float
    bare_per_cpu: float
    flow_rps: float
    flow_p99_ms: float
    flow_per_cpu: float
    signins: float
    denied: int
    refused: int
    missing: int

    @property
    def request_ratio(self) -> float:
        return self.flow_rps / self.bare_rps

    @property
    def cpu_ratio(self) -> float:
        return self.flow_per_cpu / self.bare_per_cpu


@dataclass(frozen=True)
class Result:
    """The median round by verify-path ratio: alternating short rounds keep a shared
    machine's load changes from favouring one side."""

    workers: int
    rounds: list[Round]

    @property
    def median(self) -> Round:
        ordered = sorted(self.rounds, key=lambda r: r.request_ratio)
        return ordered[len(ordered) // 2]


def _requests(output: str) -> int:
    match = _COUNT.search(output)
    if match is None:
        raise RuntimeError("wrk printed no request count:\n" + output)
    return int(match.group(1))


def _p99_ms(output: str) -> float:
    match = _P99.search(output)
    if not match:
        return float("nan")
    value, unit = float(match.group(1)), match.group(2)
    return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value


def measured(pid: int, *wrk_args: str) -> tuple[str, float]:
    """wrk's output and the server CPU seconds spent meanwhile."""
    before = tree_cpu_seconds(pid)
    output = wrk(*wrk_args)  # type: ignore[arg-type]
    return output, tree_cpu_seconds(pid) - before


def wrk(url: str, seconds: float, connections: int, *script: str) -> str:
    argv = [
        "wrk",
        "-t",
        str(connections),
        "-c",
        str(connections),
        "-d",
        f"{seconds:g}s",
        "--latency",
    ]
    if script:
        argv += ["-s", script[0], url, "--", *script[1:]]
    else:
        argv.append(url)
    return subprocess.run(argv, check=True, capture_output=True, text=True).stdout


async def create_users(
    url: str, api_key: str, count: int, prefix: str, concurrency: int = 16
) -> None:
    headers = {"Authorization": f"Bearer {api_key}"}
    queue: asyncio.Queue[int] = asyncio.Queue()
    for n in range(count):
        queue.put_nowait(n)

    async def worker() -> None:
        async with httpx.AsyncClient(base_url=url, headers=headers, timeout=30) as client:
            while not queue.empty():
                n = queue.get_nowait()
                user = {"user_id": f"{prefix}{n}", "phone": bench_phone(n)}
                answer = await client.post("/v1/users", json=user)
                answer.raise_for_status()
                method = await client.post(f"/v1/users/{prefix}{n}/methods", json={"type": "sms"})
                method.raise_for_status()

    await asyncio.gather(*(worker() for _ in range(concurrency)))


def run_one(args: argparse.Namespace, workers: int) -> Result:
    spec = ClusterSpec(
        server=SERVER_ENTRY,
        servers=1,
        base_port=0,
        workers=workers,
        pending=args.pending,
        db_url=args.db,
    )
    rounds = []
    with Cluster(spec) as cluster:
        url = cluster.urls[0]
        prefix = f"bench-w{workers}-{int(time.time())}-"  # a given --db may hold older runs
        started = time.perf_counter()
        asyncio.run(create_users(url, cluster.api_key, args.users, prefix))
        print(
            f"  {workers} worker(s): {args.users} users created in "
            f"{time.perf_counter() - started:.1f} s",
            flush=True,
        )
        pid = cluster.pids[0]
        assert pid is not None
        wrk(url + "/healthz", 2, args.connections)  # warm-up
        for index in range(args.rounds):
            bare = measured(pid, url + "/healthz", args.duration, args.connections)
            flow = measured(
                pid,
                url,
                args.duration,
                args.connections,
                str(LUA),
                cluster.api_key,
                str(args.users),
                str(args.connections),
                prefix,
                str(index * args.users // args.rounds),
            )
            rounds.append(_round(bare, flow, args.duration, workers))
    return Result(workers, rounds)


def _round(
    bare_run: tuple[str, float], flow_run: tuple[str, float], duration: float, workers: int
) -> Round:
    (bare, bare_cpu), (flow, flow_cpu) = bare_run, flow_run
    counts = _COUNTS.search(flow)
    if counts is None:
        raise RuntimeError("the wrk script printed no counts:\n" + flow)
    ok, denied, refused, missing = (int(g) for g in counts.groups())
    refusal = re.search(r"MFALAB first refusal: (.*)", flow)
    if refusal:
        print(f"  {workers} worker(s): first refused begin: {refusal.group(1)}", flush=True)
    return Round(
        bare_rps=float(_RPS.search(bare).group(1)),  # type: ignore[union-attr]
        bare_p99_ms=_p99_ms(bare),
        bare_per_cpu=_requests(bare) / bare_cpu,
        flow_rps=float(_RPS.search(flow).group(1)),  # type: ignore[union-attr]
        flow_p99_ms=_p99_ms(flow),
        flow_per_cpu=_requests(flow) / flow_cpu,
        signins=ok / duration,
        denied=denied,
        refused=refused,
        missing=missing,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per measurement")
    parser.add_argument("--rounds", type=int, default=3, help="bare/sign-in alternations")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--workers", default="1,2", help="comma-separated worker counts")
    parser.add_argument("--users", type=int, default=12000)
    parser.add_argument("--db", default=None, help="default: a fresh SQLite file")
    parser.add_argument("--pending", default="memory")
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        print("wrk is not installed: apt-get install -y wrk", file=sys.stderr)
        return 2
    results = [run_one(args, int(w)) for w in args.workers.split(",")]
    print(
        f"\n{'':>7} {'wall clock':-^61}  {'per server CPU-second':-^32}\n"
        f"{'workers':>7} {'/healthz/s':>10} {'p99 ms':>7} {'sign-ins/s':>10} {'flow req/s':>10} "
        f"{'p99 ms':>7} {'flow/bare':>10}  {'/healthz':>8} {'flow req':>9} {'flow/bare':>10}"
    )
    for result in results:
        r = result.median
        print(
            f"{result.workers:>7} {r.bare_rps:>10.0f} {r.bare_p99_ms:>7.1f} {r.signins:>10.0f} "
            f"{r.flow_rps:>10.0f} {r.flow_p99_ms:>7.1f} {r.request_ratio:>10.0%}  "
            f"{r.bare_per_cpu:>8.0f} {r.flow_per_cpu:>9.0f} {r.cpu_ratio:>10.0%}"
        )
    print()
    for result in results:
        r = result.median
        every = " ".join(f"{x.request_ratio:.0%}/{x.cpu_ratio:.0%}" for x in result.rounds)
        problems = sum(x.denied + x.refused + x.missing for x in result.rounds)
        print(
            f"{result.workers} worker(s): sign-ins/bare {r.signins / r.bare_rps:.0%} (a sign-in "
            f"is 3 requests); rounds wall/CPU flow/bare: {every}; "
            f"denied/refused/no-code: {problems}"
        )
    print(
        f"median of {args.rounds} alternating rounds of {args.duration:g} s, "
        f"{args.connections} connections, pending={args.pending}, "
        f"db={args.db or 'SQLite (temp file)'}; target: verify path >= 40% of the bare endpoint"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
