"""Two servers sharing one database and one pending store never let a race break a rule.

The engines mfa1 and mfa2 run in cloud mode on the same storage, each with its own
repository and store objects as two processes would have: in memory (the simulator's
storage), on a SQLite file and on PostgreSQL, with the pending codes in Redis. Many threads,
half on each server, fire at once. Whatever the interleaving:
- one code (sms or TOTP) succeeds once, however many servers check it (RFC 6238 §5.2);
- an authentication accepts at most ``max_verify_attempts`` checks;
- at most ``max_sends`` messages go out per user and window;
- the user is locked after exactly ``lockout_threshold`` failures, none lost.

Below them, the two atomic steps the engine relies on: ``Repository.update_state`` and
``PendingStore.transition``.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from mfa import (
    AuthStatus,
    Challenge,
    Denial,
    DenialReason,
    Engine,
    InMemoryRepository,
    ManualClock,
    MemoryPendingStore,
    MethodType,
    Mode,
    PendingAuth,
    PendingStore,
    Policy,
    Repository,
    SharedPendingStore,
    Verdict,
)
from mfa.otp import totp_at
from mfa.security_state import SecurityState
from mfa.storage.crypto import derive_key
from mfa.storage.redis_pending import RedisPendingStore
from mfa.storage.sql import SqlRepository

KEY = derive_key("atomicity test passphrase")
PHONE = "+14255550100"
THREADS = 12  # half on each server
BURST = 50


def race(calls: list[Callable[[], Any]]) -> list[Any]:
    """Run the calls on as many threads, released together; their results in order."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)
    errors: list[BaseException] = []

    def worker(i: int) -> None:
        barrier.wait()
        try:
            results[i] = calls[i]()
        except BaseException as exc:  # reported by the test thread below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not any(t.is_alive() for t in threads), "a racing call never returned"
    if errors:
        raise errors[0]
    return results


def reasons(verdicts: list[Verdict]) -> Counter[DenialReason | None]:
    return Counter(v.reason for v in verdicts)


# ---------------------------------------------------------------------- two servers


@dataclass
class Cluster:
    mfa1: Engine
    mfa2: Engine
    repository: Repository
    pending: PendingStore
    #: every server's repository (each buffers its own log records)
    repositories: tuple[Repository, ...] = ()

    def logs(self) -> list[Any]:
        """The log as it stands once every server has written its buffered records (as
        after their durability bound)."""
        for repository in self.repositories:
            getattr(repository, "flush_logs", lambda: None)()
        return self.repository.logs()

    def split(self, call: Callable[[Engine, int], Any], n: int = THREADS) -> list[Any]:
        """``n`` racing calls, alternately on mfa1 and mfa2."""
        servers = (self.mfa1, self.mfa2)
        return race([lambda i=i: call(servers[i % 2], i) for i in range(n)])


@pytest.fixture(
    params=[
        "memory",
        pytest.param("sqlite", marks=pytest.mark.redis),
        pytest.param("postgres", marks=[pytest.mark.postgres, pytest.mark.redis]),
    ]
)
def cluster(
    request: pytest.FixtureRequest, make_engine: Callable[..., Engine], tmp_path: Path
) -> Iterator[Cluster]:
    policy = Policy(mode=Mode.CLOUD)
    if request.param == "memory":
        repository, pending = InMemoryRepository(), SharedPendingStore()
        yield Cluster(
            make_engine("mfa1", repository=repository, pending=pending, policy=policy),
            make_engine("mfa2", repository=repository, pending=pending, policy=policy),
            repository,
            pending,
        )
        return
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'shared.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
    redis_url = request.getfixturevalue("redis_url")
    namespace = request.getfixturevalue("redis_namespace")
    repos = [SqlRepository(url, secret_key=KEY) for _ in range(2)]
    stores = [RedisPendingStore(redis_url, namespace=namespace) for _ in range(2)]
    try:
        yield Cluster(
            make_engine("mfa1", repository=repos[0], pending=stores[0], policy=policy),
            make_engine("mfa2", repository=repos[1], pending=stores[1], policy=policy),
            repos[0],
            stores[0],
            tuple(repos),
        )
    finally:
        for repo in repos:
            repo.close()
        for store in stores:
            store.close()


def challenge(outcome: Challenge | Denial) -> Challenge:
    assert isinstance(outcome, Challenge), outcome
    return outcome


def sms_user(cluster: Cluster) -> None:
    cluster.mfa1.create_user("alice", phone=PHONE)
    cluster.mfa2.register_method("alice", "sms")


def totp_user(cluster: Cluster) -> str:
    cluster.mfa1.create_user("bob")
    return cluster.mfa2.register_method("bob", "totp").secret or ""


