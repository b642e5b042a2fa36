"""The long schemathesis run (``make fuzz``): every check against a server on 127.0.0.1.

Starts one server (``mfa.api.Cluster``; SQLite by default, or ``--db``/``--pending``),
runs ``st run`` on its ``/openapi.json`` with every check and ``--examples`` examples per
operation and phase, prints schemathesis's summary and exits with its code: 0 when no
server error, no schema violation and no undocumented status was found. The server's log
and database stay in the work directory it names.

    python bench/fuzz.py --examples 300 [--db postgresql+psycopg://…] [--pending redis://…]
"""

from __future__ import annotations

import argparse
import secrets
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mfa.api.cluster import Cluster, ClusterSpec  # noqa: E402
from mfalab.server import SERVER_ENTRY  # noqa: E402

CONFIG = ROOT / "tests" / "mfa" / "api" / "schemathesis.toml"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=300)
    parser.add_argument("--db", default=None, help="database URL (default: SQLite in workdir)")
    parser.add_argument("--pending", default="memory", help="memory or redis://…")
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args()
    st = shutil.which("st", path=str(Path(sys.executable).parent)) or shutil.which("st")
    if st is None:
        print("fuzz: schemathesis is not installed (pip install -e '.[test]')", file=sys.stderr)
        return 2
    key = secrets.token_urlsafe(24)
    workdir = tempfile.mkdtemp(prefix="mfalab-fuzz-")
    spec = ClusterSpec(
        server=SERVER_ENTRY,
        servers=1,
        base_port=0,
        api_key=key,
        db_url=args.db,
        pending=args.pending,
        mode="cloud" if args.pending != "memory" else "server",
        workdir=workdir,
    )
    command = [st, "--config-file", str(CONFIG), "run", "--checks", "all"]
    command += ["--max-examples", str(args.examples), "--workers", "1"]
    if args.seed is not None:
        command += ["--seed", str(args.seed)]
    with Cluster(spec) as cluster:
        print(f"fuzz: server {cluster.urls[0]}, work directory {workdir}", flush=True)
        command += [f"{cluster.urls[0]}/openapi.json", "--header", f"Authorization: Bearer {key}"]
        done = subprocess.run(command, cwd=workdir)
    print(f"fuzz: schemathesis exited {done.returncode}; server log in {workdir}/mfa1.log")
    return done.returncode


if __name__ == "__main__":
    sys.exit(main())
