"""A request that loses a race to another server reads again and decides afresh.

Two cloud-mode servers share one repository and one pending store. A store that lets the
other server act between a request's read and its transition replays, without threads,
the interleavings a cluster produces now and then: the request must then answer from what
the other server did (replayed, out of attempts, already answered), never succeed a second
time, and never count one failure twice. Below that, the pure rules that change a user's
counters (``mfa.security_state``).

The same races with real threads on real storage are in tests/mfa/storage/test_atomicity.py.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest

from mfa import (
    AuthStatus,
    Challenge,
    DenialReason,
    Engine,
    InMemoryRepository,
    ManualClock,
    Mode,
    PendingAuth,
    Policy,
    RegisteredMethod,
    SharedPendingStore,
    Verdict,
)
from mfa.otp import totp_at
from mfa.security_state import (
    Guess,
    SecurityState,
    accept_totp_step,
    judge_guess,
    record_send,
    release_send,
    reserve_guess,
    settle_right_code,
    settle_success,
)
from tests.mfa.conftest import PUSH_KEY, answer_push

PHONE = "+14255550100"
EngineFactory = Callable[..., Engine]


class Interleaved(SharedPendingStore):
    """A shared store where the other server acts right before a request's transition."""

    def __init__(self) -> None:
        super().__init__()
        self.meanwhile: list[Callable[[], object]] = []
        self.refused = 0

    def transition(self, old: PendingAuth, new: PendingAuth, *, keep_until: float) -> bool:
        if self.meanwhile:
            self.meanwhile.pop(0)()
        done = super().transition(old, new, keep_until=keep_until)
        self.refused += not done
        return done


class Frozen(Interleaved):
    """A broken store on which every transition fails."""

    def transition(self, old: PendingAuth, new: PendingAuth, *, keep_until: float) -> bool:
        return False


@dataclass
class Cluster:
    store: Interleaved
    mfa1: Engine
    mfa2: Engine
    repository: InMemoryRepository

    def sms_user(self) -> None:
        self.mfa1.create_user("alice", phone=PHONE)
        self.mfa1.register_method("alice", "sms")

    def totp_user(self) -> RegisteredMethod:
        self.mfa1.create_user("bob")
        return self.mfa1.register_method("bob", "totp")


def servers(make_engine: EngineFactory, store: Interleaved) -> Cluster:
    repository = InMemoryRepository()
    policy = Policy(mode=Mode.CLOUD)
    mfa1 = make_engine("mfa1", repository=repository, pending=store, policy=policy)
    mfa2 = make_engine("mfa2", repository=repository, pending=store, policy=policy)
    return Cluster(store, mfa1, mfa2, repository)


@pytest.fixture
def cluster(make_engine: EngineFactory) -> Cluster:
    return servers(make_engine, Interleaved())


def begun(engine: Engine, user_id: str, method: str | None = None) -> str:
    challenge = engine.begin(user_id, method)
    assert isinstance(challenge, Challenge), challenge
    return challenge.auth_id


def wrong(code: str) -> str:
    return "000000" if code != "000000" else "111111"


def test_a_code_verified_meanwhile_on_another_server_is_replayed(
    cluster: Cluster, code_to: Callable[[str], str]
) -> None:
    store, mfa1, mfa2, repository = cluster.store, cluster.mfa1, cluster.mfa2, cluster.repository
    cluster.sms_user()
    auth = begun(mfa1, "alice")
    code = code_to(PHONE)
    other: list[Verdict] = []
    store.meanwhile.append(lambda: other.append(mfa2.verify(auth, code)))

    verdict = mfa1.verify(auth, code)

    assert [v.ok for v in other] == [True]
    assert not verdict.ok and verdict.reason is DenialReason.REPLAYED
    assert store.refused == 1  # mfa1's transition lost, and nothing it decided was stored
    [record] = repository.logs()
    assert record.status is AuthStatus.SUCCESS and record.server_name == "mfa1"
    assert record.attempts == 1


