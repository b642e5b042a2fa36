"""The analysts' notebooks run top to bottom (nbclient, the venv's kernel) and are committed
without outputs."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
NAMES = ("reliability", "billing", "loadtest", "fraud")


@pytest.mark.parametrize("name", NAMES)
def test_the_notebook_is_committed_without_outputs(name: str) -> None:
    book = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    code = [cell for cell in book.cells if cell.cell_type == "code"]
    assert code
    assert all(not cell.outputs and cell.execution_count is None for cell in code)


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_the_notebook_executes(name: str) -> None:
    book = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    client = NotebookClient(
        book,
        timeout=240,
        kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOKS)}},
    )
    client.execute()
    errors = [
        output
        for cell in book.cells
        if cell.cell_type == "code"
        for output in cell.outputs
        if output.output_type == "error"
    ]
    assert not errors
    images = [
        output
        for cell in book.cells
        if cell.cell_type == "code"
        for output in cell.outputs
        if "image/png" in output.get("data", {})
    ]
    assert images, "the notebook shows no chart"


#: The notebooks whose data an analyst chooses in a parameters cell (billing.ipynb has its own)
PARAMETERISED = {"reliability": "RUN_DIR", "loadtest": "RESULTS_DIR"}
ROOT = NOTEBOOKS.parent


@pytest.mark.parametrize(("name", "variable"), PARAMETERISED.items())
def test_the_data_is_chosen_in_a_parameters_cell_defaulting_to_the_shipped_sample(
    name: str, variable: str
) -> None:
    book = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    tagged = [c for c in book.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, "one cell tagged 'parameters' (papermill's convention)"
    source = tagged[0].source
    assert f'{variable} = ROOT / "notebooks" / "data" /' in source
    default = source.split(f"{variable} = ", 1)[1].splitlines()[0]
    parts = [p.strip().strip('"') for p in default.split("/")][1:]
    assert (ROOT.joinpath(*parts)).is_dir(), parts


def test_the_notebooks_extra_installs_jupyterlab_and_the_readme_says_how_to_open_them() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    extra = project["project"]["optional-dependencies"]["notebooks"]
    assert any(dep.startswith("jupyterlab") for dep in extra)
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "pip install -e '.[notebooks]' && jupyter lab notebooks/" in readme


def _execute_with(name: str, variable: str, value: Path) -> nbformat.NotebookNode:
    book = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    cell = next(c for c in book.cells if "parameters" in c.metadata.get("tags", []))
    cell.source = f"{variable} = {str(value)!r}"
    NotebookClient(
        book, timeout=240, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOKS)}}
    ).execute()
    return book


def _text(book: nbformat.NotebookNode) -> str:
    out = []
    for cell in book.cells:
        for output in cell.get("outputs", []):
            out.append(output.get("text", ""))
            out.append(output.get("data", {}).get("text/plain", ""))
    return "\n".join(out)


@pytest.mark.slow
def test_the_loadtest_notebook_reads_the_users_own_results(tmp_path: Path) -> None:
    mine = tmp_path / "my-loadtest"
    shutil.copytree(NOTEBOOKS / "data" / "locust", mine)
    logins = (mine / "sample_logins.csv").read_text(encoding="utf-8").splitlines()
    header = logins[0].split(",")
    rows = [dict(zip(header, line.split(","), strict=False)) for line in logins[1:]]
    everything = next(r for r in rows if r["flow"] == "All")
    text = _text(_execute_with("loadtest", "RESULTS_DIR", mine))
    assert f"{int(everything['scheduled']):,} logins scheduled" in text


@pytest.mark.slow
def test_the_reliability_notebook_reads_the_users_own_run(tmp_path: Path) -> None:
    mine = tmp_path / "my-run"
    command = [
        *(
            sys.executable,
            "-m",
            "mfalab",
            "run",
            str(ROOT / "scenarios" / "canada_short_codes.yaml"),
        ),
        *("--scale", "0.01", "--replications", "2", "--seed", "3", "--no-report"),
        *("--out", str(mine)),
    ]
    subprocess.run(command, check=True, cwd=ROOT, capture_output=True, timeout=240)
    import pandas as pd

    auths = pd.read_parquet(mine / "auths")
    text = _text(_execute_with("reliability", "RUN_DIR", mine))
    assert f"{len(auths):,} authentications" in text


@pytest.mark.slow
def test_the_billing_notebook_reads_the_users_own_database_and_log(tmp_path: Path) -> None:
    from tests.reports.test_traffic import _exported_log

    logs = _exported_log(tmp_path)  # the database beside it: tmp_path / "mfa.db"
    book = nbformat.read(NOTEBOOKS / "billing.ipynb", as_version=4)
    cell = next(c for c in book.cells if "parameters" in c.metadata.get("tags", []))
    cell.source = "\n".join(
        [
            "import os",
            "from pathlib import Path",
            'RUN_DIR = os.environ.get("MFALAB_NOTEBOOK_RUN")',
            f"DB_FILE = Path({str(tmp_path / 'mfa.db')!r})",
            "DB_URL = None",
            f"LOGS_FILE = Path({str(logs)!r})",
            'MONTH = "2026-03"',
        ]
    )
    NotebookClient(
        book, timeout=240, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOKS)}}
    ).execute()
    text = _text(book)
    # the database: 3 users enabled in March, 8 billable authentications (test_traffic)
    assert "2026-03: 3 users enabled, 0 licensed, 8 authentications" in text
    # the log: its two months, users counted as seen
    assert "2026-03 (those seen in the month's log" in text
    assert "2026-04 (those seen in the month's log" in text
