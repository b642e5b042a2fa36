"""Time and size of the side-by-side report of five run directories.

Run on demand (``.venv/bin/python bench/report_bench.py``); not a test. Target (issue 14):
``mfalab report d1 … d5`` in < 10 s and < 2 MB of HTML.

Makes five small runs of ``scenarios/us_baseline.yaml`` (``--scale`` 0.1 by default, three
replications each) that differ by one ``--set`` each — the planner's "what if" — through
``mfalab run --no-report``, then times ``mfalab report`` of all five in a fresh process (what a
user waits for: interpreter start, imports, Parquet reads, charts, HTML) ``--repeat`` times.
With ``--sweeps`` each directory is instead a two-point ``mfalab sweep`` (``servers.count=1,2``,
seeds 1–5): ten points in all, the shape of the issue's 61 s, 5.7 MB, 100-entry report.
Prints the wall time (best and worst), the HTML size and its parts (the charts' PNGs), and the
number of table-of-contents entries.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BASELINE = ROOT / "scenarios" / "us_baseline.yaml"
#: The ``mfalab`` command of the interpreter running this script (its venv).
MFALAB = Path(sys.executable).parent / "mfalab"

#: One override per run: what a planner compares side by side.
VARIANTS: tuple[tuple[str, ...], ...] = (
    (),
    ("servers.count=2",),
    ("servers.count=3",),
    ("failover.enabled=false",),
    ("population.users=10000",),
)


def _mfalab(*args: str) -> float:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    started = time.perf_counter()
    subprocess.run(
        [str(MFALAB), *args],
        cwd=ROOT,
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=0.1)
    parser.add_argument("--replications", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--keep", type=Path, help="write the runs and report here (kept)")
    parser.add_argument(
        "--sweeps", action="store_true", help="five two-point sweeps instead of five runs"
    )
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="mfalab-report-bench-") as scratch:
        root = args.keep or Path(scratch)
        root.mkdir(parents=True, exist_ok=True)
        runs = []
        for index, overrides in enumerate(VARIANTS, start=1):
            out = root / f"d{index}"
            common = [
                str(BASELINE),
                "--scale",
                f"{args.scale:g}",
                "--replications",
                str(args.replications),
                "--out",
                str(out),
                *(["--force"] if out.exists() and _has_force() else []),
            ]
            if args.sweeps:
                _mfalab(
                    "sweep", *common, "--seed", str(index), "--set", "servers.count=1,2",
                    "--workers", "1", *(["--no-report"] if _has_no_report("sweep") else []),
                )  # fmt: skip
            else:
                sets = [item for o in overrides for item in ("--set", o)]
                _mfalab("run", *common, "--no-report", *sets)
            runs.append(out)
        report = root / "report.html"
        times = [
            _mfalab("report", *map(str, runs), "--out", str(report)) for _ in range(args.repeat)
        ]
        page = report.read_text(encoding="utf-8")
        images = sum(len(m) for m in re.findall(r'src="data:image/[^"]+"', page))
        toc = len(re.findall(r"<li><a href=", page.split("</nav>", 1)[0]))
        what = (
            "two-point sweeps (servers.count=1,2; seeds 1-5)"
            if args.sweeps
            else "runs (overrides: " + "; ".join(" ".join(o) or "(none)" for o in VARIANTS) + ")"
        )
        print(
            f"report of {len(runs)} {what}: us_baseline ×{args.scale:g}, "
            f"{args.replications} replications each"
        )
        best, worst = min(times), max(times)
        print(f"  wall time: best {best:.2f} s, worst {worst:.2f} s ({args.repeat} runs)")
        print(
            f"  size: {len(page.encode()) / 1e6:.2f} MB HTML ({images / 1e6:.2f} MB of it "
            f"embedded charts), {toc} table-of-contents entries"
        )
    return 0


def _has_force() -> bool:
    """``mfalab run --force`` (issue 14) when this checkout has it."""
    return "--force" in _help("run")


def _has_no_report(command: str) -> bool:
    return "--no-report" in _help(command)


def _help(command: str) -> str:
    return subprocess.run(
        [str(MFALAB), command, "--help"],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        check=False,
    ).stdout


if __name__ == "__main__":
    sys.exit(main())