def wrong_totp(secret: str, now: float) -> str:
    """A six-digit value no step of the window accepts."""
    valid = {totp_at(secret, now + d) for d in (-30, 0, 30)}
    return next(c for c in ("000000", "111111", "222222", "333333") if c not in valid)


def test_one_sms_code_succeeds_once_across_servers(
    cluster: Cluster, code_to: Callable[[str], str]
) -> None:
    sms_user(cluster)
    auth = challenge(cluster.mfa1.begin("alice"))
    code = code_to(PHONE)
    verdicts = cluster.split(lambda engine, _: engine.verify(auth.auth_id, code))
    # every copy takes an attempt before it is checked: those that find the attempts all
    # taken (the winner not yet stored) are refused too_many_attempts, the others replayed
    found = reasons(verdicts)
    assert found[None] == 1
    assert set(found) <= {None, DenialReason.REPLAYED, DenialReason.TOO_MANY_ATTEMPTS}
    stored = cluster.pending.get(auth.auth_id)
    assert stored is not None and stored.status is AuthStatus.SUCCESS
    assert 1 <= stored.attempts <= 5
    [record] = [r for r in cluster.logs() if r.auth_id == auth.auth_id]
    assert record.status is AuthStatus.SUCCESS and record.attempts == stored.attempts


def test_parallel_guesses_get_no_more_than_the_attempt_cap(
    cluster: Cluster, code_to: Callable[[str], str]
) -> None:
    sms_user(cluster)
    auth = challenge(cluster.mfa2.begin("alice"))
    code = code_to(PHONE)
    guesses = [f"{(int(code) + 1 + i) % 1_000_000:06d}" for i in range(THREADS)]
    verdicts = cluster.split(lambda engine, i: engine.verify(auth.auth_id, guesses[i]))
    assert reasons(verdicts) == {
        DenialReason.WRONG_CODE: 5,
        DenialReason.TOO_MANY_ATTEMPTS: THREADS - 5,
    }
    stored = cluster.pending.get(auth.auth_id)
    assert stored is not None and stored.attempts == 5 and stored.status is AuthStatus.DENIED
    # every accepted guess counted toward lockout, none lost
    assert cluster.repository.get_state("alice").consecutive_failures == 5
    # and the right code, now, is refused too
    assert cluster.mfa1.verify(auth.auth_id, code).reason is DenialReason.TOO_MANY_ATTEMPTS


def test_parallel_begins_send_no_more_than_the_send_limit(cluster: Cluster) -> None:
    sms_user(cluster)
    outcomes = cluster.split(lambda engine, _: engine.begin("alice"))
    sent = [o for o in outcomes if isinstance(o, Challenge)]
    refused = [o for o in outcomes if isinstance(o, Denial)]
    assert len(sent) == 5
    assert {d.reason for d in refused} == {DenialReason.RATE_LIMITED}
    assert len(cluster.repository.get_state("alice").send_times) == 5


