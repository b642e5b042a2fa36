"""The fraud counters' contract (``mfa.fraud_counters.FraudCounters``): every
implementation admits and counts exactly as ``mfa.fraud.refuses`` says, all or nothing.
``tests/mfa/storage/test_redis_fraud.py`` runs the same contract on Redis."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from mfa.fraud import Limit
from mfa.fraud_counters import FraudCounters, MemoryFraudCounters
from mfa.reasons import FraudRule

T0 = 1_700_000_000.0
VELOCITY = Limit(FraudRule.RANGE_VELOCITY, "range:US:425555", 60.0, max_sends=3)
OTHER_RANGE = Limit(FraudRule.RANGE_VELOCITY, "range:US:206555", 60.0, max_sends=3)
IP = Limit(FraudRule.CLIENT_IP, "ip:192.0.2.1", 60.0, max_sends=2)
CONVERSION = Limit(FraudRule.CONVERSION, "conversion:US", 600.0, min_rate=0.5, min_sends=4)


def check_velocity(counters: FraudCounters) -> None:
    """Up to max_sends per sliding window; refused sends are not counted; a send leaves
    the window ``window`` seconds after it was counted."""
    for i in range(3):
        assert counters.admit(f"a{i}", T0 + i, [VELOCITY]) is None
    assert counters.admit("a3", T0 + 10, [VELOCITY]) == VELOCITY
    assert counters.admit("a4", T0 + 59, [VELOCITY]) == VELOCITY
    assert counters.admit("b0", T0 + 59, [OTHER_RANGE]) is None  # another key
    assert counters.admit("a5", T0 + 60.5, [VELOCITY]) is None  # the first left the window
    assert counters.admit("a6", T0 + 60.5, [VELOCITY]) == VELOCITY


def check_all_or_nothing(counters: FraudCounters) -> None:
    """A send refused by one limit is counted by none; the first refusing limit is named."""
    assert counters.admit("x0", T0, [IP, VELOCITY]) is None
    assert counters.admit("x1", T0, [IP, VELOCITY]) is None
    assert counters.admit("x2", T0, [IP, VELOCITY]) == IP  # the IP is spent...
    # ...and x2 was not counted against the range: one more fits there from another IP
    assert counters.admit("x3", T0, [VELOCITY]) is None
    assert counters.admit("x4", T0, [VELOCITY]) == VELOCITY


def check_conversion(counters: FraudCounters) -> None:
    """Below min_sends nothing is judged; then the verified share must reach min_rate;
    verifications of sends that were never admitted, or under other keys, do not count."""
    for i in range(4):
        assert counters.admit(f"c{i}", T0 + i, [CONVERSION]) is None
    assert counters.admit("c4", T0 + 5, [CONVERSION]) == CONVERSION  # 0 of 4 verified
    counters.converted("c4", [CONVERSION.key])  # refused, never counted: ignored
    counters.converted("c0", ["conversion:FR"])  # not sent there: ignored
    counters.converted("c0", [CONVERSION.key])
    assert counters.admit("c5", T0 + 6, [CONVERSION]) == CONVERSION  # 1 of 4
    counters.converted("c1", [CONVERSION.key])
    assert counters.admit("c6", T0 + 7, [CONVERSION]) is None  # 2 of 4: 50 %
    assert counters.admit("c7", T0 + 8, [CONVERSION]) == CONVERSION  # 2 of 5


def check_conversion_recovers(counters: FraudCounters) -> None:
    """Unverified sends leave the window with their time: the range opens again."""
    for i in range(4):
        assert counters.admit(f"r{i}", T0 + i, [CONVERSION]) is None
    assert counters.admit("r4", T0 + 599, [CONVERSION]) == CONVERSION
    assert counters.admit("r5", T0 + 600.5, [CONVERSION]) is None  # r0 left: 3 sent


def check_conversion_grace(counters: FraudCounters) -> None:
    """Sends younger than the grace are not judged, verified or not."""
    floor = Limit(
        FraudRule.CONVERSION, "conversion:FR", 600.0, min_rate=0.5, min_sends=2, grace=30.0
    )
    assert counters.admit("g0", T0, [floor]) is None
    assert counters.admit("g1", T0 + 1, [floor]) is None
    assert counters.admit("g2", T0 + 29, [floor]) is None  # g0, g1 still in flight
    assert counters.admit("g3", T0 + 31, [floor]) == floor  # g0, g1 judged: 0 of 2
    counters.converted("g2", [floor.key])  # young: not judged yet either way
    assert counters.admit("g3", T0 + 31, [floor]) == floor
    counters.converted("g1", [floor.key])
    assert counters.admit("g3", T0 + 31, [floor]) is None  # 1 of 2 judged


CHECKS = (
    check_velocity,
    check_all_or_nothing,
    check_conversion,
    check_conversion_recovers,
    check_conversion_grace,
)


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.__name__)
def test_memory_counters_keep_the_contract(check: Callable[[FraudCounters], None]) -> None:
    check(MemoryFraudCounters())


def test_memory_counters_forget_idle_keys() -> None:
    """A bot rotating through IPs leaves no unbounded trail of keys."""
    counters = MemoryFraudCounters()
    for i in range(5000):
        limit = Limit(FraudRule.CLIENT_IP, f"ip:10.0.{i // 256}.{i % 256}", 1.0, max_sends=1)
        assert counters.admit(f"s{i}", T0 + i, [limit]) is None
    assert len(counters._windows) < 4096
