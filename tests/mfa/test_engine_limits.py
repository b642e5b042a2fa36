"""The engine's limits to the second: code timeout, lockout, send rate, TOTP replay."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mfa import (
    AuthStatus,
    Challenge,
    DenialReason,
    Engine,
    ManualClock,
    Mode,
    Policy,
    SharedPendingStore,
)
from mfa.otp import totp_at
from tests.mfa.conftest import PUSH_KEY, answer_push

US = "+14255550100"
EngineFactory = Callable[..., Engine]


# ----------------------------------------------------------------- timeout


@pytest.mark.parametrize(
    ("policy", "timeout"),
    [
        (Policy(), 300),  # the seed: 300 s by default on a server
        (Policy(pending_timeout_seconds=120), 120),  # pfsvc_pendingSmsTimeoutSeconds = 120
        (Policy(pending_timeout_seconds=900), 900),
        (Policy(mode=Mode.CLOUD), 180),  # the cloud keeps codes 180 s ...
        (Policy(mode=Mode.CLOUD, pending_timeout_seconds=120), 180),  # ... not configurable
    ],
)
@pytest.mark.parametrize("method", ["sms", "voice"])
def test_code_is_valid_until_one_second_before_the_timeout_and_expired_at_it(
    expect: Any,
    make_engine: EngineFactory,
    clock: ManualClock,
    code_to: Callable[[str], str],
    policy: Policy,
    timeout: int,
    method: str,
) -> None:
    pending = SharedPendingStore() if policy.mode is Mode.CLOUD else None
    engine = make_engine(policy=policy, pending=pending)
    engine.create_user("alice", phone=US)
    engine.register_method("alice", method)

    on_time = expect.challenge(engine.begin("alice", method))
    assert on_time.expires_in == timeout
    code = code_to(US)
    clock.advance(timeout - 1)
    assert engine.status(on_time.auth_id).status is AuthStatus.PENDING
    assert engine.verify(on_time.auth_id, code).ok

    late = expect.challenge(engine.begin("alice", method))
    code = code_to(US)
    clock.advance(timeout - 1)
    assert engine.status(late.auth_id).status is AuthStatus.PENDING
    clock.advance(1)
    assert engine.status(late.auth_id).status is AuthStatus.EXPIRED
    assert engine.verify(late.auth_id, code).reason is DenialReason.EXPIRED


def test_push_and_totp_transactions_expire_too(
    expect: Any, engine: Engine, clock: ManualClock
) -> None:
    engine.create_user("bob")
    totp = engine.register_method("bob", "totp")
    engine.register_method("bob", "push", device_token="device-token-bob", public_key=PUSH_KEY)
    push = expect.challenge(engine.begin("bob", "push"))
    otp = expect.challenge(engine.begin("bob", "totp"))
    clock.advance(300)
    assert answer_push(engine, push).reason is (DenialReason.EXPIRED)
    code = totp_at(totp.secret or "", clock.now())
    assert engine.verify(otp.auth_id, code).reason is DenialReason.EXPIRED


def test_finished_transactions_are_forgotten_after_the_retention(
    expect: Any, make_engine: EngineFactory, clock: ManualClock, code_to: Callable[[str], str]
) -> None:
    engine = make_engine(policy=Policy(retention_seconds=60))
    engine.create_user("alice", phone=US)
    engine.register_method("alice", "sms")
    first = expect.challenge(engine.begin("alice"))
    clock.advance(400)
    # purging runs now and then; drive enough traffic through other users to trigger it
    for i in range(600):
        engine.create_user(f"u{i}")
        engine.register_method(f"u{i}", "totp")
        engine.begin(f"u{i}")
    assert engine.verify(first.auth_id, code_to(US)).reason is DenialReason.UNKNOWN_AUTH


# ----------------------------------------------------------------- lockout


def fail_n(engine: Engine, user_id: str, n: int) -> None:
    """n wrong codes in a row, over as many transactions as the attempt cap needs."""
    done = 0
    while done < n:
        c = engine.begin(user_id, "totp")
        assert isinstance(c, Challenge)
        for _ in range(min(5, n - done)):
            verdict = engine.verify(c.auth_id, "wrong")
            assert verdict.reason in (DenialReason.WRONG_CODE, DenialReason.LOCKED_OUT)
            done += 1


@pytest.fixture
def totp_user(engine: Engine) -> str:
    engine.create_user("ivy", phone=US)
    method = engine.register_method("ivy", "totp")
    engine.register_method("ivy", "sms")
    return method.secret or ""


def test_ten_consecutive_failures_lock_the_user_for_fifteen_minutes(
    expect: Any, engine: Engine, clock: ManualClock, totp_user: str
) -> None:
    fail_n(engine, "ivy", 9)
    assert isinstance(engine.begin("ivy", "totp"), Challenge)  # nine is not enough
    fail_n(engine, "ivy", 1)
    start = clock.now()
    denial = expect.denial(engine.begin("ivy", "totp"))
    assert denial.reason is DenialReason.LOCKED_OUT
    assert denial.retry_after == 900
    # every method is locked, not just the one that failed
    assert expect.denial(engine.begin("ivy", "sms")).reason is DenialReason.LOCKED_OUT
    clock.set(start + 899)
    later = expect.denial(engine.begin("ivy", "totp"))
    assert later.reason is DenialReason.LOCKED_OUT
    assert later.retry_after == pytest.approx(1)
    clock.set(start + 900)
    c = expect.challenge(engine.begin("ivy", "totp"))
    assert engine.verify(c.auth_id, totp_at(totp_user, clock.now())).ok


def test_a_success_resets_the_failure_count(
    expect: Any, engine: Engine, clock: ManualClock, totp_user: str
) -> None:
    fail_n(engine, "ivy", 9)
    c = expect.challenge(engine.begin("ivy", "totp"))
    assert engine.verify(c.auth_id, totp_at(totp_user, clock.now())).ok
    fail_n(engine, "ivy", 9)
    assert isinstance(engine.begin("ivy", "totp"), Challenge)


def test_lockout_refuses_even_the_right_code_of_an_open_transaction(
    expect: Any, engine: Engine, clock: ManualClock, totp_user: str
) -> None:
    open_auth = expect.challenge(engine.begin("ivy", "totp"))
    fail_n(engine, "ivy", 10)
    verdict = engine.verify(open_auth.auth_id, totp_at(totp_user, clock.now()))
    assert verdict.reason is DenialReason.LOCKED_OUT
    assert verdict.retry_after == 900


def test_lockout_holds_across_servers(
    expect: Any, make_engine: EngineFactory, clock: ManualClock
) -> None:
    """RFC 4226 §7: throttle across sessions; the counters live in the shared repository."""
    from mfa import InMemoryRepository

    db = InMemoryRepository()
    mfa1, mfa2 = make_engine("mfa1", repository=db), make_engine("mfa2", repository=db)
    mfa1.create_user("jo")
    mfa1.register_method("jo", "totp")
    fail_n(mfa1, "jo", 5)
    fail_n(mfa2, "jo", 5)
    assert expect.denial(mfa1.begin("jo")).reason is DenialReason.LOCKED_OUT
    assert expect.denial(mfa2.begin("jo")).reason is DenialReason.LOCKED_OUT


def test_lockout_threshold_and_duration_are_configurable(
    expect: Any, make_engine: EngineFactory, clock: ManualClock
) -> None:
    engine = make_engine(policy=Policy(lockout_threshold=3, lockout_seconds=60))
    engine.create_user("kim")
    engine.register_method("kim", "totp")
    fail_n(engine, "kim", 3)
    assert expect.denial(engine.begin("kim")).retry_after == 60
    clock.advance(60)
    assert isinstance(engine.begin("kim"), Challenge)


# ----------------------------------------------------------------- send rate limit


def test_five_sends_in_five_minutes_then_rate_limited_with_the_wait(
    expect: Any, engine: Engine, clock: ManualClock
) -> None:
    engine.create_user("lee", phone=US)
    engine.register_method("lee", "sms")
    engine.register_method("lee", "voice")
    start = clock.now()
    for i in range(5):
        clock.set(start + 20 * i)
        expect.challenge(engine.begin("lee", "sms" if i % 2 else "voice"))  # both count
    clock.set(start + 100)
    denial = expect.denial(engine.begin("lee", "sms"))
    assert denial.reason is DenialReason.RATE_LIMITED
    assert denial.retry_after == pytest.approx(200)
    clock.set(start + 299)
    assert expect.denial(engine.begin("lee", "voice")).retry_after == pytest.approx(1)
    clock.set(start + 300)  # the first send leaves the window
    expect.challenge(engine.begin("lee", "sms"))
    denial = expect.denial(engine.begin("lee", "sms"))
    assert denial.retry_after == pytest.approx(20)  # until the second send leaves it


def test_refused_sends_do_not_count_and_other_methods_are_not_limited(
    expect: Any, engine: Engine, clock: ManualClock
) -> None:
    engine.create_user("max", phone=US)
    engine.register_method("max", "sms")
    engine.register_method("max", "totp")
    for _ in range(5):
        expect.challenge(engine.begin("max", "sms"))
    for _ in range(20):
        expect.denial(engine.begin("max", "sms"))
    assert isinstance(engine.begin("max", "totp"), Challenge)
    clock.advance(300)
    expect.challenge(engine.begin("max", "sms"))


def test_the_send_limit_is_per_user(expect: Any, engine: Engine) -> None:
    for user in ("ann", "ben"):
        engine.create_user(user, phone=US)
        engine.register_method(user, "sms")
    for _ in range(5):
        expect.challenge(engine.begin("ann"))
    expect.denial(engine.begin("ann"))
    expect.challenge(engine.begin("ben"))


def test_send_limit_is_configurable(
    expect: Any, make_engine: EngineFactory, clock: ManualClock
) -> None:
    engine = make_engine(policy=Policy(max_sends=2, send_window_seconds=60))
    engine.create_user("ann", phone=US)
    engine.register_method("ann", "sms")
    expect.challenge(engine.begin("ann"))
    expect.challenge(engine.begin("ann"))
    assert expect.denial(engine.begin("ann")).retry_after == 60
    clock.advance(60)
    expect.challenge(engine.begin("ann"))


# ----------------------------------------------------------------- replay


def test_sms_code_cannot_be_reused_after_success(
    expect: Any, engine: Engine, code_to: Callable[[str], str]
) -> None:
    engine.create_user("ned", phone=US)
    engine.register_method("ned", "sms")
    c = expect.challenge(engine.begin("ned"))
    code = code_to(US)
    assert engine.verify(c.auth_id, code).ok
    for _ in range(3):
        assert engine.verify(c.auth_id, code).reason is DenialReason.REPLAYED
    # and it is not valid for a new authentication either
    fresh = expect.challenge(engine.begin("ned"))
    if code_to(US) != code:
        assert engine.verify(fresh.auth_id, code).reason is DenialReason.WRONG_CODE


def test_totp_value_is_accepted_once_per_step(
    expect: Any, engine: Engine, clock: ManualClock
) -> None:
    engine.create_user("oz")
    secret = engine.register_method("oz", "totp").secret or ""
    clock.set(1_700_000_010.0)  # 10 s into a 30 s step
    code = totp_at(secret, clock.now())
    assert engine.verify(expect.challenge(engine.begin("oz")).auth_id, code).ok
    clock.advance(5)  # same step
    verdict = engine.verify(expect.challenge(engine.begin("oz")).auth_id, code)
    assert verdict.reason is DenialReason.REPLAYED
    # the previous step's value, still inside the ±1 window, is older: refused too
    earlier = totp_at(secret, clock.now() - 30)
    verdict = engine.verify(expect.challenge(engine.begin("oz")).auth_id, earlier)
    assert verdict.reason is DenialReason.REPLAYED
    clock.advance(30)  # next step: its value is new
    assert engine.verify(
        expect.challenge(engine.begin("oz")).auth_id, totp_at(secret, clock.now())
    ).ok


def test_totp_accepts_one_step_of_drift_either_way(
    expect: Any, engine: Engine, clock: ManualClock
) -> None:
    engine.create_user("pat")
    secret = engine.register_method("pat", "totp").secret or ""
    clock.set(1_700_000_010.0)
    ahead = totp_at(secret, clock.now() + 30)
    assert engine.verify(expect.challenge(engine.begin("pat")).auth_id, ahead).ok
    two_behind = totp_at(secret, clock.now() - 60)
    verdict = engine.verify(expect.challenge(engine.begin("pat")).auth_id, two_behind)
    assert verdict.reason in (DenialReason.WRONG_CODE, DenialReason.REPLAYED)


def test_totp_replay_is_refused_on_another_server(
    expect: Any, make_engine: EngineFactory, clock: ManualClock
) -> None:
    from mfa import InMemoryRepository

    db = InMemoryRepository()
    mfa1, mfa2 = make_engine("mfa1", repository=db), make_engine("mfa2", repository=db)
    mfa1.create_user("quinn")
    secret = mfa1.register_method("quinn", "totp").secret or ""
    code = totp_at(secret, clock.now())
    assert mfa1.verify(expect.challenge(mfa1.begin("quinn")).auth_id, code).ok
    verdict = mfa2.verify(expect.challenge(mfa2.begin("quinn")).auth_id, code)
    assert verdict.reason is DenialReason.REPLAYED


@settings(max_examples=60, deadline=None)
@given(
    offsets=st.lists(st.integers(min_value=0, max_value=200), min_size=2, max_size=12),
    drift=st.sampled_from([-30, 0, 30]),
)
def test_a_totp_value_is_never_accepted_twice(offsets: list[int], drift: int) -> None:
    """Whatever the timing of the attempts, each TOTP value succeeds at most once and the
    accepted steps only move forward."""
    from mfa import Engine, InMemoryRepository, MemoryPendingStore, ServerIdentity
    from mfa.delivery import SinkGateway

    clock = ManualClock(1_700_000_000.0)
    engine = Engine(
        server=ServerIdentity("mfa1"),
        clock=clock,
        repository=InMemoryRepository(),
        pending=MemoryPendingStore(),
        gateway=SinkGateway(),
        secret_key=b"0123456789abcdef0123456789abcdef",
    )
    engine.create_user("u")
    secret = engine.register_method("u", "totp").secret or ""
    accepted: list[str] = []
    accepted_steps: list[int] = []
    typed: dict[str, int] = {}
    for offset in sorted(offsets):
        clock.set(1_700_000_000.0 + offset)
        code = totp_at(secret, clock.now() + drift)
        typed[code] = int((clock.now() + drift) // 30)
        # also retry every value typed so far, like an attacker replaying observed codes
        for attempt in sorted(typed, key=typed.__getitem__):
            c = engine.begin("u")
            if not isinstance(c, Challenge):
                break
            if engine.verify(c.auth_id, attempt).ok:
                accepted.append(attempt)
                accepted_steps.append(typed[attempt])
    assert len(accepted) == len(set(accepted))
    assert accepted_steps == sorted(set(accepted_steps))
