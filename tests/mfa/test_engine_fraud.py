"""The fraud defences in the engine: each refuses what it should and nothing else; a
refused send is not sent, not billed, not counted toward the user's send limit, and the
rule that fired is in the log but not in the answer."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from mfa import (
    Challenge,
    Denial,
    DenialReason,
    Engine,
    FraudPolicy,
    FraudRule,
    ManualClock,
    MemoryFraudCounters,
    Policy,
)
from mfa.auth_log import AuthLogRecord
from mfa.delivery import SinkGateway
from tests.mfa.conftest import PUSH_KEY, answer_push

EngineFactory = Callable[..., Engine]
FR = "+33612345678"
IP = "192.0.2.7"


def us(area: str, n: int) -> str:
    """A valid US number in the range ``+1 <area> 555`` (the default 6 digits)."""
    return f"+1{area}555{n:04d}"


def engine_with(make_engine: EngineFactory, **fraud: Any) -> Engine:
    return make_engine(policy=Policy(fraud=FraudPolicy(**fraud)))


def enrol(engine: Engine, user_id: str, phone: str, method: str = "sms") -> None:
    engine.enrol(user_id, method, phone=phone)


def refused(outcome: Challenge | Denial, reason: DenialReason) -> Denial:
    assert isinstance(outcome, Denial), outcome
    assert outcome.reason is reason
    return outcome


def last_log(engine: Engine, user_id: str) -> AuthLogRecord:
    return [r for r in engine.repository.logs() if r.unique_id == user_id][-1]


# ----------------------------------------------------------------- geo permissions


@pytest.mark.parametrize("method", ["sms", "voice"])
def test_geo_permissions_block_other_countries_sms_and_voice(
    make_engine: EngineFactory, sink: SinkGateway, method: str
) -> None:
    engine = engine_with(make_engine, allowed_countries=frozenset({"US", "CA"}))
    enrol(engine, "paris", FR, method)
    enrol(engine, "seattle", us("425", 1), method)
    enrol(engine, "ottawa", "+16135550123", method)

    denial = refused(engine.begin("paris"), DenialReason.COUNTRY_BLOCKED)
    assert denial.fraud_rule is None and denial.retry_after is None
    assert sink.messages_to(FR) == []
    record = last_log(engine, "paris")
    assert (record.reason, record.billable, record.fraud_rule) == (
        DenialReason.COUNTRY_BLOCKED,
        False,
        None,
    )
    assert isinstance(engine.begin("seattle"), Challenge)
    assert isinstance(engine.begin("ottawa"), Challenge)


def test_geo_permissions_leave_push_and_totp_alone(make_engine: EngineFactory) -> None:
    engine = engine_with(make_engine, allowed_countries=frozenset({"US"}))
    engine.create_user("paris", phone=FR)
    engine.register_method("paris", "push", device_token="device-token-paris", public_key=PUSH_KEY)
    engine.register_method("paris", "totp")
    assert isinstance(engine.begin("paris", "push"), Challenge)
    assert isinstance(engine.begin("paris", "totp"), Challenge)


# ----------------------------------------------------------------- range velocity


def test_range_velocity_refuses_the_range_beyond_its_limit_and_only_it(
    make_engine: EngineFactory, clock: ManualClock, sink: SinkGateway
) -> None:
    engine = engine_with(make_engine, range_max_sends=3, range_window_seconds=600)
    for i in range(5):
        enrol(engine, f"bot{i}", us("425", 1000 + i))
    enrol(engine, "elsewhere", us("206", 1000))

    for i in range(3):
        assert isinstance(engine.begin(f"bot{i}"), Challenge)
    denial = refused(engine.begin("bot3"), DenialReason.FRAUD_SUSPECTED)
    assert denial.fraud_rule is FraudRule.RANGE_VELOCITY
    assert sink.messages_to(us("425", 1003)) == []
    assert last_log(engine, "bot3").fraud_rule is FraudRule.RANGE_VELOCITY
    assert isinstance(engine.begin("elsewhere"), Challenge)  # another range

    clock.advance(599)
    refused(engine.begin("bot4"), DenialReason.FRAUD_SUSPECTED)
    clock.advance(1)  # the first three sends leave the window
    assert isinstance(engine.begin("bot4"), Challenge)


def test_range_length_is_configurable(make_engine: EngineFactory) -> None:
    """With 3 digits, +1 425 555 and +1 425 200 are one range."""
    engine = engine_with(make_engine, range_max_sends=1, range_prefix_digits=3)
    enrol(engine, "a", us("425", 1))
    enrol(engine, "b", "+14252001234")
    assert isinstance(engine.begin("a"), Challenge)
    refused(engine.begin("b"), DenialReason.FRAUD_SUSPECTED)


# ----------------------------------------------------------------- conversion guard


def test_conversion_guard_refuses_a_range_whose_codes_are_not_verified(
    make_engine: EngineFactory, clock: ManualClock, code_to: Callable[[str], str]
) -> None:
    engine = engine_with(
        make_engine,
        conversion_min_rate=0.5,
        conversion_min_sends=4,
        conversion_window_seconds=3600,
        conversion_grace_seconds=30,
    )
    for i in range(8):
        enrol(engine, f"u{i}", us("425", 2000 + i))
    enrol(engine, "other", "+16135550123")  # Canada: its own country and range

    begun = [engine.begin(f"u{i}") for i in range(4)]
    assert all(isinstance(b, Challenge) for b in begun)
    clock.advance(29)
    assert isinstance(engine.begin("u7"), Challenge)  # the four may still be typed
    clock.advance(1)  # now they are judged (u7's is not yet)
    denial = refused(engine.begin("u4"), DenialReason.FRAUD_SUSPECTED)  # 0 of 4 verified
    assert denial.fraud_rule is FraudRule.CONVERSION
    assert isinstance(engine.begin("other"), Challenge)

    # two of the four codes are verified: 50 %, the range opens again
    for i in (0, 1):
        challenge = begun[i]
        assert isinstance(challenge, Challenge)
        assert engine.verify(challenge.auth_id, code_to(us("425", 2000 + i))).ok
    assert isinstance(engine.begin("u4"), Challenge)
    clock.advance(30)
    refused(engine.begin("u5"), DenialReason.FRAUD_SUSPECTED)  # 2 of 6 (u4, u7 judged too)

    clock.advance(3600 - 30)  # every send left the window: recovered
    assert isinstance(engine.begin("u5"), Challenge)


def test_conversion_guard_judges_a_whole_country_too(make_engine: EngineFactory) -> None:
    """Bots spread over many ranges of one country, one send per range, never verifying:
    the country's share trips the guard though no range has the volume."""
    engine = engine_with(
        make_engine, conversion_min_rate=0.5, conversion_min_sends=4, conversion_grace_seconds=0
    )
    areas = ["206", "212", "305", "415", "503"]
    for i, area in enumerate(areas):
        enrol(engine, f"bot{i}", us(area, 3000))
    for i in range(4):
        assert isinstance(engine.begin(f"bot{i}"), Challenge)
    denial = refused(engine.begin("bot4"), DenialReason.FRAUD_SUSPECTED)
    assert denial.fraud_rule is FraudRule.CONVERSION


