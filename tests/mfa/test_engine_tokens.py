"""Imported OATH TOTP hardware tokens used through the engine."""

from __future__ import annotations

import pytest

from mfa import (
    Challenge,
    ConflictError,
    DenialReason,
    Engine,
    HardwareToken,
    ManualClock,
    MethodType,
)
from mfa.otp import new_totp_secret, totp_at


def tokens(n: int, **kwargs: object) -> list[HardwareToken]:
    return [HardwareToken(f"SN{i:04d}", new_totp_secret(), **kwargs) for i in range(n)]  # type: ignore[arg-type]


def test_import_is_all_or_nothing(engine: Engine, clock: ManualClock) -> None:
    first = tokens(3)
    assert engine.import_tokens(first) == ["SN0000", "SN0001", "SN0002"]
    stored = engine.repository.get_token("SN0001")
    assert stored is not None and stored.imported_at == clock.now()
    clash = [HardwareToken("NEW-1", new_totp_secret()), HardwareToken("SN0002", new_totp_secret())]
    with pytest.raises(ConflictError, match="SN0002"):
        engine.import_tokens(clash)
    assert engine.repository.get_token("NEW-1") is None


@pytest.mark.parametrize(
    ("algorithm", "digits", "period"), [("sha1", 6, 30), ("sha256", 8, 60), ("sha512", 6, 30)]
)
def test_token_parameters_from_the_file_are_used(
    engine: Engine, clock: ManualClock, algorithm: str, digits: int, period: int
) -> None:
    secret = new_totp_secret()
    engine.import_tokens([HardwareToken("T1", secret, period, digits, algorithm, "Acme")])
    engine.create_user("alice")
    method = engine.register_method("alice", "hardware_token", serial="T1")
    assert method.type is MethodType.HARDWARE_TOKEN and method.serial == "T1"
    assert engine.repository.get_token("T1").user_id == "alice"  # type: ignore[union-attr]
    clock.set(1_700_000_000.0 + 5)
    code = totp_at(secret, clock.now(), digits=digits, period=period, algorithm=algorithm)
    assert len(code) == digits
    c = engine.begin("alice")
    assert isinstance(c, Challenge) and c.method is MethodType.HARDWARE_TOKEN
    assert engine.verify(c.auth_id, code).ok
    again = engine.begin("alice")
    assert isinstance(again, Challenge)
    assert engine.verify(again.auth_id, code).reason is DenialReason.REPLAYED
    # a value computed with the default parameters is not accepted for this token
    if (algorithm, digits, period) != ("sha1", 6, 30):
        clock.advance(period)
        third = engine.begin("alice")
        assert isinstance(third, Challenge)
        assert not engine.verify(third.auth_id, totp_at(secret, clock.now())).ok


def test_a_token_belongs_to_one_user(engine: Engine) -> None:
    engine.import_tokens(tokens(1))
    engine.create_user("alice")
    engine.create_user("bob")
    engine.register_method("alice", "hardware_token", serial="SN0000")
    with pytest.raises(ConflictError, match="another user"):
        engine.register_method("bob", "hardware_token", serial="SN0000")


def test_registering_the_same_token_twice_does_not_reopen_its_used_steps(
    engine: Engine, clock: ManualClock
) -> None:
    (token,) = tokens(1)
    engine.import_tokens([token])
    engine.create_user("alice")
    engine.register_method("alice", "hardware_token", serial=token.serial)
    code = totp_at(token.secret, clock.now())
    c = engine.begin("alice")
    assert isinstance(c, Challenge)
    assert engine.verify(c.auth_id, code).ok
    engine.register_method("alice", "hardware_token", serial=token.serial, default=True)
    again = engine.begin("alice")
    assert isinstance(again, Challenge)
    assert engine.verify(again.auth_id, code).reason is DenialReason.REPLAYED
