"""The fraud defences hold across a three-server cluster (PostgreSQL + Redis): a range's
velocity limit and the conversion guard count every server's sends, because their
counters live in Redis (atomic Lua scripts), not in one server's memory."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import pytest

from mfa.api import Cluster
from tests.mfa.api.support import Api, shared_cluster

pytestmark = pytest.mark.slow

RANGE_MAX = 6
CONVERSION_MIN_SENDS = 6


def _number(area: str, n: int) -> str:
    return f"+1{area}555{n:04d}"


def _good(i: int) -> str:
    """Canadian numbers in two ranges (Ottawa, Toronto), below each range's velocity limit."""
    return _number(("613", "416")[i % 2], i)


@pytest.fixture
def servers(
    postgres_url: str,
    redis_url: str,
    redis_namespace: str,
) -> Iterator[list[Api]]:
    spec = shared_cluster(
        3, postgres_url=postgres_url, redis_url=redis_url, redis_namespace=redis_namespace
    )
    fraud = {
        "MFALAB_FRAUD_RANGE_MAX_SENDS": str(RANGE_MAX),
        "MFALAB_FRAUD_CONVERSION_MIN_RATE": "0.5",
        "MFALAB_FRAUD_CONVERSION_MIN_SENDS": str(CONVERSION_MIN_SENDS),
        "MFALAB_FRAUD_CONVERSION_GRACE": "0",
    }
    spec = replace(spec, extra_env={**spec.extra_env, **fraud})
    with Cluster(spec) as cluster:
        apis = [Api(url, cluster.api_key) for url in cluster.urls]
        yield apis
        for api in apis:
            api.close()


def test_a_range_velocity_limit_holds_across_servers(servers: list[Api]) -> None:
    """20 users of one range begin at once, spread over the three servers: exactly
    RANGE_MAX codes go out; the rest are fraud_suspected. Each of them verifies, so the
    conversion guard stays quiet."""
    users = [f"vel{i}" for i in range(20)]
    for i, user in enumerate(users):
        servers[0].user(user, _number("206", i))

    def begin(i: int) -> int:
        return servers[i % 3].begin(users[i]).status_code

    with ThreadPoolExecutor(max_workers=20) as pool:
        codes = list(pool.map(begin, range(20)))
    assert codes.count(201) == RANGE_MAX
    assert codes.count(403) == 20 - RANGE_MAX


def test_the_conversion_guard_holds_across_servers(servers: list[Api]) -> None:
    """Bots send to one range from all three servers and never verify: once
    CONVERSION_MIN_SENDS were sent, every server refuses the range (and the country, whose
    share is as low); another country's range whose codes are verified keeps being served
    by every server."""
    for i in range(CONVERSION_MIN_SENDS + 3):
        servers[0].user(f"bot{i}", _number("305", i))
        servers[0].user(f"good{i}", _good(i))
    for i in range(CONVERSION_MIN_SENDS):
        assert servers[i % 3].begin(f"bot{i}").status_code == 201
    for i in range(CONVERSION_MIN_SENDS, CONVERSION_MIN_SENDS + 3):
        refused = servers[i % 3].begin(f"bot{i}")
        assert refused.status_code == 403
        assert refused.json()["reason"] == "fraud_suspected"
    servers[1].user("us-elsewhere", _number("503", 1))
    assert servers[2].begin("us-elsewhere").status_code == 403  # the US's share is 0 of 6
    for i in range(CONVERSION_MIN_SENDS + 3):
        server = servers[i % 3]
        begun = server.begin(f"good{i}")
        assert begun.status_code == 201, begun.text
        # the code is verified on another server (codes live in Redis: any server)
        verdict = servers[(i + 1) % 3].verify(begun.json()["auth_id"], server.code(_good(i)))
        assert verdict["result"] == "success"
