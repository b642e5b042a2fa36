"""Load-test benchmark, run on demand (not in CI): two figures for this machine.

1. **The begin+verify rate one server sustains at p95 < 100 ms.** ``loadtests/sms.py`` in
   the open workload (``--rate``) against one server (one uvicorn worker, SQLite, memory
   store, sink gateway), one run per rate, rates ascending, then two bisection steps. A rate
   is sustained when the p95 of the begin and verify requests (``p95[/v1/auth]``) stays
   below 100 ms, every login succeeds, no arrival is dropped and the logins completed are
   at least 95 % of those asked for.
2. **The request rate one Locust process generates**: ``loadtests/healthz.py`` (no wait
   time) against the server's ``/healthz`` and against nginx answering a static 200, so
   the second figure is the generator's ceiling, not the server's. The Locust process's CPU
   use is shown beside it (close to 1.0, a whole core: the generator is the limit).

    .venv/bin/python bench/loadtest_bench.py                     # ~4 minutes
    .venv/bin/python bench/loadtest_bench.py --rates 50,100 --seconds 10

Results: a Markdown table on stdout and ``<out>/bench.json``; each run's Locust files in
``<out>/<run>/``. Other processes on the machine change the figures: run it on a quiet one.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psutil
from benchkit import LOADTESTS, csv_rows, start_locust

from mfa.api.children import free_port
from mfa.api.cluster import Cluster, ClusterSpec
from mfalab.server import SERVER_ENTRY

P95_LIMIT_MS = 100.0
#: enough to keep one Locust process busy on loopback (more only adds switching)
GENERATOR_USERS = 10


def _locust(
    scenario: str, host: str, out: Path, seconds: float, api_key: str, **load: Any
) -> dict[str, Any]:
    """One headless run; returns its exit code and the Locust process's CPU use."""
    process = start_locust(LOADTESTS / f"{scenario}.py", host, out, seconds, api_key, **load)
    # Locust's CPU while the load runs (after start-up, before the end): one core = 1.0
    watched = psutil.Process(process.pid)
    time.sleep(min(3.0, seconds / 3))
    watched.cpu_percent(None)
    time.sleep(seconds / 2)
    try:
        cpu = watched.cpu_percent(None) / 100.0
    except psutil.NoSuchProcess:
        cpu = math.nan
    output, _ = process.communicate(timeout=seconds + 120)
    (out / "locust.log").write_text(output, encoding="utf-8")
    return {"code": process.returncode, "cpu": round(cpu, 2)}


def _rps(out: Path, name: str = "Aggregated") -> float:
    """Locust's requests/s of one row (over the time that row saw requests)."""
    rows = csv_rows(out / "locust_stats.csv")
    return next((float(r["Requests/s"]) for r in rows if r["Name"] == name), 0.0)


def measure_rate(cluster: Cluster, rate: float, seconds: float, out: Path) -> dict[str, Any]:
    """One open-workload run of sms logins at ``rate`` per second."""
    out.mkdir(parents=True, exist_ok=True)
    # every account may receive 5 texts in 5 minutes: enough accounts for the whole run
    pool = math.ceil(rate * seconds / 4) + 50
    extra = [
        *("--user-pool", str(pool), "--max-lag", "1"),
        *("--threshold", f"p95[/v1/auth]<{P95_LIMIT_MS:g}ms"),
        *("--threshold", "success_ratio>=1", "--threshold", "dropped<1"),
    ]
    run = _locust("sms", cluster.urls[0], out, seconds, cluster.api_key, rate=rate, extra=extra)
    thresholds = {
        r["threshold"]: r
        for r in json.loads((out / "thresholds.json").read_text())
        if (out / "thresholds.json").exists()
    }
    logins = {r["flow"]: r for r in csv_rows(out / "locust_logins.csv")}
    done = int(logins.get("sms", {}).get("successes") or 0)
    started = int(logins.get("arrivals:started", {}).get("logins") or 0)
    p95 = thresholds.get(f"p95[/v1/auth]<{P95_LIMIT_MS:g}ms", {}).get("value")
    # the schedule keeps the rate (a start it cannot make is dropped, which fails the run);
    # the logins still running when the run stops are the only ones allowed to be missing
    sustained = (
        run["code"] == 0
        and all(r["passed"] for r in thresholds.values())
        and done >= started - max(5, rate * 0.5)
    )
    return {
        "rate": rate,
        "p95_begin_verify_ms": p95,
        # completed logins (begin, sink read, verify) per second while the users ran
        "logins_per_s": round(float(logins.get("sms", {}).get("per_s") or 0), 1),
        "dropped": int(logins.get("arrivals:dropped", {}).get("logins") or 0),
        "failed_logins": int(logins.get("sms", {}).get("failures") or 0),
        "locust_cpu": run["cpu"],
        "sustained": sustained,
    }


