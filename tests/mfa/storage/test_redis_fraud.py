"""The fraud counters in Redis: the port's contract (the same checks as the memory
counters), atomic under concurrent servers, shared by engines, and bounded in Redis."""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable, Iterator

import pytest
import redis

from mfa.errors import InvalidInput
from mfa.fraud import Limit
from mfa.fraud_counters import FraudCounters
from mfa.reasons import FraudRule
from mfa.storage.redis_fraud import RedisFraudCounters
from tests.mfa.test_fraud_counters import CHECKS, T0, VELOCITY

pytestmark = pytest.mark.redis


@pytest.fixture
def make_counters(
    redis_url: str, redis_namespace: str
) -> Iterator[Callable[[], RedisFraudCounters]]:
    """Counters on a fresh namespace of their own (under the test's, cleaned after)."""
    opened: list[RedisFraudCounters] = []
    namespace = f"{redis_namespace}-{secrets.token_hex(4)}"

    def make() -> RedisFraudCounters:
        counters = RedisFraudCounters(redis_url, namespace=namespace)
        opened.append(counters)
        return counters

    yield make
    for counters in opened:
        counters.close()


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.__name__)
def test_redis_counters_keep_the_contract(
    make_counters: Callable[[], RedisFraudCounters], check: Callable[[FraudCounters], None]
) -> None:
    check(make_counters())


def test_servers_racing_for_a_range_admit_exactly_its_limit(
    make_counters: Callable[[], RedisFraudCounters],
) -> None:
    """Eight servers (clients) send 25 each to one range at the same moment: exactly
    max_sends are admitted, however the calls interleave."""
    limit = Limit(FraudRule.RANGE_VELOCITY, "range:US:425555", 60.0, max_sends=37)
    servers = [make_counters() for _ in range(8)]
    admitted: list[str] = []
    start = threading.Barrier(len(servers))

    def run(index: int, counters: RedisFraudCounters) -> None:
        start.wait()
        for n in range(25):
            send_id = f"s{index}-{n}"
            if counters.admit(send_id, T0, [limit]) is None:
                admitted.append(send_id)

    threads = [threading.Thread(target=run, args=pair) for pair in enumerate(servers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(admitted) == 37


def test_a_second_server_sees_the_first_ones_sends_and_verifications(
    make_counters: Callable[[], RedisFraudCounters],
) -> None:
    floor = Limit(FraudRule.CONVERSION, "conversion:US", 600.0, min_rate=0.5, min_sends=2)
    one, two = make_counters(), make_counters()
    assert one.admit("a", T0, [floor]) is None
    assert two.admit("b", T0, [floor]) is None
    assert one.admit("c", T0, [floor]) == floor
    two.converted("a", [floor.key])
    assert one.admit("c", T0, [floor]) is None  # 1 of 2 verified: 50 %


def test_idle_counters_expire_from_redis(
    make_counters: Callable[[], RedisFraudCounters], redis_url: str
) -> None:
    counters = make_counters()
    assert counters.admit("a", T0, [VELOCITY]) is None
    client = redis.Redis.from_url(redis_url)
    key = f"{counters._prefix}{VELOCITY.key}"
    assert 0 < client.pttl(key) <= VELOCITY.window * 1000


def test_a_bad_url_is_refused_naming_the_setting() -> None:
    with pytest.raises(InvalidInput, match="MFALAB_FRAUD_COUNTERS"):
        RedisFraudCounters("http://127.0.0.1:6379")
