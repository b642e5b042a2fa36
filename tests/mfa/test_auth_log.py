"""The authentication log: the seed's fields, one record per authentication, no secrets."""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import re
from collections.abc import Callable

import numpy as np
import pytest

from mfa import (
    AuthLogRecord,
    AuthStatus,
    Challenge,
    DenialReason,
    Engine,
    HardwareToken,
    ManualClock,
    MethodType,
    Policy,
    SeededEntropy,
)
from mfa.auth_log import LOG_FIELDS
from mfa.delivery import SinkGateway
from mfa.otp import new_totp_secret, totp_at
from tests.mfa.conftest import PUSH_KEY, answer_push

US = "+14255550100"

#: The seed's list of fields in two-step verification logs, by our names.
SEED_FIELDS = {
    "unique_id": "Unique ID",
    "first_name": "First and Last Name (optional)",
    "last_name": "First and Last Name (optional)",
    "email": "Email Address (optional)",
    "phone": "Phone Number (voice call or SMS)",
    "device_token": "Device Token (mobile app)",
    "mode": "Authentication Mode",
    "result": "Authentication Result",
    "reason": "the reason if it was denied",
    "server_name": "Multi-Factor Authentication Server Name",
    "server_ip": "Multi-Factor Authentication Server IP",
    "client_ip": "Client IP (if available)",
}


def test_the_log_has_the_seeds_fields_and_the_lab_extras() -> None:
    assert set(SEED_FIELDS) <= set(LOG_FIELDS)
    extras = {"auth_id", "status", "began_at", "completed_at", "attempts", "sender", "provider"}
    assert extras <= set(LOG_FIELDS)
    assert LOG_FIELDS[-1] == "result"


def record_of(engine: Engine, auth_id: str) -> AuthLogRecord:
    matches = [r for r in engine.repository.logs() if r.auth_id == auth_id]
    assert len(matches) == 1
    return matches[0]


def test_an_sms_record(
    make_engine: Callable[..., Engine], clock: ManualClock, code_to: Callable[[str], str]
) -> None:
    engine = make_engine("mfa3", ip="10.1.2.3")
    engine.create_user(
        "alice@contoso.com",
        first_name="Alice",
        last_name="Liddell",
        email="alice@contoso.com",
        phone=US,
    )
    engine.register_method("alice@contoso.com", "sms")
    began = clock.now()
    c = engine.begin("alice@contoso.com", client_ip="203.0.113.9")
    assert isinstance(c, Challenge)
    pending = record_of(engine, c.auth_id)
    assert (pending.status, pending.result, pending.completed_at) == (
        AuthStatus.PENDING,
        "pending",
        None,
    )
    clock.advance(17)
    engine.verify(c.auth_id, "nope")
    engine.verify(c.auth_id, code_to(US))
    row = record_of(engine, c.auth_id).to_dict()
    assert row == {
        "auth_id": c.auth_id,
        "unique_id": "alice@contoso.com",
        "first_name": "Alice",
        "last_name": "Liddell",
        "email": "alice@contoso.com",
        "phone": US,
        "device_token": None,
        "mode": "sms",
        "status": "success",
        "result": "success",
        "reason": None,
        "server_name": "mfa3",
        "server_ip": "10.1.2.3",
        "client_ip": "203.0.113.9",
        "began_at": began,
        "completed_at": began + 17,
        "attempts": 2,
        "sender": c.sender,
        "provider": "sink",
        "billable": True,
        "fraud_rule": None,
    }
    assert set(row) == set(LOG_FIELDS)


