"""Pending codes in Redis: the same contract as the in-process stores, shared by servers,
surviving a server restart, and never holding a code in clear."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import fields

import pytest
import redis

from mfa import (
    AuthStatus,
    Challenge,
    DenialReason,
    Engine,
    InMemoryRepository,
    ManualClock,
    MemoryPendingStore,
    MethodType,
    PendingAuth,
    PendingStore,
    SharedPendingStore,
)
from mfa.errors import InvalidInput
from mfa.storage import StorageUnavailable, open_pending
from mfa.storage.redis_pending import RedisPendingStore

PHONE = "+14255550100"

pytestmark = pytest.mark.redis


@pytest.fixture
def clock() -> ManualClock:
    """Redis expires keys on the wall clock, so engines here start at the wall time."""
    return ManualClock(time.time())


@pytest.fixture
def redis_store(redis_url: str, redis_namespace: str) -> Iterator[RedisPendingStore]:
    store = RedisPendingStore(redis_url, namespace=redis_namespace)
    yield store
    store.close()


@pytest.fixture(params=["memory", "shared", "redis"])
def store(request: pytest.FixtureRequest) -> PendingStore:
    if request.param == "memory":
        return MemoryPendingStore()
    if request.param == "shared":
        return SharedPendingStore()
    return request.getfixturevalue("redis_store")


def _pending(auth_id: str = "mfa1.abcdefghijklmnopqrstuv", **kw: object) -> PendingAuth:
    now = time.time()
    values: dict[str, object] = {
        "auth_id": auth_id,
        "user_id": "alice",
        "method": MethodType.SMS,
        "method_id": "m-1",
        "server": "mfa1",
        "issued_at": now,
        "expires_at": now + 300,
        "code_digest": bytes(range(32)),
    }
    values.update(kw)
    return PendingAuth(**values)  # type: ignore[arg-type]


# ---------------------------------------------------------------------- contract


def test_a_pending_record_round_trips_with_every_field(store: PendingStore) -> None:
    full = _pending(
        attempts=3,
        status=AuthStatus.DENIED,
        reason=DenialReason.WRONG_CODE,
        device_token="device-token-123",
        completed_at=time.time() + 20.5,
        sender="97671",
        client_ip="192.0.2.1",
        server_ip="10.0.0.1",
    )
    assert all(getattr(full, f.name) is not None for f in fields(PendingAuth))  # every field
    store.put(full, keep_until=full.expires_at + 60)
    assert store.get(full.auth_id) == full
    assert store.get("mfa1.zzzzzzzzzzzzzzzzzzzzzz") is None
    push = _pending("mfa1.pushpushpushpushpushpu", method=MethodType.PUSH, code_digest=None)
    store.put(push, keep_until=push.expires_at)
    assert store.get(push.auth_id) == push


def test_putting_again_updates_the_record(store: PendingStore) -> None:
    first = _pending()
    store.put(first, keep_until=first.expires_at + 60)
    done = first.evolve(attempts=1, status=AuthStatus.SUCCESS, completed_at=time.time())
    store.put(done, keep_until=first.expires_at + 60)
    assert store.get(first.auth_id) == done


def test_a_record_is_gone_once_kept_long_enough_and_purged(store: PendingStore) -> None:
    short = _pending("mfa1.shortshortshortshorts")
    lasting = _pending("mfa1.lastinglastinglasting")
    store.put(short, keep_until=time.time() + 0.2)
    store.put(lasting, keep_until=time.time() + 60)
    time.sleep(0.35)
    store.purge(time.time())
    assert store.get(short.auth_id) is None
    assert store.get(lasting.auth_id) == lasting


def test_only_one_servers_memory_is_private(store: PendingStore) -> None:
    assert store.shared is (type(store) is not MemoryPendingStore)


# ---------------------------------------------------------------------- Redis specifics


def test_redis_holds_the_digest_never_the_code(
    redis_store: RedisPendingStore,
    redis_url: str,
    redis_namespace: str,
    make_engine: Callable[..., Engine],
    code_to: Callable[[str], str],
) -> None:
    engine = make_engine(pending=redis_store)
    engine.create_user("alice", phone=PHONE)
    engine.register_method("alice", "sms")
    challenge = engine.begin("alice")
    assert isinstance(challenge, Challenge)
    code = code_to(PHONE)
    client = redis.Redis.from_url(redis_url)
    try:
        keys = list(client.scan_iter(f"{redis_namespace}*"))
        assert len(keys) == 1 and challenge.auth_id in keys[0].decode()
        raw = client.get(keys[0])
        ttl_ms = client.pttl(keys[0])
    finally:
        client.close()
    assert raw is not None and code.encode() not in raw
    assert b'"d":' in raw  # the digest is there, so the code can still be checked
    expected_ms = (engine.policy.timeout_seconds + engine.policy.retention_seconds) * 1000
    assert expected_ms - 5_000 < ttl_ms <= expected_ms + 1_000  # Redis does the purging


def test_an_engine_clock_in_the_past_keeps_records_for_their_lifetime(
    redis_store: RedisPendingStore, redis_url: str, redis_namespace: str
) -> None:
    issued = 1_700_000_000.0  # a manual clock in 2023
    pending = _pending(issued_at=issued, expires_at=issued + 300)
    redis_store.put(pending, keep_until=issued + 3_900)
    assert redis_store.get(pending.auth_id) == pending
    client = redis.Redis.from_url(redis_url)
    try:
        ttl_ms = client.pttl(f"{redis_namespace}:pending:{pending.auth_id}")
    finally:
        client.close()
    assert 3_890_000 < ttl_ms <= 3_900_000


def test_with_redis_either_server_verifies_the_code(
    redis_url: str,
    redis_namespace: str,
    make_engine: Callable[..., Engine],
    code_to: Callable[[str], str],
) -> None:
    repository = InMemoryRepository()
    stores = [RedisPendingStore(redis_url, namespace=redis_namespace) for _ in range(2)]
    try:
        mfa1 = make_engine("mfa1", repository=repository, pending=stores[0])
        mfa2 = make_engine("mfa2", repository=repository, pending=stores[1])
        mfa1.create_user("alice", phone=PHONE)
        mfa1.register_method("alice", "sms")
        for issuer, verifier in ((mfa1, mfa2), (mfa2, mfa1)):
            challenge = issuer.begin("alice")
            assert isinstance(challenge, Challenge)
            assert challenge.server == issuer.server.name
            assert verifier.verify(challenge.auth_id, code_to(PHONE)).ok
            assert issuer.status(challenge.auth_id).status is AuthStatus.SUCCESS
    finally:
        for store in stores:
            store.close()


def test_a_restarted_server_still_finds_its_pending_code(
    redis_url: str,
    redis_namespace: str,
    make_engine: Callable[..., Engine],
    code_to: Callable[[str], str],
    clock: ManualClock,
) -> None:
    repository = InMemoryRepository()
    before = RedisPendingStore(redis_url, namespace=redis_namespace)
    engine = make_engine("mfa1", repository=repository, pending=before)
    engine.create_user("alice", phone=PHONE)
    engine.register_method("alice", "sms")
    challenge = engine.begin("alice")
    assert isinstance(challenge, Challenge)
    before.close()  # the server goes down

    after = RedisPendingStore(redis_url, namespace=redis_namespace)
    try:
        clock.advance(30)
        restarted = make_engine("mfa1", repository=repository, pending=after)
        assert restarted.verify(challenge.auth_id, code_to(PHONE)).ok
    finally:
        after.close()


def test_namespaces_keep_clusters_apart(redis_url: str, redis_namespace: str) -> None:
    mine = RedisPendingStore(redis_url, namespace=redis_namespace)
    theirs = RedisPendingStore(redis_url, namespace=f"{redis_namespace}-other")
    try:
        pending = _pending()
        mine.put(pending, keep_until=time.time() + 60)
        assert theirs.get(pending.auth_id) is None
        assert mine.get(pending.auth_id) == pending
    finally:
        mine.close()
        theirs.close()


def test_open_pending_builds_each_kind(redis_url: str, redis_namespace: str) -> None:
    assert type(open_pending("memory")) is MemoryPendingStore
    assert type(open_pending("shared")) is SharedPendingStore
    store = open_pending(redis_url, namespace=redis_namespace)
    try:
        assert isinstance(store, RedisPendingStore) and store.shared
    finally:
        store.close()


@pytest.mark.parametrize("spec", ["", "redis", "mongodb://127.0.0.1/0", "Memory"])
def test_open_pending_refuses_unknown_specs_naming_the_setting(spec: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        open_pending(spec)
    assert caught.value.field == "MFALAB_PENDING"


def test_an_unreachable_redis_is_a_clear_error_without_the_password() -> None:
    with pytest.raises(StorageUnavailable) as caught:
        RedisPendingStore("redis://:hunter2@127.0.0.1:9/0")
    assert "not reachable" in str(caught.value)
    assert "hunter2" not in str(caught.value)
