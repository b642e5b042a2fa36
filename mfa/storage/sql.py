"""The repository on a relational database: SQLite by default, PostgreSQL for a cluster.

Every call runs in its own short transaction on a pooled connection, so one repository
serves a multi-threaded server and several server processes can share one PostgreSQL
database (the seed's servers share their user data; only pending codes are per server).
SQLite runs in WAL mode (readers never wait for the writer) with a busy timeout, so a few
processes may also share one SQLite file.

Speed: each begin+verify makes about ten repository calls, so per-call overhead decides
throughput. Statements are built once with SQLAlchemy Core, compiled once for the
database's dialect and then run on the pool's DB-API connections directly, which skips
SQLAlchemy's per-execution machinery (about 3x faster on SQLite).

TOTP and hardware-token secrets and push device tokens are sealed with ``SecretBox`` before
they reach a row; app passwords arrive as argon2 hashes already; the log holds no secret by
construction (a push device token only as its fingerprint).

Security counters change only through ``update_state``, one transaction that locks the
user's row while the engine's rule runs: ``SELECT … FOR UPDATE`` on PostgreSQL (after
making sure the row exists, since a missing row cannot be locked), ``BEGIN IMMEDIATE`` on
SQLite (which takes the database's write lock at once). Servers sharing the database thus
never lose a failure, a send or an accepted TOTP step to a concurrent update.

Durability: on SQLite, ``synchronous=NORMAL`` in WAL mode means a power cut (not a process
crash) can lose the last commits; PostgreSQL keeps its own settings.

Outages: with a ``timeout`` (the server passes ``MFALAB_DB_TIMEOUT``, 1 s by default) a
PostgreSQL statement is cancelled after that long (``statement_timeout``; bulk work — an
import, a directory sync, the log listing — gets a minute, and a security-counter update
may queue 10 s for the user's row lock, since a burst on one user is contention, not an
outage), and connecting gives up after it (libpq waits at least 2 s). The pool pings a
connection before handing it out, so a connection the database dropped is replaced instead
of failing a request. A database that cannot be reached, or a statement cancelled, raises
``mfa.errors.ServiceUnavailable("database")`` (503 with ``Retry-After`` over HTTP); the
statement's transaction was rolled back, so nothing is half-written.

The schema is created on first use (see ``mfa.storage.schema``); alembic migrations come
when the schema must evolve.
"""

from __future__ import annotations

import math
import os
import threading
from collections import namedtuple
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from mfa.auth_log import AuthLogRecord
from mfa.billing import ProviderAccount
from mfa.errors import ConflictError, ServiceUnavailable
from mfa.methods import RegisteredMethod
from mfa.security_state import SecurityState, StateChange, empty_state
from mfa.storage import rows
from mfa.storage.crypto import SecretBox
from mfa.storage.locations import StorageUnavailable, database_url, shown
from mfa.storage.schema import (
    ADDED_COLUMNS,
    LEGACY_ACCOUNT_TABLE,
    accounts,
    app_passwords,
    auth_log,
    metadata,
    methods,
    security_states,
    tokens,
    user_changes,
    users,
)
from mfa.tokens.model import HardwareToken
from mfa.users import User, UserChange

__all__ = ["SqlRepository"]

#: Any constant: serialises schema creation when several servers start at once.
_SCHEMA_LOCK_ID = 0x6D66_616C_6162
_SQLITE_BUSY_SECONDS = 15.0
#: statement_timeout for bulk work (imports, directory syncs, the log listing, the schema).
_BULK_TIMEOUT = "60s"
#: statement_timeout inside ``update_state``, which queues for the user's row lock.
_LOCK_QUEUE_TIMEOUT = "10s"
#: Bound parameters per statement stay well under SQLite's and PostgreSQL's limits.
_CHUNK = 500
_Params = Mapping[str, object]
T = TypeVar("T")


def _on_sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute(f"PRAGMA busy_timeout={int(_SQLITE_BUSY_SECONDS * 1000)}")
    cursor.close()


