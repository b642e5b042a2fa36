"""The attacker flows' pure parts: their options, the numbers the bots get, the bots' IPs,
and the threshold that reads the share of attacks refused."""

from __future__ import annotations

import argparse
import random

import pytest
from locust.stats import RequestStats

from loadtests.attackers import attack_number, attacker_ip
from loadtests.names import LOGIN
from loadtests.options import parse_mix, parse_prefixes
from loadtests.thresholds import evaluate_thresholds, parse_thresholds
from mfa.fraud import phone_range


def test_the_mix_takes_the_attacker_flows() -> None:
    assert parse_mix("sms=0.9,pumping=0.1") == {"sms": 0.9, "pumping": 0.1}
    assert parse_mix("push=1,push_bombing=0.2")["push_bombing"] == 0.2


def test_prefixes_are_plus_and_digits() -> None:
    assert parse_prefixes("+1305555, +88235") == ("+1305555", "+88235")
    for bad in ("", "1305555", "+13a5", "+1"):
        with pytest.raises(argparse.ArgumentTypeError):
            parse_prefixes(bad)


@pytest.mark.parametrize(
    ("prefix", "country", "range_prefix"),
    [("+1305555", "US", "305555"), ("+3361234", "FR", "61234"), ("+88235", "ZZ", "35")],
)
def test_bots_get_valid_numbers_in_the_attacked_range(
    prefix: str, country: str, range_prefix: str
) -> None:
    rng = random.Random(3)
    numbers = {attack_number(prefix, rng) for _ in range(30)}
    assert len(numbers) > 20  # distinct numbers, one range
    for number in numbers:
        assert number.startswith(prefix)
        found = phone_range(number, len(range_prefix))
        assert (found.country, found.prefix) == (country, range_prefix)


def test_bots_send_from_the_given_number_of_ips() -> None:
    rng = random.Random(1)
    assert {attacker_ip(rng, 3) for _ in range(200)} == {
        "203.0.113.1",
        "203.0.113.2",
        "203.0.113.3",
    }


def test_refused_ratio_is_the_share_of_a_flows_logins_that_failed() -> None:
    logins = RequestStats()
    for i in range(10):
        logins.log_request(LOGIN, "pumping", 5, 0)
        logins.log_request(LOGIN, "sms", 50, 0)
        if i < 7:
            logins.log_error(LOGIN, "pumping", "fraud_suspected")
    rows = evaluate_thresholds(
        parse_thresholds("refused_ratio[pumping]>=0.7,refused_ratio[sms]<0.01"),
        RequestStats(),
        logins,
    )
    assert [(r["value"], r["passed"]) for r in rows] == [(0.7, True), (0.0, True)]