def test_parallel_failures_lock_the_user_at_exactly_the_threshold(
    cluster: Cluster, clock: ManualClock
) -> None:
    secret = totp_user(cluster)
    wrong = wrong_totp(secret, clock.now())
    auths = [challenge(cluster.mfa1.begin("bob")).auth_id for _ in range(2)]
    # each authentication gets guesses from both servers
    verdicts = cluster.split(lambda engine, i: engine.verify(auths[i // 2 % 2], wrong), n=9)
    assert reasons(verdicts) == {DenialReason.WRONG_CODE: 9}
    state = cluster.repository.get_state("bob")
    assert state.consecutive_failures == 9 and state.locked_until == 0.0
    assert isinstance(cluster.mfa2.begin("bob"), Challenge)  # not locked yet

    # two more at once: the tenth locks, the eleventh finds the user locked
    last = challenge(cluster.mfa2.begin("bob")).auth_id
    cluster.split(lambda engine, _: engine.verify(last, wrong), n=2)
    state = cluster.repository.get_state("bob")
    assert state.locked_until == pytest.approx(clock.now() + 15 * 60)
    assert state.consecutive_failures == 0  # a failure while locked is not carried over
    refused = cluster.mfa1.begin("bob")
    assert isinstance(refused, Denial) and refused.reason is DenialReason.LOCKED_OUT


def test_a_burst_of_wrong_totp_values_is_checked_exactly_up_to_the_threshold(
    cluster: Cluster, clock: ManualClock
) -> None:
    """A guess is reserved before it is checked: 50 at once on two servers, 10 checked."""
    secret = totp_user(cluster)
    wrong = wrong_totp(secret, clock.now())
    auths = [challenge(cluster.mfa1.begin("bob")).auth_id for _ in range(BURST)]
    verdicts = cluster.split(lambda engine, i: engine.verify(auths[i], wrong), n=BURST)
    assert reasons(verdicts) == {
        DenialReason.WRONG_CODE: 10,
        DenialReason.LOCKED_OUT: BURST - 10,
    }
    right = totp_at(secret, clock.now())
    assert cluster.mfa2.verify(auths[0], right).reason is DenialReason.LOCKED_OUT


def test_a_burst_of_wrong_app_passwords_is_checked_exactly_up_to_the_threshold(
    cluster: Cluster,
) -> None:
    cluster.mfa1.create_user("carol")
    right = cluster.mfa2.create_app_password("carol")
    verdicts = cluster.split(
        lambda engine, _: engine.verify_app_password("carol", "wron-gwro-ngwr-ongw"), n=BURST
    )
    assert reasons(verdicts) == {
        DenialReason.WRONG_CODE: 10,
        DenialReason.LOCKED_OUT: BURST - 10,
    }
    assert cluster.mfa1.verify_app_password("carol", right).reason is DenialReason.LOCKED_OUT
    checks = [r for r in cluster.logs() if r.unique_id == "carol"]
    assert len(checks) == BURST + 1  # one log record per check
    assert sum(r.billable for r in checks) == 10


def test_one_totp_value_succeeds_once_across_servers_and_authentications(
    cluster: Cluster, clock: ManualClock
) -> None:
    secret = totp_user(cluster)
    servers = (cluster.mfa1, cluster.mfa2)
    # eight: the seven replays count as failures, and ten would lock the user
    auths = [challenge(servers[i % 2].begin("bob")).auth_id for i in range(8)]
    code = totp_at(secret, clock.now())
    verdicts = cluster.split(lambda engine, i: engine.verify(auths[i], code), n=8)
    assert reasons(verdicts) == {None: 1, DenialReason.REPLAYED: 7}
    # each guess counts as a failure when reserved, before it is checked: the success
    # clears those reserved before it, the replays reserved after it stay
    assert 0 <= cluster.repository.get_state("bob").consecutive_failures <= 7
    [method] = cluster.repository.list_methods("bob")
    step = int(clock.now() // 30)
    assert cluster.repository.get_state("bob").last_totp_step == {method.method_id: step}


def test_one_totp_value_on_one_authentication_succeeds_once(
    cluster: Cluster, clock: ManualClock
) -> None:
    secret = totp_user(cluster)
    auth = challenge(cluster.mfa2.begin("bob")).auth_id
    code = totp_at(secret, clock.now())
    # five: even if every replay takes an attempt before the winner stores its success,
    # the winner's is the fifth and still allowed
    verdicts = cluster.split(lambda engine, _: engine.verify(auth, code), n=5)
    # the losers are told replayed: by the user's state, or by the finished authentication
    assert reasons(verdicts) == {None: 1, DenialReason.REPLAYED: 4}
    stored = cluster.pending.get(auth)
    assert stored is not None and stored.status is AuthStatus.SUCCESS


# ---------------------------------------------------------------------- update_state


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def repositories(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[list[Repository]]:
    """Two repository objects on one storage, as two servers have."""
    if request.param == "memory":
        shared = InMemoryRepository()
        yield [shared, shared]
        return
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'state.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
    repos = [SqlRepository(url, secret_key=KEY) for _ in range(2)]
    yield list(repos)
    for repo in repos:
        repo.close()


def _one_more(state: SecurityState) -> tuple[SecurityState, int]:
    failures = state.consecutive_failures + 1
    return state.evolve(consecutive_failures=failures), failures


def test_update_state_loses_no_update_between_servers(repositories: list[Repository]) -> None:
    """Every racing increment sees the one before it, including the very first ones, which
    find no stored state yet."""
    rounds = 10

    def worker(i: int) -> list[int]:
        repo = repositories[i % 2]
        return [repo.update_state("carol", _one_more) for _ in range(rounds)]

    answers = race([lambda i=i: worker(i) for i in range(8)])
    seen = sorted(n for batch in answers for n in batch)
    assert seen == list(range(1, 8 * rounds + 1))  # each count handed out exactly once
    assert repositories[1].get_state("carol").consecutive_failures == 8 * rounds


def test_an_unchanged_state_answers_and_stays_as_it_was(
    repositories: list[Repository],
) -> None:
    repo = repositories[0]
    repo.save_state(SecurityState("dave", consecutive_failures=3, send_times=(1.0,)))
    assert repo.update_state("dave", lambda s: (s, s.consecutive_failures)) == 3
    assert repo.update_state("erin", lambda s: (s, s.consecutive_failures)) == 0
    assert repo.get_state("dave") == SecurityState(
        "dave", consecutive_failures=3, send_times=(1.0,)
    )
    assert repo.get_state("erin") == SecurityState("erin")


def test_a_failing_change_leaves_the_state_and_the_repository_usable(
    repositories: list[Repository],
) -> None:
    repo = repositories[0]
    repo.update_state("frank", _one_more)

    def broken(state: SecurityState) -> tuple[SecurityState, None]:
        raise RuntimeError("rule failed")

    with pytest.raises(RuntimeError, match="rule failed"):
        repo.update_state("frank", broken)
    # nothing half-done, no transaction left open on the connection
    assert repo.update_state("frank", _one_more) == 2
    assert repositories[1].get_state("frank").consecutive_failures == 2


# ---------------------------------------------------------------------- transition


@pytest.fixture(params=["memory", "shared", pytest.param("redis", marks=pytest.mark.redis)])
def stores(request: pytest.FixtureRequest) -> Iterator[list[PendingStore]]:
    """Two store objects on one pending store (memory: one server's own twice)."""
    if request.param in ("memory", "shared"):
        store = MemoryPendingStore() if request.param == "memory" else SharedPendingStore()
        yield [store, store]
        return
    url = request.getfixturevalue("redis_url")
    namespace = request.getfixturevalue("redis_namespace")
    opened = [RedisPendingStore(url, namespace=namespace) for _ in range(2)]
    yield list(opened)
    for store in opened:
        store.close()


def _pending(**changes: Any) -> PendingAuth:
    now = time.time()
    return PendingAuth(
        "mfa1.abcdefghijklmnopqrstuv", "alice", MethodType.SMS, "m-1", "mfa1", now, now + 300
    ).evolve(**changes)


def test_transition_replaces_only_the_version_it_read(stores: list[PendingStore]) -> None:
    first, other = stores
    original = _pending()
    first.put(original, keep_until=original.expires_at + 60)
    read = other.get(original.auth_id)
    assert read is not None and read.version == 0
    moved = read.evolve(attempts=1, version=1)
    assert other.transition(read, moved, keep_until=original.expires_at + 60)
    # a server still holding version 0 cannot overwrite version 1
    stale = original.evolve(status=AuthStatus.SUCCESS, attempts=1, version=1)
    assert not first.transition(original, stale, keep_until=original.expires_at + 60)
    assert first.get(original.auth_id) == moved
    # nor can anyone move a record that is gone
    ghost = _pending(auth_id="mfa1.zzzzzzzzzzzzzzzzzzzzzz")
    assert not first.transition(ghost, ghost.evolve(version=1), keep_until=ghost.expires_at)
    assert first.get(ghost.auth_id) is None


def test_a_transition_must_raise_the_version(stores: list[PendingStore]) -> None:
    record = _pending(version=2)
    stores[0].put(record, keep_until=record.expires_at)
    with pytest.raises(ValueError, match="version"):
        stores[0].transition(record, record.evolve(attempts=1), keep_until=record.expires_at)


def test_exactly_one_of_racing_transitions_wins(stores: list[PendingStore]) -> None:
    record = _pending()
    stores[0].put(record, keep_until=record.expires_at)
    outcomes = race(
        [
            lambda i=i: stores[i % 2].transition(
                record, record.evolve(attempts=i + 1, version=1), keep_until=record.expires_at
            )
            for i in range(THREADS)
        ]
    )
    assert outcomes.count(True) == 1
    winner = outcomes.index(True)
    assert stores[1].get(record.auth_id) == record.evolve(attempts=winner + 1, version=1)


@pytest.mark.redis
def test_redis_transition_keeps_the_expiry_and_reads_old_records_as_version_0(
    redis_url: str, redis_namespace: str
) -> None:
    import redis

    store = RedisPendingStore(redis_url, namespace=redis_namespace)
    client = redis.Redis.from_url(redis_url)
    try:
        record = _pending()
        key = f"{redis_namespace}:pending:{record.auth_id}"
        # a record written before versions existed has no "v" field
        client.set(key, b'{"u":"alice","m":"sms","mi":"m-1","s":"mfa1","i":1,"e":2}', px=60_000)
        old = store.get(record.auth_id)
        assert old is not None and old.version == 0
        assert store.transition(old, old.evolve(attempts=1, version=1), keep_until=time.time() + 90)
        assert 60_000 < client.pttl(key) <= 91_000  # the new keep_until, not the old 60 s
        moved = store.get(record.auth_id)
        assert moved is not None and moved.attempts == 1 and moved.version == 1
    finally:
        client.close()
        store.close()
