"""Server affinity of pending codes.

The seed: "only the one that processed the original authentication request knows the
verification code … If the code validation is sent to a different server, the
authentication is denied." In cloud mode every server sees every pending code.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mfa import (
    AuthStatus,
    Challenge,
    DenialReason,
    Engine,
    InMemoryRepository,
    ManualClock,
    MemoryPendingStore,
    Mode,
    Policy,
    ServerIdentity,
    SharedPendingStore,
    parse_auth_id,
)
from mfa.delivery import SinkGateway
from tests.mfa.conftest import PUSH_KEY, answer_push

US = "+14255550100"
EngineFactory = Callable[..., Engine]


def two_servers(make_engine: EngineFactory, *, cloud: bool) -> tuple[Engine, Engine]:
    db = InMemoryRepository()
    if cloud:
        shared = SharedPendingStore()
        policy = Policy(mode=Mode.CLOUD)
        return (
            make_engine("mfa1", repository=db, pending=shared, policy=policy, ip="10.0.0.1"),
            make_engine("mfa2", repository=db, pending=shared, policy=policy, ip="10.0.0.2"),
        )
    return (
        make_engine("mfa1", repository=db, pending=MemoryPendingStore(), ip="10.0.0.1"),
        make_engine("mfa2", repository=db, pending=MemoryPendingStore(), ip="10.0.0.2"),
    )


def test_server_mode_only_the_issuing_server_validates(
    make_engine: EngineFactory, code_to: Callable[[str], str]
) -> None:
    mfa1, mfa2 = two_servers(make_engine, cloud=False)
    mfa1.create_user("alice", phone=US)
    mfa1.register_method("alice", "sms")
    c = mfa1.begin("alice")
    assert isinstance(c, Challenge)
    assert parse_auth_id(c.auth_id) == ("mfa1", c.auth_id.split(".", 1)[1])
    code = code_to(US)
    for _ in range(7):  # more than the attempt cap: the other server's refusals cost nothing
        verdict = mfa2.verify(c.auth_id, code)
        assert verdict.reason is DenialReason.WRONG_SERVER
        assert verdict.auth_id == c.auth_id  # so a router can send it to mfa1
    assert mfa1.verify(c.auth_id, code).ok
    # the record on the shared repository names the issuing server
    record = next(r for r in mfa1.repository.logs() if r.auth_id == c.auth_id)
    assert (record.server_name, record.server_ip) == ("mfa1", "10.0.0.1")
    assert record.status is AuthStatus.SUCCESS
    assert record.attempts == 1


def test_server_mode_push_answer_on_the_wrong_server(make_engine: EngineFactory) -> None:
    mfa1, mfa2 = two_servers(make_engine, cloud=False)
    mfa1.create_user("bob")
    mfa1.register_method("bob", "push", device_token="device-token-bob", public_key=PUSH_KEY)
    c = mfa2.begin("bob")
    assert isinstance(c, Challenge)
    assert answer_push(mfa1, c).reason is (DenialReason.WRONG_SERVER)
    assert answer_push(mfa2, c).ok


def test_cloud_mode_any_server_validates(
    make_engine: EngineFactory, code_to: Callable[[str], str]
) -> None:
    mfa1, mfa2 = two_servers(make_engine, cloud=True)
    mfa1.create_user("alice", phone=US)
    mfa1.register_method("alice", "sms")
    c = mfa1.begin("alice")
    assert isinstance(c, Challenge)
    assert c.expires_in == 180
    assert mfa2.status(c.auth_id).status is AuthStatus.PENDING
    wrong = f"{(int(code_to(US)) + 1) % 10**6:06d}"
    assert mfa1.verify(c.auth_id, wrong).reason is DenialReason.WRONG_CODE
    verdict = mfa2.verify(c.auth_id, code_to(US))
    assert verdict.ok
    # the transaction is finished everywhere: attempts counted across servers, no replay
    assert mfa1.verify(c.auth_id, code_to(US)).reason is DenialReason.REPLAYED
    record = next(r for r in mfa1.repository.logs() if r.auth_id == c.auth_id)
    assert record.attempts == 2
    assert (record.server_name, record.server_ip) == ("mfa1", "10.0.0.1")


def test_cloud_mode_attempt_cap_spans_servers(
    make_engine: EngineFactory, code_to: Callable[[str], str]
) -> None:
    mfa1, mfa2 = two_servers(make_engine, cloud=True)
    mfa1.create_user("alice", phone=US)
    mfa1.register_method("alice", "sms")
    c = mfa1.begin("alice")
    assert isinstance(c, Challenge)
    for i in range(5):
        assert (mfa1 if i % 2 else mfa2).verify(c.auth_id, "x").reason is DenialReason.WRONG_CODE
    assert mfa2.verify(c.auth_id, code_to(US)).reason is DenialReason.TOO_MANY_ATTEMPTS


def test_cloud_mode_expiry_is_the_same_on_every_server(
    make_engine: EngineFactory, clock: ManualClock, code_to: Callable[[str], str]
) -> None:
    mfa1, mfa2 = two_servers(make_engine, cloud=True)
    mfa1.create_user("alice", phone=US)
    mfa1.register_method("alice", "sms")
    c = mfa1.begin("alice")
    assert isinstance(c, Challenge)
    clock.advance(180)
    assert mfa2.verify(c.auth_id, code_to(US)).reason is DenialReason.EXPIRED


def test_a_restarted_server_has_forgotten_its_codes(
    make_engine: EngineFactory, code_to: Callable[[str], str]
) -> None:
    """Server mode keeps codes in memory only: a new process (a new store) cannot validate."""
    db = InMemoryRepository()
    before = make_engine("mfa1", repository=db)
    before.create_user("alice", phone=US)
    before.register_method("alice", "sms")
    c = before.begin("alice")
    assert isinstance(c, Challenge)
    after = make_engine("mfa1", repository=db, pending=MemoryPendingStore())
    assert after.verify(c.auth_id, code_to(US)).reason is DenialReason.UNKNOWN_AUTH


@pytest.mark.parametrize("name", ["MFA1", "mfa_1", "", "-x", "a.b"])
def test_server_names_must_fit_in_an_auth_id(name: str) -> None:
    with pytest.raises(ValueError, match="server name"):
        ServerIdentity(name)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    servers=st.lists(
        st.from_regex(r"[a-z][a-z0-9-]{0,10}", fullmatch=True), min_size=2, max_size=4, unique=True
    ),
    issuer=st.integers(min_value=0, max_value=3),
    guesses=st.lists(st.from_regex(r"[0-9]{6}", fullmatch=True), max_size=3),
)
def test_in_server_mode_a_code_is_never_accepted_by_another_server(
    servers: list[str], issuer: int, guesses: list[str]
) -> None:
    clock = ManualClock(1_700_000_000.0)
    sink = SinkGateway()
    db = InMemoryRepository()
    engines = [
        Engine(
            server=ServerIdentity(name),
            clock=clock,
            repository=db,
            pending=MemoryPendingStore(),
            gateway=sink,
            secret_key=b"0123456789abcdef0123456789abcdef",
        )
        for name in servers
    ]
    home = engines[issuer % len(engines)]
    home.create_user("u", phone=US)
    home.register_method("u", "sms")
    c = home.begin("u")
    assert isinstance(c, Challenge)
    code = sink.messages_to(US)[0].code or ""
    for other in engines:
        if other is home:
            continue
        for attempt in [code, *guesses]:
            assert other.verify(c.auth_id, attempt).reason is DenialReason.WRONG_SERVER
    assert home.verify(c.auth_id, code).ok