def test_a_push_record_has_the_device_token_fingerprint_and_no_phone(engine: Engine) -> None:
    engine.create_user("bob", phone=US)
    engine.register_method("bob", "push", device_token="device-token-bob", public_key=PUSH_KEY)
    c = engine.begin("bob")
    assert isinstance(c, Challenge)
    answer_push(engine, c, False)
    record = record_of(engine, c.auth_id)
    # the seed's "device token", shown as the first 8 hex characters of its SHA-256
    assert (record.mode, record.device_token, record.phone) == (
        MethodType.PUSH,
        hashlib.sha256(b"device-token-bob").hexdigest()[:8],
        None,
    )
    assert (record.result, record.reason) == ("denied", DenialReason.USER_DENIED)


def test_optional_fields_can_be_left_out(make_engine: Callable[..., Engine]) -> None:
    engine = make_engine(policy=Policy(log_names=False, log_email=False))
    engine.create_user("carol", first_name="Carol", last_name="C", email="c@example.org")
    engine.register_method("carol", "totp")
    c = engine.begin("carol")
    assert isinstance(c, Challenge)
    engine.verify(c.auth_id, "000000")
    engine.begin("carol", "sms")  # a refusal is logged the same way
    for record in engine.repository.logs():
        assert (record.first_name, record.last_name, record.email) == (None, None, None)


def test_refused_begins_are_logged_as_denied_and_not_billable(engine: Engine) -> None:
    engine.begin("ghost", client_ip="192.0.2.1")
    (record,) = engine.repository.logs()
    assert (record.unique_id, record.result, record.reason, record.billable) == (
        "ghost",
        "denied",
        DenialReason.REGISTRATION_REQUIRED,
        False,
    )
    assert record.client_ip == "192.0.2.1"
    assert record.completed_at == record.began_at


def test_one_record_per_authentication(engine: Engine, code_to: Callable[[str], str]) -> None:
    engine.create_user("dan", phone=US)
    engine.register_method("dan", "sms")
    ids = []
    for _ in range(3):
        c = engine.begin("dan")
        assert isinstance(c, Challenge)
        ids.append(c.auth_id)
        for _ in range(3):
            engine.verify(c.auth_id, "x")
        engine.verify(c.auth_id, code_to(US))
    engine.clock.advance(1000)  # type: ignore[attr-defined]
    engine.verify(ids[0], "x")
    assert sorted(r.auth_id for r in engine.repository.logs()) == sorted(ids)
    assert [r.attempts for r in engine.repository.logs()] == [4, 4, 4]


def test_expiry_is_written_to_the_record(engine: Engine, code_to: Callable[[str], str]) -> None:
    engine.create_user("eve", phone=US)
    engine.register_method("eve", "sms")
    c = engine.begin("eve")
    assert isinstance(c, Challenge)
    engine.clock.advance(301)  # type: ignore[attr-defined]
    engine.verify(c.auth_id, code_to(US))
    record = record_of(engine, c.auth_id)
    assert (record.status, record.reason, record.result) == (
        AuthStatus.EXPIRED,
        DenialReason.EXPIRED,
        "denied",
    )


def test_records_convert_to_a_dataframe(engine: Engine) -> None:
    import pandas as pd

    engine.create_user("fay")
    engine.register_method("fay", "totp")
    engine.begin("fay")
    engine.begin("nobody")
    frame = pd.DataFrame([r.to_dict() for r in engine.repository.logs()])
    assert list(frame.columns) == list(LOG_FIELDS)
    assert list(frame["result"]) == ["pending", "denied"]


def _whole_number(code: str) -> re.Pattern[str]:
    return re.compile(rf"(?<![0-9]){re.escape(code)}(?![0-9])")


