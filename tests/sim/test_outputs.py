"""The run directory: its files, its columns (the contract with reports), reproducibility."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest

from sim.records import AUTH_COLUMNS, DELIVERY_COLUMNS, RESOURCE_COLUMNS
from sim.scenario_file import load_scenario
from tests.sim.helpers import QUIET, merged

SMALL = {
    "population": {"users": 400},
    "arrivals": {"duration_s": 300, "profile": [{"start_s": 0, "rate_per_s": 2.0}]},
    "servers": {"count": 2, "lb_policy": "round_robin"},
}


def _files(path):
    return sorted(
        p.relative_to(path)
        for p in path.rglob("*")
        if p.is_file() and p.name not in ("meta.json",)  # meta.json holds the wall time
    )


def test_same_seed_gives_byte_identical_output(simulate):
    """Everything but meta.json (wall time) is identical byte for byte; another seed is not."""
    first = simulate(SMALL, replications=2, seed=7, name="a")
    second = simulate(SMALL, replications=2, seed=7, name="b")
    other = simulate(SMALL, replications=2, seed=8, name="c")
    names = _files(first.path)
    assert names == _files(second.path)
    assert len(names) >= 7  # 2 auth parts, 2 delivery parts, resources, scenario, summary
    for name in names:
        assert (first.path / name).read_bytes() == (second.path / name).read_bytes(), name
    part = "auths/part-00000.parquet"
    assert (first.path / part).read_bytes() != (other.path / part).read_bytes()


def test_columns_are_the_records_contract(simulate):
    run = simulate(merged(SMALL, {"population": {"users": 400}}), replications=2)
    assert tuple(pq.read_schema(run.path / "auths" / "part-00000.parquet").names) == AUTH_COLUMNS
    assert (
        tuple(pq.read_schema(run.path / "deliveries" / "part-00001.parquet").names)
        == DELIVERY_COLUMNS
    )
    assert tuple(pq.read_schema(run.path / "resources.parquet").names) == RESOURCE_COLUMNS
    auths = run.auths
    assert sorted(auths["replication"].unique()) == [0, 1]
    assert set(auths["outcome"]) <= {"success", "denied", "abandoned"}
    success = auths[auths["outcome"] == "success"]
    assert (success["reason"] == "").all()
    assert (
        success["time_to_auth"] - (success["finished_at"] - success["arrived_at"])
    ).abs().max() < 1e-9
    assert auths.loc[auths["outcome"] != "success", "time_to_auth"].isna().all()
    # every auth's sequence numbers are unique within its replication
    assert not auths.duplicated(["replication", "auth_seq"]).any()
    deliveries = run.deliveries
    assert set(deliveries["channel"]) <= {"sms", "voice", "push"}
    lost = deliveries["loss_cause"] != ""
    assert deliveries.loc[lost, "delivered_at"].isna().all()
    assert (deliveries.loc[~lost, "delivered_at"] >= deliveries.loc[~lost, "sent_at"]).all()
    assert (deliveries["sent_at"].dropna() >= 0).all()
    # a delivery row per message the authentications asked for, across channels
    sends = auths["begins"].sum()
    assert len(deliveries) <= sends
    resources = run.resources
    assert set(resources["kind"]) == {"sender", "provider", "server"}
    assert set(resources.loc[resources["kind"] == "server", "name"]) == {"mfa1", "mfa2"}


def test_run_directory_files(simulate):
    run = simulate(SMALL, replications=2, seed=3)
    for name in ("scenario.yaml", "meta.json", "summary.json", "resources.parquet"):
        assert (run.path / name).is_file()
    # the resolved scenario is complete and loads back to the same scenario
    resolved = load_scenario(run.path / "scenario.yaml")
    assert resolved.population.users == 400
    assert resolved.routing.pools["US"].senders == ["97671", "69829", "51789", "99399"]
    meta = json.loads((run.path / "meta.json").read_text())
    assert meta["seed"] == 3 and meta["replications"] == 2
    assert meta["authentications"] == run.summary["authentications"] > 0
    summary = json.loads((run.path / "summary.json").read_text())
    assert summary == run.summary
    rate = summary["success_rate"]
    assert rate["ci95"] == [rate["low"], rate["high"]]
    assert len(rate["per_replication"]) == 2
    assert summary["outcomes"]["success"] == len(run.auths[run.auths["outcome"] == "success"])


def test_summary_counts_agree_with_the_rows(simulate):
    run = simulate(merged(QUIET, {**SMALL, "user": {"max_attempts": 3}}), seed=4)
    auths, summary = run.auths, run.summary
    assert summary["authentications"] == len(auths)
    assert summary["begins"] == auths["begins"].sum()
    times = auths.loc[auths["outcome"] == "success", "time_to_auth"]
    assert summary["time_to_auth_s"]["p50"] == pytest.approx(times.median(), abs=1e-3)
    deliveries = run.deliveries
    assert summary["deliveries"]["sms"]["sent"] == (deliveries["channel"] == "sms").sum()
    _tally_agrees_with_the_rows(summary, auths, deliveries)


def test_tally_of_a_run_with_losses_and_fallbacks_agrees_with_the_rows(simulate):
    # the default population (every method, security apps, poor signal, carrier losses),
    # busy enough that rows are written, and counted, in several blocks
    busy = {"arrivals": {"duration_s": 900, "profile": [{"start_s": 0, "rate_per_s": 4.0}]}}
    run = simulate({**SMALL, **busy, "output": {"chunk_rows": 1024}}, seed=5)
    assert len(run.deliveries) > 3 * 1024
    summary = run.summary
    assert summary["denials_by_reason"]["abandoned"] and summary["losses_by_cause"]
    assert len(summary["by_first_method"]) >= 3
    _tally_agrees_with_the_rows(summary, run.auths, run.deliveries)


def _tally_agrees_with_the_rows(summary, auths, deliveries):
    """Everything the tally counts, block by block as rows are written, agrees with the
    rows themselves."""
    assert summary["authentications"] == len(auths)
    assert summary["begins"] == auths["begins"].sum()
    assert summary["verifies"] == auths["verifies"].sum()
    ok = auths["outcome"] == "success"
    assert summary["outcomes"]["success"] == ok.sum()
    assert summary["attempts_per_success"] == round(auths["begins"].sum() / ok.sum(), 4)
    assert summary["begins_per_successful_signin"] == round(
        auths.loc[ok, "begins"].sum() / ok.sum(), 4
    )
    for outcome in ("denied", "abandoned"):
        reasons = auths.loc[auths["outcome"] == outcome, "reason"].value_counts()
        assert summary["denials_by_reason"][outcome] == reasons.sort_index().to_dict()
    for method, group in auths.groupby("method_first"):
        by_method = summary["by_first_method"][method]
        assert by_method["authentications"] == len(group)
        assert by_method["success_rate"] == round((group["outcome"] == "success").mean(), 6)
    lost = deliveries["loss_cause"] != ""
    assert summary["losses_by_cause"] == (
        deliveries.loc[lost, "loss_cause"].value_counts().sort_index().to_dict()
    )
    for channel, group in deliveries.groupby("channel"):
        counted = summary["deliveries"][channel]
        assert counted == {"sent": len(group), "delivered": int((group["loss_cause"] == "").sum())}


def test_the_pooled_success_rate_is_the_centre_of_its_interval(simulate):
    """summary.json's estimate is the pooled share (successes / authentications over every
    replication) and the centre of its 95 % interval (issue 14, point 4)."""
    run = simulate(SMALL, replications=3, seed=11)
    rate = run.summary["success_rate"]
    auths = run.auths
    pooled = (auths["outcome"] == "success").mean()
    assert rate["estimate"] == round(pooled, 6)
    assert rate["low"] < rate["estimate"] < rate["high"]
    assert rate["estimate"] - rate["low"] == pytest.approx(
        rate["high"] - rate["estimate"], abs=2e-6
    )
    assert rate["interval"] == "t over 3 replications"


def test_in_time_shares_agree_with_the_rows(simulate):
    """Signed in within 30 s / 60 s, and codes delivered within the code lifetime, are the
    pooled shares of the rows (issue 14: "code arrived in time")."""
    tree = merged(SMALL, {"servers": {"timeout_s": 40}})
    run = simulate(tree, replications=2, seed=6)
    auths, deliveries, summary = run.auths, run.deliveries, run.summary
    ok = auths["outcome"] == "success"
    for limit in (30, 60):
        share = (ok & (auths["time_to_auth"] <= limit)).mean()
        assert summary[f"signed_in_within_{limit}s"]["estimate"] == round(share, 6)
    codes = deliveries[deliveries["channel"].isin(["sms", "voice"])]
    in_time = (codes["delivered_at"] - codes["requested_at"]) <= 40
    figure = summary["delivered_within_code_lifetime"]
    assert figure["messages"] == len(codes) > 0
    assert figure["code_lifetime_s"] == 40
    assert figure["estimate"] == round(in_time.mean(), 6)
    assert 0 < figure["estimate"] < 1
