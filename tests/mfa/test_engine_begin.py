"""Begin is all or nothing, and every begin and app-password check leaves its log record.

The order of a begin: count the send, store the pending code, write the log record, then
send. A store that fails leaves nothing behind (no message, no send counted) and the caller
is told the service is unavailable; a message no provider takes is logged
``delivery_failed`` and still counts. A disabled user is refused and not billed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from mfa import (
    AuthStatus,
    BillingModel,
    Challenge,
    DeliveryError,
    Denial,
    DenialReason,
    Engine,
    InMemoryRepository,
    ManualClock,
    MemoryPendingStore,
    MethodType,
    PendingAuth,
    ServiceUnavailable,
)
from mfa.app_passwords import AppPasswordHasher
from mfa.auth_log import AuthLogRecord
from mfa.delivery import SinkGateway
from mfa.delivery.message import Message, Receipt

PHONE = "+14255550100"


class BrokenStore(MemoryPendingStore):
    """A pending store whose writes fail (Redis down)."""

    backend = "redis"

    def put(self, pending: PendingAuth, *, keep_until: float) -> None:
        raise ConnectionError("redis is down")


class BrokenLog(InMemoryRepository):
    """A repository that cannot write log records (e.g. a value too wide for a column)."""

    backend = "database"

    def save_log(self, record: AuthLogRecord) -> None:
        raise ValueError("value too long for type character varying(64)")


class NoProvider:
    def send(self, message: Message) -> Receipt:
        raise DeliveryError("every provider refused the message")


def sms_user(engine: Engine) -> None:
    engine.create_user("alice", phone=PHONE)
    engine.register_method("alice", "sms")


@pytest.mark.parametrize(
    ("broken", "what"),
    [({"pending": BrokenStore()}, "redis"), ({"repository": BrokenLog()}, "database")],
)
def test_a_begin_that_cannot_be_stored_sends_nothing_and_gives_the_send_back(
    make_engine: Callable[..., Engine], sink: SinkGateway, broken: dict[str, Any], what: str
) -> None:
    engine = make_engine(**broken)
    sms_user(engine)
    for _ in range(engine.policy.max_sends + 1):
        with pytest.raises(ServiceUnavailable) as raised:
            engine.begin("alice")
        assert raised.value.what == what
    assert len(sink) == 0  # no SMS without a stored code
    assert engine.repository.get_state("alice").send_times == ()  # the quota is intact


def test_a_begin_no_provider_takes_is_logged_delivery_failed_and_counts(
    make_engine: Callable[..., Engine],
) -> None:
    engine = make_engine(gateway=NoProvider())
    sms_user(engine)
    with pytest.raises(DeliveryError):
        engine.begin("alice")
    [record] = engine.repository.logs()
    assert record.status is AuthStatus.DENIED
    assert record.reason is DenialReason.DELIVERY_FAILED
    assert record.completed_at is not None and record.phone == PHONE
    assert len(engine.repository.get_state("alice").send_times) == 1


def test_a_delivered_begin_logs_the_provider_that_took_it(
    engine: Engine, sink: SinkGateway, code_to: Callable[[str], str]
) -> None:
    sms_user(engine)
    challenge = engine.begin("alice")
    assert isinstance(challenge, Challenge) and challenge.provider == sink.name
    [record] = engine.repository.logs()
    assert record.status is AuthStatus.PENDING and record.provider == sink.name
    # the verify's record, made from the pending record (which does not hold the
    # provider), keeps it: the log merges an authentication's records
    assert engine.verify(challenge.auth_id, code_to(PHONE)).ok
    [record] = engine.repository.logs()
    assert record.status is AuthStatus.SUCCESS and record.provider == sink.name


def test_a_disabled_user_is_refused_and_not_billed(
    engine: Engine, sink: SinkGateway, clock: ManualClock
) -> None:
    sms_user(engine)
    engine.create_provider("p", BillingModel.PER_AUTH)
    engine.disable_user("alice")
    refused = engine.begin("alice")
    assert isinstance(refused, Denial) and refused.reason is DenialReason.USER_DISABLED
    assert len(sink) == 0
    verdict = engine.verify_app_password("alice", "abcd-efgh-ijkm-nopq")
    assert verdict.reason is DenialReason.USER_DISABLED
    records = engine.repository.logs()
    assert [r.reason for r in records] == [DenialReason.USER_DISABLED] * 2
    assert not any(r.billable for r in records)
    assert engine.usage("2023-11").authentications == 0


def test_each_app_password_check_is_one_billable_log_record(
    engine: Engine, clock: ManualClock
) -> None:
    engine.create_user("carol", email="carol@example.com")
    password = engine.create_app_password("carol")
    assert engine.verify_app_password("carol", password, client_ip="192.0.2.7").ok
    assert engine.verify_app_password("carol", "wrong-wron-wron-wron").reason == "wrong_code"
    records = engine.repository.logs()
    assert [(r.mode, r.status, r.reason) for r in records] == [
        (MethodType.APP_PASSWORD, AuthStatus.SUCCESS, None),
        (MethodType.APP_PASSWORD, AuthStatus.DENIED, DenialReason.WRONG_CODE),
    ]
    assert all(r.billable and r.unique_id == "carol" for r in records)
    assert records[0].client_ip == "192.0.2.7" and records[0].email == "carol@example.com"
    assert password not in repr(records)
    assert engine.usage("2023-11").authentications == 2


class CountingHasher(AppPasswordHasher):
    def __init__(self, inner: AppPasswordHasher) -> None:
        super().__init__()
        self._inner = inner
        self.verified: list[int] = []

    def hash(self, password: str) -> str:
        return self._inner.hash(password)

    def matches_any(self, password: str, hashes: list[str]) -> bool:
        self.verified.append(len(hashes))
        return self._inner.matches_any(password, hashes)


def test_a_user_without_app_passwords_still_costs_one_argon2_verification(
    make_engine: Callable[..., Engine], fast_hasher: AppPasswordHasher
) -> None:
    hasher = CountingHasher(fast_hasher)
    engine = make_engine(app_password_hasher=hasher)
    engine.create_user("dave")
    assert engine.verify_app_password("dave", "abcd-efgh-ijkm-nopq").reason == "wrong_code"
    assert engine.verify_app_password("nobody", "abcd-efgh-ijkm-nopq").reason == "wrong_code"
    assert hasher.verified == [1, 1]  # one hash checked each time, as for a user with one


def test_app_password_is_a_log_mode_not_a_method_to_register(engine: Engine) -> None:
    engine.create_user("erin")
    with pytest.raises(Exception, match="type"):
        engine.register_method("erin", "app_password")
