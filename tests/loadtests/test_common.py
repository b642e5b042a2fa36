"""The load-test helpers a user relies on: option parsing, thresholds, shapes, the arrival
schedule, routing, accounts and how a server answer becomes a failure row."""

from __future__ import annotations

import argparse
import csv
import itertools
import math
import random
from pathlib import Path
from types import SimpleNamespace

import pytest
from locust.stats import RequestStats, StatsError

from loadtests.accounts import (
    SYNC_BATCH_LIMIT,
    AccountPool,
    _auto_pool_size,
    account_for,
    plan_pool,
)
from loadtests.names import ARRIVAL, LOGIN, SETUP
from loadtests.options import LoadOptions, parse_mix, parse_servers
from loadtests.replies import Denied, failure_reason
from loadtests.routing import Router
from loadtests.shapes import ArrivalLimiter, LoadPlan, Profile
from loadtests.summary import login_summary, write_login_csv
from loadtests.thresholds import Threshold, evaluate_thresholds, parse_thresholds
from mfa.engine import parse_auth_id
from mfa.policy import Policy
from mfa.users import parse_phone
from mfalab.cli.loadtest import ROUTING_POLICIES, locust_command, parse_duration

# --------------------------------------------------------------------------- options


def test_mix_reads_weights_and_names_a_bad_item() -> None:
    assert parse_mix("sms=6,push=2,totp=1,app_password=1") == {
        "sms": 6.0,
        "push": 2.0,
        "totp": 1.0,
        "app_password": 1.0,
    }
    with pytest.raises(argparse.ArgumentTypeError, match="'voicemail=1'"):
        parse_mix("sms=1,voicemail=1")
    with pytest.raises(argparse.ArgumentTypeError, match="positive weight"):
        parse_mix("sms=0")


def test_servers_must_be_urls() -> None:
    assert parse_servers("http://127.0.0.1:8001/, http://127.0.0.1:8002") == (
        "http://127.0.0.1:8001",
        "http://127.0.0.1:8002",
    )
    with pytest.raises(argparse.ArgumentTypeError, match=r"'127\.0\.0\.1:8001'"):
        parse_servers("127.0.0.1:8001")


