"""What one begin and one verify of a returning user send to the back ends, counted.

Each statement, commit, pool ping and Redis call is a round trip on PostgreSQL + Redis, and
round trips decide a cluster's speed (issue 15). The bounds are today's counts: a change
that adds a round trip to the hot path fails here and must say why. The log's batches,
written by a thread of their own, are not counted (``mfa.storage.roundtrips``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from mfa import Challenge, Engine, ManualClock, MemoryPendingStore, PendingStore
from mfa.errors import ConflictError
from mfa.otp import totp_at
from mfa.storage.crypto import derive_key
from mfa.storage.redis_pending import RedisPendingStore
from mfa.storage.roundtrips import RoundTripCounter, RoundTrips, counting
from mfa.storage.sql import SqlRepository
from mfa.users import User

KEY = derive_key("round trips test passphrase")
PHONE = "+14255550100"


@dataclass(frozen=True, slots=True)
class SetUp:
    repository: SqlRepository
    pending: PendingStore


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def set_up(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SetUp]:
    """SQLite with pending codes in memory (one server), or PostgreSQL with them in Redis
    (a cluster)."""
    if request.param == "sqlite":
        repository = SqlRepository(f"sqlite:///{tmp_path / 'rt.db'}", secret_key=KEY)
        pending: PendingStore = MemoryPendingStore()
    else:
        repository = SqlRepository(request.getfixturevalue("postgres_url"), secret_key=KEY)
        namespace = request.getfixturevalue("redis_namespace")
        pending = RedisPendingStore(request.getfixturevalue("redis_url"), namespace=namespace)
    yield SetUp(repository, pending)
    getattr(pending, "close", lambda: None)()
    repository.close()


def _second_pair(
    engine: Engine, clock: ManualClock, counter: RoundTripCounter, code: Callable[[], str]
) -> tuple[RoundTrips, RoundTrips]:
    """Begin and verify twice; the counts of the second pair (a returning user)."""
    for _ in range(2):
        clock.advance(400.0)  # past the send window and the last TOTP step
        counter.take()
        challenge = engine.begin("u1")
        assert isinstance(challenge, Challenge), challenge
        begun = counter.take()
        assert engine.verify(challenge.auth_id, code()).ok
        verified = counter.take()
    return begun, verified


@pytest.mark.parametrize("method", ["sms", "totp"])
def test_a_returning_users_begin_and_verify_stay_within_their_round_trips(
    set_up: SetUp,
    method: str,
    make_engine: Callable[..., Engine],
    clock: ManualClock,
    code_to: Callable[[], str],
) -> None:
    engine = make_engine(repository=set_up.repository, pending=set_up.pending)
    engine.create_user("u1", phone=PHONE, first_name="Ada", email="ada@example.org")
    secret = engine.register_method("u1", method).secret or ""
    code = code_to if method == "sms" else (lambda: totp_at(secret, clock.now()))
    client = getattr(set_up.pending, "client", None)
    with counting(set_up.repository.engine, client) as counter:
        begun, verified = _second_pair(engine, clock, counter, code)
    postgres = set_up.repository.engine.dialect.name == "postgresql"
    most_begin, most_verify = _BOUNDS[("postgres" if postgres else "sqlite", method)]
    assert begun.total <= most_begin, str(begun)
    assert verified.total <= most_verify, str(verified)
    # no transaction on the hot path: reads and compare-and-sets are single statements,
    # and a connection used a moment ago is not pinged
    assert begun.commits == verified.commits == 0
    assert begun.pings == verified.pings == 0


#: (begin, verify) round trips at most, per set-up and method. History: at first sqlite
#: (9, 11) and (4, 11), postgres (17, 19) and (9, 19); with one query for a begin's reads
#: (``Repository.sign_in_facts``) and one pooled connection per request sqlite (7, 10) and
#: (2, 10), postgres (10, 14) and (4, 14); now the security counters change by one
#: compare-and-set each (``SqlRepository.update_state``), the log is written in batches
#: (``mfa.storage.log_writer``), the provider is noted in the log only and a connection
#: used a moment ago is not pinged; a verify judges the user's guess in one write
#: (``security_state.judge_guess``: the failure counted and, if right, settled) instead of two.
_BOUNDS = {
    ("sqlite", "sms"): (2, 2),
    ("sqlite", "totp"): (1, 2),
    ("postgres", "sms"): (3, 5),
    ("postgres", "totp"): (2, 5),
}


def test_a_failed_call_inside_a_request_leaves_the_next_call_working(set_up: SetUp) -> None:
    """The request's shared connection is rolled back after a refused write or a failing
    security-counter rule, so the calls after it see the database as it is."""
    repository = set_up.repository
    repository.add_user(User(user_id="u1"))
    with repository.request():
        with pytest.raises(ConflictError):
            repository.add_user(User(user_id="u1"))

        def failing(_state: object) -> None:
            raise RuntimeError("the rule failed")

        with pytest.raises(RuntimeError):
            repository.update_state("u1", failing)  # type: ignore[arg-type]
        assert repository.update_state("u1", lambda s: (s, "answered")) == "answered"
        assert repository.get_user("u1") is not None
    assert repository.sign_in_facts("u1").user is not None