def test_no_code_secret_or_password_appears_in_any_record(
    make_engine: Callable[..., Engine],
    clock: ManualClock,
    sink: SinkGateway,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Run every kind of flow, then scan every field of every record (and any log output)."""
    caplog.set_level(logging.DEBUG)
    engine = make_engine(entropy=SeededEntropy(np.random.default_rng(2024)))
    codes: set[str] = set()  # every code sent or typed
    secrets: set[str] = set()  # TOTP secrets, token secrets, app passwords

    engine.create_user("alice", first_name="Alice", email="alice@example.org", phone=US)
    engine.register_method("alice", "sms")
    engine.register_method("alice", "voice")
    totp = engine.register_method("alice", "totp")
    secrets.add(totp.secret or "")
    token_secret = new_totp_secret()
    secrets.add(token_secret)
    engine.import_tokens([HardwareToken("HW-0001", token_secret, period=60, digits=8)])
    engine.register_method("alice", "hardware_token", serial="HW-0001")
    engine.register_method("alice", "push", device_token="device-token-alice", public_key=PUSH_KEY)
    secrets.add("device-token-alice")  # a delivery address, not to be read from the log

    for method in ("sms", "voice"):
        for outcome in ("wrong", "right", "replay"):
            c = engine.begin("alice", method)
            assert isinstance(c, Challenge)
            sent = sink.messages_to(US)[0].code or ""
            codes.add(sent)
            wrong = f"{(int(sent) + 7) % 10**6:06d}"
            codes.add(wrong)
            engine.verify(c.auth_id, wrong if outcome == "wrong" else sent)
            if outcome == "replay":
                engine.verify(c.auth_id, sent)
            clock.advance(70)
    for _ in range(2):
        c = engine.begin("alice", "totp")
        assert isinstance(c, Challenge)
        typed = totp_at(totp.secret or "", clock.now())
        codes.add(typed)
        engine.verify(c.auth_id, typed)
    c = engine.begin("alice", "hardware_token")
    assert isinstance(c, Challenge)
    typed = totp_at(token_secret, clock.now(), digits=8, period=60)
    codes.add(typed)
    assert engine.verify(c.auth_id, typed).ok
    c = engine.begin("alice", "push")
    assert isinstance(c, Challenge)
    answer_push(engine, c)
    password = engine.create_app_password("alice")
    secrets.add(password)
    engine.verify_app_password("alice", password)
    engine.verify_app_password("alice", "wrong-password")
    for _ in range(6):
        engine.begin("alice", "sms")  # rate limited in the end
    clock.advance(400)
    c = engine.begin("alice", "sms")
    assert isinstance(c, Challenge)
    codes.add(sink.messages_to(US)[0].code or "")
    clock.advance(400)
    engine.verify(c.auth_id, sink.messages_to(US)[0].code or "")  # expired

    records = engine.repository.logs()
    assert len(records) >= 12
    assert all(len(code) >= 6 for code in codes) and all(len(s) >= 16 for s in secrets)
    for record in records:
        texts = [repr(record), *(str(v) for v in record.to_dict().values())]
        texts += [str(getattr(record, f.name)) for f in dataclasses.fields(record)]
        for text in texts:
            for code in codes:
                assert not _whole_number(code).search(text), (code, text)
            for secret in secrets:
                assert secret not in text and secret.lower() not in text.lower()
    for secret in secrets:
        assert secret not in caplog.text
    for code in codes:
        assert not _whole_number(code).search(caplog.text)


def test_a_repository_that_keeps_no_log_gets_no_records(
    make_engine: Callable[..., Engine], code_to: Callable[[str], str]
) -> None:
    """The simulator's setting: the same verdicts, and no log records built or stored."""
    from mfa import InMemoryRepository

    class NoLog(InMemoryRepository):
        def save_log(self, record: AuthLogRecord) -> None:
            raise AssertionError("no record should be sent")

    engine = make_engine(repository=NoLog(keep_logs=False))
    engine.create_user("gil", phone=US)
    engine.register_method("gil", "sms")
    c = engine.begin("gil")
    assert isinstance(c, Challenge)
    assert engine.verify(c.auth_id, "x").reason is DenialReason.WRONG_CODE
    assert engine.verify(c.auth_id, code_to(US)).ok
    assert engine.begin("nobody").reason is DenialReason.REGISTRATION_REQUIRED  # type: ignore[union-attr]
    assert engine.repository.logs() == []