@pytest.mark.parametrize(
    ("text", "seconds"), [("90", 90.0), ("90s", 90.0), ("1m30s", 90.0), ("2h", 7200.0)]
)
def test_durations_take_locusts_forms(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


def test_a_bad_duration_is_refused() -> None:
    with pytest.raises(argparse.ArgumentTypeError, match="'ten'"):
        parse_duration("ten")


# --------------------------------------------------------------------------- thresholds


def _default_environment() -> SimpleNamespace:
    """An environment whose options are all defaults (no parsed command line)."""
    return SimpleNamespace(parsed_options=None)


def _request_stats() -> RequestStats:
    """100 verifies of 1..100 ms, 10 of them denied wrong_server; 20 logins, 2 expired."""
    stats = RequestStats()
    for ms in range(1, 101):
        stats.log_request("POST", "/v1/auth/{auth_id}/verify (sms)", ms, 0)
    for _ in range(10):
        stats.log_error("POST", "/v1/auth/{auth_id}/verify (sms)", Denied("wrong_server"))
    stats.log_request("GET", "/v1/sink/messages (phone)", 1000, 0)
    return stats


def _login_stats() -> RequestStats:
    stats = RequestStats()
    for i in range(20):
        stats.log_request(LOGIN, "sms" if i < 10 else "push", 50 + i, 0)
    for _ in range(2):
        stats.log_error(LOGIN, "sms", "expired")
    stats.log_request(ARRIVAL, "dropped", 0, 0)
    return stats


def test_threshold_units_become_ms_and_ratios() -> None:
    assert Threshold.parse("p95<0.2s").limit == 200.0
    assert Threshold.parse("p99.9 <= 150ms").limit == 150.0
    assert Threshold.parse("fail_ratio<1%").limit == pytest.approx(0.01)
    assert [t.metric for t in parse_thresholds("p95<200ms, fail_ratio<0.01")] == [
        "p95",
        "fail_ratio",
    ]


@pytest.mark.parametrize(
    ("text", "complaint"),
    [("p95 below 200", "METRIC"), ("latency<200ms", "unknown metric"), ("rps<5ms", "not a time")],
)
def test_a_bad_threshold_says_why(text: str, complaint: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match=complaint):
        Threshold.parse(text)


def test_thresholds_measure_requests_and_logins() -> None:
    requests, logins = _request_stats(), _login_stats()
    rows = evaluate_thresholds(
        parse_thresholds(
            "p95[verify]<100ms,p95[verify]<90ms,fail_ratio[verify]<0.05,"
            "success_ratio>0.95,success_ratio[push]>0.99,logins==20,dropped<1,p50[nothing]<1s"
        ),
        requests,
        logins,
    )
    got = {r["threshold"]: (r["value"], r["passed"]) for r in rows}
    # the same p95 Locust's own table shows for that row (about 95 ms)
    p95 = requests.get("/v1/auth/{auth_id}/verify (sms)", "POST").get_response_time_percentile(0.95)
    assert 90 < p95 < 100
    assert got["p95[verify]<100ms"] == (p95, True)
    assert got["p95[verify]<90ms"] == (p95, False)
    assert got["fail_ratio[verify]<0.05"] == (0.1, False)
    # 18 of 21 scheduled logins succeeded: the dropped arrival is a failed login
    assert got["success_ratio>0.95"] == (round(18 / 21, 6), False)
    assert got["success_ratio[push]>0.99"] == (1.0, True)
    assert got["logins==20"] == (20.0, True)
    assert got["dropped<1"] == (1.0, False)
    # nothing measured never passes
    assert got["p50[nothing]<1s"] == (None, False)


def test_unselected_request_thresholds_read_locusts_total() -> None:
    requests = _request_stats()
    value = Threshold.parse("fail_ratio<0.5").measure(requests, RequestStats())
    assert value == pytest.approx(10 / 101)


def _dropping_run() -> RequestStats:
    """An open workload that started 777 logins, all successful, and dropped 731 arrivals."""
    stats = RequestStats()
    for _ in range(777):
        stats.log_request(LOGIN, "sms", 40, 0)
        stats.log_request(ARRIVAL, "started", 0, 0)
    for _ in range(731):
        stats.log_request(ARRIVAL, "dropped", 0, 0)
    return stats


def test_dropped_arrivals_are_failed_logins_in_the_success_ratio() -> None:
    logins = _dropping_run()
    got = {
        r["threshold"]: (r["value"], r["passed"])
        for r in evaluate_thresholds(
            parse_thresholds("success_ratio>0.98,scheduled==1508,logins==777,dropped==731"),
            RequestStats(),
            logins,
        )
    }
    assert got["success_ratio>0.98"] == (round(777 / 1508, 6), False)
    assert got["scheduled==1508"] == (1508.0, True)
    assert got["logins==777"] == (777.0, True)
    assert got["dropped==731"] == (731.0, True)


def test_the_logins_csv_and_summary_state_scheduled_completed_dropped(tmp_path: Path) -> None:
    logins = _dropping_run()
    write_login_csv(logins, tmp_path / "x_logins.csv")
    with open(tmp_path / "x_logins.csv", newline="", encoding="utf-8") as handle:
        rows = {r["flow"]: r for r in csv.DictReader(handle)}
    everything = rows["All"]
    assert (everything["scheduled"], everything["logins"], everything["dropped"]) == (
        "1508",
        "777",
        "731",
    )
    assert everything["successes"] == "777" and everything["failures"] == "731"
    assert float(everything["success_ratio"]) == pytest.approx(777 / 1508, abs=1e-6)
    assert "dropped=731" in everything["failure_reasons"]
    # an arrival row counts arrivals, not sign-ins: no successes, no ratio
    dropped = rows["arrivals:dropped"]
    assert dropped["logins"] == "731" and dropped["successes"] == ""
    assert dropped["success_ratio"] == ""
    first = login_summary(logins)[0]
    assert "1,508 scheduled" in first and "777 completed" in first and "731 dropped" in first
    assert "777 succeeded (51.53 % of scheduled)" in first


def test_setup_requests_are_apart_and_out_of_thresholds_unless_named() -> None:
    requests, custom = _request_stats(), _login_stats()
    for _ in range(40):  # a slow enrolment: p95 29 s
        custom.log_request(SETUP, "/v1/users (setup)", 29_000, 0)
    got = {
        r["threshold"]: (r["value"], r["passed"])
        for r in evaluate_thresholds(
            parse_thresholds("p95<200ms,requests==101,p95[setup]<200ms,requests[setup]==40"),
            requests,
            custom,
        )
    }
    assert got["p95<200ms"][1] is True
    assert got["requests==101"] == (101.0, True)
    assert got["p95[setup]<200ms"] == (29_000.0, False)
    assert got["requests[setup]==40"] == (40.0, True)


# --------------------------------------------------------------------------- shapes


def test_storm_ramps_holds_and_decays_back_to_base() -> None:
    storm = Profile.resolve("storm", {"ramp": 10, "hold": 5, "decay": 20, "base": 0.2}, None)
    assert [storm.level(t) for t in (0, 5, 10, 12, 15, 25, 35, 50)] == pytest.approx(
        [0.2, 0.6, 1.0, 1.0, 1.0, 0.6, 0.2, 0.2]
    )
    assert storm.length == 35


def test_storm_defaults_follow_the_run_time() -> None:
    storm = Profile.resolve("storm", {}, 100.0)
    assert (storm.ramp, storm.hold, storm.decay) == pytest.approx((25.0, 15.0, 60.0))


def test_steps_climb_to_the_peak_and_end() -> None:
    steps = Profile.resolve("step", {"step": 10, "steps": 4}, None)
    assert [steps.level(t) for t in (0, 9.9, 10, 25, 39)] == [0.25, 0.25, 0.5, 0.75, 1.0]
    plan = LoadPlan(steps, users=20, spawn_rate=20)
    assert plan.tick(15) == (10, 20)
    assert plan.tick(40) is None


def test_open_plan_keeps_its_users_and_stops_at_the_run_time() -> None:
    plan = LoadPlan(Profile(), users=30, spawn_rate=30, rate=12.0, duration=60.0)
    assert plan.tick(1) == plan.tick(59) == (30, 30)
    assert plan.rate_at(10) == 12.0
    assert plan.tick(60) is None


class FakeTime:
    """A clock that moves only when someone sleeps (or is made late on purpose)."""

    def __init__(self) -> None:
        self.now = 0.0

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def _starts(limiter: ArrivalLimiter, fake: FakeTime, until: float) -> list[float]:
    starts = []
    while True:
        slot, _lag = limiter.wait()
        if slot >= until - 1e-9:  # float steps of 1/rate add up a hair short
            return starts
        starts.append(slot)


def test_uniform_arrivals_start_at_the_rate() -> None:
    fake = FakeTime()
    limiter = ArrivalLimiter(lambda t: 10.0, clock=fake.clock, sleep=fake.sleep)
    starts = _starts(limiter, fake, 5.0)
    assert len(starts) == 50
    assert starts[1] - starts[0] == pytest.approx(0.1)


def test_poisson_arrivals_count_like_a_poisson_process() -> None:
    fake = FakeTime()
    limiter = ArrivalLimiter(
        lambda t: 5.0, poisson=True, rng=random.Random(7), clock=fake.clock, sleep=fake.sleep
    )
    count = len(_starts(limiter, fake, 1000.0))
    # Poisson(5000): standard deviation ≈ 71; allow 4 of them
    assert abs(count - 5000) < 4 * math.sqrt(5000)


def test_a_storm_of_arrivals_adds_up_to_its_area() -> None:
    storm = Profile.resolve("storm", {"ramp": 10, "hold": 5, "decay": 20, "base": 0.2}, None)
    fake = FakeTime()
    limiter = ArrivalLimiter(lambda t: 40.0 * storm.level(t), clock=fake.clock, sleep=fake.sleep)
    area = 0.2 * 35 + 0.8 * (10 / 2 + 5 + 20 / 2)  # ∫ level dt over the storm
    assert len(_starts(limiter, fake, 35.0)) == pytest.approx(40.0 * area, abs=2)


def test_arrivals_are_not_slowed_by_busy_users_but_dropped_past_the_lag() -> None:
    fake = FakeTime()
    limiter = ArrivalLimiter(lambda t: 10.0, max_lag=1.0, clock=fake.clock, sleep=fake.sleep)
    limiter.wait()
    fake.now += 0.5  # every user busy for half a second: starts run late, none lost
    lags = [limiter.wait()[1] for _ in range(3)]
    assert lags == pytest.approx([0.4, 0.3, 0.2])
    assert limiter.dropped == 0
    fake.now += 3.0  # busy for 3 s: what is more than 1 s late is dropped
    _slot, lag = limiter.wait()
    assert lag <= 1.0
    assert limiter.dropped == pytest.approx(20, abs=1)


def test_a_worker_starts_its_share_of_the_arrivals() -> None:
    fake = FakeTime()
    limiter = ArrivalLimiter(lambda t: 10.0, share=lambda: 0.5, clock=fake.clock, sleep=fake.sleep)
    assert len(_starts(limiter, fake, 10.0)) == 50


# --------------------------------------------------------------------------- routing


URLS = ("http://a:1", "http://b:2", "http://c:3")
NAMES = {"mfa1": "http://a:1", "mfa2": "http://b:2", "mfa3": "http://c:3"}
AUTH_ID = "mfa3." + "x" * 22


def test_random_lands_each_request_independently_of_the_last() -> None:
    """nginx's ``random``: one user's next request reaches the same server 1 time in 3."""
    router = Router(URLS, "random", NAMES)
    picks = [router.base(None, AUTH_ID) for _ in range(3000)]
    assert set(picks) == set(URLS)
    for url in URLS:  # each server ~1/3 (±5 standard deviations of a binomial, n=3000)
        assert abs(picks.count(url) / 3000 - 1 / 3) < 5 * (2 / 9 / 3000) ** 0.5
    repeats = sum(a == b for a, b in itertools.pairwise(picks)) / 2999
    assert abs(repeats - 1 / 3) < 5 * (2 / 9 / 2999) ** 0.5


def test_round_robin_is_nginx_strict_rotation() -> None:
    """One user's begin and verify against two servers: always different servers."""
    router = Router(URLS[:2], "round_robin", NAMES)
    picks = [router.base(None, AUTH_ID) for _ in range(6)]
    assert picks == [URLS[0], URLS[1]] * 3


def test_the_routing_policies_have_one_set_of_names() -> None:
    from typing import get_args

    from mfa.api.nginx import POLICIES
    from sim.scenario import Servers

    names = get_args(Servers.model_fields["lb_policy"].annotation)
    assert (
        tuple(names)
        == POLICIES
        == ROUTING_POLICIES
        == ("round_robin", "random", "sticky", "auth_id")
    )


def test_sticky_users_keep_one_server_each() -> None:
    router = Router(URLS, "sticky", NAMES)
    pins = [router.pin() for _ in range(3)]
    assert pins == list(URLS)
    assert {router.base(pins[1], AUTH_ID) for _ in range(5)} == {URLS[1]}


def test_auth_id_routing_follows_the_issuing_server() -> None:
    assert parse_auth_id(AUTH_ID) == ("mfa3", "x" * 22)
    router = Router(URLS, "auth_id", NAMES)
    assert {router.base(None, AUTH_ID) for _ in range(5)} == {"http://c:3"}
    # a begin has no auth id yet: any server, as round robin
    assert {router.base(None, None) for _ in range(200)} == set(URLS)


# --------------------------------------------------------------------------- accounts


def test_accounts_are_the_same_everywhere_and_have_valid_phones() -> None:
    first = [account_for("run1", i) for i in range(200)]
    assert first == [account_for("run1", i) for i in range(200)]
    assert len({a.phone for a in first}) == 200
    assert len({a.user_id for a in first}) == 200
    for account in first[:20]:
        assert parse_phone(account.phone).e164 == account.phone
        assert 8 <= len(account.device_token) <= 512
    assert account_for("run2", 0).user_id != first[0].user_id


def test_each_account_holds_its_own_push_key_the_same_on_every_worker() -> None:
    """The master registers the public key, the workers sign with the private one: both
    derive it from the run id and the account's index."""
    from mfa.push_proof import push_message, signature_ok

    accounts = [account_for("run1", i) for i in range(20)]
    keys = {a.device.public_key for a in accounts}
    assert len(keys) == 20
    assert account_for("run1", 3).device.public_key == accounts[3].device.public_key
    assert account_for("run2", 3).device.public_key != accounts[3].device.public_key
    signature = accounts[3].device.answer("mfa1.x", True, 42)
    assert signature_ok(accounts[3].device.public_key, push_message("mfa1.x", True, 42), signature)
    assert not signature_ok(
        accounts[4].device.public_key, push_message("mfa1.x", True, 42), signature
    )


def test_the_default_pool_keeps_every_account_under_the_send_limit() -> None:
    policy = Policy()
    options = LoadOptions.of(_default_environment())
    storm = LoadPlan(Profile(), users=100, spawn_rate=100, rate=50.0, duration=600.0)
    size = _auto_pool_size(storm, options)
    # 50 logins/s for a whole send window, spread over the pool
    assert size * (policy.max_sends - 1) >= 50.0 * policy.send_window_seconds
    short = LoadPlan(Profile(), users=5, spawn_rate=5, duration=10.0)
    assert _auto_pool_size(short, options) == 100


def test_at_think_0_the_pool_is_sized_so_no_account_exceeds_the_send_limit() -> None:
    """32 users at --think 0 for 45 s: the old pool (sized for 0.25 s of think time, 100
    accounts... 1,440) ran into 5 texts per 5 minutes; the plan assumes 0.05 s per login."""
    policy = Policy()
    options = LoadOptions.of(SimpleNamespace(parsed_options=SimpleNamespace(think="0")))
    plan = LoadPlan(Profile(), users=32, spawn_rate=32, duration=45.0)
    pools = plan_pool(plan, options, {"sms": 1.0})
    assert not pools.too_small
    assert pools.sms * (policy.max_sends - 1) >= 32 / 0.05 * 45
    # push notifications count toward the same limit: each pool for its share of logins
    mixed = plan_pool(plan, options, {"sms": 1.0, "push": 1.0})
    assert mixed.sms * (policy.max_sends - 1) >= 32 / 0.05 * 45 / 2
    assert mixed.push * (policy.max_sends - 1) >= 32 / 0.05 * 45 / 2


def test_a_mixed_closed_workload_is_sized_for_its_shortest_think_and_its_luckiest_mix() -> None:
    """10 users at --think 0.2-0.4 for 20 s, 80 % sms (the cluster attack test): CI saw 545
    sms logins, and a pool sized for the mean think time and exactly 80 % (126 accounts, 503
    logins) ran out of send quota (41 logins ``pool_exhausted``). A closed user starts a login
    at most every shortest think time (plus the shortest login); the flow of each login is
    drawn at random, so its count gets a binomial margin of three standard deviations."""
    options = LoadOptions.of(SimpleNamespace(parsed_options=SimpleNamespace(think="0.2-0.4")))
    plan = LoadPlan(Profile(), users=10, spawn_rate=10, duration=20.0)
    pools = plan_pool(plan, options, {"sms": 0.8, "pumping": 0.1, "push_bombing": 0.1})
    per_account = Policy().max_sends - 1
    assert pools.sms * per_account >= 545
    most = 10 / (0.2 + 0.05) * 22  # logins of every flow the users can start in 22 s
    assert pools.logins["sms"] >= most * 0.8 + 3 * math.sqrt(most * 0.8 * 0.2)
    assert pools.sms * per_account >= pools.logins["sms"]


def test_a_short_run_is_sized_for_the_seconds_it_runs_past_its_run_time() -> None:
    """--rate 150 for 5 s started 888 logins (the shape stops at its next tick and the
    logins in progress finish): a pool sized for exactly 5 s ran out of send quota."""
    options = LoadOptions.of(_default_environment())
    plan = LoadPlan(Profile(), users=300, spawn_rate=300, rate=150.0, duration=5.0)
    pools = plan_pool(plan, options, {"sms": 1.0})
    assert pools.sms * (Policy().max_sends - 1) >= 150 * 7


def test_a_pool_too_small_for_the_rate_is_refused_with_a_reason() -> None:
    namespace = SimpleNamespace(user_pool=10)
    options = LoadOptions.of(SimpleNamespace(parsed_options=namespace))
    plan = LoadPlan(Profile(), users=100, spawn_rate=100, rate=50.0, duration=600.0)
    pools = plan_pool(plan, options, {"sms": 1.0})
    assert pools.too_small and pools.sms == 10
    message = pools.problem(options, plan)
    assert "send limit (5 texts per 300 s per account)" in message
    assert "--rate 50" in message and "--user-pool 10" in message
    assert "which need 3,750 accounts, but the pool has 10" in message
    assert "--allow-rate-limit" in message


def test_a_returning_account_waits_for_its_send_quota() -> None:
    now = [0.0]
    account = account_for("run1", 0)
    pool = AccountPool([account], limit=5, window=300.0, clock=lambda: now[0])
    for _ in range(3):
        assert pool.room_in(account) == 0.0
        pool.sent(account)
        now[0] += 10.0
    assert pool.room_in(account) == 0.0  # 3 texts: room for a login and a resend
    pool.sent(account)  # the 4th, at t = 30 s
    # 4 in the window: only the resend room is left; the first leaves it at t = 300 s
    assert pool.room_in(account) == pytest.approx(300.0 - 30.0)
    now[0] = 300.0
    assert pool.room_in(account) == 0.0


def test_the_sync_batch_limit_is_the_apis() -> None:
    from mfa.api.schemas import SYNC_MAX_USERS

    assert SYNC_BATCH_LIMIT == SYNC_MAX_USERS


# --------------------------------------------------------------------------- failures


@pytest.mark.parametrize(
    ("status", "expected", "body", "error", "reason"),
    [
        (200, 200, {"result": "success", "reason": None}, None, None),
        (200, 200, {"result": "denied", "reason": "wrong_server"}, None, "wrong_server"),
        (200, 200, {"status": "expired", "reason": "expired"}, None, "expired"),
        (200, 200, {"status": "pending", "reason": None}, None, None),
        (429, 201, {"status": 429, "reason": "rate_limited"}, None, "rate_limited"),
        (401, 201, {"status": 401, "detail": "bad key"}, None, "http_401"),
        (0, 200, None, ConnectionRefusedError(), "connection_refused"),
    ],
)
def test_server_answers_become_reasons(
    status: int, expected: int, body: object, error: BaseException | None, reason: str | None
) -> None:
    assert failure_reason(status, expected, body, error) == reason


def test_each_reason_is_its_own_failure_row() -> None:
    stats = RequestStats()
    for reason in ("wrong_server", "expired", "wrong_server"):
        stats.log_request("POST", "verify", 1, 0)
        stats.log_error("POST", "verify", Denied(reason))
    rows = {e.error: e.occurrences for e in stats.errors.values()}
    assert {StatsError.parse_error(k) for k in rows} == {"wrong_server", "expired"}
    assert sorted(rows.values()) == [1, 2]


# --------------------------------------------------------------------------- the command


def test_locust_command_routes_by_client_or_by_nginx() -> None:
    out = Path("runs/x")
    client = locust_command(
        Path("loadtests/sms.py"),
        host=URLS[0],
        out=out,
        duration=30,
        users=None,
        rate=5.0,
        servers=URLS,
        lb="auth_id",
    )
    assert client[client.index("--servers") + 1] == ",".join(URLS)
    assert client[client.index("--lb") + 1] == "auth_id"
    assert client[client.index("--rate") + 1] == "5"
    assert "--users" not in client
    assert client[client.index("--run-time") + 1] == "30s"
    nginx = locust_command(
        Path("loadtests/sms.py"),
        host="http://lb:8000",
        out=out,
        duration=30,
        users=7,
        rate=None,
        sink=URLS,
        extra=["--threshold", "p95<1s"],
    )
    assert "--servers" not in nginx
    assert nginx[nginx.index("--sink") + 1] == ",".join(URLS)
    assert nginx[nginx.index("--users") + 1] == "7"
    assert nginx[-2:] == ["--threshold", "p95<1s"]


def test_users_and_rate_exclude_each_other(capsys: pytest.CaptureFixture[str]) -> None:
    from mfalab.cli import main

    with pytest.raises(SystemExit) as stopped:
        main(["loadtest", "--users", "5", "--rate", "3"])
    assert stopped.value.code == 2
    assert "not allowed with" in capsys.readouterr().err


def test_a_stray_argument_is_refused_before_a_cluster_starts(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from mfalab.cli import main

    assert main(["loadtest", "--out", str(tmp_path), "--", "stray"]) == 2
    assert "unexpected argument 'stray'" in capsys.readouterr().err
    assert not (tmp_path / "loadtest.json").exists()
