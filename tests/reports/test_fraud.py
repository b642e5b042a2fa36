"""The attacks in the report: cost from the provider's prices, the fraud section, the
tables a notebook reads (``reports.fraud``), and bad price tables."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml

from mfalab.cli import main
from reports import fraud
from reports.loaders import ReportInputError, SimRun, load_run
from reports.pricing import Pricing, load_pricing
from reports.run_report import FRAUD_CHARTS, build_report

ATTACKED = {
    "name": "attacked",
    "replications": 2,
    "population": {"users": 300, "countries": {"US": 1.0}, "methods": {"sms": 0.6, "push": 0.4}},
    "arrivals": {"duration_s": 600, "profile": [{"start_s": 0, "rate_per_s": 0.3}]},
    "carriers": {"default": [{"name": "c", "share": 1.0}]},
    "policy": {"fraud": {"conversion_min_rate": 0.2, "conversion_min_sends": 20}},
    "attacks": {
        "pumping": {
            "rate_per_s": 1.0,
            "ip_count": 3,
            "targets": [
                {"country": "UZ", "prefix": "9123", "numbers": 100},
                {"country": "TJ", "prefix": "9171", "numbers": 100},
            ],
        },
        "push_bombing": {"victims": 10, "rate_per_s": 0.5, "approve_probability": 0.1},
    },
}


@pytest.fixture(scope="module")
def attacked_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("fraud")
    source = root / "attacked.yaml"
    source.write_text(yaml.safe_dump(ATTACKED), encoding="utf-8")
    out = root / "attacked"
    assert main(["run", str(source), "--out", str(out), "--seed", "4", "--no-report"]) == 0
    return out


def _prices(**table: float) -> Pricing:
    return Pricing(
        currency="USD",
        per_user_month=1.4,
        per_auth_price=1.4,
        per_auth_block=10,
        licence_user_year=16.8,
        provider_sms_per_message=table,
    )


def test_the_attack_cost_is_messages_sent_times_their_countrys_price_per_replication_hour():
    block = {
        "replications": 2,
        "span_s": 1800.0,
        "by_country": {"UZ": {"sent": 1000, "refused": 200}, "XK": {"sent": 10, "refused": 0}},
    }
    cost, avoided = fraud.attack_cost(block, _prices(UZ=0.30, default=0.10))
    # (1000 × 0.30 + 10 × 0.10) / (2 replications × 0.5 h); refused: 200 × 0.30 / 1
    assert cost == pytest.approx(301.0)
    assert avoided == pytest.approx(60.0)
    assert fraud.message_price(_prices(US=0.01), "UZ") == 0.0  # no default: not priced


def test_the_shipped_prices_give_every_pumped_country_of_the_library_a_price():
    prices = load_pricing()
    table = prices.provider_sms_per_message
    assert {"US", "UZ", "AZ", "KG", "default"} <= set(table)
    assert all(price >= 0 for price in table.values())


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("provider_sms_per_message: {US: -1}", "provider_sms_per_message.US: must be a non-"),
        ("provider_sms_per_message: {usa: 0.1}", "'usa' is not an ISO region or 'default'"),
        ("provider_sms_per_message: 0.1", "expected a mapping of country to price"),
    ],
)
def test_a_bad_provider_price_table_names_the_key(tmp_path: Path, text: str, fragment: str):
    path = tmp_path / "prices.yaml"
    path.write_text(text + "\n", encoding="utf-8")
    with pytest.raises(ReportInputError) as caught:
        load_pricing(path)
    assert fragment in str(caught.value)
    assert str(path) in str(caught.value)


def test_summary_json_carries_the_attacks_and_the_priced_cost(attacked_run: Path):
    summary = json.loads((attacked_run / "summary.json").read_text(encoding="utf-8"))
    pumping = summary["fraud"]["pumping"]
    assert pumping["attack_begins"] == 2 * 600
    assert pumping["attack_sent"] + pumping["attack_refused"] + pumping["attack_unsent"] == 1200
    assert pumping["refused_by_rule"].get("conversion", 0) > 0  # the guard stopped the bots
    cost, avoided = fraud.attack_cost(pumping, load_pricing())
    assert pumping["attack_cost"]["per_replication_hour"] == pytest.approx(cost, abs=0.01)
    assert pumping["attack_cost"]["avoided_per_replication_hour"] == pytest.approx(
        avoided, abs=0.01
    )
    assert summary["fraud"]["push_bombing"]["victims"] == 2 * 10
    assert "authentications" in summary["fraud"]["collateral"]


def test_the_tables_add_up_to_the_summary(attacked_run: Path):
    run = load_run(attacked_run)
    summary = run.summary["fraud"]
    table = fraud.attack_table(run, load_pricing()).set_index("attack")
    assert table.loc["pumping", "attack_sent"] == summary["pumping"]["attack_sent"]
    assert table.loc["push_bombing", "takeovers"] == summary["push_bombing"]["takeovers"]
    timeline = fraud.refused_over_time(run)
    totals = timeline.groupby("attack")[["attack_begins", "attack_refused"]].sum()
    for kind in ("pumping", "push_bombing"):
        assert totals.loc[kind, "attack_begins"] == summary[kind]["attack_begins"]
        assert totals.loc[kind, "attack_refused"] == summary[kind]["attack_refused"]
    collateral = fraud.collateral_table(run)
    assert collateral["authentications"].tolist() == [run.summary["authentications"]]


def test_the_report_of_a_run_with_attackers_has_a_fraud_section(attacked_run: Path):
    report = build_report([attacked_run])
    assert set(FRAUD_CHARTS) <= set(report.charts)
    assert "attacked: attacks and defences" in report.markdown
    assert "Collateral: real sign-ins a defence refused" in report.markdown
    sent = json.loads((attacked_run / "summary.json").read_text())["fraud"]["pumping"]
    assert f"| {sent['attack_sent']:,} |" in report.markdown


def test_a_run_without_attackers_has_no_fraud_section(fake_run):
    report = build_report([fake_run.path])
    assert "attacks and defences" not in report.markdown
    assert not set(FRAUD_CHARTS) & set(report.charts)
    assert not fraud.has_attacks(load_run(fake_run.path))


def test_a_sweep_gives_one_row_per_point_labelled_by_its_parameters(attacked_run: Path):
    one = json.loads((attacked_run / "summary.json").read_text())
    empty = pd.DataFrame()
    sweep = SimRun(
        path=attacked_run,
        label="sweep",
        auths=empty,
        deliveries=empty,
        resources=empty,
        summary={
            "points": [
                {"parameters": {"policy.fraud_profile": name}, "summary": one}
                for name in ("off", "geo_only")
            ]
        },
    )
    labels = [label for label, _ in fraud.fraud_points(sweep)]
    assert labels == ["policy.fraud_profile=off", "policy.fraud_profile=geo_only"]
    table = fraud.attack_table(sweep, load_pricing())
    assert table["point"].tolist() == [labels[0]] * 2 + [labels[1]] * 2
