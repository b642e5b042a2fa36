"""Bursts of parallel requests against real servers keep every limit exactly.

One server (SQLite, codes in its memory) and a three-server cloud cluster (PostgreSQL,
codes in Redis), with 50 requests released at once, spread over the servers:
- wrong app passwords: exactly ``lockout_threshold`` (10) are checked, the other 40 are
  refused ``locked_out``, and the right password after them too;
- begins: exactly ``max_sends`` (5) codes go out, the other 45 answer 429;
- guesses at one sms code: exactly ``max_verify_attempts`` (5) are checked, the others are
  ``too_many_attempts``, and so is the right code after them;
- wrong TOTP values, each on its own authentication: exactly 10 are checked, then the user
  is locked, the right value included;
- one right TOTP value sent 50 times: exactly one success.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from threading import Barrier
from typing import Any

import pyotp
import pytest

from mfa.api import Cluster, ClusterSpec
from mfalab.server import SERVER_ENTRY
from tests.mfa.api.support import API_KEY, Api, phone, shared_cluster

pytestmark = pytest.mark.slow

BURST = 50
THRESHOLD = 10  # Policy.lockout_threshold
MAX_SENDS = 5  # Policy.max_sends
MAX_ATTEMPTS = 5  # Policy.max_verify_attempts


@pytest.fixture(params=["one server", "three servers"])
def servers(request: pytest.FixtureRequest) -> Iterator[list[Api]]:
    if request.param == "one server":
        spec = ClusterSpec(server=SERVER_ENTRY, servers=1, base_port=0, api_key=API_KEY)
    else:
        spec = shared_cluster(
            3,
            postgres_url=request.getfixturevalue("postgres_url"),
            redis_url=request.getfixturevalue("redis_url"),
            redis_namespace=request.getfixturevalue("redis_namespace"),
            mode="cloud",
        )
    with Cluster(spec) as cluster:
        apis = [Api(url, cluster.api_key) for url in cluster.urls]
        yield apis
        for api in apis:
            api.close()


def burst(servers: list[Api], call: Callable[[Api, int], Any], n: int = BURST) -> list[Any]:
    """``n`` calls released together, round robin over the servers."""
    gate = Barrier(n)

    def one(i: int) -> Any:
        gate.wait()
        return call(servers[i % len(servers)], i)

    with ThreadPoolExecutor(max_workers=n) as pool:
        return list(pool.map(one, range(n)))


def reasons(answers: list[dict[str, Any]]) -> Counter[str | None]:
    return Counter(a["reason"] for a in answers)


def test_app_password_bursts_check_exactly_the_threshold(servers: list[Api]) -> None:
    api = servers[0]
    api.user("burst-ap", phone(301))
    right = api.http.post("/v1/users/burst-ap/app-passwords").json()["app_password"]

    def guess(server: Api, _: int) -> dict[str, Any]:
        answer = server.http.post(
            "/v1/auth/app-password",
            json={"user_id": "burst-ap", "password": "wron-gwro-ngwr-ongw"},
        )
        assert answer.status_code == 200, answer.text
        return answer.json()  # type: ignore[no-any-return]

    assert reasons(burst(servers, guess)) == {
        "wrong_code": THRESHOLD,
        "locked_out": BURST - THRESHOLD,
    }
    late = api.http.post("/v1/auth/app-password", json={"user_id": "burst-ap", "password": right})
    assert late.json() == {"result": "denied", "reason": "locked_out"}
    # one log record per check, the refused ones included (every server's, within the
    # log's durability bound)
    expected = BURST + 1

    def ours(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [r for r in records if r["unique_id"] == "burst-ap"]

    logs = ours(api.logs_once(lambda records: len(ours(records)) >= expected))
    assert Counter(r["reason"] for r in logs) == {
        "wrong_code": THRESHOLD,
        "locked_out": BURST - THRESHOLD + 1,
    }
    assert sum(r["billable"] for r in logs) == THRESHOLD


def test_sms_bursts_send_and_check_exactly_the_limits(servers: list[Api]) -> None:
    api = servers[0]
    api.user("burst-sms", phone(302))
    begun = burst(servers, lambda server, _: server.begin("burst-sms"))
    statuses = Counter(b.status_code for b in begun)
    assert statuses == {201: MAX_SENDS, 429: BURST - MAX_SENDS}
    auth_id = next(b.json()["auth_id"] for b in begun if b.status_code == 201)
    # the newest message is not necessarily this auth's: read its own code
    messages = api.http.get("/v1/sink/messages", params={"to": phone(302), "limit": 10}).json()
    code = next(m["code"] for m in messages if m["auth_id"] == auth_id)
    wrong = [f"{(int(code) + 1 + i) % 1_000_000:06d}" for i in range(BURST)]
    verdicts = burst(servers, lambda server, i: server.verify(auth_id, wrong[i]))
    assert reasons(verdicts) == {
        "wrong_code": MAX_ATTEMPTS,
        "too_many_attempts": BURST - MAX_ATTEMPTS,
    }
    assert servers[-1].verify(auth_id, code)["reason"] == "too_many_attempts"


def test_totp_bursts_lock_after_exactly_the_threshold(servers: list[Api]) -> None:
    api = servers[0]
    secret = api.user("burst-totp", phone(303), method="totp")["secret"]
    totp = pyotp.TOTP(secret)
    now = time.time()
    valid = {totp.at(now + offset) for offset in (-30, 0, 30)}
    wrong = next(c for c in ("000000", "111111", "222222", "333333") if c not in valid)
    auths = [api.begin("burst-totp").json()["auth_id"] for _ in range(BURST)]
    verdicts = burst(servers, lambda server, i: server.verify(auths[i], wrong))
    assert reasons(verdicts) == {"wrong_code": THRESHOLD, "locked_out": BURST - THRESHOLD}
    assert servers[-1].verify(auths[0], totp.now())["reason"] == "locked_out"


def test_one_totp_value_sent_in_a_burst_succeeds_once(servers: list[Api]) -> None:
    api = servers[0]
    secret = api.user("burst-once", phone(304), method="totp")["secret"]
    auths = [api.begin("burst-once").json()["auth_id"] for _ in range(BURST)]
    code = pyotp.TOTP(secret).now()
    verdicts = burst(servers, lambda server, i: server.verify(auths[i], code))
    found = reasons(verdicts)
    assert found[None] == 1
    assert set(found) <= {None, "replayed", "locked_out"}
