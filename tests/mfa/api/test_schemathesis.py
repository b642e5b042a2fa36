"""schemathesis against the served OpenAPI document, every check on (issue 11).

A real server (``mfa.api.Cluster``: uvicorn on PostgreSQL, codes in Redis) is fuzzed through
its own ``/openapi.json`` by the ``st`` command line: examples, coverage, fuzzing and
stateful phases, a bounded number of examples per operation so the run stays under a
minute. The run must find nothing: no server error (5xx), no answer outside the schema, no
undocumented status code, no invalid data accepted. ``make fuzz`` runs the same with many
more examples.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mfa.api.cluster import Cluster
from tests.mfa.api.support import API_KEY, shared_cluster

CONFIG = Path(__file__).with_name("schemathesis.toml")
#: examples per operation and phase: ~1,000 cases in 20-40 s on a shared 2-core machine
EXAMPLES = 15
SEED = 11


def st_command() -> list[str]:
    found = shutil.which("st", path=str(Path(sys.executable).parent))
    if found is None:
        pytest.fail("schemathesis is not installed: pip install -e '.[test]'")
    return [found]


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.redis
def test_schemathesis_finds_no_server_error_and_no_schema_violation(
    postgres_url: str, redis_url: str, redis_namespace: str, tmp_path: Path
) -> None:
    spec = shared_cluster(
        1,
        postgres_url=postgres_url,
        redis_url=redis_url,
        redis_namespace=redis_namespace,
        mode="cloud",
        workdir=str(tmp_path / "cluster"),
    )
    with Cluster(spec) as cluster:
        done = subprocess.run(
            [
                *st_command(),
                "--config-file",
                str(CONFIG),
                "run",
                f"{cluster.urls[0]}/openapi.json",
                "--header",
                f"Authorization: Bearer {API_KEY}",
                "--checks",
                "all",
                "--max-examples",
                str(EXAMPLES),
                "--seed",
                str(SEED),
                "--workers",
                "1",
                "--no-color",
            ],
            capture_output=True,
            text=True,
            timeout=300,
            cwd=tmp_path,
        )
        server_log = cluster.log_tail(0, 200)
    report = done.stdout[-6000:] + done.stderr[-2000:]
    assert done.returncode == 0, report
    generated = re.search(r"(\d+) generated, (\d+) passed", done.stdout)
    assert generated is not None, report
    assert int(generated.group(1)) >= 500, report  # every operation was exercised
    assert "Traceback" not in server_log, server_log
