"""The simulator's attackers against the real engines: closed forms, defences, bad input.

Closed forms (seeded runs, tolerance stated per test):

- a velocity limit of L sends per window against a steady bot rate r lets through
  min(r, L / window) per second (the engine counts only admitted sends, so after the first
  window one send is admitted for each that leaves it): within one window's worth, L sends,
  over the run;
- a blind approval with number matching is a guess, right 1 time in 90 (the engine's
  10–99), so a victim approving with probability p is taken over p/90 per push: the 99 %
  Wilson interval of the observed share holds p/90 (99 %, not 95 %: two shares are checked
  on one seed, and a 1-in-20 miss would be a false alarm, not a defect).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from mfa.begin import PUSH_NUMBERS
from mfalab.cli import main
from outputs.estimates import wilson_interval
from sim.attack_spec import PUSH_GUESS_ODDS

#: The two-sided 99 % normal quantile.
Z_99 = 2.5758

#: A small real population (US), nearly idle: the attack is what the test looks at.
QUIET_US = {
    "population": {"users": 200, "countries": {"US": 1.0}},
    "arrivals": {"duration_s": 600, "profile": [{"start_s": 0, "rate_per_s": 0.05}]},
    "carriers": {"default": [{"name": "c", "share": 1.0}]},
}


def _pumping(rate: float, **fraud: Any) -> dict[str, Any]:
    return {
        **QUIET_US,
        "policy": {"max_sends": 1000, "fraud": fraud},
        "attacks": {
            "pumping": {
                "rate_per_s": rate,
                "ip_count": 1,
                "targets": [{"country": "UZ", "prefix": "9123", "numbers": 5000}],
            }
        },
    }


@pytest.mark.parametrize(
    ("rate", "limit", "window"),
    [(2.0, 60, 60.0), (0.5, 60, 60.0), (4.0, 200, 100.0)],
    ids=["rate-above-limit", "rate-below-limit", "other-window"],
)
@pytest.mark.parametrize("defence", ["range", "ip"])
def test_a_velocity_limit_lets_a_steady_bot_through_at_min_rate_and_limit(
    simulate, rate, limit, window, defence
):
    fraud = (
        # the range is the target's 4-digit prefix: its 5,000 numbers are one range
        {"range_max_sends": limit, "range_window_s": window, "range_prefix_digits": 4}
        if defence == "range"
        else {"ip_max_sends": limit, "ip_window_s": window}
    )
    run = simulate(_pumping(rate, **fraud), seed=3)
    pumping = run.summary["fraud"]["pumping"]
    span = pumping["span_s"]
    expected = min(rate, limit / window)
    passed = pumping["attack_sent"] / span
    assert passed == pytest.approx(expected, abs=limit / span)  # one window's worth
    assert pumping["attack_passed_per_s"] == pytest.approx(passed, rel=1e-6)
    refused = pumping["attack_refused"]
    rule = "range_velocity" if defence == "range" else "client_ip"
    assert pumping["refused_by_rule"] == ({rule: refused} if refused else {})
    assert pumping["attack_begins"] == pytest.approx(rate * span, abs=1)


def test_without_defences_every_pumped_code_is_sent(simulate):
    run = simulate(_pumping(2.0), seed=3)
    pumping = run.summary["fraud"]["pumping"]
    assert pumping["attack_refused"] == 0
    assert pumping["attack_sent"] == pumping["attack_begins"] == 1200
    assert pumping["by_country"] == {"UZ": {"sent": 1200, "refused": 0}}
    assert pumping["attack_sent_per_hour"]["estimate"] == pytest.approx(7200)


def test_geo_permissions_refuse_every_pumped_code_and_no_real_user(simulate):
    run = simulate(_pumping(2.0, allowed_countries=["US"]), seed=3)
    fraud = run.summary["fraud"]
    assert fraud["pumping"]["attack_sent"] == 0
    assert fraud["pumping"]["refused_by_reason"] == {"country_blocked": 1200}
    assert fraud["pumping"]["attack_refused_share"]["estimate"] == 1.0
    assert fraud["collateral"]["signins_refused_by_defences"] == 0
    assert fraud["collateral"]["fraud_refusals"] == {"fraud_suspected": 0, "country_blocked": 0}


def test_a_range_limit_below_the_real_users_volume_refuses_them_too(simulate):
    """All real US users share one block here: a range limit below their volume is
    collateral the summary shows."""
    tree = _pumping(0.1, range_max_sends=2, range_window_s=600)
    tree["arrivals"] = {"duration_s": 600, "profile": [{"start_s": 0, "rate_per_s": 0.5}]}
    tree["population"] = {**tree["population"], "methods": {"sms": 1.0}}
    run = simulate(tree, seed=3)
    collateral = run.summary["fraud"]["collateral"]
    assert collateral["fraud_refusals"]["fraud_suspected"] > 0
    assert collateral["signins_refused_by_defences"] > 0
    assert 0 < collateral["signins_refused_by_defences_share"]["estimate"] <= 1


def test_rotation_moves_on_after_a_refusal(simulate):
    """One IP limited to 5 sends: without rotation the bots stay refused on their one IP;
    rotating over 4 IPs gets four times as many through."""
    tree = _pumping(1.0, ip_max_sends=5, ip_window_s=10_000)
    still = simulate(tree, seed=3, name="still").summary["fraud"]["pumping"]
    tree["attacks"]["pumping"] |= {"ip_count": 4, "rotate_on_refusal": True}
    rotating = simulate(tree, seed=3, name="rotating").summary["fraud"]["pumping"]
    assert still["attack_sent"] == 5
    assert rotating["attack_sent"] == 20


def _bombing(matching: bool, p: float, **attack: Any) -> dict[str, Any]:
    return {
        "population": {"users": 400, "countries": {"US": 1.0}, "methods": {"push": 1.0}},
        "arrivals": {"duration_s": 600, "profile": [{"start_s": 0, "rate_per_s": 0.01}]},
        "push": {"loss_probability": 0.0},
        "policy": {
            "push_number_matching": matching,
            "max_sends": 10_000,
            "lockout_threshold": 10_000,
        },
        "attacks": {
            "push_bombing": {"victims": 200, "rate_per_s": 20, "approve_probability": p} | attack
        },
    }


def test_number_matching_turns_a_blind_approval_into_a_one_in_90_guess(simulate):
    assert PUSH_GUESS_ODDS == PUSH_NUMBERS[1] - PUSH_NUMBERS[0] + 1 == 90
    p = 0.5
    run = simulate(_bombing(True, p), seed=5)
    bombing = run.summary["fraud"]["push_bombing"]
    pushes = bombing["attack_delivered"]
    assert pushes > 10_000
    interval = wilson_interval(bombing["takeovers"], pushes, z=Z_99)
    assert interval.low <= p / PUSH_GUESS_ODDS <= interval.high
    assert bombing["takeover_per_push"]["estimate"] == pytest.approx(
        bombing["takeovers"] / pushes, abs=1e-6
    )
    per_approval = wilson_interval(bombing["takeovers"], bombing["blind_approvals"], z=Z_99)
    assert per_approval.low <= 1 / PUSH_GUESS_ODDS <= per_approval.high
    # a wrong guess, or (in the response time's long tail) an approval after the code expired
    assert set(bombing["approvals_refused_by_reason"]) <= {"wrong_number", "expired"}


def test_without_number_matching_every_blind_approval_is_a_takeover(simulate):
    run = simulate(_bombing(False, 0.05, duration_s=120), seed=5)
    bombing = run.summary["fraud"]["push_bombing"]
    assert bombing["takeovers"] == bombing["blind_approvals"] > 0
    assert bombing["takeover_per_approval"]["estimate"] == 1.0
    interval = wilson_interval(bombing["takeovers"], bombing["attack_delivered"], z=Z_99)
    assert interval.low <= 0.05 <= interval.high


def test_the_send_limit_refuses_pushes_beyond_it(simulate):
    """5 pushes per user per 5 minutes, one push per victim every 10 s for 10 minutes: each
    victim gets 10 pushes through, the rest are rate_limited."""
    tree = _bombing(True, 0.0)
    tree["policy"]["max_sends"] = 5
    tree["attacks"]["push_bombing"] |= {"victims": 10, "rate_per_s": 1.0}
    bombing = simulate(tree, seed=5).summary["fraud"]["push_bombing"]
    assert bombing["attack_begins"] == 600
    assert bombing["attack_sent"] == 10 * 10
    assert bombing["refused_by_reason"] == {"rate_limited": 500}
    assert bombing["takeovers"] == 0


def test_the_fraud_block_is_the_same_for_the_same_seed(simulate):
    one = simulate(_bombing(False, 0.05, duration_s=60), seed=9, name="a").summary["fraud"]
    two = simulate(_bombing(False, 0.05, duration_s=60), seed=9, name="b").summary["fraud"]
    assert one == two


def test_a_run_without_attacks_has_no_fraud_block(simulate):
    assert "fraud" not in simulate(QUIET_US).summary


BAD = {
    "bad_prefix": (
        {"attacks": {"pumping": {"targets": [{"country": "UZ", "prefix": "12ab"}]}}},
        "attacks.pumping.targets[0].prefix",
        "should match pattern",
    ),
    "invalid_range": (
        {"attacks": {"pumping": {"targets": [{"country": "UZ", "prefix": "0000"}]}}},
        "attacks.pumping.targets[0]",
        "does not make valid UZ phone numbers",
    ),
    "no_targets": (
        {"attacks": {"pumping": {"rate_per_s": 5}}},
        "attacks.pumping.targets",
        "required key is missing",
    ),
    "typo": (
        {"attacks": {"pumping": {"rate": 5, "targets": [{"country": "UZ", "prefix": "9123"}]}}},
        "attacks.pumping.rate",
        "unknown key",
    ),
    "probability": (
        {
            "population": {"methods": {"push": 1.0}},
            "attacks": {"push_bombing": {"approve_probability": 1.5}},
        },
        "attacks.push_bombing.approve_probability",
        "less than or equal to 1",
    ),
    "no_push_users": (
        {
            "population": {"methods": {"sms": 1.0}, "backup_methods": {}},
            "attacks": {"push_bombing": {}},
        },
        "(top level)",
        "attacks.push_bombing needs users with push",
    ),
    "no_carriers": (
        {
            "carriers": {"US": [{"name": "us", "share": 1.0}]},
            "attacks": {"pumping": {"targets": [{"country": "UZ", "prefix": "9123"}]}},
        },
        "(top level)",
        "attacks.pumping.targets[0].country: no carriers for 'UZ'",
    ),
    "bad_ip": (
        {"attacks": {"push_bombing": {"ips": ["10.0.0.300"]}}},
        "attacks.push_bombing.ips",
        "is not an IP address",
    ),
    "unknown_profile": (
        {"policy": {"fraud_profile": "geo"}},
        "policy",
        "fraud_profile 'geo' is not in fraud_profiles",
    ),
    "bad_grace": (
        {"policy": {"fraud": {"conversion_window_s": 30}}},
        "policy.fraud",
        "conversion_grace_s must be at least 0 and less than conversion_window_s",
    ),
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_a_malformed_attack_or_defence_names_the_field(name, tmp_path: Path, capsys) -> None:
    tree, where, reason = BAD[name]
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(tree), encoding="utf-8")
    code = main(["run", str(path), "--no-report", "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2
    assert "Traceback" not in err
    assert any(f"{path}: {where}: " in line and reason in line for line in err.splitlines()), err


def test_the_real_users_fare_the_same_whatever_the_defence_does_to_the_bots(simulate):
    """The attack's messages draw their fates from their own stream: real users (who never
    send to the pumped country) get the same rows whether the bots' codes are sent or
    refused, so a sweep over defences measures the collateral exactly."""
    tree = _pumping(2.0)
    tree["population"] = {**tree["population"], "methods": {"sms": 1.0}}
    tree["arrivals"] = {"duration_s": 600, "profile": [{"start_s": 0, "rate_per_s": 0.5}]}
    sent = simulate(tree, seed=3, name="sent")
    tree["policy"]["fraud"] = {"allowed_countries": ["US"]}
    blocked = simulate(tree, seed=3, name="blocked")
    assert sent.summary["fraud"]["pumping"]["attack_sent"] == 1200
    assert blocked.summary["fraud"]["pumping"]["attack_sent"] == 0
    columns = ["auth_seq", "user_id", "outcome", "reason", "begins", "time_to_auth"]
    assert sent.auths[columns].equals(blocked.auths[columns])
