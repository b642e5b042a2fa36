"""Provider billing: the model lock and the usage the engine records (the seed's rules)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from mfa import (
    BillingModel,
    BillingModelLocked,
    Challenge,
    ConflictError,
    Engine,
    InvalidInput,
    ManualClock,
    NotFound,
)
from mfa.billing import month_bounds
from tests.mfa.conftest import PUSH_KEY


def at(year: int, month: int, day: int, hour: int = 12) -> float:
    return datetime(year, month, day, hour, tzinfo=UTC).timestamp()


def test_month_bounds() -> None:
    assert month_bounds("2024-02") == (at(2024, 2, 1, 0), at(2024, 3, 1, 0))
    assert month_bounds("2023-12") == (at(2023, 12, 1, 0), at(2024, 1, 1, 0))
    for bad in ("2024", "2024-13", "24-1x", ""):
        with pytest.raises(ValueError, match="YYYY-MM"):
            month_bounds(bad)


def test_provider_is_created_with_a_model_that_never_changes(engine: Engine) -> None:
    with pytest.raises(NotFound):
        engine.change_billing_model("per_auth")
    with pytest.raises(InvalidInput, match="model"):
        engine.create_provider("contoso", "per_minute")
    account = engine.create_provider("contoso", "per_user")
    assert account.model is BillingModel.PER_USER
    with pytest.raises(BillingModelLocked, match="can't be changed"):
        engine.change_billing_model("per_auth")
    with pytest.raises(BillingModelLocked):
        engine.create_provider("contoso", BillingModel.PER_AUTH)
    with pytest.raises(ConflictError):
        engine.create_provider("contoso", "per_user")
    engine.change_billing_model("per_user")  # no change, no error
    assert engine.repository.get_account() == account
    assert issubclass(BillingModelLocked, ConflictError)  # a 409 for the HTTP layer


def sign_in_by(engine: Engine, user_id: str, method: str) -> None:
    outcome = engine.begin(user_id, method)
    assert isinstance(outcome, Challenge), outcome


def test_usage_counts_enabled_users_licences_and_every_authentication(
    engine: Engine, clock: ManualClock
) -> None:
    engine.create_provider("contoso", "per_auth")
    clock.set(at(2024, 3, 5))
    engine.create_user("alice", phone="+14255550100")  # authenticates by sms
    engine.create_user("bob", licensed=True)  # licensed, authenticates by app
    engine.create_user("carol")  # enabled, never authenticates
    engine.register_method("alice", "sms")
    engine.register_method("alice", "voice")
    engine.register_method("bob", "push", device_token="device-token-bob", public_key=PUSH_KEY)
    engine.register_method("bob", "totp")
    clock.set(at(2024, 3, 10))
    sign_in_by(engine, "alice", "sms")
    sign_in_by(engine, "alice", "voice")
    sign_in_by(engine, "bob", "push")
    sign_in_by(engine, "bob", "totp")
    # refused before reaching the service: not billed
    assert not isinstance(engine.begin("carol"), Challenge)
    assert not isinstance(engine.begin("alice", "push"), Challenge)
    assert not isinstance(engine.begin("nobody"), Challenge)
    clock.set(at(2024, 3, 31, 23))
    sign_in_by(engine, "bob", "totp")
    clock.set(at(2024, 4, 1, 0))  # first second of April
    sign_in_by(engine, "bob", "totp")
    engine.create_user("dan")  # enabled in April only

    march = engine.usage("2024-03")
    assert march.model is BillingModel.PER_AUTH
    assert (march.enabled_users, march.licensed_users, march.billable_users) == (3, 1, 2)
    # per authentication: every one, whatever the method, licensed or not
    assert march.authentications == 5
    april = engine.usage("2024-04")
    assert (april.enabled_users, april.authentications) == (4, 1)
    assert engine.usage("2024-02").enabled_users == 0


def test_disabled_users_stop_counting_after_their_last_month(
    engine: Engine, clock: ManualClock
) -> None:
    clock.set(at(2024, 1, 15))
    engine.create_user("erin")
    engine.create_user("frank")
    clock.set(at(2024, 2, 10))
    engine.disable_user("erin")
    assert engine.usage("2024-01").enabled_users == 2
    assert engine.usage("2024-02").enabled_users == 2  # enabled for part of February
    assert engine.usage("2024-03").enabled_users == 1


def test_licences_can_be_assigned_later(engine: Engine, clock: ManualClock) -> None:
    clock.set(at(2024, 5, 2))
    engine.create_provider("contoso", "per_user")
    for name in ("a", "b", "c"):
        engine.create_user(name)
    assert engine.usage("2024-05").billable_users == 3
    engine.set_licensed("a", True)
    engine.set_licensed("b", True)
    usage = engine.usage("2024-05")
    assert (usage.licensed_users, usage.billable_users) == (2, 1)
    assert engine.get_user("a").licensed


def test_usage_without_a_provider_has_no_model(engine: Engine) -> None:
    assert engine.usage("2023-11").model is None
    with pytest.raises(ValueError):
        engine.usage("November")


def test_relink_needs_a_provider(engine: Engine) -> None:
    with pytest.raises(NotFound):
        engine.relink_provider("tenant-b")
