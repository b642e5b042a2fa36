"""Concurrent requests for one user inside one server process never break a rule.

A repository that pauses inside every read widens the race window: without the engine's
atomic steps (``PendingStore.transition``, ``Repository.update_state``), two verifies of the
same code would both read "not used yet" and both succeed.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from mfa import (
    Challenge,
    DenialReason,
    Engine,
    InMemoryRepository,
    ManualClock,
    Policy,
    Verdict,
)
from mfa.app_passwords import AppPasswordHasher
from mfa.otp import totp_at
from mfa.security_state import SecurityState


class SlowRepository(InMemoryRepository):
    def get_state(self, user_id: str) -> SecurityState:
        state = super().get_state(user_id)
        time.sleep(0.002)
        return state


def run_together(calls: list[Callable[[], Any]]) -> list[Any]:
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def worker(i: int) -> None:
        barrier.wait()
        results[i] = calls[i]()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    return results


def test_one_totp_value_succeeds_once_under_concurrent_verifies(
    make_engine: Callable[..., Engine], clock: ManualClock
) -> None:
    engine = make_engine(repository=SlowRepository())
    engine.create_user("u")
    secret = engine.register_method("u", "totp").secret or ""
    code = totp_at(secret, clock.now())
    auths = [engine.begin("u") for _ in range(6)]
    assert all(isinstance(a, Challenge) for a in auths)
    verdicts = run_together([lambda a=a: engine.verify(a.auth_id, code) for a in auths])
    assert sum(v.ok for v in verdicts) == 1


def test_one_sms_code_succeeds_once_under_concurrent_verifies(
    make_engine: Callable[..., Engine], code_to: Callable[[str], str]
) -> None:
    engine = make_engine(repository=SlowRepository())
    engine.create_user("u", phone="+14255550100")
    engine.register_method("u", "sms")
    c = engine.begin("u")
    assert isinstance(c, Challenge)
    code = code_to("+14255550100")
    verdicts = run_together([lambda: engine.verify(c.auth_id, code) for _ in range(6)])
    assert sum(v.ok for v in verdicts) == 1


def test_send_limit_holds_under_concurrent_begins(make_engine: Callable[..., Engine]) -> None:
    engine = make_engine(repository=SlowRepository())
    engine.create_user("u", phone="+14255550100")
    engine.register_method("u", "sms")
    outcomes = run_together([lambda: engine.begin("u") for _ in range(12)])
    assert sum(isinstance(o, Challenge) for o in outcomes) == 5


# ---------------------------------------------------------------------- bursts of guesses
#
# A guess is reserved before it is evaluated: however many arrive at once, at most
# ``lockout_threshold`` failures are evaluated per lockout window and ``max_verify_attempts``
# per code, and a right answer arriving after the limit is refused.

BURST = 50


class CountingHasher(AppPasswordHasher):
    """A slow argon2 (the thread pool's view of it) that counts how often it runs."""

    def __init__(self, fast: AppPasswordHasher, *, pause: float = 0.005) -> None:
        super().__init__()
        self._fast = fast
        self._pause = pause
        self.evaluated = 0
        self._count = threading.Lock()
        #: cleared to hold every evaluation inside argon2 until it is set again
        self.gate = threading.Event()
        self.gate.set()
        self.inside = threading.Semaphore(0)

    def hash(self, password: str) -> str:
        return self._fast.hash(password)

    def matches_any(self, password: str, hashes: list[str]) -> bool:
        with self._count:
            self.evaluated += 1
        self.inside.release()
        self.gate.wait(10)
        time.sleep(self._pause)
        return self._fast.matches_any(password, hashes)


def test_a_burst_of_wrong_app_passwords_evaluates_exactly_the_threshold(
    make_engine: Callable[..., Engine], fast_hasher: AppPasswordHasher
) -> None:
    hasher = CountingHasher(fast_hasher)
    engine = make_engine(app_password_hasher=hasher, repository=SlowRepository())
    engine.create_user("u")
    engine.create_app_password("u")
    threshold = engine.policy.lockout_threshold
    verdicts = run_together(
        [lambda: engine.verify_app_password("u", "wrong-pass-word-xxxx") for _ in range(BURST)]
    )
    reasons = Counter(v.reason for v in verdicts)
    assert reasons == {
        DenialReason.WRONG_CODE: threshold,
        DenialReason.LOCKED_OUT: BURST - threshold,
    }
    assert hasher.evaluated == threshold  # argon2 ran only on reserved guesses
    assert engine.repository.get_state("u").locked_until > 0


def test_the_right_app_password_after_the_limit_is_refused(
    make_engine: Callable[..., Engine], fast_hasher: AppPasswordHasher
) -> None:
    hasher = CountingHasher(fast_hasher)
    engine = make_engine(app_password_hasher=hasher)
    engine.create_user("u")
    right = engine.create_app_password("u")
    threshold = engine.policy.lockout_threshold
    hasher.gate.clear()  # the wrong guesses are all still inside argon2 ...
    wrong: list[Verdict] = []
    threads = [
        threading.Thread(
            target=lambda: wrong.append(engine.verify_app_password("u", "wrong-pass-word-xxxx"))
        )
        for _ in range(threshold)
    ]
    for thread in threads:
        thread.start()
    for _ in range(threshold):
        assert hasher.inside.acquire(timeout=10)
    # ... when the right one arrives: the limit is reached, it is not even evaluated
    late = engine.verify_app_password("u", right)
    hasher.gate.set()
    for thread in threads:
        thread.join(10)
    assert late.reason is DenialReason.LOCKED_OUT
    assert hasher.evaluated == threshold
    assert Counter(v.reason for v in wrong) == {DenialReason.WRONG_CODE: threshold}


def test_the_right_app_password_within_the_limit_succeeds_and_clears_the_failures(
    make_engine: Callable[..., Engine],
) -> None:
    engine = make_engine()
    engine.create_user("u")
    right = engine.create_app_password("u")
    threshold = engine.policy.lockout_threshold
    for _ in range(threshold - 1):
        assert engine.verify_app_password("u", "nope-nope-nope-nope").reason == "wrong_code"
    assert engine.verify_app_password("u", right).ok  # the threshold-th guess, and right
    state = engine.repository.get_state("u")
    assert state.consecutive_failures == 0 and state.locked_until == 0.0


def _many_auths(engine: Engine, user_id: str, n: int) -> list[str]:
    auths = [engine.begin(user_id) for _ in range(n)]
    assert all(isinstance(a, Challenge) for a in auths), auths
    return [a.auth_id for a in auths if isinstance(a, Challenge)]


def test_a_burst_of_wrong_totp_values_locks_after_exactly_the_threshold(
    make_engine: Callable[..., Engine], clock: ManualClock
) -> None:
    engine = make_engine(repository=SlowRepository())
    engine.create_user("u")
    secret = engine.register_method("u", "totp").secret or ""
    valid = {totp_at(secret, clock.now() + d) for d in (-30, 0, 30)}
    wrong = next(c for c in ("000000", "111111", "222222") if c not in valid)
    auths = _many_auths(engine, "u", BURST)
    verdicts = run_together([lambda a=a: engine.verify(a, wrong) for a in auths])
    threshold = engine.policy.lockout_threshold
    assert Counter(v.reason for v in verdicts) == {
        DenialReason.WRONG_CODE: threshold,
        DenialReason.LOCKED_OUT: BURST - threshold,
    }
    # the right value now is refused: the user is locked
    assert engine.verify(auths[0], totp_at(secret, clock.now())).reason == "locked_out"


def test_a_burst_of_wrong_sms_codes_locks_after_exactly_the_threshold(
    make_engine: Callable[..., Engine],
) -> None:
    policy = Policy(max_sends=BURST)
    engine = make_engine(repository=SlowRepository(), policy=policy)
    engine.create_user("u", phone="+14255550100")
    engine.register_method("u", "sms")
    auths = _many_auths(engine, "u", BURST)
    verdicts = run_together([lambda a=a: engine.verify(a, "000000") for a in auths])
    assert Counter(v.reason for v in verdicts) == {
        DenialReason.WRONG_CODE: policy.lockout_threshold,
        DenialReason.LOCKED_OUT: BURST - policy.lockout_threshold,
    }


def test_a_burst_on_one_code_gets_exactly_the_attempt_cap(
    make_engine: Callable[..., Engine], code_to: Callable[[str], str]
) -> None:
    engine = make_engine(repository=SlowRepository())
    engine.create_user("u", phone="+14255550100")
    engine.register_method("u", "sms")
    auth = engine.begin("u")
    assert isinstance(auth, Challenge)
    code = code_to("+14255550100")
    guesses = [f"{(int(code) + 1 + i) % 1_000_000:06d}" for i in range(BURST)]
    verdicts = run_together([lambda g=g: engine.verify(auth.auth_id, g) for g in guesses])
    cap = engine.policy.max_verify_attempts
    assert Counter(v.reason for v in verdicts) == {
        DenialReason.WRONG_CODE: cap,
        DenialReason.TOO_MANY_ATTEMPTS: BURST - cap,
    }
    # only the evaluated guesses count toward the lockout
    assert engine.repository.get_state("u").consecutive_failures == cap
    assert engine.verify(auth.auth_id, code).reason is DenialReason.TOO_MANY_ATTEMPTS
