"""One contract for every repository: in memory, SQLite file, PostgreSQL.

The engine relies only on the ``Repository`` protocol, so each implementation must behave
the same way; every test here runs on all three (PostgreSQL is mandatory in CI).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from itertools import permutations
from pathlib import Path

import pytest

from mfa import (
    AuthLogRecord,
    AuthStatus,
    BillingModel,
    ConflictError,
    DenialReason,
    HardwareToken,
    InMemoryRepository,
    MethodType,
    ProviderAccount,
    RegisteredMethod,
    RegistrationReason,
    Repository,
    User,
)
from mfa.security_state import SecurityState
from mfa.storage.crypto import derive_key
from mfa.storage.sql import SqlRepository
from mfa.users import UserChange, UserFact

KEY = derive_key("contract-test passphrase 0001")
T0 = 1_700_000_000.0


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def repo(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Repository]:
    if request.param == "memory":
        yield InMemoryRepository()
        return
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'repo.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
    sql = SqlRepository(url, secret_key=KEY)
    try:
        yield sql
    finally:
        sql.close()


def _user(user_id: str, **kw: object) -> User:
    return User(user_id=user_id, **kw)  # type: ignore[arg-type]


def _method(method_id: str, user_id: str = "alice", **kw: object) -> RegisteredMethod:
    kw.setdefault("type", MethodType.SMS)
    return RegisteredMethod(method_id=method_id, user_id=user_id, **kw)  # type: ignore[arg-type]


def _log(auth_id: str, began_at: float, **kw: object) -> AuthLogRecord:
    kw.setdefault("status", AuthStatus.PENDING)
    return AuthLogRecord(
        auth_id=auth_id,
        unique_id="alice",
        mode=MethodType.SMS,
        server_name="mfa1",
        server_ip="10.0.0.1",
        began_at=began_at,
        **kw,  # type: ignore[arg-type]
    )


# ---------------------------------------------------------------------- users


def test_user_round_trips_with_every_field(repo: Repository) -> None:
    user = User(
        user_id="alice",
        first_name="Alice",
        last_name="Ngọc Lê",
        email="alice@example.com",
        phone="+14255550100",
        country="US",
        licensed=True,
        enabled_at=T0 + 0.25,
        disabled_at=T0 + 86_400.5,
        pending_registration=frozenset(
            {RegistrationReason.ADMIN_RESET, RegistrationReason.REGISTRATION_POLICY}
        ),
    )
    repo.add_user(user)
    assert repo.get_user("alice") == user
    assert repo.get_user("bob") is None


def test_adding_an_existing_user_conflicts_and_keeps_the_first(repo: Repository) -> None:
    repo.add_user(_user("alice", first_name="First"))
    with pytest.raises(ConflictError, match="alice"):
        repo.add_user(_user("alice", first_name="Second"))
    assert repo.get_user("alice") == _user("alice", first_name="First")


def test_save_user_replaces_or_creates(repo: Repository) -> None:
    repo.add_user(_user("alice"))
    changed = _user("alice", licensed=True, pending_registration=frozenset())
    repo.save_user(changed)
    repo.save_user(_user("bob", email="bob@example.com"))
    assert repo.get_user("alice") == changed
    assert repo.get_user("bob") == _user("bob", email="bob@example.com")
    assert {u.user_id for u in repo.iter_users()} == {"alice", "bob"}


# ---------------------------------------------------------------------- methods


def test_methods_keep_registration_order_and_every_field(repo: Repository) -> None:
    sms = _method("m-1", phone="+14255550100", is_default=True, created_at=T0)
    totp = _method("m-2", type=MethodType.TOTP, secret="JBSWY3DPEHPK3PXP", created_at=T0 + 1)
    push = _method("m-3", type=MethodType.PUSH, device_token="device-token-123", activated=True)
    hw = _method("m-4", type=MethodType.HARDWARE_TOKEN, serial="HW-0001")
    for method in (sms, totp, push, hw):
        repo.add_method(method)
    repo.add_method(_method("m-9", user_id="bob"))
    assert list(repo.list_methods("alice")) == [sms, totp, push, hw]
    assert list(repo.list_methods("carol")) == []


def test_save_method_replaces_in_place_or_appends(repo: Repository) -> None:
    repo.add_method(_method("m-1", is_default=True))
    repo.add_method(_method("m-2", type=MethodType.PUSH))
    activated = _method("m-2", type=MethodType.PUSH, device_token="tok-12345678", activated=True)
    repo.save_method(activated)
    repo.save_method(_method("m-3", type=MethodType.VOICE))
    assert [m.method_id for m in repo.list_methods("alice")] == ["m-1", "m-2", "m-3"]
    assert repo.list_methods("alice")[1] == activated


def test_delete_methods_removes_only_that_users(repo: Repository) -> None:
    repo.add_method(_method("m-1"))
    repo.add_method(_method("m-2", type=MethodType.TOTP, secret="JBSWY3DPEHPK3PXP"))
    repo.add_method(_method("m-3", user_id="bob"))
    assert repo.delete_methods("alice") == 2
    assert repo.delete_methods("alice") == 0
    assert list(repo.list_methods("alice")) == []
    assert [m.method_id for m in repo.list_methods("bob")] == ["m-3"]


# ---------------------------------------------------------------------- hardware tokens


def test_tokens_round_trip_and_save_assigns(repo: Repository) -> None:
    token = HardwareToken(
        serial="HW-0001",
        secret="GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ",
        period=60,
        digits=8,
        algorithm="sha256",
        manufacturer="Acme",
        imported_at=T0,
    )
    repo.add_tokens([token, HardwareToken(serial="HW-0002", secret="JBSWY3DPEHPK3PXP")])
    assert repo.get_token("HW-0001") == token
    assert repo.get_token("HW-9999") is None
    assigned = HardwareToken(**{**_fields(token), "user_id": "alice"})
    repo.save_token(assigned)
    assert repo.get_token("HW-0001") == assigned


def test_add_tokens_is_all_or_nothing_and_names_every_clash(repo: Repository) -> None:
    repo.add_tokens([HardwareToken(serial=s, secret="JBSWY3DPEHPK3PXP") for s in ("HW-1", "HW-2")])
    batch = [HardwareToken(serial=s, secret="GEZDGNBVGY3TQOJQ") for s in ("HW-3", "HW-2", "HW-1")]
    with pytest.raises(ConflictError) as caught:
        repo.add_tokens(batch)
    assert "HW-1" in str(caught.value) and "HW-2" in str(caught.value)
    assert "HW-3" not in str(caught.value)
    assert repo.get_token("HW-3") is None  # nothing of the batch was stored
    assert repo.get_token("HW-1") == HardwareToken(serial="HW-1", secret="JBSWY3DPEHPK3PXP")


def test_add_users_stores_users_methods_and_token_assignments_together(
    repo: Repository,
) -> None:
    repo.add_tokens([HardwareToken(serial="HW-7", secret="JBSWY3DPEHPK3PXP", imported_at=T0)])
    users = [_user("bob", phone="+14255550100", country="US"), _user("carol", licensed=True)]
    methods = [
        _method("m-1", "bob", phone="+14255550100", is_default=True),
        _method("m-2", "carol", type=MethodType.TOTP, secret="GEZDGNBVGY3TQOJQ", is_default=True),
        _method("m-3", "carol", type=MethodType.HARDWARE_TOKEN, serial="HW-7"),
    ]
    assigned = HardwareToken(
        serial="HW-7", secret="JBSWY3DPEHPK3PXP", imported_at=T0, user_id="carol"
    )
    repo.add_users(users, methods, [assigned])
    assert [repo.get_user(u) for u in ("bob", "carol")] == users
    assert list(repo.list_methods("carol")) == methods[1:]  # the secret is opened again
    assert repo.get_token("HW-7") == assigned


def test_add_users_is_all_or_nothing_and_names_every_existing_user(repo: Repository) -> None:
    repo.add_user(_user("alice"))
    repo.add_user(_user("dave"))
    repo.add_tokens([HardwareToken(serial="HW-8", secret="JBSWY3DPEHPK3PXP", imported_at=T0)])
    batch = [_user("erin"), _user("dave"), _user("alice")]
    assigned = HardwareToken(
        serial="HW-8", secret="JBSWY3DPEHPK3PXP", imported_at=T0, user_id="erin"
    )
    with pytest.raises(ConflictError) as caught:
        repo.add_users(batch, [_method("m-9", "erin")], [assigned])
    assert "alice" in str(caught.value) and "dave" in str(caught.value)
    assert "erin" not in str(caught.value)
    assert repo.get_user("erin") is None  # nothing of the batch was stored
    assert list(repo.list_methods("erin")) == []
    assert repo.get_token("HW-8").user_id is None  # type: ignore[union-attr]
    with pytest.raises(ConflictError, match="repeated"):
        repo.add_users([_user("fay"), _user("fay")], [])
    assert repo.get_user("fay") is None


def _fields(token: HardwareToken) -> dict[str, object]:
    return {name: getattr(token, name) for name in token.__slots__}  # type: ignore[attr-defined]


# ---------------------------------------------------------------------- security state


def test_security_state_defaults_then_round_trips(repo: Repository) -> None:
    assert repo.get_state("alice") == SecurityState("alice")
    state = SecurityState(
        "alice",
        consecutive_failures=3,
        locked_until=T0 + 900.5,
        send_times=(T0, T0 + 12.25, T0 + 40.0),
        last_totp_step={"m-2": 56_666_666, "m-4": 28_333_333},
    )
    repo.save_state(state)
    assert repo.get_state("alice") == state
    cleared = state.evolve(consecutive_failures=0, send_times=(), last_totp_step={})
    repo.save_state(cleared)
    assert repo.get_state("alice") == cleared
    assert repo.get_state("bob") == SecurityState("bob")


# ---------------------------------------------------------------------- app passwords


def test_app_passwords_are_kept_per_user_in_order_and_deleted_together(
    repo: Repository,
) -> None:
    repo.add_app_password("alice", "$argon2id$v=19$first", T0)
    repo.add_app_password("alice", "$argon2id$v=19$second", T0 + 1)
    repo.add_app_password("bob", "$argon2id$v=19$bobs", T0)
    assert repo.app_password_hashes("alice") == ["$argon2id$v=19$first", "$argon2id$v=19$second"]
    assert repo.delete_app_passwords("alice") == 2
    assert repo.app_password_hashes("alice") == []
    assert repo.app_password_hashes("bob") == ["$argon2id$v=19$bobs"]
    assert repo.delete_app_passwords("carol") == 0


# ---------------------------------------------------------------------- authentication log


def test_log_record_round_trips_with_every_field(repo: Repository) -> None:
    record = AuthLogRecord(
        auth_id="mfa2.abcdefghijklmnopqrstuv",
        unique_id="alice",
        mode=MethodType.PUSH,
        status=AuthStatus.DENIED,
        server_name="mfa2",
        server_ip="10.0.0.2",
        began_at=T0 + 0.123456,
        first_name="Alice",
        last_name="Liddell",
        email="alice@example.com",
        phone=None,
        device_token="device-token-123",
        reason=DenialReason.NOT_ACTIVATED,
        client_ip="192.0.2.7",
        completed_at=T0 + 4.5,
        attempts=1,
        sender=None,
        provider="fcm",
        billable=False,
    )
    repo.save_log(record)
    assert repo.logs() == [record]


def test_logs_are_oldest_first_and_since_is_inclusive(repo: Repository) -> None:
    for auth_id, began in (("c", T0 + 20), ("a", T0), ("b", T0 + 10), ("b2", T0 + 10)):
        repo.save_log(_log(auth_id, began))
    assert [r.auth_id for r in repo.logs()] == ["a", "b", "b2", "c"]
    assert [r.auth_id for r in repo.logs(since=T0 + 10)] == ["b", "b2", "c"]
    assert [r.auth_id for r in repo.logs(since=T0 + 10.001)] == ["c"]
    assert repo.logs(since=T0 + 21) == []


def test_saving_a_log_record_again_replaces_it(repo: Repository) -> None:
    repo.save_log(_log("a", T0))
    repo.save_log(_log("b", T0))
    done = _log(
        "a",
        T0,
        status=AuthStatus.SUCCESS,
        completed_at=T0 + 30,
        attempts=2,
        sender="97671",
        provider="sink",
    )
    repo.save_log(done)
    assert repo.logs() == [done, _log("b", T0)]  # one record per auth id, first place kept


# ---------------------------------------------------------------------- provider account


def test_provider_account_round_trips_and_is_replaced(repo: Repository) -> None:
    assert repo.get_account() is None
    account = ProviderAccount("contoso", BillingModel.PER_AUTH, created_at=T0, tenant=None)
    repo.save_account(account)
    assert repo.get_account() == account
    relinked = ProviderAccount("contoso", BillingModel.PER_AUTH, created_at=T0, tenant="t-2")
    repo.save_account(relinked)
    assert repo.get_account() == relinked


def test_provider_history_keeps_every_provider_with_its_dates(repo: Repository) -> None:
    assert repo.accounts() == []
    old = ProviderAccount("contoso", BillingModel.PER_USER, created_at=T0, tenant="t-1")
    repo.save_account(old)
    ended = ProviderAccount(
        "contoso", BillingModel.PER_USER, created_at=T0, tenant="t-1", ended_at=T0 + 50.25
    )
    new = ProviderAccount("fabrikam", BillingModel.PER_AUTH, created_at=T0 + 50.25)
    repo.save_account(ended)
    repo.save_account(new)
    assert repo.accounts() == [ended, new]  # oldest first, the ended one kept
    assert repo.get_account() == new  # the active one
    repo.save_account(replace(new, ended_at=T0 + 99.0))
    assert repo.get_account() is None
    assert [a.name for a in repo.accounts()] == ["contoso", "fabrikam"]


# ---------------------------------------------------------------------- dated user facts


def test_user_changes_are_kept_in_order_with_the_user_they_change(repo: Repository) -> None:
    assert repo.user_changes() == []
    repo.add_user(_user("alice", enabled_at=T0))
    repo.add_user(_user("bob", enabled_at=T0))
    licensed = _user("alice", enabled_at=T0, licensed=True)
    repo.change_user(licensed, UserChange("alice", UserFact.LICENSED, True, at=T0 + 10.5))
    disabled = _user("bob", enabled_at=T0, disabled_at=T0 + 10.5)
    repo.change_user(disabled, UserChange("bob", UserFact.ENABLED, False, at=T0 + 10.5))
    repo.change_user(
        _user("alice", enabled_at=T0), UserChange("alice", UserFact.LICENSED, False, at=T0 + 20)
    )
    assert repo.get_user("alice") == _user("alice", enabled_at=T0)
    assert repo.get_user("bob") == disabled
    changes = repo.user_changes()
    assert changes == [
        UserChange("alice", UserFact.LICENSED, True, at=T0 + 10.5),
        UserChange("bob", UserFact.ENABLED, False, at=T0 + 10.5),
        UserChange("alice", UserFact.LICENSED, False, at=T0 + 20),
    ]
    assert all(type(c.value) is bool and isinstance(c.fact, UserFact) for c in changes)


def test_records_of_one_authentication_in_any_order_end_where_it_ended(
    repo: Repository,
) -> None:
    """Servers write their logs in batches, so an authentication's records may arrive out
    of order: the log keeps the one furthest on (ended, then most attempts) with the
    provider only the begin's record knows — in the database's upsert too (each record
    is flushed on its own, so the SQL rule decides, not the buffer's)."""
    begun = _log("x", T0, status=AuthStatus.PENDING)
    noted = replace(begun, provider="sink")
    wrong = replace(begun, attempts=1, reason=DenialReason.WRONG_CODE)
    right = replace(begun, status=AuthStatus.SUCCESS, attempts=2, completed_at=T0 + 9)
    orders = list(permutations([begun, noted, wrong, right]))
    for n, order in enumerate(orders):
        for record in order:
            repo.save_log(replace(record, auth_id=f"a{n}"))
            getattr(repo, "flush_logs", lambda: None)()
    for n, kept in enumerate(repo.logs()):
        assert kept == replace(right, auth_id=f"a{n}", provider="sink"), orders[n]
