"""The load tests stay shaped like Locust's examples: a locustfile holds its scenario, and
what the scenarios share is small modules by concept, none of them a grab bag."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

LOADTESTS = Path(__file__).resolve().parents[2] / "loadtests"
MAX_LINES = 400
SCENARIOS = ("sms", "totp", "push", "app_password", "mixed", "healthz", "pumping", "push_bombing")


@pytest.mark.parametrize("path", sorted(LOADTESTS.glob("*.py")), ids=lambda p: p.name)
def test_no_module_in_loadtests_is_over_400_lines(path: Path) -> None:
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"{path.name} has {lines} lines (at most {MAX_LINES})"


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_each_locustfile_declares_its_user_with_a_wait_time_a_task_and_a_debug_entry(
    scenario: str,
) -> None:
    tree = ast.parse((LOADTESTS / f"{scenario}.py").read_text(encoding="utf-8"))
    users = [
        node for node in tree.body if isinstance(node, ast.ClassDef) and node.name.endswith("User")
    ]
    assert len(users) == 1, f"{scenario}.py should define one User class"
    body = users[0].body
    assigned = {
        target.id
        for node in body
        if isinstance(node, ast.Assign)
        for target in node.targets
        if isinstance(target, ast.Name)
    }
    assert "wait_time" in assigned, f"{scenario}.py: no explicit wait_time"
    tasks = [
        node
        for node in body
        if isinstance(node, ast.FunctionDef)
        and any("task" in ast.unparse(decorator) for decorator in node.decorator_list)
    ]
    assert tasks, f"{scenario}.py: no @task"
    source = ast.unparse(tree)
    assert f"run_single_user({users[0].name})" in source, f"{scenario}.py: no debug entry"


@pytest.mark.parametrize(
    "scenario", ("sms", "totp", "push", "app_password", "pumping", "push_bombing")
)
def test_each_single_flow_locustfile_holds_its_own_flow(scenario: str) -> None:
    tree = ast.parse((LOADTESTS / f"{scenario}.py").read_text(encoding="utf-8"))
    flows = [
        node for node in tree.body if isinstance(node, ast.ClassDef) and node.name.endswith("Flow")
    ]
    assert flows, f"{scenario}.py should define its login flow"
