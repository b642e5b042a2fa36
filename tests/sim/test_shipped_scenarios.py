"""Every shipped scenario loads, is documented and runs through ``mfalab run`` at a small
scale (CI runs them all; the full sizes are for planners)."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from mfa.cli import main
from sim.records import AUTH_COLUMNS
from sim.scenario import Scenario
from sim.scenario_file import load_scenario

ROOT = Path(__file__).parents[2]
SCENARIOS = sorted((ROOT / "scenarios").glob("*.yaml"))


def test_the_library_is_there():
    names = {p.stem for p in SCENARIOS}
    assert {
        "us_baseline",
        "canada_short_codes",
        "international_long_codes",
        "security_app_blocking",
        "provider_outage_failover",
        "login_storm_0900",
        "three_servers_round_robin",
        "three_servers_sticky",
        "three_servers_auth_id",
        "three_servers_shared_store",
        "server_300s_vs_cloud_180s",
        "half_sms_to_app",
        "security_defaults_app_only",
    } <= names


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_scenario_states_its_question(path):
    text = path.read_text(encoding="utf-8")
    assert text.startswith("# Planner's question:")
    scenario = load_scenario(path)
    assert scenario.name == path.stem
    assert scenario.question


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_scenario_runs_at_reduced_scale(path, tmp_path, capsys):
    out = tmp_path / path.stem
    code = main(
        [
            "run",
            str(path),
            "--scale",
            "0.02",
            "--replications",
            "1",
            "--out",
            str(out),
            "--no-report",
        ]
    )
    printed = capsys.readouterr().out
    assert code == 0
    assert "success rate" in printed and "time to authenticate" in printed
    summary = json.loads((out / "summary.json").read_text())
    assert summary["authentications"] > 0
    assert tuple(pq.read_schema(out / "auths" / "part-00000.parquet").names) == AUTH_COLUMNS
    assert (out / "resources.parquet").is_file()


def _leaf_keys(schema: dict, node: dict, prefix: str = "") -> set[str]:
    """Dotted key paths of every documented key in the JSON Schema."""
    keys: set[str] = set()
    for name, spec in node.get("properties", {}).items():
        path = f"{prefix}{name}"
        keys.add(path)
        ref = spec.get("$ref") or next(
            (
                s.get("$ref")
                for s in [*spec.get("anyOf", []), spec.get("items", {})]
                if s.get("$ref")
            ),
            None,
        )
        extra = spec.get("additionalProperties")
        if isinstance(extra, dict) and not ref:
            ref = extra.get("$ref") or extra.get("items", {}).get("$ref")
        if ref:
            target = schema["$defs"][ref.rsplit("/", 1)[-1]]
            keys |= _leaf_keys(schema, target, f"{path}.")
    return keys


def test_readme_documents_every_key():
    readme = (ROOT / "scenarios" / "README.md").read_text(encoding="utf-8")
    schema = Scenario.model_json_schema()
    missing = sorted(k for k in _leaf_keys(schema, schema) if f"`{k}`" not in readme)
    assert not missing, f"scenarios/README.md does not document: {missing}"


def test_schema_command_prints_the_json_schema(capsys):
    assert main(["schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert schema["title"] == "Scenario"
    for section in ("population", "arrivals", "routing", "providers", "carriers", "servers"):
        assert section in schema["properties"]
    servers = schema["$defs"]["Servers"]["properties"]
    assert servers["lb_policy"]["enum"] == ["round_robin", "random", "sticky", "auth_id"]


def header_commands(path: Path) -> list[str]:
    """The ``mfalab`` commands a scenario's header comment tells the planner to run: lines
    starting with ``mfalab`` (continued with a trailing backslash) and inline
    ```mfalab ...``` spans, in the order written."""
    header = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.startswith("#"):
            break
        header.append(line.lstrip("#").strip())
    commands: list[str] = []
    pending = ""
    for text in header:
        if pending:
            pending += " " + text
        elif text.startswith("mfalab "):
            pending = text
        else:
            commands += re.findall(r"`(mfalab [^`]+)`", text)
            continue
        if pending.endswith("\\"):
            pending = pending[:-1].rstrip()
        else:
            commands.append(pending)
            pending = ""
    return commands


COMMANDED = [p for p in SCENARIOS if header_commands(p)]


def test_headers_with_commands_are_found():
    names = {p.stem for p in COMMANDED}
    assert {"server_300s_vs_cloud_180s", "provider_outage_failover", "login_storm_0900"} <= names


@pytest.mark.slow
@pytest.mark.parametrize("path", COMMANDED, ids=[p.stem for p in COMMANDED])
def test_every_command_in_a_scenario_header_works(path: Path, tmp_path: Path) -> None:
    """Run the header's commands as written, in order, from a directory holding the
    scenarios, at --scale 0.01 and one replication (the planner's sizes take minutes)."""
    (tmp_path / "scenarios").symlink_to(ROOT / "scenarios")
    for command in header_commands(path):
        argv = shlex.split(command)
        assert argv[0] == "mfalab"
        if argv[1] in ("run", "sweep"):
            argv += ["--scale", "0.01", "--replications", "1"]
        done = subprocess.run(
            [sys.executable, "-m", "mfa", *argv[1:]],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=300,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        assert done.returncode == 0, f"{command}\n{done.stdout}\n{done.stderr}"
