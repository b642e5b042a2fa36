"""Malformed scenario files: exit code 2, one "file: key: reason" line per problem.

Each file in ``bad_scenarios/`` has one mistake a planner could make; the table says
where it must be reported and a fragment of the reason. ``mfalab run`` must never print a
traceback and must not start writing a run directory.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from mfa.cli import main

HERE = Path(__file__).parent / "bad_scenarios"

CASES = {
    "empty.yaml": ("(file)", "is empty"),
    "not_a_mapping.yaml": ("(top level)", "a scenario is a mapping of keys, not a list"),
    "yaml_syntax.yaml": ("line 4, column 8", "YAML: expected ',' or '}'"),
    "duplicate_key.yaml": ("line 5, column 1", "duplicate key 'servers'"),
    "unknown_key.yaml": ("populaton", "unknown key; did you mean 'population'?"),
    "wrong_type.yaml": ("servers.count", "valid integer"),
    "negative_users.yaml": ("population.users", "greater than or equal to 1 (got -5)"),
    "shares_do_not_add_up.yaml": ("population.countries", "shares must add up to 1"),
    "unknown_country.yaml": ("population.countries", "'XX' is not an ISO 3166"),
    "p95_below_median.yaml": ("user.read_and_type", "p95_s (5) must not be below median_s"),
    "cloud_timeout.yaml": ("servers", "timeout_s cannot be set in cloud mode"),
    "profile_out_of_order.yaml": ("arrivals.profile", "increasing order"),
    "bad_lb_policy.yaml": ("servers.lb_policy", "'round_robin', 'random', 'sticky' or 'auth_id'"),
    "no_voice_provider.yaml": ("providers", "no provider carries voice"),
    "outage_ends_before_start.yaml": ("providers[0].outages[0]", "must be after start_s"),
    "long_code_pool_of_two.yaml": ("routing.pools.GB", "exactly one sender"),
    "carrier_without_share.yaml": ("carriers.US[0].share", "required key is missing"),
    "probability_above_one.yaml": ("push.loss_probability", "less than or equal to 1"),
}


def test_every_bad_file_has_a_case():
    assert sorted(p.name for p in HERE.glob("*.yaml")) == sorted(CASES)
    assert len(CASES) >= 10


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_scenario_exits_2_with_file_key_and_reason(name, tmp_path, capsys):
    path = HERE / name
    out = tmp_path / "run"
    code = main(["run", str(path), "--out", str(out), "--no-report"])
    captured = capsys.readouterr()
    assert code == 2
    where, reason = CASES[name]
    lines = captured.err.strip().splitlines()
    assert any(f"{path}: {where}: " in line and reason in line for line in lines), captured.err
    for line in lines:  # every line names the file
        assert str(path) in line
    assert "Traceback" not in captured.err
    assert not out.exists()  # nothing was half-written


def test_every_problem_of_a_file_is_listed_at_once(tmp_path, capsys):
    path = tmp_path / "many.yaml"
    path.write_text(
        "population:\n  users: 0\n  userz: 5\nservers:\n  lb_policy: nope\n"
        "push:\n  loss_probability: 2\n",
        encoding="utf-8",
    )
    assert main(["run", str(path), "--no-report", "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    for key in (
        "population.users",
        "population.userz",
        "servers.lb_policy",
        "push.loss_probability",
    ):
        assert f"{path}: {key}: " in err


def test_missing_file(tmp_path, capsys):
    path = tmp_path / "nope.yaml"
    assert main(["run", str(path), "--no-report"]) == 2
    assert f"{path}: (file): no such file" in capsys.readouterr().err


def test_bad_override_names_the_key(tmp_path, capsys):
    scenario = Path(__file__).parents[2] / "scenarios" / "us_baseline.yaml"
    out = tmp_path / "o"
    code = main(
        ["run", str(scenario), "--set", "servers.count=0", "--out", str(out), "--no-report"]
    )
    err = capsys.readouterr().err
    assert code == 2
    assert "servers.count: Input should be greater than or equal to 1 (got 0)" in err
    assert "--set servers.count" in err
    assert not out.exists()
    code = main(["run", str(scenario), "--set", "servers.cuont=2", "--no-report"])
    assert code == 2
    assert "servers.cuont: unknown key; did you mean 'count'?" in capsys.readouterr().err