def test_a_burst_of_real_sign_ins_in_flight_is_not_judged(
    make_engine: EngineFactory, clock: ManualClock, code_to: Callable[[str], str]
) -> None:
    """Forty people begin within a few seconds and type their codes 20 s later: while
    the codes are in flight (younger than the grace) none of them counts as unconverted."""
    engine = engine_with(make_engine, conversion_min_rate=0.5, conversion_min_sends=4)
    begun = []
    for i in range(40):
        enrol(engine, f"u{i}", us("425", 6000 + i))
        begun.append(engine.begin(f"u{i}"))
        clock.advance(0.1)
    assert all(isinstance(b, Challenge) for b in begun)
    clock.advance(20)
    for i, challenge in enumerate(begun):
        assert isinstance(challenge, Challenge)
        assert engine.verify(challenge.auth_id, code_to(us("425", 6000 + i))).ok
    clock.advance(60)
    enrol(engine, "late", us("425", 6999))
    assert isinstance(engine.begin("late"), Challenge)


def test_conversion_guard_lets_verified_traffic_through_at_any_volume(
    make_engine: EngineFactory, clock: ManualClock, code_to: Callable[[str], str]
) -> None:
    engine = engine_with(make_engine, conversion_min_rate=0.5, conversion_min_sends=4)
    for i in range(30):
        enrol(engine, f"u{i}", us("425", 4000 + i))
    for i in range(30):
        challenge = engine.begin(f"u{i}")
        assert isinstance(challenge, Challenge), (i, challenge)
        assert engine.verify(challenge.auth_id, code_to(us("425", 4000 + i))).ok
        clock.advance(1)


# ----------------------------------------------------------------- client IP


def test_client_ip_limit_counts_sms_voice_and_push_from_one_ip(
    make_engine: EngineFactory, clock: ManualClock
) -> None:
    engine = engine_with(make_engine, ip_max_sends=3, ip_window_seconds=60)
    enrol(engine, "a", us("425", 1))
    enrol(engine, "b", us("425", 2), "voice")
    engine.create_user("c", phone=us("425", 3))
    engine.register_method("c", "push", device_token="device-token-c", public_key=PUSH_KEY)
    engine.register_method("c", "totp")

    for user, method in (("a", "sms"), ("b", "voice"), ("c", "push")):
        assert isinstance(engine.begin(user, method, client_ip=IP), Challenge)
    denial = refused(engine.begin("a", client_ip=IP), DenialReason.FRAUD_SUSPECTED)
    assert denial.fraud_rule is FraudRule.CLIENT_IP
    assert isinstance(engine.begin("c", "totp", client_ip=IP), Challenge)  # nothing sent
    assert isinstance(engine.begin("a", client_ip="192.0.2.8"), Challenge)  # another IP
    assert isinstance(engine.begin("a"), Challenge)  # no IP given: no IP limit
    clock.advance(60)
    assert isinstance(engine.begin("b", client_ip=IP), Challenge)


