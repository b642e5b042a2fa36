"""Regenerate the shipped Locust sample (notebooks/data/locust/) with the project's own stack.

Two real MFA servers (``mfa.api.cluster``, in-memory pending codes, the sink gateway) and a
short headless Locust run of the SMS flow with client-side ``random`` routing — so half the
verifies reach the server that did not send the code and fail with ``wrong_server``, the seed's
multi-server pitfall — writing ``--csv`` files and ``thresholds.json`` (one threshold is meant
to fail). Everything runs on 127.0.0.1 and stops by itself.

    .venv/bin/python notebooks/data/make_locust_sample.py [--seconds 15] [--users 8]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

from mfa.api.cluster import Cluster, ClusterSpec
from mfalab.server import SERVER_ENTRY

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--users", type=int, default=8)
    parser.add_argument("--out", type=Path, default=HERE / "locust")
    args = parser.parse_args()
    out: Path = args.out
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    with Cluster(ClusterSpec(server=SERVER_ENTRY, servers=2, base_port=0)) as cluster:
        command = [
            sys.executable,
            "-m",
            "locust",
            "-f",
            str(ROOT / "loadtests" / "sms.py"),
            "--headless",
            "--only-summary",
            "-u",
            str(args.users),
            "-r",
            str(args.users),
            "-t",
            f"{args.seconds}s",
            "--host",
            cluster.urls[0],
            "--servers",
            ",".join(cluster.urls),
            "--lb",
            "random",
            "--api-key",
            cluster.api_key,
            "--user-pool",
            "40",
            "--seed",
            "1",
            "--threshold",
            "p95<200ms",
            "--threshold",
            "fail_ratio<0.01",
            "--csv",
            str(out / "sample"),
            "--csv-full-history",
        ]
        done = subprocess.run(command, cwd=ROOT, check=False)
    # a violated threshold makes Locust exit non-zero on purpose; the files are what we want
    wanted = ["sample_stats.csv", "sample_stats_history.csv", "sample_failures.csv"]
    missing = [name for name in wanted if not (out / name).exists()]
    if missing:
        print(f"locust exited {done.returncode} without {missing}", file=sys.stderr)
        return 1
    print(f"wrote {out} (locust exit code {done.returncode})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
