"""Simulated authentications per second on one core, the speed-up on several, and the peak
memory of a million.

Run on demand (``.venv/bin/python bench/sim_bench.py``); not a test. Targets (issue 4):
>= 20,000 simulated authentications per second on one core for the US baseline, and less
than 1 GB for a 1,000,000-authentication run; (issue 12) >= 15,000/s on one core and a
speed-up >= 1.8 on 2 workers for 4 or more replications.

- **speed**: ``scenarios/us_baseline.yaml`` at full size, one replication, through
  ``sim.runner.run_scenario`` (engines, network, people, Parquet output), pinned to one
  core; best of ``--repeat`` runs, wall and CPU time, and the process's first run apart
  (it parses every phone number afresh, and pyarrow imports pandas on its first
  conversion: what a lone ``mfalab run`` pays). In the baseline every sign-in is a user's
  first of the run (20,000 users, 14,400 sign-ins), so each also pays for the user's
  enrolment through the engine (the default method, in one ``Engine.enrol_many`` per chunk
  of arrivals; a backup when first used); ``--steady`` reruns with 1,000 users to show the
  cost without it.
- **workers** (``--workers 2 --replications 4``, the default): the full-size baseline's
  replications on one worker, then on ``--workers`` processes (``sim.parallel``), each in a
  fresh process timed around ``run_scenario`` (so the workers' start-up, imports and first
  run are counted: what ``mfalab run --replications 4`` pays), not pinned; the speed-up is
  the ratio of the wall times, and the ratio of the CPU times (of every process: the fork
  server that starts the workers and the workers themselves) what it would be on free
  cores. ``--workers 1`` skips it. Measured (issue 12, README; six interleaved rounds each,
  load average 0.9–3.9): 1.58–1.81× from the CPU times with spawned workers, 1.77–1.99×
  with the fork server that imports for them (``sim.parallel``).
- **memory** (``--memory``): the baseline stretched to 10 hours and scaled to
  ``--memory-auths`` expected sign-ins (about 139,000 users for a million), one replication,
  in a fresh process; peak RSS from ``getrusage`` (the whole process: interpreter, numpy,
  pyarrow, simpy, the engines' repository of every user who signed in, buffers).
- **push-heavy** (``--push-heavy``): ``scenarios/half_sms_to_app.yaml`` (push is 57.5 % of
  default methods instead of the baseline's 30 %), where each push sign-in pays for the
  device's Ed25519 signature and the engine's verification of it.
- **profile** (``--profile``): where the time goes, by package (mfa = the engine, sim = the
  simulator, phonenumbers = phone parsing during registration, simpy, pyarrow ...).
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import json
import os
import pstats
import resource
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import psutil  # installed with locust and dask.distributed

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sim.runner import expected_authentications, run_scenario  # noqa: E402
from sim.scenario_file import load_scenario  # noqa: E402

BASELINE = ROOT / "scenarios" / "us_baseline.yaml"
PUSH_HEAVY = ROOT / "scenarios" / "half_sms_to_app.yaml"


@contextlib.contextmanager
def _one_core() -> Iterator[None]:
    """Pinned to one CPU inside, as before outside (so that the workers of the speed-up runs,
    which inherit this process's affinity, may use every core)."""
    if not hasattr(os, "sched_setaffinity"):
        print("not pinned (no sched_setaffinity)")
        yield
        return
    cores = os.sched_getaffinity(0)
    cpu = min(cores)
    os.sched_setaffinity(0, {cpu})
    print(f"pinned to CPU {cpu}")
    try:
        yield
    finally:
        os.sched_setaffinity(0, cores)


def _once(overrides: dict, scale: float = 1.0, path: Path = BASELINE) -> tuple[int, float, float]:
    scenario = load_scenario(path, overrides=overrides, scale=scale)
    with tempfile.TemporaryDirectory() as out:
        wall, cpu = time.perf_counter(), time.process_time()
        summary = run_scenario(scenario, out=Path(out), seed=1, replications=1, context={})
        return (
            summary["authentications"],
            time.perf_counter() - wall,
            time.process_time() - cpu,
        )


def _line(label: str, auths: int, wall: float, cpu: float) -> None:
    print(
        f"{label:<38} {auths:>9,} auths  wall {wall:7.2f} s  cpu {cpu:7.2f} s  "
        f"{auths / wall:>9,.0f}/s wall  {auths / cpu:>9,.0f}/s cpu"
    )


def speed(repeat: int, overrides: dict, label: str, path: Path = BASELINE) -> dict:
    """Best of ``repeat`` runs; the first run of the process is shown apart when it is not
    the best, as it pays one-off costs (phone numbers not yet in ``parse_phone``'s cache,
    pyarrow importing pandas on its first conversion) that a lone ``mfalab run`` pays too."""
    runs = [_once(overrides, path=path) for _ in range(repeat)]
    auths, wall, cpu = min(runs, key=lambda r: r[1])
    _line(label, auths, wall, cpu)
    if repeat > 1 and runs[0][1] > wall:
        _line("  first run of the process", *runs[0])
    return {
        "case": label,
        "authentications": auths,
        "wall_s": round(wall, 3),
        "cpu_s": round(cpu, 3),
        "auths_per_wall_s": round(auths / wall),
        "auths_per_cpu_s": round(auths / cpu),
        "first_run_wall_s": round(runs[0][1], 3),
    }


_AREAS = (
    ("/mfa/", "mfa (engine)"),
    ("/sim/", "sim (simulator)"),
    ("phonenumbers", "phonenumbers (registration)"),
    ("simpy", "simpy"),
    ("pyarrow", "pyarrow"),
    ("numpy", "numpy"),
)


def profile(overrides: dict) -> None:
    scenario = load_scenario(BASELINE, overrides=overrides)
    _once(overrides)  # profile a warm run, like the best of the speed runs
    profiler = cProfile.Profile()
    with tempfile.TemporaryDirectory() as out:
        profiler.enable()
        run_scenario(scenario, out=Path(out), seed=1, replications=1, context={})
        profiler.disable()
    stats = pstats.Stats(profiler)
    by_area: dict[str, float] = defaultdict(float)
    total = 0.0
    for (filename, _, _), (_, _, tottime, _, _) in stats.stats.items():  # type: ignore[attr-defined]
        area = next((name for key, name in _AREAS if key in filename), "other (stdlib, C)")
        by_area[area] += tottime
        total += tottime
    print("\nwhere the time goes (cProfile self time, which inflates small Python calls):")
    for area, seconds in sorted(by_area.items(), key=lambda kv: -kv[1]):
        print(f"  {area:<30} {seconds:6.2f} s  {100 * seconds / total:5.1f} %")
    print()
    stats.sort_stats("tottime").print_stats(15)


def _cpu_of_all() -> float:
    """CPU seconds of this process, of its children that have ended, and of those still
    running with the children they have reaped: the pool's fork server, which outlives the
    pool, and its workers (``sim.parallel``), whose CPU time ``RUSAGE_CHILDREN`` misses."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    total = own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime
    for child in psutil.Process().children():
        times = child.cpu_times()
        total += times.user + times.system + times.children_user + times.children_system
    return total


def workers_child(workers: int, replications: int) -> None:
    """One timed run of the baseline's ``replications`` on ``workers``; a JSON line."""
    scenario = load_scenario(BASELINE)
    with tempfile.TemporaryDirectory() as out:
        wall, cpu = time.perf_counter(), _cpu_of_all()
        summary = run_scenario(
            scenario,
            out=Path(out),
            seed=1,
            replications=replications,
            context={},
            workers=workers,
        )
        wall, cpu = time.perf_counter() - wall, _cpu_of_all() - cpu
    print(json.dumps({"authentications": summary["authentications"], "wall_s": wall, "cpu_s": cpu}))


def _workers_run(workers: int, replications: int) -> dict:
    done = subprocess.run(
        [sys.executable, __file__, "--workers-child", str(workers), str(replications)],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def speed_up(workers: int, replications: int) -> dict:
    """The baseline's replications on one worker, then on ``workers``: the ratio of the wall
    times, and what it would be on ``workers`` free cores — the CPU time of every process of
    each run, whose ratio is the parallel overhead (start-up, imports and first-run costs in
    each worker), and which the machine's other load does not change."""
    load = os.getloadavg()[0]
    one = _workers_run(1, replications)
    many = _workers_run(workers, replications)
    for count, run in ((1, one), (workers, many)):
        label = f"us_baseline, {replications} replications, {count} worker{'s' * (count > 1)}"
        print(
            f"{label:<38} {run['authentications']:>9,} auths  wall {run['wall_s']:7.2f} s  "
            f"cpu {run['cpu_s']:7.2f} s (all processes)"
        )
    ratio = one["wall_s"] / many["wall_s"]
    bound = min(workers, replications) * one["cpu_s"] / many["cpu_s"]
    print(
        f"{'speed-up on ' + str(workers) + ' workers':<38} {ratio:9.2f}x on the wall clock "
        f"(load average {load:.1f} before, {os.getloadavg()[0]:.1f} after); "
        f"{bound:.2f}x on {workers} free cores (from the CPU times)"
    )
    return {
        "workers": workers,
        "replications": replications,
        "speed_up": round(ratio, 2),
        "speed_up_on_free_cores": round(bound, 2),
    }


def memory_child(auths: int) -> None:
    base = load_scenario(BASELINE, overrides={"arrivals.duration_s": 36_000})
    scale = auths / expected_authentications(base)
    scenario = load_scenario(BASELINE, overrides={"arrivals.duration_s": 36_000}, scale=scale)
    with tempfile.TemporaryDirectory() as out:
        wall, cpu = time.perf_counter(), time.process_time()
        summary = run_scenario(scenario, out=Path(out), seed=1, replications=1, context={})
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        on_disk = sum(p.stat().st_size for p in Path(out).rglob("*") if p.is_file())
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        json.dumps(
            {
                "users": scenario.population.users,
                "authentications": summary["authentications"],
                "wall_s": round(wall, 1),
                "cpu_s": round(cpu, 1),
                "peak_rss_mib": round(peak_kib / 1024, 1),
                "output_mib": round(on_disk / 2**20, 1),
                "success_rate": summary["success_rate"]["estimate"],
            }
        )
    )


def memory(auths: int) -> dict:
    done = subprocess.run(
        [sys.executable, __file__, "--memory-child", str(auths)],
        check=True,
        capture_output=True,
        text=True,
    )
    result = json.loads(done.stdout.strip().splitlines()[-1])
    print(
        f"{'memory: ' + format(result['authentications'], ',') + ' auths':<38} "
        f"peak RSS {result['peak_rss_mib']:,.0f} MiB  ({result['users']:,} users, "
        f"wall {result['wall_s']:,.0f} s, {result['authentications'] / result['wall_s']:,.0f}/s, "
        f"Parquet {result['output_mib']:,.0f} MiB)"
    )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="speed runs; the best counts")
    parser.add_argument("--steady", action="store_true", help="also time 1,000 returning users")
    parser.add_argument(
        "--push-heavy", action="store_true", help="also time half_sms_to_app (57.5 %% push)"
    )
    parser.add_argument("--profile", action="store_true", help="profile one baseline run")
    parser.add_argument("--memory", action="store_true", help="the million-authentication run")
    parser.add_argument("--memory-auths", type=int, default=1_000_000)
    parser.add_argument(
        "--workers", type=int, default=2, help="the speed-up on this many (1: not measured)"
    )
    parser.add_argument(
        "--replications", type=int, default=4, help="replications of the speed-up runs"
    )
    parser.add_argument("--memory-child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--workers-child", type=int, nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.workers_child:
        workers_child(*args.workers_child)
        return
    if args.memory_child:
        with _one_core():
            memory_child(args.memory_child)
        return
    with _one_core():
        speed(args.repeat, {}, "us_baseline (full size, 1 replication)")
        if args.steady:
            speed(args.repeat, {"population.users": 1000}, "us_baseline, 1,000 returning users")
        if args.push_heavy:
            speed(args.repeat, {}, "half_sms_to_app (push-heavy, full size)", PUSH_HEAVY)
        if args.profile:
            profile({})
    if args.workers > 1:
        speed_up(args.workers, args.replications)
    if args.memory:
        memory(args.memory_auths)


if __name__ == "__main__":
    main()
