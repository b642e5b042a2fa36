"""The fraud defences' rules (``mfa.fraud``) as pure functions, and their policy's bounds."""

from __future__ import annotations

import pytest

from mfa.fraud import (
    FraudRefusal,
    Limit,
    PhoneRange,
    conversion_keys,
    geo_refusal,
    phone_range,
    refuses,
    send_limits,
)
from mfa.policy import FraudPolicy, Policy
from mfa.reasons import DenialReason, FraudRule

ALL_ON = FraudPolicy(
    allowed_countries=frozenset({"US"}),
    range_max_sends=10,
    conversion_min_rate=0.2,
    ip_max_sends=5,
)


@pytest.mark.parametrize(
    ("phone", "digits", "expected"),
    [
        ("+14255550100", 6, PhoneRange("US", "425555")),  # area code + exchange
        ("+14255550100", 3, PhoneRange("US", "425")),
        ("+16135550123", 6, PhoneRange("CA", "613555")),  # +1 but Canada
        ("+33612345678", 4, PhoneRange("FR", "6123")),
        ("+882351234567", 6, PhoneRange("ZZ", "351234")),  # an international network
        ("+447700900123", 6, PhoneRange("GB", "770090")),  # not assigned: the code's country
    ],
)
def test_a_range_is_the_country_and_the_first_digits_of_the_national_number(
    phone: str, digits: int, expected: PhoneRange
) -> None:
    assert phone_range(phone, digits) == expected


def test_a_velocity_limit_refuses_from_the_max_th_send_on() -> None:
    limit = Limit(FraudRule.RANGE_VELOCITY, "range:US:425555", 600.0, max_sends=3)
    assert [refuses(limit, sent, 0) for sent in range(5)] == [False, False, False, True, True]


def test_the_conversion_floor_needs_volume_and_then_the_share() -> None:
    floor = Limit(FraudRule.CONVERSION, "conversion:US", 3600.0, min_rate=0.25, min_sends=8)
    assert not refuses(floor, 7, 0)  # too few sends to judge
    assert refuses(floor, 8, 0)
    assert refuses(floor, 8, 1)  # 12.5 % < 25 %
    assert not refuses(floor, 8, 2)  # exactly 25 %
    assert not refuses(floor, 100, 90)


def test_geo_permissions_refuse_only_other_countries_and_only_when_on() -> None:
    assert geo_refusal(ALL_ON, "US") is None
    assert geo_refusal(ALL_ON, "FR") == FraudRefusal(DenialReason.COUNTRY_BLOCKED)
    assert geo_refusal(ALL_ON, "ZZ") == FraudRefusal(DenialReason.COUNTRY_BLOCKED)
    assert geo_refusal(FraudPolicy(), "FR") is None


def test_every_defence_is_off_by_default() -> None:
    policy = Policy().fraud
    assert not policy.active
    assert send_limits(policy, PhoneRange("US", "425555"), "192.0.2.1") == ()


def test_a_send_meets_the_limits_of_its_ip_range_country_in_that_order() -> None:
    to = PhoneRange("US", "425555")
    limits = send_limits(ALL_ON, to, "192.0.2.1")
    assert [(lim.rule, lim.key) for lim in limits] == [
        (FraudRule.CLIENT_IP, "ip:192.0.2.1"),
        (FraudRule.RANGE_VELOCITY, "range:US:425555"),
        (FraudRule.CONVERSION, "conversion:US"),
        (FraudRule.CONVERSION, "conversion:US:425555"),
    ]
    assert conversion_keys(to) == ("conversion:US", "conversion:US:425555")
    assert [lim.window for lim in limits] == [600.0, 600.0, 3600.0, 3600.0]
    assert [lim.grace for lim in limits] == [0.0, 0.0, 60.0, 60.0]


def test_a_push_meets_only_the_ip_limit_and_no_ip_means_no_ip_limit() -> None:
    assert [lim.rule for lim in send_limits(ALL_ON, None, "192.0.2.1")] == [FraudRule.CLIENT_IP]
    assert send_limits(ALL_ON, None, None) == ()
    no_ip = send_limits(ALL_ON, PhoneRange("US", "425555"), None)
    assert FraudRule.CLIENT_IP not in {lim.rule for lim in no_ip}


@pytest.mark.parametrize(
    "bad",
    [
        {"allowed_countries": frozenset({"usa"})},
        {"range_prefix_digits": 0},
        {"range_max_sends": 0},
        {"ip_max_sends": 0},
        {"conversion_min_sends": 0},
        {"conversion_min_rate": 0.0},
        {"conversion_min_rate": 1.5},
        {"range_window_seconds": 0.0},
        {"conversion_window_seconds": -1.0},
        {"ip_window_seconds": 0.0},
        {"conversion_grace_seconds": -1.0},
        {"conversion_grace_seconds": 3600.0},
    ],
)
def test_a_policy_out_of_bounds_is_refused_naming_the_field(bad: dict[str, object]) -> None:
    with pytest.raises(ValueError, match=next(iter(bad))):
        FraudPolicy(**bad)  # type: ignore[arg-type]
