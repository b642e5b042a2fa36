"""Fixtures for the simulator tests: run a scenario given as a dict, read what it wrote."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from sim.runner import run_scenario
from sim.scenario_file import load_scenario
from tests.sim.helpers import Run


@pytest.fixture
def simulate(tmp_path: Path) -> Callable[..., Run]:
    """``simulate(tree, replications=1, seed=1, name="run")`` → a finished ``Run``."""

    def run(
        tree: Mapping[str, Any], *, replications: int = 1, seed: int = 1, name: str = "run"
    ) -> Run:
        source = tmp_path / f"{name}.yaml"
        source.write_text(yaml.safe_dump(dict(tree)), encoding="utf-8")
        scenario = load_scenario(source)
        out = tmp_path / name
        summary = run_scenario(scenario, out=out, seed=seed, replications=replications, context={})
        return Run(out, summary)

    return run
