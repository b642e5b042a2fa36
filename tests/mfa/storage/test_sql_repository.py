"""What the SQL repository adds to the contract: secrets sealed at rest, addresses checked,
indexes, and safe use from many threads and several repository objects at once."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from mfa import AuthLogRecord, AuthStatus, HardwareToken, MethodType, RegisteredMethod, User
from mfa.errors import ConflictError, InvalidInput
from mfa.security_state import SecurityState, record_send
from mfa.storage import StorageUnavailable, UnreadableSecret
from mfa.storage.crypto import derive_key
from mfa.storage.sql import SqlRepository

KEY = derive_key("sql-repository test passphrase")
TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
TOKEN_SECRET = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"


def _store_secrets(repo: SqlRepository) -> None:
    repo.add_user(User("alice", phone="+14255550100"))
    repo.add_method(
        RegisteredMethod("m-1", "alice", MethodType.TOTP, secret=TOTP_SECRET, is_default=True)
    )
    repo.add_method(RegisteredMethod("m-2", "alice", MethodType.HARDWARE_TOKEN, serial="HW-1"))
    repo.add_tokens([HardwareToken("HW-1", TOKEN_SECRET, user_id="alice")])


def _raw_dump(url: str) -> str:
    """Every row of every table, read past mfalab with a plain connection."""
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.connect() as conn:
            tables = sa.inspect(conn).get_table_names()
            return "\n".join(
                repr(row) for t in tables for row in conn.execute(sa.text(f'SELECT * FROM "{t}"'))
            )
    finally:
        engine.dispose()


def test_totp_and_token_secrets_are_not_readable_in_the_database(db_url: str) -> None:
    with SqlRepository(db_url, secret_key=KEY) as repo:
        _store_secrets(repo)
        assert repo.list_methods("alice")[0].secret == TOTP_SECRET
        assert repo.get_token("HW-1").secret == TOKEN_SECRET  # type: ignore[union-attr]
    dump = _raw_dump(db_url)
    assert "+14255550100" in dump and "HW-1" in dump  # the dump does see the tables
    for secret in (TOTP_SECRET, TOKEN_SECRET):
        assert secret not in dump
        assert secret.lower() not in dump.lower()


def test_another_key_cannot_read_the_secrets_but_can_read_the_rest(sqlite_url: str) -> None:
    with SqlRepository(sqlite_url, secret_key=KEY) as repo:
        _store_secrets(repo)
    with SqlRepository(sqlite_url, secret_key=derive_key("some other passphrase!")) as other:
        with pytest.raises(UnreadableSecret):
            other.list_methods("alice")
        with pytest.raises(UnreadableSecret):
            other.get_token("HW-1")
        assert other.get_user("alice") == User("alice", phone="+14255550100")


def test_without_a_key_secrets_are_neither_written_nor_read(sqlite_url: str) -> None:
    with SqlRepository(sqlite_url, secret_key=KEY) as repo:
        _store_secrets(repo)
    with SqlRepository(sqlite_url, secret_key=None) as keyless:
        with pytest.raises(StorageUnavailable, match="secret key"):
            keyless.get_token("HW-1")
        with pytest.raises(StorageUnavailable, match="secret key"):
            keyless.add_method(RegisteredMethod("m-3", "bob", MethodType.TOTP, secret="AAAA"))
        assert keyless.list_methods("bob") == []


def test_data_outlives_the_repository_object(sqlite_url: str) -> None:
    with SqlRepository(sqlite_url, secret_key=KEY) as repo:
        _store_secrets(repo)
        repo.save_state(SecurityState("alice", last_totp_step={"m-1": 123}))
    with SqlRepository(sqlite_url, secret_key=KEY) as reopened:
        assert reopened.list_methods("alice")[0].secret == TOTP_SECRET
        assert reopened.get_state("alice").last_totp_step == {"m-1": 123}


def test_lookups_used_on_every_request_are_indexed(db_url: str) -> None:
    with SqlRepository(db_url, secret_key=KEY) as repo:
        repo.get_user("nobody")  # the schema exists after first use
    engine = sa.create_engine(db_url)
    try:
        inspector = sa.inspect(engine)
        indexed = {
            (table, tuple(ix["column_names"]))
            for table in ("auth_log", "methods")
            for ix in inspector.get_indexes(table)
        }
    finally:
        engine.dispose()
    assert ("auth_log", ("began_at",)) in indexed
    assert ("methods", ("user_id",)) in indexed


def test_sqlite_runs_in_wal_mode_and_creates_its_directory(tmp_path: Path) -> None:
    path = tmp_path / "var" / "nested" / "mfalab.db"
    with SqlRepository(f"sqlite:///{path}", secret_key=KEY) as repo:
        repo.add_user(User("alice"))
    assert path.is_file()
    engine = sa.create_engine(f"sqlite:///{path}")
    try:
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_plain_postgresql_urls_use_the_psycopg_driver(postgres_url: str) -> None:
    plain = postgres_url.replace("postgresql+psycopg://", "postgresql://", 1)
    with SqlRepository(plain, secret_key=KEY) as repo:
        assert repo.url.drivername == "postgresql+psycopg"
        repo.add_user(User("alice"))
        assert repo.get_user("alice") == User("alice")


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("", "required"),
        ("not a url", "not a database URL"),
        ("mysql://root@127.0.0.1/mfalab", "unsupported database 'mysql'"),
        ("sqlite://", "in-memory SQLite"),
        ("postgresql://postgres@127.0.0.1:5432", "names no database"),
    ],
)
def test_bad_database_urls_are_refused_naming_the_setting(url: str, says: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        SqlRepository(url, secret_key=KEY)
    assert caught.value.field == "MFALAB_DB_URL"
    assert says in caught.value.reason


def test_an_unreachable_database_is_a_clear_error_without_the_password() -> None:
    with pytest.raises(StorageUnavailable) as caught:
        SqlRepository("postgresql://mfalab:s3cr3t@127.0.0.1:9/mfalab", secret_key=KEY)
    message = str(caught.value)
    assert "not reachable" in message and "127.0.0.1:9" in message
    assert "s3cr3t" not in message


def test_sqlite_file_that_is_not_a_database_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    path.write_text("these are not the tables you are looking for\n" * 100)
    with pytest.raises(StorageUnavailable, match=r"notes\.db"):
        SqlRepository(f"sqlite:///{path}", secret_key=KEY)


def _log(auth_id: str, began_at: float) -> AuthLogRecord:
    return AuthLogRecord(
        auth_id=auth_id,
        unique_id="alice",
        mode=MethodType.SMS,
        status=AuthStatus.PENDING,
        server_name="mfa1",
        server_ip="10.0.0.1",
        began_at=began_at,
    )


@pytest.fixture
def two_repositories(db_url: str) -> Iterator[tuple[SqlRepository, SqlRepository]]:
    """Two repository objects on one database, as two server processes would have."""
    first = SqlRepository(db_url, secret_key=KEY)
    second = SqlRepository(db_url, secret_key=KEY)
    try:
        yield first, second
    finally:
        first.close()
        second.close()


def test_many_threads_and_two_repositories_write_without_losing_a_record(
    two_repositories: tuple[SqlRepository, SqlRepository],
) -> None:
    threads_per_repo, per_thread = 4, 25
    errors: list[BaseException] = []

    def work(repo: SqlRepository, worker: str) -> None:
        try:
            for i in range(per_thread):
                repo.save_log(_log(f"{worker}.{i}", float(i)))
                repo.save_state(SecurityState(worker, consecutive_failures=i + 1))
                assert repo.get_state(worker).consecutive_failures == i + 1
                repo.logs(since=float(i))
        except BaseException as exc:
            errors.append(exc)

    threads = [
        threading.Thread(target=work, args=(repo, f"w{r}-{t}"))
        for r, repo in enumerate(two_repositories)
        for t in range(threads_per_repo)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    first, second = two_repositories
    assert len(first.logs()) == len(threads) * per_thread
    assert len(second.logs()) == len(threads) * per_thread
    assert second.get_state("w0-0").consecutive_failures == per_thread


def test_a_request_never_refuses_on_a_state_another_server_has_changed_since(
    two_repositories: tuple[SqlRepository, SqlRepository],
) -> None:
    """``update_state`` applies a change to the state the request read, by compare-and-set;
    a refusal (no change to write) must not come from that possibly old read: here the send
    limit was full when read, another server cleared it, and the send is let through."""
    first, second = two_repositories
    first.add_user(User(user_id="u1"))
    for n in range(5):
        first.update_state("u1", lambda s, n=n: record_send(s, 100.0 + n, 300, 5))
    with first.request():
        assert len(first.sign_in_facts("u1").state.send_times) == 5  # full, as read
        second.save_state(SecurityState("u1"))  # another server resets the user
        wait = first.update_state("u1", lambda s: record_send(s, 110.0, 300, 5))
        assert wait is None
        # and a change on a state moved on meanwhile is applied to where it stands
        second.save_state(SecurityState("u1", consecutive_failures=3))
        first.update_state("u1", lambda s: record_send(s, 111.0, 300, 5))
    assert first.get_state("u1") == SecurityState("u1", consecutive_failures=3, send_times=(111.0,))


def test_a_database_from_before_sealed_device_tokens_is_a_clear_error(tmp_path: Path) -> None:
    """The methods table once held push device tokens in clear (``device_token``) and no
    public key: such a database is named at start, not a 500 on the first sign-in."""
    path = tmp_path / "old.db"
    old = sa.create_engine(f"sqlite:///{path}")
    with old.begin() as conn:
        conn.execute(
            sa.text(
                "CREATE TABLE methods (id INTEGER PRIMARY KEY, method_id VARCHAR(64), "
                "user_id VARCHAR(128), type VARCHAR(16), phone VARCHAR(20), device_token TEXT, "
                "activated BOOLEAN, secret_sealed TEXT, serial VARCHAR(128), "
                "is_default BOOLEAN, created_at FLOAT)"
            )
        )
    old.dispose()
    with pytest.raises(StorageUnavailable, match=r"old\.db.*methods.*device_token_sealed"):
        SqlRepository(f"sqlite:///{path}", secret_key=KEY)


def test_a_database_from_before_the_fraud_rule_gets_the_column_and_keeps_its_log(
    db_url: str,
) -> None:
    """A server upgraded in place: its auth_log lacks ``fraud_rule`` (added with the fraud
    defences); opening adds the column, the old records read back with none, new ones
    keep theirs."""
    from dataclasses import replace

    from mfa import DenialReason, FraudRule

    with SqlRepository(db_url, secret_key=KEY) as repo:
        repo.save_log(_log("mfa1.old", 1.0))
    engine = sa.create_engine(db_url.replace("postgresql://", "postgresql+psycopg://"))
    with engine.begin() as conn:
        conn.execute(sa.text("ALTER TABLE auth_log DROP COLUMN fraud_rule"))
    engine.dispose()
    with SqlRepository(db_url, secret_key=KEY) as repo:
        refused = replace(
            _log("mfa1.new", 2.0),
            status=AuthStatus.DENIED,
            reason=DenialReason.FRAUD_SUSPECTED,
            billable=False,
            fraud_rule=FraudRule.CONVERSION,
        )
        repo.save_log(refused)
        assert [(r.auth_id, r.fraud_rule) for r in repo.logs()] == [
            ("mfa1.old", None),
            ("mfa1.new", FraudRule.CONVERSION),
        ]


def _users(prefix: str, count: int) -> tuple[list[User], list[RegisteredMethod]]:
    users_ = [User(f"{prefix}-{i}") for i in range(count)]
    methods_ = [
        RegisteredMethod(f"{prefix}-m{i}", u.user_id, MethodType.TOTP, secret=TOTP_SECRET)
        for i, u in enumerate(users_)
    ]
    return users_, methods_


def test_a_directory_sync_inserts_without_reading_the_user_ids_first(db_url: str) -> None:
    """The primary key decides whether a user exists: a sync that looked every id up first
    spent a query per 500 users, and on PostgreSQL a full scan per query once the
    prepared plan went generic (60,000 users took 132 s instead of 8 s)."""
    statements: list[str] = []

    def note(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement.lstrip().split(None, 1)[0].upper())

    with SqlRepository(db_url, secret_key=KEY) as repo:
        repo.add_users(*_users("first", 1_200))
        sa.event.listen(sa.engine.Engine, "before_cursor_execute", note)
        try:
            repo.add_users(*_users("second", 1_200))
        finally:
            sa.event.remove(sa.engine.Engine, "before_cursor_execute", note)
        assert repo.get_user("second-1199") is not None
    assert "SELECT" not in statements
    assert statements.count("INSERT") >= 2  # users, then methods


def test_a_sync_with_existing_users_names_each_of_them_and_stores_nobody(db_url: str) -> None:
    with SqlRepository(db_url, secret_key=KEY) as repo:
        for batch in range(3):  # a few thousand rows and repeated lookups, as in real syncs
            repo.add_users(*_users(f"old{batch}", 1_200))
        users_, methods_ = _users("new", 1_200)
        clashing = [User("old0-7"), User("old1-1100"), User("old2-0")]
        with pytest.raises(ConflictError) as refused:
            repo.add_users(users_[:600] + clashing + users_[600:], methods_)
        for user in clashing:
            assert user.user_id in str(refused.value)
        assert "new-0" not in str(refused.value)
        assert repo.get_user("new-0") is None and repo.get_user("new-1199") is None
        repo.add_users(users_, methods_)  # the connection that saw the clash serves again
        assert repo.get_user("new-1199") is not None