# ----------------------------------------------------------------- what a refusal costs


def test_a_refused_send_does_not_count_toward_the_users_send_limit(
    make_engine: EngineFactory,
) -> None:
    """The user's limit (here 2 per window) is untouched by sends the defences refused."""
    engine = make_engine(policy=Policy(max_sends=2, fraud=FraudPolicy(ip_max_sends=1)))
    enrol(engine, "first", us("425", 1))
    enrol(engine, "victim", us("425", 2))
    assert isinstance(engine.begin("first", client_ip=IP), Challenge)
    for _ in range(3):
        refused(engine.begin("victim", client_ip=IP), DenialReason.FRAUD_SUSPECTED)
    assert engine.repository.get_state("victim").send_times == ()
    assert isinstance(engine.begin("victim", client_ip="192.0.2.8"), Challenge)
    assert isinstance(engine.begin("victim", client_ip="192.0.2.9"), Challenge)
    refused(engine.begin("victim", client_ip="192.0.2.10"), DenialReason.RATE_LIMITED)


def test_a_rate_limited_send_is_not_counted_by_the_defences(make_engine: EngineFactory) -> None:
    """The user's own limit comes first; what it refuses never reaches the range's count."""
    engine = make_engine(policy=Policy(max_sends=1, fraud=FraudPolicy(range_max_sends=2)))
    enrol(engine, "a", us("425", 1))
    enrol(engine, "b", us("425", 2))
    assert isinstance(engine.begin("a"), Challenge)
    refused(engine.begin("a"), DenialReason.RATE_LIMITED)
    assert isinstance(engine.begin("b"), Challenge)  # the range's 2nd send


def test_a_refused_send_is_not_sent_and_not_billed(
    make_engine: EngineFactory, sink: SinkGateway
) -> None:
    engine = engine_with(make_engine, range_max_sends=1, allowed_countries=frozenset({"US"}))
    engine.create_provider("p", "per_auth")
    enrol(engine, "a", us("425", 1))
    enrol(engine, "b", us("425", 2))
    enrol(engine, "paris", FR)
    assert isinstance(engine.begin("a"), Challenge)
    refused(engine.begin("b"), DenialReason.FRAUD_SUSPECTED)
    refused(engine.begin("paris"), DenialReason.COUNTRY_BLOCKED)
    assert len(sink) == 1 and len(sink.messages_to(us("425", 1))) == 1
    month = engine.usage(_month(engine))
    assert month.authentications == 1
    assert [r.billable for r in engine.repository.logs()] == [True, False, False]


def _month(engine: Engine) -> str:
    import time

    return time.strftime("%Y-%m", time.gmtime(engine.clock.now()))


# ----------------------------------------------------------------- nothing else


def test_with_every_defence_on_ordinary_sign_ins_pass(
    make_engine: EngineFactory, clock: ManualClock, code_to: Callable[[str], str]
) -> None:
    engine = engine_with(
        make_engine,
        allowed_countries=frozenset({"US"}),
        range_max_sends=20,
        conversion_min_rate=0.2,
        conversion_min_sends=10,
        ip_max_sends=20,
    )
    engine.create_user("pusher", phone=us("425", 99))
    engine.register_method("pusher", "push", device_token="device-token-p", public_key=PUSH_KEY)
    for i in range(40):
        enrol(engine, f"u{i}", us(("206", "425", "503", "212")[i % 4], 5000 + i))
    for i in range(40):
        challenge = engine.begin(f"u{i}", client_ip=f"198.51.100.{i}")
        assert isinstance(challenge, Challenge), (i, challenge)
        if i % 3:  # two in three verify; the rest never type their code
            phone = us(("206", "425", "503", "212")[i % 4], 5000 + i)
            assert engine.verify(challenge.auth_id, code_to(phone)).ok
        clock.advance(10)
    push = engine.begin("pusher", client_ip=IP)
    assert isinstance(push, Challenge)
    assert answer_push(engine, push).ok
    assert not [r for r in engine.repository.logs() if r.fraud_rule is not None]


def test_servers_sharing_counters_hold_one_limit(make_engine: EngineFactory) -> None:
    """Two engines on one set of counters (the simulator's cluster) share the range's
    limit; an engine with counters of its own does not."""
    shared = MemoryFraudCounters()
    policy = Policy(fraud=FraudPolicy(range_max_sends=2))
    repository = make_engine().repository
    one = make_engine("mfa1", policy=policy, repository=repository, fraud_counters=shared)
    two = make_engine("mfa2", policy=policy, repository=repository, fraud_counters=shared)
    three = make_engine("mfa3", policy=policy, repository=repository)
    for i in range(4):
        enrol(one, f"u{i}", us("425", i))
    assert isinstance(one.begin("u0"), Challenge)
    assert isinstance(two.begin("u1"), Challenge)
    refused(one.begin("u2"), DenialReason.FRAUD_SUSPECTED)
    refused(two.begin("u2"), DenialReason.FRAUD_SUSPECTED)
    assert isinstance(three.begin("u3"), Challenge)
