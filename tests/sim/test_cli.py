"""``mfalab run`` and ``mfalab sweep`` end to end (small scenarios)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml

from mfa.cli import main
from sim.scenario_file import load_scenario, parse_assignment, scaled, split_values
from tests.sim.helpers import QUIET, merged

ROOT = Path(__file__).parents[2]


@pytest.fixture
def small(tmp_path: Path) -> Path:
    tree = merged(
        QUIET,
        {
            "name": "small",
            "population": {"users": 300},
            "arrivals": {"duration_s": 200, "profile": [{"start_s": 0, "rate_per_s": 2.0}]},
            "servers": {"count": 2, "lb_policy": "round_robin"},
        },
    )
    path = tmp_path / "small.yaml"
    path.write_text(yaml.safe_dump(tree), encoding="utf-8")
    return path


def test_run_prints_the_summary_and_writes_the_run_dir(small, tmp_path, capsys):
    out = tmp_path / "out"
    code = main(
        ["run", str(small), "--replications", "2", "--seed", "5", "--out", str(out), "--no-report"]
    )
    printed = capsys.readouterr().out
    assert code == 0
    for row in (
        "success rate",
        "95 % CI",
        "p50",
        "p95",
        "p99",
        "attempts per success",
        "busiest sender",
        "busiest provider",
        "busiest server",
    ):
        assert row in printed
    assert "wrong_server" in printed  # two servers, round robin, memory stores
    meta = json.loads((out / "meta.json").read_text())
    assert meta["seed"] == 5 and meta["replications"] == 2
    assert sorted(p.name for p in (out / "auths").iterdir()) == [
        "part-00000.parquet",
        "part-00001.parquet",
    ]


def test_run_set_overrides_one_key(small, tmp_path, capsys):
    out = tmp_path / "out"
    code = main(
        [
            "run",
            str(small),
            "--set",
            "servers.lb_policy=auth_id",
            "--replications",
            "1",
            "--out",
            str(out),
            "--no-report",
        ]
    )
    assert code == 0
    summary = json.loads((out / "summary.json").read_text())
    assert "wrong_server" not in summary["engine_denials"]
    assert summary["overrides"] == {"servers.lb_policy": "auth_id"}
    assert load_scenario(out / "scenario.yaml").servers.lb_policy == "auth_id"
    capsys.readouterr()


def test_long_runs_show_a_progress_bar(small, tmp_path):
    from io import StringIO

    from rich.console import Console

    from sim.runner import run_scenario

    screen = StringIO()
    console = Console(file=screen, force_terminal=True, width=100)
    summary = run_scenario(
        load_scenario(small),
        out=tmp_path / "out",
        seed=1,
        replications=2,
        context={},
        show_progress=True,
        console=console,
    )
    assert summary["authentications"] > 0
    assert "simulating small" in screen.getvalue()


def test_run_rejects_several_values(small, capsys):
    assert main(["run", str(small), "--set", "servers.count=1,2", "--no-report"]) == 2
    assert "sweep takes several" in capsys.readouterr().err


def test_scale_multiplies_users_licences_and_rates():
    scenario = load_scenario(ROOT / "scenarios" / "login_storm_0900.yaml")
    smaller = scaled(scenario, 0.1)
    assert smaller.population.users == 4000
    assert [p.rate_per_s for p in smaller.arrivals.profile] == pytest.approx(
        [p.rate_per_s * 0.1 for p in scenario.arrivals.profile]
    )
    assert smaller.routing == scenario.routing  # capacities stay


def test_assignments_are_read_as_yaml():
    assert parse_assignment("servers.count=1,2,4") == ("servers.count", [1, 2, 4])
    assert parse_assignment("failover.enabled=true,false") == ("failover.enabled", [True, False])
    assert parse_assignment("routing.pools.US.senders=[97671,69829]")[1] == [[97671, 69829]]
    assert split_values("[a, b],{x: 1},c") == ["[a, b]", "{x: 1}", "c"]
    with pytest.raises(ValueError):
        parse_assignment("servers.count")


def test_country_no_is_not_a_boolean(tmp_path):
    path = tmp_path / "no.yaml"
    path.write_text("population: {countries: {NO: 0.5, US: 0.5}}\n", encoding="utf-8")
    assert load_scenario(path).population.countries == {"NO": 0.5, "US": 0.5}


@pytest.mark.slow
def test_sweep_runs_the_grid_on_dask_into_one_dataset(small, tmp_path, capsys):
    out = tmp_path / "sweep"
    code = main(
        [
            "sweep",
            str(small),
            "--set",
            "servers.lb_policy=round_robin,auth_id",
            "--set",
            "servers.count=2,3",
            "--replications",
            "2",
            "--workers",
            "2",
            "--out",
            str(out),
        ]
    )
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert "servers.lb_policy" in printed
    auths = pd.read_parquet(out / "auths")
    assert {"servers.lb_policy", "servers.count", "grid_point"} <= set(auths.columns)
    assert len(list((out / "auths").glob("*.parquet"))) == 8  # 4 points x 2 replications
    assert sorted(auths.groupby(["servers.lb_policy", "servers.count"]).groups) == [
        ("auth_id", 2),
        ("auth_id", 3),
        ("round_robin", 2),
        ("round_robin", 3),
    ]
    by_policy = auths.groupby("servers.lb_policy")["wrong_server"].sum()
    assert by_policy["auth_id"] == 0 and by_policy["round_robin"] > 0
    resources = pd.read_parquet(out / "resources.parquet")
    assert "servers.count" in resources.columns
    summary = json.loads((out / "summary.json").read_text())
    assert len(summary["points"]) == 4
    # the same replication seeds at every point: the same people arrive at the same times
    arrivals = auths.groupby("grid_point")["arrived_at"].apply(lambda s: sorted(s.round(9)))
    assert all(a == arrivals.iloc[0] for a in arrivals)


# ---------------------------------------------------------------- issue 14: answers where
# the planner looks (cost per model, in-time shares, output directories, sweep report)


def test_run_prints_cost_per_model_and_in_time_shares(small, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["run", str(small), "--seed", "2", "--out", str(out), "--no-report"]) == 0
    printed = capsys.readouterr().out
    for row in ("signed in within 30 s", "signed in within 60 s", "codes delivered in time"):
        assert row in printed
    summary = json.loads((out / "summary.json").read_text())
    cost = summary["monthly_cost"]
    assert set(cost["models"]) == {"per_user", "per_auth", "licences"}
    assert cost["currency"] and cost["rule"]  # the scaling rule is stated
    for model, value in cost["models"].items():
        assert value >= 0
        assert f"{model} {value:,.2f} {cost['currency']}" in printed
    assert "month scaled as" in printed


def test_an_existing_output_directory_is_refused_unless_force(small, tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine", encoding="utf-8")
    assert main(["run", str(small), "--out", str(out), "--no-report"]) == 2
    err = capsys.readouterr().err
    assert str(out) in err and "--force" in err
    assert not (out / "auths").exists()
    assert main(["run", str(small), "--out", str(out), "--no-report", "--force"]) == 0
    assert (out / "auths").is_dir() and (out / "notes.txt").read_text() == "mine"
    capsys.readouterr()


def test_out_defaults_to_a_new_timestamped_directory(small, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["run", str(small), "--no-report"]) == 0
    assert main(["run", str(small), "--no-report"]) == 0
    made = sorted(p.name for p in (tmp_path / "runs").iterdir())
    assert len(made) == 2 and all(name.startswith("small-") for name in made)
    printed = capsys.readouterr().out
    assert all(name in printed for name in made)


def test_a_sweep_needs_no_out_and_writes_its_report(small, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    code = main(["sweep", str(small), "--set", "servers.count=1,3", "--replications", "1"])
    printed = capsys.readouterr().out
    assert code == 0, printed
    (out,) = (tmp_path / "runs").iterdir()
    assert out.name.startswith("small-")
    report = out / "report.html"
    assert report.is_file() and (out / "report.md").is_file()
    page = report.read_text(encoding="utf-8")
    assert "servers.count=3" in page and "servers.count=3.0" not in page
    assert "nan" not in printed.lower()
    assert "servers.count=3.0" not in printed


def test_a_sweep_with_no_report_writes_none(small, tmp_path, capsys):
    out = tmp_path / "sweep"
    code = main(
        [
            "sweep",
            str(small),
            "--set",
            "servers.count=1,3",
            "--replications",
            "1",
            "--out",
            str(out),
            "--no-report",
        ]
    )
    assert code == 0
    assert not (out / "report.html").exists()
    capsys.readouterr()
