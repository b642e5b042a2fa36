"""Provider billing: the model lock and the usage the engine records (the seed's rules)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mfa import (
    BillingModel,
    BillingModelLocked,
    Challenge,
    ConflictError,
    Engine,
    InvalidInput,
    ManualClock,
    NotFound,
    RegistrationReason,
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


# ---------------------------------------------------------------------- dated facts


def test_a_closed_month_bill_never_changes(engine: Engine, clock: ManualClock) -> None:
    """Licensing, disabling or enrolling in February leaves January's bill as it was."""
    engine.create_provider("contoso", "per_user")
    clock.set(at(2024, 1, 10))
    for name in ("ann", "ben", "cat"):
        engine.create_user(name)
    engine.set_licensed("cat", True)
    january = engine.usage("2024-01")
    assert (january.enabled_users, january.licensed_users, january.billable_users) == (3, 1, 2)
    clock.set(at(2024, 2, 1, 0))  # the first second of February
    engine.set_licensed("ann", True)
    engine.set_licensed("cat", False)
    engine.disable_user("ben")
    engine.create_user("dan")
    assert engine.usage("2024-01") == january
    february = engine.usage("2024-02")
    # ann licensed, cat's licence removed, ben disabled at once (not enabled in February)
    assert (february.enabled_users, february.licensed_users) == (3, 1)


def test_each_licence_and_enablement_change_is_dated(engine: Engine, clock: ManualClock) -> None:
    clock.set(at(2024, 1, 10))
    engine.create_user("eve", licensed=True)
    clock.set(at(2024, 3, 15))
    engine.set_licensed("eve", False)  # licence removed in March: billed from March on
    clock.set(at(2024, 5, 15))
    engine.disable_user("eve")
    clock.set(at(2024, 7, 15))
    engine.enable_user("eve")
    billed = {m: engine.usage(f"2024-{m:02d}").billable_users for m in range(1, 9)}
    assert billed == {1: 0, 2: 0, 3: 1, 4: 1, 5: 1, 6: 0, 7: 1, 8: 1}
    # setting what already holds adds no history
    engine.set_licensed("eve", False)
    engine.enable_user("eve")
    changes = engine.repository.user_changes()
    assert [(c.fact.value, c.value, c.at) for c in changes] == [
        ("licensed", False, at(2024, 3, 15)),
        ("enabled", False, at(2024, 5, 15)),
        ("enabled", True, at(2024, 7, 15)),
    ]
    assert engine.get_user("eve").disabled_at is None


def test_a_licence_counts_at_the_end_of_the_month(engine: Engine, clock: ManualClock) -> None:
    """The rule: a user's licence is read at the last moment they were enabled in the month."""
    clock.set(at(2024, 4, 2))
    engine.create_user("gil")
    engine.create_user("hal", licensed=True)
    engine.create_user("ivy")
    clock.set(at(2024, 4, 20))
    engine.set_licensed("gil", True)  # licensed before the month ends: not billed per user
    engine.set_licensed("hal", False)  # licence removed: billed per user
    engine.set_licensed("ivy", True)
    clock.set(at(2024, 4, 25))
    engine.disable_user("ivy")  # disabled while licensed: its last enabled moment counts
    april = engine.usage("2024-04")
    assert (april.enabled_users, april.licensed_users, april.billable_users) == (3, 2, 1)


# ---------------------------------------------------------------------- provider history


def test_a_new_provider_for_another_model_keeps_the_old_one_in_the_history(
    engine: Engine, clock: ManualClock
) -> None:
    clock.set(at(2024, 1, 5))
    first = engine.create_provider("contoso", "per_user", tenant="t1")
    engine.create_user("ann", phone="+14255550100")
    engine.register_method("ann", "sms")
    clock.set(at(2024, 1, 20))
    sign_in_by(engine, "ann", "sms")
    with pytest.raises(BillingModelLocked, match="replace_provider"):
        engine.create_provider("fabrikam", "per_auth")
    clock.set(at(2024, 2, 10))
    move = engine.replace_provider("fabrikam", "per_auth", tenant="t1")
    assert move.settings_carried  # same tenant: the user keeps her methods
    assert engine.repository.list_methods("ann")
    clock.set(at(2024, 2, 20))
    sign_in_by(engine, "ann", "sms")
    history = engine.repository.accounts()
    assert [(a.name, a.model, a.ended_at) for a in history] == [
        ("contoso", BillingModel.PER_USER, at(2024, 2, 10)),
        ("fabrikam", BillingModel.PER_AUTH, None),
    ]
    assert history[0].created_at == first.created_at
    january = engine.usage("2024-01")
    assert january.model is BillingModel.PER_USER
    assert [(p.name, p.billed) for p in january.providers] == [("contoso", 1)]
    february = engine.usage("2024-02")
    assert february.model is BillingModel.PER_AUTH
    # each provider bills what happened while it was active: the user for contoso's part of
    # the month, the one authentication after the switch for fabrikam
    assert [(p.name, p.model, p.billed) for p in february.providers] == [
        ("contoso", BillingModel.PER_USER, 1),
        ("fabrikam", BillingModel.PER_AUTH, 1),
    ]
    assert engine.usage("2024-03").providers[0].name == "fabrikam"
    with pytest.raises(ConflictError, match="contoso"):
        engine.replace_provider("contoso", "per_user")  # a name is never reused


