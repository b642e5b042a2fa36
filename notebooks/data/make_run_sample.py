"""Regenerate the shipped simulator run (notebooks/data/run/us_baseline/) that
``notebooks/reliability.ipynb`` reads by default: the US baseline scenario at 5 % scale, two
replications, seed 1, written by ``mfalab run`` itself (Parquet rows, summary, scenario).

    .venv/bin/python notebooks/data/make_run_sample.py
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
OUT = HERE / "run" / "us_baseline"


def main() -> int:
    shutil.rmtree(OUT, ignore_errors=True)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    command = [
        # paths relative to the repository: the run's meta.json records them as given
        *(sys.executable, "-m", "mfa", "run", "scenarios/us_baseline.yaml"),
        *("--scale", "0.05", "--replications", "2", "--seed", "1", "--no-report"),
        *("--out", str(OUT.relative_to(ROOT))),
    ]
    done = subprocess.run(command, cwd=ROOT, check=False)
    print(f"wrote {OUT}" if done.returncode == 0 else f"mfalab run exited {done.returncode}")
    return done.returncode


if __name__ == "__main__":
    raise SystemExit(main())
