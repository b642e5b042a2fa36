"""The layers hold: ``lint-imports`` keeps the contract in ``pyproject.toml``."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _contract() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]


def test_every_top_level_package_is_in_the_layer_contract() -> None:
    # a new package outside the contract would escape it unnoticed
    packages = {
        path.parent.name
        for path in ROOT.glob("*/__init__.py")
        if path.parent.name not in {"tests", "bench", "notebooks"}
    }
    assert packages == set(_contract()["root_packages"])


def test_the_imports_keep_the_layer_contract() -> None:
    lint_imports = Path(sys.executable).with_name("lint-imports")
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    result = subprocess.run(
        [str(lint_imports), "--no-cache", "--config", str(ROOT / "pyproject.toml")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "0 broken" in result.stdout


def test_the_engine_names_no_package_above_it_to_run() -> None:
    """Imports are not the only way across a layer: ``[python, "-m", "mfalab", …]`` or
    ``"mfalab.server:create_app"`` in ``mfa`` would run the composition root by name. The
    cluster starts servers through the ``ServerEntry`` its caller declares instead."""
    import ast
    import itertools
    import re

    above = ("mfalab", "sim", "loadtests", "reports")
    import_string = re.compile(rf"^({'|'.join(above)})(\.\w+)*:\w+$")
    found = []
    for path in sorted((ROOT / "mfa").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            where = f"{path.relative_to(ROOT)}:{getattr(node, 'lineno', 0)}"
            text = node.value if isinstance(node, ast.Constant) else None
            if isinstance(text, str) and import_string.match(text):
                found.append(f"{where}: {text!r}")
            if isinstance(node, ast.List | ast.Tuple):
                words = [e.value if isinstance(e, ast.Constant) else None for e in node.elts]
                for flag, module in itertools.pairwise(words):
                    if flag == "-m" and str(module).split(".")[0] in above:
                        found.append(f"{where}: -m {module}")
    assert found == []