def _row_type(table: sa.Table) -> Any:
    """Rows of ``SELECT table.*`` as named tuples, for ``mfa.storage.rows``."""
    return namedtuple(f"{table.name}_row", [c.name for c in table.columns])


def _reason(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None) or exc
    text = str(orig).strip()
    return text.splitlines()[0] if text else orig.__class__.__name__


class SqlRepository:
    """``mfa.repository.Repository`` on SQLAlchemy 2 (SQLite or PostgreSQL).

    ``secret_key`` is the master key (``mfa.storage.crypto.derive_key``). It may be ``None``
    for tools that read only users and logs (``mfalab logs export``); touching a sealed
    secret then raises ``StorageUnavailable``.
    """

    #: What ``mfa.errors.ServiceUnavailable`` calls this repository when it fails.
    backend = "database"
    #: The authentication log is always kept (``Repository.keep_logs``).
    keep_logs = True

    def __init__(
        self,
        url: str,
        *,
        secret_key: bytes | None,
        echo: bool = False,
        timeout: float | None = None,
    ) -> None:
        self.url = database_url(url)
        self._timeout = timeout
        self._box = SecretBox(secret_key) if secret_key is not None else None
        is_sqlite = self.url.get_backend_name() == "sqlite"
        if is_sqlite:
            self._engine = sa.create_engine(
                self.url,
                echo=echo,
                hide_parameters=True,
                paramstyle="named",
                connect_args={"check_same_thread": False, "timeout": _SQLITE_BUSY_SECONDS},
                # each thread holds its own connection (see _thread_connection): no pool limit
                poolclass=sa.pool.NullPool,
            )
            sa.event.listen(self._engine, "connect", _on_sqlite_connect)
        else:
            # single statements autocommit: one round trip instead of BEGIN, query, COMMIT;
            # multi-statement work asks for a transaction (see _transaction)
            connect_args: dict[str, object] = {}
            if timeout is not None:
                connect_args = {
                    "connect_timeout": max(1, math.ceil(timeout)),
                    "options": f"-c statement_timeout={max(1, round(timeout * 1000))}",
                }
            self._engine = sa.create_engine(
                self.url,
                echo=echo,
                hide_parameters=True,
                isolation_level="AUTOCOMMIT",
                pool_size=8,
                max_overflow=16,
                pool_recycle=1800,
                # a connection the server dropped (restart, idle timeout) is replaced at
                # checkout instead of failing the request that drew it
                pool_pre_ping=True,
                connect_args=connect_args,
            )
        self._echo = echo
        self._per_thread = is_sqlite
        # SQLite: take the write lock when the transaction starts, not at its first write,
        # so two read-modify-writes cannot both read first
        self._begin_locked = "BEGIN IMMEDIATE" if is_sqlite else "BEGIN"
        if not is_sqlite and timeout is not None:
            # waiting for a user's row lock is contention, not an outage: a burst of guesses
            # on one user queues here (one round trip: no parameters, simple protocol)
            self._begin_locked = f"BEGIN; SET LOCAL statement_timeout = '{_LOCK_QUEUE_TIMEOUT}'"
        self._pid = os.getpid()
        self._local = threading.local()
        self._held: list[Any] = []
        self._held_lock = threading.Lock()
        dbapi = self._engine.dialect.loaded_dbapi
        self._integrity_error: type[Exception] = dbapi.IntegrityError
        self._operational_error: type[Exception] = dbapi.OperationalError
        self._create_schema()
        insert = sqlite.insert if is_sqlite else postgresql.insert
        assign = insert(tokens)
        #: save tokens (an enrolment assigns them) inside a larger transaction
        self._save_tokens = assign.on_conflict_do_update(
            index_elements=[tokens.c.serial],
            set_={c.name: assign.excluded[c.name] for c in tokens.columns if c.name != "serial"},
        )

        def upsert(table: sa.Table, key: str) -> str:
            cols = [c.name for c in table.columns if c.name != "id" or key == "id"]
            stmt = insert(table).values({c: sa.bindparam(c) for c in cols})
            return self._compile(
                stmt.on_conflict_do_update(
                    index_elements=[table.c[key]],
                    set_={c: stmt.excluded[c] for c in cols if c != key},
                )
            )

        def add(table: sa.Table) -> str:
            cols = [c.name for c in table.columns if c.name != "id"]
            return self._compile(table.insert().values({c: sa.bindparam(c) for c in cols}))

        def by(table: sa.Table, column: str, *order: sa.Column[Any]) -> str:
            stmt = sa.select(table).where(table.c[column] == sa.bindparam("k"))
            return self._compile(stmt.order_by(*order))

        def delete(table: sa.Table) -> str:
            return self._compile(table.delete().where(table.c.user_id == sa.bindparam("k")))

        self._sql = {
            "add_user": add(users),
            "save_user": upsert(users, "user_id"),
            "get_user": by(users, "user_id"),
            "all_users": self._compile(sa.select(users).order_by(users.c.user_id)),
            "add_method": add(methods),
            "save_method": upsert(methods, "method_id"),
            "list_methods": by(methods, "user_id", methods.c.id),
            "delete_methods": delete(methods),
            "save_token": upsert(tokens, "serial"),
            "get_token": by(tokens, "serial"),
            "get_state": by(security_states, "user_id"),
            "save_state": upsert(security_states, "user_id"),
            # FOR UPDATE renders as nothing on SQLite, where BEGIN IMMEDIATE locks instead
            "lock_state": self._compile(
                sa.select(security_states)
                .where(security_states.c.user_id == sa.bindparam("k"))
                .with_for_update()
            ),
            "ensure_state": self._compile(
                insert(security_states)
                .values({c.name: sa.bindparam(c.name) for c in security_states.columns})
                .on_conflict_do_nothing(index_elements=[security_states.c.user_id])
            ),
            "add_app_password": add(app_passwords),
            "app_password_hashes": self._compile(
                sa.select(app_passwords.c.password_hash)
                .where(app_passwords.c.user_id == sa.bindparam("k"))
                .order_by(app_passwords.c.id)
            ),
            "delete_app_passwords": delete(app_passwords),
            "save_log": upsert(auth_log, "auth_id"),
            "all_logs": self._compile(
                sa.select(auth_log).order_by(auth_log.c.began_at, auth_log.c.id)
            ),
            "logs_since": self._compile(
                sa.select(auth_log)
                .where(auth_log.c.began_at >= sa.bindparam("since"))
                .order_by(auth_log.c.began_at, auth_log.c.id)
            ),
            "ping": "SELECT 1",
            "active_account": self._compile(
                sa.select(accounts)
                .where(accounts.c.ended_at.is_(None))
                .order_by(accounts.c.created_at.desc())
            ),
            "all_accounts": self._compile(
                sa.select(accounts).order_by(accounts.c.created_at, accounts.c.name)
            ),
            "save_account": upsert(accounts, "name"),
            "all_changes": self._compile(
                sa.select(user_changes).order_by(user_changes.c.at, user_changes.c.id)
            ),
        }
        self._rows = {t.name: _row_type(t) for t in metadata.sorted_tables}

    # ------------------------------------------------------------------ lifecycle

    def _compile(self, stmt: Any) -> str:
        # "for executemany" keeps PostgreSQL from adding RETURNING for the surrogate key
        return str(stmt.compile(dialect=self._engine.dialect, for_executemany=True))

    def _create_schema(self) -> None:
        for attempt in range(3):
            try:
                with self._transaction() as conn:
                    if conn.dialect.name == "postgresql":
                        conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_SCHEMA_LOCK_ID)))
                    metadata.create_all(conn, checkfirst=True)
                    _adopt_legacy_account(conn)
                    _add_new_columns(conn)
                    missing = _missing_columns(conn)
                if missing:
                    self._engine.dispose()
                    raise StorageUnavailable(
                        f"database {shown(self.url)} was created by an older mfalab: "
                        f"{'; '.join(missing)}. Use a new database (there are no migrations "
                        "yet)"
                    )
                return
            except sa.exc.OperationalError as exc:
                # another SQLite process created a table between our check and our CREATE
                if "already exists" in str(exc) and attempt < 2:
                    continue
                self._engine.dispose()
                raise StorageUnavailable(
                    f"database {shown(self.url)} is not reachable: {_reason(exc)}"
                ) from None
            except sa.exc.DBAPIError as exc:
                self._engine.dispose()
                raise StorageUnavailable(
                    f"database {shown(self.url)} cannot hold mfalab's tables: {_reason(exc)}"
                ) from None

    @contextmanager
    def _transaction(self) -> Iterator[sa.Connection]:
        """A real transaction (the PostgreSQL pool autocommits by default), for bulk work:
        its statements may take up to a minute whatever the per-statement timeout."""
        with self._engine.connect() as conn:
            if conn.dialect.name == "postgresql":
                conn.execution_options(isolation_level="READ COMMITTED")
            with conn.begin():
                if conn.dialect.name == "postgresql" and self._timeout is not None:
                    conn.exec_driver_sql(f"SET LOCAL statement_timeout = '{_BULK_TIMEOUT}'")
                yield conn

    @contextmanager
    def _bulk(self) -> Iterator[sa.Connection]:
        """``_transaction`` for requests: a database that cannot be reached, or a statement
        cancelled, is ``ServiceUnavailable`` (the transaction was rolled back)."""
        try:
            with self._transaction() as conn:
                yield conn
        except sa.exc.OperationalError as exc:
            raise ServiceUnavailable("database", _reason(exc)) from None

    def ping(self) -> None:
        """One round trip; ``ServiceUnavailable`` when the database does not answer."""
        self._run("ping", {})

    def close(self) -> None:
        with self._held_lock:
            held, self._held = self._held, []
        for conn in held:
            conn.close()
        self._local = threading.local()
        self._engine.dispose()

    def __enter__(self) -> SqlRepository:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"SqlRepository({shown(self.url)!r})"

    # ------------------------------------------------------------------ execution

    def _run(self, name: str, params: _Params) -> Any:
        """Run one prepared statement in its own transaction; returns the cursor's rows
        for a query, else the affected row count."""
        sql = self._sql[name]
        if self._echo:
            # the statement only: parameters hold sealed secrets and personal data
            self._engine.logger.info("%s", sql)
        conn, pooled = self._connection()
        try:
            cursor = conn.cursor()
            cursor.execute(sql, params)
            if cursor.description is not None:
                result = cursor.fetchall()
                cursor.close()
                # sqlite3 opens no transaction for a query: nothing to end
                if not self._per_thread:
                    conn.commit()  # ends a PostgreSQL read transaction
                return result
            result = cursor.rowcount
            cursor.close()
            conn.commit()
            return result
        except Exception as exc:
            self._failed(conn, exc)
            if isinstance(exc, self._operational_error):
                raise ServiceUnavailable("database", _reason(exc)) from None
            raise
        finally:
            if pooled:
                conn.close()  # back to the pool

    def _connection(self) -> tuple[Any, bool]:
        """This thread's SQLite connection, or one from the pool (``True``: give it back)."""
        if self._pid != os.getpid():
            self._after_fork()
        try:
            if self._per_thread:
                return self._thread_connection(), False
            return self._engine.raw_connection(), True
        except sa.exc.DBAPIError as exc:  # cannot connect: refused, timed out
            raise ServiceUnavailable("database", _reason(exc)) from None

    def _failed(self, conn: Any, exc: Exception) -> None:
        """After a failed statement: roll its transaction back, or drop the connection if
        it is broken (the pool must not hand it out again)."""
        if not self._engine.dialect.is_disconnect(exc, conn.dbapi_connection, None):  # type: ignore[arg-type]
            try:
                conn.rollback()
                return
            except Exception:  # a connection that cannot roll back is broken
                pass
        self._forget_thread_connection()
        conn.invalidate(exc)

    def _thread_connection(self) -> Any:
        """SQLite: each thread keeps one connection (a pool round trip costs as much as the
        statement). PostgreSQL connections are costlier to hold, so they stay pooled."""
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._engine.raw_connection()
            self._local.conn = conn
            with self._held_lock:
                self._held.append(conn)
        return conn

    def _after_fork(self) -> None:
        """A forked child must not use its parent's connections (SQLAlchemy's advice)."""
        self._engine.dispose(close=False)
        self._local = threading.local()
        with self._held_lock:
            self._held = []
        self._pid = os.getpid()

    def _forget_thread_connection(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            self._local.conn = None
            with self._held_lock:
                self._held.remove(conn)

    def _select(self, name: str, table: sa.Table, params: _Params) -> list[Any]:
        make = self._rows[table.name]._make
        return [make(r) for r in self._run(name, params)]

    def _seal(self, plaintext: str) -> str:
        if self._box is None:
            raise StorageUnavailable("this repository was opened without a secret key")
        return self._box.seal(plaintext)

    def _open(self, sealed: str) -> str:
        if self._box is None:
            raise StorageUnavailable("this repository was opened without a secret key")
        return self._box.open(sealed)

    # ------------------------------------------------------------------ users

    def add_user(self, user: User) -> None:
        try:
            self._run("add_user", rows.user_row(user))
        except self._integrity_error:
            raise ConflictError(f"user {user.user_id!r} exists") from None

    def add_users(
        self,
        users_: Sequence[User],
        methods_: Sequence[RegisteredMethod],
        tokens_: Sequence[HardwareToken] = (),
    ) -> None:
        """One transaction: every user with their methods and token assignments, or nothing
        and every user id that exists already named."""
        ids = [u.user_id for u in users_]
        if len(set(ids)) < len(ids):
            raise ConflictError("a user id is repeated in the batch")
        user_rows = [rows.user_row(u) for u in users_]
        method_rows = [rows.method_row(m, self._seal) for m in methods_]
        token_rows = [rows.token_row(t, self._seal) for t in tokens_]

        def store(conn: sa.Connection) -> None:
            _insert(conn, users, user_rows)
            _insert(conn, methods, method_rows)
            if token_rows:
                conn.execute(self._save_tokens, token_rows)

        clash = self._insert_new(users.c.user_id, ids, store)
        if clash:
            raise ConflictError(f"user(s) exist already: {', '.join(clash)}")

    def _insert_new(
        self, key: sa.Column[str], keys: list[str], store: Callable[[sa.Connection], None]
    ) -> list[str]:
        """``store`` in one transaction, unless some of ``keys`` exist already in ``key``'s
        table: those are returned, and nothing is written.

        The unique key is the arbiter: the rows are inserted at once, and only when the
        database refuses one are the clashes looked up. Checking first cost a query per
        500 keys on every sync and raced with other servers anyway."""
        try:
            with self._bulk() as conn:
                store(conn)
        except sa.exc.IntegrityError:
            with self._engine.connect() as conn:
                clash = _existing(conn, key, keys)
            if not clash:
                raise
            return clash
        return []

    def get_user(self, user_id: str) -> User | None:
        found = self._select("get_user", users, {"k": user_id})
        return rows.user_from_row(found[0]) if found else None

    def save_user(self, user: User) -> None:
        self._run("save_user", rows.user_row(user))

    def iter_users(self) -> Iterable[User]:
        return [rows.user_from_row(r) for r in self._select("all_users", users, {})]

    # ------------------------------------------------------------------ dated user facts

    def change_user(self, user: User, change: UserChange) -> None:
        """One transaction: the user's row and its history row."""
        with self._transaction() as conn:
            conn.exec_driver_sql(self._sql["save_user"], rows.user_row(user))
            conn.execute(user_changes.insert(), [rows.change_row(change)])

    def user_changes(self) -> list[UserChange]:
        found = self._select("all_changes", user_changes, {})
        return [rows.change_from_row(r) for r in found]

    # ------------------------------------------------------------------ methods

    def add_method(self, method: RegisteredMethod) -> None:
        try:
            self._run("add_method", rows.method_row(method, self._seal))
        except self._integrity_error:
            raise ConflictError(f"method {method.method_id!r} exists") from None

    def save_method(self, method: RegisteredMethod) -> None:
        self._run("save_method", rows.method_row(method, self._seal))

    def list_methods(self, user_id: str) -> list[RegisteredMethod]:
        found = self._select("list_methods", methods, {"k": user_id})
        return [rows.method_from_row(r, self._open) for r in found]

    def delete_methods(self, user_id: str) -> int:
        return int(self._run("delete_methods", {"k": user_id}))

    # ------------------------------------------------------------------ hardware tokens

    def add_tokens(self, tokens_: Sequence[HardwareToken]) -> None:
        """One transaction: every token is stored, or none and every clash is named."""
        # the last of several with one serial wins, as in InMemoryRepository
        batch = list({t.serial: t for t in tokens_}.values())
        if not batch:
            return
        sealed = [rows.token_row(t, self._seal) for t in batch]
        clash = self._insert_new(
            tokens.c.serial, [t.serial for t in batch], lambda conn: _insert(conn, tokens, sealed)
        )
        if clash:
            raise ConflictError(f"token serial(s) already imported: {', '.join(clash)}")

    def get_token(self, serial: str) -> HardwareToken | None:
        found = self._select("get_token", tokens, {"k": serial})
        return rows.token_from_row(found[0], self._open) if found else None

    def save_token(self, token: HardwareToken) -> None:
        self._run("save_token", rows.token_row(token, self._seal))

    # ------------------------------------------------------------------ security counters

    def get_state(self, user_id: str) -> SecurityState:
        found = self._select("get_state", security_states, {"k": user_id})
        return rows.state_from_row(found[0]) if found else empty_state(user_id)

    def save_state(self, state: SecurityState) -> None:
        self._run("save_state", rows.state_row(state))

    def update_state(self, user_id: str, change: StateChange[T]) -> T:
        """One transaction with the user's row locked from the read to the write."""
        sql = self._sql
        conn, pooled = self._connection()
        try:
            cursor = conn.cursor()
            cursor.execute(self._begin_locked)
            cursor.execute(sql["lock_state"], {"k": user_id})
            found = cursor.fetchall()
            if not found and not self._per_thread:
                # PostgreSQL locks rows, and there is none yet: create it (a concurrent
                # creator makes this wait, then do nothing), then lock it
                cursor.execute(sql["ensure_state"], rows.state_row(empty_state(user_id)))
                cursor.execute(sql["lock_state"], {"k": user_id})
                found = cursor.fetchall()
            make = self._rows[security_states.name]._make
            state = rows.state_from_row(make(found[0])) if found else empty_state(user_id)
            new, answer = change(state)
            if new is not state:
                cursor.execute(sql["save_state"], rows.state_row(new))
            cursor.close()
            conn.commit()
            return answer
        except Exception as exc:
            self._failed(conn, exc)
            if isinstance(exc, self._operational_error):
                raise ServiceUnavailable("database", _reason(exc)) from None
            raise
        finally:
            if pooled:
                conn.close()

    # ------------------------------------------------------------------ app passwords

    def add_app_password(self, user_id: str, password_hash: str, created_at: float) -> None:
        self._run(
            "add_app_password",
            {"user_id": user_id, "password_hash": password_hash, "created_at": created_at},
        )

    def app_password_hashes(self, user_id: str) -> list[str]:
        return [r[0] for r in self._run("app_password_hashes", {"k": user_id})]

    def delete_app_passwords(self, user_id: str) -> int:
        return int(self._run("delete_app_passwords", {"k": user_id}))

    # ------------------------------------------------------------------ authentication log

    def save_log(self, record: AuthLogRecord) -> None:
        self._run("save_log", rows.log_row(record))

    def logs(self, since: float | None = None) -> list[AuthLogRecord]:
        name, params = (
            ("all_logs", {}) if since is None else ("logs_since", {"since": float(since)})
        )
        if self._per_thread or self._timeout is None:
            found = self._select(name, auth_log, params)
        else:  # a long log is bulk work: past the per-statement timeout
            make = self._rows[auth_log.name]._make
            with self._bulk() as conn:
                found = [make(r) for r in conn.exec_driver_sql(self._sql[name], params)]
        return [rows.log_from_row(r) for r in found]

    # ------------------------------------------------------------------ provider accounts

    def get_account(self) -> ProviderAccount | None:
        found = self._select("active_account", accounts, {})
        return rows.account_from_row(found[0]) if found else None

    def save_account(self, account: ProviderAccount) -> None:
        self._run("save_account", rows.account_row(account))

    def accounts(self) -> list[ProviderAccount]:
        return [rows.account_from_row(r) for r in self._select("all_accounts", accounts, {})]


def _adopt_legacy_account(conn: sa.Connection) -> None:
    """A database of an earlier version kept its one provider in ``provider_account``: copy
    it into ``providers`` once (the old table is left as it was)."""
    if not sa.inspect(conn).has_table(LEGACY_ACCOUNT_TABLE):
        return
    if conn.execute(sa.select(sa.func.count()).select_from(accounts)).scalar():
        return
    legacy = sa.Table(LEGACY_ACCOUNT_TABLE, sa.MetaData(), autoload_with=conn)
    for row in conn.execute(sa.select(legacy)).mappings():
        conn.execute(
            accounts.insert().values(
                name=row["name"],
                model=row["model"],
                created_at=row["created_at"],
                tenant=row["tenant"],
                ended_at=None,
            )
        )


def _add_new_columns(conn: sa.Connection) -> None:
    """Add the nullable columns of ``ADDED_COLUMNS`` a database of an earlier version lacks
    (the only changes made to an existing schema)."""
    inspector = sa.inspect(conn)
    for table_name, column_name in ADDED_COLUMNS:
        present = {column["name"] for column in inspector.get_columns(table_name)}
        if column_name in present:
            continue
        column = metadata.tables[table_name].columns[column_name]
        kind = column.type.compile(dialect=conn.dialect)
        conn.execute(sa.text(f"ALTER TABLE {table_name} ADD COLUMN {column_name} {kind}"))


def _missing_columns(conn: sa.Connection) -> list[str]:
    """Tables that exist without some of this schema's columns (``create_all`` adds missing
    tables, never missing columns), as ``"table lacks a, b"``."""
    inspector = sa.inspect(conn)
    missing: list[str] = []
    for table in metadata.sorted_tables:
        present = {column["name"] for column in inspector.get_columns(table.name)}
        lacking = [c.name for c in table.columns if c.name not in present]
        if lacking:
            missing.append(f"table {table.name} lacks {', '.join(lacking)}")
    return missing


def _insert(conn: sa.Connection, table: sa.Table, batch: list[dict[str, object]]) -> None:
    for start in range(0, len(batch), _CHUNK):
        conn.execute(table.insert(), batch[start : start + _CHUNK])


def _existing(conn: sa.Connection, column: sa.Column[str], keys: list[str]) -> list[str]:
    """Which of ``keys`` the table of ``column`` holds already, sorted.

    On PostgreSQL the keys go as one array (``= ANY``): an ``IN`` list of a few hundred
    parameters is prepared by psycopg after five runs, and its generic plan, made while
    the table was small, scans the whole table — a sync of 60,000 users spent 37 s here."""
    found: set[str] = set()
    for start in range(0, len(keys), _CHUNK):
        chunk = keys[start : start + _CHUNK]
        if conn.dialect.name == "postgresql":
            wanted = column == sa.any_(sa.literal(chunk, postgresql.ARRAY(sa.String)))
        else:
            wanted = column.in_(chunk)
        found.update(conn.execute(sa.select(column).where(wanted)).scalars())
    return sorted(found)