def test_a_guess_that_lost_the_last_attempt_is_refused_unchecked(
    cluster: Cluster, code_to: Callable[[str], str]
) -> None:
    store, mfa1, mfa2, repository = cluster.store, cluster.mfa1, cluster.mfa2, cluster.repository
    cluster.sms_user()
    auth = begun(mfa2, "alice")
    code = code_to(PHONE)
    for _ in range(4):
        assert mfa2.verify(auth, wrong(code)).reason is DenialReason.WRONG_CODE
    store.meanwhile.append(lambda: mfa2.verify(auth, wrong(code)))  # the fifth attempt

    # the right code, read before the fifth attempt was used, must not get a sixth
    verdict = mfa1.verify(auth, code)

    assert verdict.reason is DenialReason.TOO_MANY_ATTEMPTS
    stored = store.get(auth)
    assert stored is not None and stored.attempts == 5 and stored.status is AuthStatus.DENIED
    assert repository.get_state("alice").consecutive_failures == 5  # the refusal is no failure


def test_a_totp_value_accepted_before_losing_the_race_still_succeeds(
    cluster: Cluster, clock: ManualClock
) -> None:
    """Once a request has recorded its TOTP step, the step reads as a replay; after a lost
    race it must go on from its own acceptance, not check the step again."""
    store, mfa1, mfa2, repository = cluster.store, cluster.mfa1, cluster.mfa2, cluster.repository
    totp = cluster.totp_user()
    auth = begun(mfa1, "bob")
    code = totp_at(totp.secret or "", clock.now())
    store.meanwhile.append(lambda: mfa2.verify(auth, wrong(code)))

    verdict = mfa1.verify(auth, code)

    assert verdict.ok
    stored = store.get(auth)
    assert stored is not None and stored.status is AuthStatus.SUCCESS and stored.attempts == 2
    assert repository.get_state("bob").last_totp_step == {totp.method_id: int(clock.now() // 30)}


def test_a_replay_that_loses_the_race_is_counted_once(cluster: Cluster, clock: ManualClock) -> None:
    store, mfa1, mfa2, repository = cluster.store, cluster.mfa1, cluster.mfa2, cluster.repository
    totp = cluster.totp_user()
    code = totp_at(totp.secret or "", clock.now())
    assert mfa2.verify(begun(mfa2, "bob"), code).ok
    auth = begun(mfa1, "bob")
    store.meanwhile.append(lambda: mfa2.verify(auth, wrong(code)))

    verdict = mfa1.verify(auth, code)

    assert verdict.reason is DenialReason.REPLAYED
    # one failure for the other server's wrong guess, one for the replay: not three
    assert repository.get_state("bob").consecutive_failures == 2
    stored = store.get(auth)
    assert stored is not None and stored.attempts == 2 and stored.reason is DenialReason.REPLAYED


def test_a_push_answered_meanwhile_on_another_server_keeps_that_answer(
    cluster: Cluster,
) -> None:
    store, mfa1, mfa2 = cluster.store, cluster.mfa1, cluster.mfa2
    mfa1.create_user("carol")
    mfa1.register_method("carol", "push", device_token="device-token-carol", public_key=PUSH_KEY)
    auth = begun(mfa1, "carol")
    store.meanwhile.append(lambda: answer_push(mfa2, auth, False))

    verdict = answer_push(mfa1, auth, True)

    assert verdict.reason is DenialReason.USER_DENIED
    stored = store.get(auth)
    assert stored is not None and stored.status is AuthStatus.DENIED


def test_a_store_that_never_lets_a_transition_through_ends_in_a_denial(
    make_engine: EngineFactory, code_to: Callable[[str], str]
) -> None:
    frozen = servers(make_engine, Frozen())
    frozen.sms_user()
    auth = begun(frozen.mfa1, "alice")

    verdict = frozen.mfa1.verify(auth, code_to(PHONE))

    assert verdict.reason is DenialReason.TOO_MANY_ATTEMPTS  # no endless retry, no success
    assert [r.status for r in frozen.repository.logs()] == [AuthStatus.PENDING]


# ---------------------------------------------------------------------- the rules


def test_record_send_counts_in_a_sliding_window_and_says_how_long_to_wait() -> None:
    state = SecurityState("u")
    for t in (0.0, 10.0, 20.0):
        state, wait = record_send(state, t, 300.0, 3)
        assert wait is None
    refused, wait = record_send(state, 100.0, 300.0, 3)
    assert refused is state  # nothing to store
    assert wait == pytest.approx(200.0)  # the send at 0 leaves the window at 300
    state, wait = record_send(state, 300.0, 300.0, 3)
    assert wait is None and state.send_times == (10.0, 20.0, 300.0)


def test_reserve_guess_counts_before_evaluation_and_locks_at_the_threshold() -> None:
    state = SecurityState("u", consecutive_failures=8)
    state, guess = reserve_guess(state, 50.0, 10, 900.0)
    assert guess == Guess() and state.consecutive_failures == 9 and state.locked_until == 0.0
    state, guess = reserve_guess(state, 60.0, 10, 900.0)  # the tenth: locks at once
    assert guess == Guess(locked_until=960.0)
    assert state.consecutive_failures == 0 and state.locked_until == 960.0
    unchanged, wait = reserve_guess(state, 61.0, 10, 900.0)  # refused, not counted
    assert unchanged is state and wait == 899.0
    after, _ = reserve_guess(state, 960.0, 10, 900.0)
    assert after.consecutive_failures == 1


def test_settle_success_ends_the_failures_and_lifts_only_its_own_lock() -> None:
    state, guess = reserve_guess(SecurityState("u", consecutive_failures=9), 60.0, 10, 900.0)
    lifted, _ = settle_success(state, guess)  # the tenth guess was right
    assert lifted.consecutive_failures == 0 and lifted.locked_until == 0.0
    earlier = Guess()  # reserved before the lock another guess set
    kept, _ = settle_success(state.evolve(consecutive_failures=2), earlier)
    assert kept.consecutive_failures == 0 and kept.locked_until == 960.0
    clean = SecurityState("u", send_times=(1.0,))
    assert settle_success(clean, Guess())[0] is clean


def test_release_send_gives_back_one_counted_send() -> None:
    state = SecurityState("u", send_times=(10.0, 20.0, 20.0))
    state, _ = release_send(state, 20.0)
    assert state.send_times == (10.0, 20.0)
    assert release_send(state, 30.0)[0] is state


def test_accept_totp_step_accepts_each_step_once_per_key() -> None:
    state = SecurityState("u", consecutive_failures=4)
    state, ok = accept_totp_step(state, "m-1", 100, Guess())
    assert ok and state.last_totp_step == {"m-1": 100} and state.consecutive_failures == 0
    for step in (100, 99):
        replayed, ok = accept_totp_step(state.evolve(consecutive_failures=1), "m-1", step, Guess())
        # a replay was counted as a failure when its guess was reserved, not again here
        assert not ok and replayed.consecutive_failures == 1
        assert replayed.last_totp_step == {"m-1": 100}
    state, ok = accept_totp_step(state, "token:S1", 100, Guess())
    assert ok and state.last_totp_step == {"m-1": 100, "token:S1": 100}


def test_judge_guess_counts_and_settles_a_guess_in_one_step() -> None:
    """One write per verify: a wrong guess is a failure, a right one ends the run of
    failures (and lifts the lock its own reservation set), a locked user's guess is not
    judged at all."""
    state = SecurityState("u", consecutive_failures=3)
    wrong, answer = judge_guess(state, 60.0, 10, 900.0, None)
    assert answer is False and wrong.consecutive_failures == 4
    right, answer = judge_guess(state, 60.0, 10, 900.0, settle_right_code)
    assert answer is True and right.consecutive_failures == 0 and right.locked_until == 0.0
    tenth = state.evolve(consecutive_failures=9)
    right, answer = judge_guess(tenth, 60.0, 10, 900.0, settle_right_code)
    assert answer is True and right.locked_until == 0.0  # its own lock, lifted
    locked, _ = judge_guess(tenth, 60.0, 10, 900.0, None)
    assert locked.locked_until == 960.0
    unchanged, answer = judge_guess(locked, 61.0, 10, 900.0, settle_right_code)
    assert unchanged is locked and answer == 899.0


def test_judge_guess_accepts_a_totp_step_once() -> None:
    state = SecurityState("u", consecutive_failures=2)
    step = lambda s, g: accept_totp_step(s, "m-1", 100, g)  # noqa: E731
    state, answer = judge_guess(state, 60.0, 10, 900.0, step)
    assert answer is True and state.consecutive_failures == 0
    replayed, answer = judge_guess(state, 61.0, 10, 900.0, step)
    assert answer is False and replayed.consecutive_failures == 1  # the replay counted