def find_sustained_rate(
    cluster: Cluster, rates: list[float], seconds: float, out: Path
) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = []
    best, first_failed = 0.0, None
    for rate in rates:
        result = measure_rate(cluster, rate, seconds, out / f"rate-{rate:g}")
        results.append(result)
        print(_row(result), flush=True)
        if not result["sustained"]:
            first_failed = rate
            break
        best = rate
    for _ in range(2):  # bisect between the last sustained rate and the first that was not
        if first_failed is None or first_failed - best < 10:
            break
        rate = float(round((best + first_failed) / 2))
        result = measure_rate(cluster, rate, seconds, out / f"rate-{rate:g}")
        results.append(result)
        print(_row(result), flush=True)
        if result["sustained"]:
            best = rate
        else:
            first_failed = rate
    return results


def _row(r: dict[str, Any]) -> str:
    p95 = "n/a" if r["p95_begin_verify_ms"] is None else f"{r['p95_begin_verify_ms']:.0f}"
    return (
        f"| {r['rate']:>6g} | {p95:>6} | {r['logins_per_s']:>8} "
        f"| {r['dropped']:>7} | {r['failed_logins']:>6} | {r['locust_cpu']:>10} "
        f"| {'yes' if r['sustained'] else 'no':>9} |"
    )


@contextmanager
def static_nginx() -> Iterator[str | None]:
    """nginx answering every request with a static 200 (None when nginx is missing)."""
    binary = shutil.which("nginx") or (
        "/usr/sbin/nginx" if os.access("/usr/sbin/nginx", os.X_OK) else None
    )
    if binary is None:
        yield None
        return
    prefix = Path(tempfile.mkdtemp(prefix="mfalab-bench-nginx-"))
    port = free_port()
    temp = " ".join(
        f"{kind}_temp_path {prefix / kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    (prefix / "nginx.conf").write_text(
        f"worker_processes 1; daemon off; pid {prefix / 'nginx.pid'};\n"
        f"error_log {prefix / 'error.log'};\n"
        "events { worker_connections 1024; }\n"
        f"http {{ access_log off; {temp}\n"
        f"  server {{ listen 127.0.0.1:{port};\n"
        '    location / { default_type application/json; return 200 \'{"status":"ok"}\'; }'
        " } }\n",
        encoding="utf-8",
    )
    process = subprocess.Popen(
        [binary, "-p", str(prefix), "-c", str(prefix / "nginx.conf")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        time.sleep(0.5)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(10)
        shutil.rmtree(prefix, ignore_errors=True)


def measure_generator(host: str, label: str, seconds: float, out: Path) -> dict[str, Any]:
    out.mkdir(parents=True, exist_ok=True)
    run = _locust("healthz", host, out, seconds, "", users=GENERATOR_USERS, extra=["-r", "100"])
    return {
        "target": label,
        "requests_per_s": round(_rps(out), 0),
        "locust_cpu": run["cpu"],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rates", default="25,50,100,150,200,300,400")
    parser.add_argument("--seconds", type=float, default=15.0, help="per run")
    parser.add_argument("--out", default="runs/bench-loadtest")
    args = parser.parse_args()
    out = Path(args.out)
    rates = [float(r) for r in args.rates.split(",")]
    print(f"machine: {os.cpu_count()} cores; load average {os.getloadavg()[0]:.2f} (before)")
    print("\n1. sms begin+verify, one server, open workload")
    print("| rate/s | p95 ms | logins/s | dropped | failed | locust cpu | sustained |")
    print("|-------:|-------:|---------:|--------:|-------:|-----------:|----------:|")
    with Cluster(ClusterSpec(server=SERVER_ENTRY, servers=1, base_port=0)) as cluster:
        rated = find_sustained_rate(cluster, rates, args.seconds, out)
        print(f"\n2. one Locust process, GET /healthz, {GENERATOR_USERS} users, no wait")
        print("| target | requests/s | locust cpu (cores) |\n|---|---:|---:|")
        generated = [measure_generator(cluster.urls[0], "mfa server /healthz", 10, out / "gen")]
    with static_nginx() as nginx:
        if nginx is not None:
            generated.append(measure_generator(nginx, "nginx static 200", 10, out / "gen-nginx"))
    for g in generated:
        print(f"| {g['target']} | {g['requests_per_s']:.0f} | {g['locust_cpu']} |")
    print(f"load average after: {os.getloadavg()[0]:.2f} (other processes share the cores)")
    sustained = [r["rate"] for r in rated if r["sustained"]]
    best = max(sustained, default=0.0)
    print(f"\nsustained at p95 < {P95_LIMIT_MS:g} ms: {best:g} begin+verify pairs/s")
    summary = {"rates": rated, "sustained_rate": best, "generator": generated}
    (out / "bench.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