def test_the_provider_is_deleted_only_once_every_enabled_user_is_licensed(
    engine: Engine, clock: ManualClock
) -> None:
    with pytest.raises(NotFound):
        engine.delete_provider()
    clock.set(at(2024, 6, 3))
    engine.create_provider("contoso", "per_user")
    for name in ("a", "b", "c"):
        engine.create_user(name)
    engine.set_licensed("a", True)
    with pytest.raises(ConflictError, match="2 enabled user\\(s\\) have no licence"):
        engine.delete_provider()
    engine.set_licensed("b", True)
    clock.set(at(2024, 6, 5))
    engine.disable_user("c")  # disabled users need no licence
    clock.set(at(2024, 6, 10))
    deleted = engine.delete_provider()
    assert deleted.ended_at == at(2024, 6, 10)
    assert engine.repository.get_account() is None
    june = engine.usage("2024-06")
    # c was enabled unlicensed until the 5th: billed by contoso for June
    assert [(p.name, p.billed) for p in june.providers] == [("contoso", 1)]
    assert engine.usage("2024-07").providers == ()
    assert engine.usage("2024-07").model is None
    # "you can always create another per-user provider"
    engine.create_provider("contoso-2", "per_user")
    assert engine.repository.get_account().name == "contoso-2"


def test_relinking_to_another_tenant_carries_no_user_settings(
    engine: Engine, clock: ManualClock
) -> None:
    engine.create_provider("contoso", "per_user", tenant="tenant-a")
    engine.create_user("kim", phone="+14255550100")
    engine.register_method("kim", "sms")
    from mfa.push_proof import PushDevice

    key = PushDevice.generate().public_key
    engine.register_method("kim", "push", device_token="device-token-kim", public_key=key)
    engine.create_user("lee")  # no methods yet
    move = engine.relink_provider("tenant-b")
    assert not move.settings_carried
    assert (move.methods_removed, move.users_to_register, move.push_deactivated) == (2, 1, 1)
    assert move.provider.tenant == "tenant-b"
    assert engine.repository.get_account().tenant == "tenant-b"
    assert list(engine.repository.list_methods("kim")) == []
    assert RegistrationReason.NO_METHOD_REGISTERED in engine.registration_required("kim")
    assert not isinstance(engine.begin("kim", "sms"), Challenge)
    engine.register_method("kim", "sms")  # registered again: works
    assert isinstance(engine.begin("kim", "sms"), Challenge)
    # the same tenant again: nothing to move
    again = engine.relink_provider("tenant-b")
    assert (again.methods_removed, again.push_deactivated) == (0, 0)


def test_a_user_disabled_before_the_history_was_kept_keeps_their_disabled_months(
    engine: Engine, clock: ManualClock
) -> None:
    """A record of an earlier version: disabled_at set, no dated history."""
    from dataclasses import replace

    clock.set(at(2024, 1, 10))
    engine.create_user("old")
    user = engine.get_user("old")
    engine.repository.save_user(replace(user, disabled_at=at(2024, 2, 10)))
    assert [engine.usage(f"2024-0{m}").enabled_users for m in (1, 2, 3)] == [1, 1, 0]
    clock.set(at(2024, 5, 10))
    engine.enable_user("old")
    assert [engine.usage(f"2024-0{m}").enabled_users for m in (1, 2, 3, 4, 5)] == [1, 1, 0, 0, 1]


_ACTIONS = st.lists(
    st.tuples(
        st.sampled_from(["licence", "unlicence", "disable", "enable", "create"]),
        st.integers(0, 5),  # which user
        st.integers(1, 40 * 86_400),  # seconds after the previous action
    ),
    max_size=40,
)


@settings(max_examples=60, deadline=None)
@given(before=_ACTIONS, after=_ACTIONS)
def test_no_later_change_alters_a_closed_month(
    before: list[tuple[str, int, int]], after: list[tuple[str, int, int]]
) -> None:
    """Whatever is done after March ends, March's usage is the same (a property)."""
    from mfa import InMemoryRepository, MemoryPendingStore, ServerIdentity
    from mfa.delivery import SinkGateway

    clock = ManualClock(at(2024, 1, 1, 0))
    engine = Engine(
        server=ServerIdentity("mfa1"),
        clock=clock,
        repository=InMemoryRepository(),
        pending=MemoryPendingStore(),
        gateway=SinkGateway(),
        secret_key=b"0123456789abcdef0123456789abcdef",
    )
    march_end = at(2024, 4, 1, 0)

    def play(actions: list[tuple[str, int, int]], until: float | None) -> None:
        for action, n, gap in actions:
            when = clock.now() + gap
            if until is not None and when >= until:
                return
            clock.set(when)
            name = f"u{n}"
            if engine.repository.get_user(name) is None:
                engine.create_user(name, licensed=action == "licence")
                continue
            if action in ("licence", "unlicence"):
                engine.set_licensed(name, action == "licence")
            elif action in ("disable", "enable"):
                engine.set_enabled(name, action == "enable")

    play(before, until=march_end)
    clock.set(max(clock.now(), march_end))
    closed = engine.usage("2024-03")
    play(after, until=None)
    assert engine.usage("2024-03") == closed
