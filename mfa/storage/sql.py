"""The repository on a relational database: SQLite by default, PostgreSQL for a cluster.

Every call runs in its own short transaction on a pooled connection (one request's calls —
a begin, a verify — share one connection, see ``request``), so one repository serves a
multi-threaded server and several server processes can share one PostgreSQL
database (the seed's servers share their user data; only pending codes are per server).
SQLite runs in WAL mode (readers never wait for the writer) with a busy timeout, so a few
processes may also share one SQLite file.

Execution: statements are SQLAlchemy Core constructs (``mfa.storage.sql_statements``) run
with ``Connection.execute``, which compiles each once into SQLAlchemy's compiled cache; the
engine, its pool and how transactions begin are in ``mfa.storage.sql_connect``. A single
statement autocommits (one round trip); several that must hold together share one
transaction. A begin reads its user, state and methods in one query (``sign_in_facts``).

What Core costs (``bench/engine_bench.py --backends sqlite,postgres``, one run each at load
2–3 on the 2-core machine; begin+verify pairs/s and CPU µs per pair, this version against
the raw-cursor version it replaced): PostgreSQL sms 154 / 3,602 against 93 / 4,409, totp
158 / 3,704 against 170 / 3,352 — the raw path is not 30 % faster on PostgreSQL (issue 12's
bar; with fewer round trips Core is faster for sms). On SQLite Core's per-execution
machinery cost more than the SQL (≈ 44 µs per keyed read against the driver's 7 µs: 2x the
CPU per sign-in), so SQLite's single statements and its locked update run on the DB-API
cursor: ``mfa.storage.sqlite_cursor``, whose docstring has the figures.

TOTP and hardware-token secrets and push device tokens are sealed with ``SecretBox`` before
they reach a row; app passwords arrive as argon2 hashes already; the log holds no secret by
construction (a push device token only as its fingerprint).

Security counters change only through ``update_state``: one compare-and-set statement on
the state the request read (the common case: one round trip), or else one transaction that
locks the user's row while the engine's rule runs: ``SELECT … FOR UPDATE`` on PostgreSQL
(after making sure the row exists, since a missing row cannot be locked), ``BEGIN
IMMEDIATE`` on SQLite (which takes the database's write lock at once). Servers sharing the
database thus never lose a failure, a send or an accepted TOTP step to a concurrent update.

The authentication log is written in batches by a thread of its own
(``mfa.storage.log_writer``: 50 ms durability bound, nothing lost on a graceful close).

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

The schema is created on first use (``mfa.storage.schema_setup``); alembic migrations come
when the schema must evolve.
"""

from __future__ import annotations

import contextlib
import os
import weakref
from collections import namedtuple
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from mfa.auth_log import AuthLogRecord
from mfa.billing import ProviderAccount
from mfa.errors import ConflictError, ServiceUnavailable
from mfa.methods import RegisteredMethod
from mfa.repository import SignInFacts
from mfa.security_state import SecurityState, StateChange, empty_state
from mfa.storage import rows
from mfa.storage.crypto import SecretBox
from mfa.storage.locations import StorageUnavailable, database_url, shown
from mfa.storage.log_writer import LogWriter
from mfa.storage.schema import (
    app_passwords,
    methods,
    security_states,
    tokens,
    user_changes,
    users,
)
from mfa.storage.schema_setup import create_schema
from mfa.storage.sql_connect import Transaction, begin_statements, connect, failure_reason
from mfa.storage.sql_statements import STATE_VALUES, statements_for, vars_of
from mfa.storage.sqlite_cursor import CursorStatements
from mfa.tokens.model import HardwareToken
from mfa.users import User, UserChange

__all__ = ["SqlRepository"]

#: Bound parameters per statement stay well under SQLite's and PostgreSQL's limits.
_CHUNK = 500
_Params = Mapping[str, object]
T = TypeVar("T")


class _Parts:
    """Splits a row of several tables' columns (in table order) into one named tuple per
    table, so that ``mfa.storage.rows`` reads each by column name."""

    def __init__(self, *tables: sa.Table) -> None:
        self._types = [namedtuple(f"{t.name}_row", t.columns.keys()) for t in tables]

    def split(self, row: Sequence[Any]) -> list[Any]:
        parts, start = [], 0
        for kind in self._types:
            width = len(kind._fields)
            parts.append(kind._make(row[start : start + width]))
            start += width
        return parts


_SIGN_IN_PARTS = _Parts(users, security_states, methods)
#: ``_swap_state``'s "not applied" (an answer of ``update_state`` may be ``None``)
_LOST = object()


class _RequestScope:
    """What one request (``SqlRepository.request``) shares: its connection, and the
    security states it has read or written, each with its row's values as read (``None``:
    no row yet) for ``update_state``'s compare-and-set."""

    __slots__ = ("conn", "states")

    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn
        self.states: dict[str, tuple[SecurityState, dict[str, object] | None]] = {}


def _forget_pool_after_fork(engine: sa.Engine) -> None:
    """A forked child must not use its parent's pooled connections: SQLAlchemy's advice
    ("Using Connection Pools with Multiprocessing or os.fork()") is ``dispose(close=False)``
    in the child, which leaves the parent's connections alone."""
    ref = weakref.ref(engine)

    def in_child() -> None:
        alive = ref()
        if alive is not None:
            alive.dispose(close=False)

    os.register_at_fork(after_in_child=in_child)


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
        self._box = SecretBox(secret_key) if secret_key is not None else None
        self._engine = connect(self.url, echo=echo, timeout=timeout)
        _forget_pool_after_fork(self._engine)
        self._postgres = self._engine.dialect.name == "postgresql"
        self._sql = statements_for(self._engine.dialect.name)
        #: SQLite's single statements on the cursor (``mfa.storage.sqlite_cursor``: ≈ 2x
        #: less CPU per sign-in); ``echo`` logs what ``Connection.execute`` runs
        self._cursor = (
            CursorStatements(vars_of(self._sql)) if not self._postgres and not echo else None
        )
        self._begins = begin_statements(self._engine.dialect.name, timeout)
        #: the request in progress (``request``), per thread and task
        self._pinned: ContextVar[_RequestScope | None] = ContextVar("sql_request", default=None)
        create_schema(self._engine, self.url, self._begins[Transaction.BULK])
        self._log = LogWriter(self._write_logs)

    # ------------------------------------------------------------------ lifecycle

    @contextmanager
    def request(self) -> Iterator[None]:
        """One request's calls (a begin, a verify) share one pooled connection: one
        checkout and, on PostgreSQL, at most one ping instead of one per call. Each call
        still commits on its own, so atomicity is the same as without it. The security
        states the request reads are remembered, so that its ``update_state`` calls can be
        one compare-and-set each (see there). Nested: the outer request's."""
        if self._pinned.get() is not None:
            yield
            return
        try:
            conn = self._engine.connect()
        except (sa.exc.OperationalError, sa.exc.TimeoutError) as exc:
            raise ServiceUnavailable("database", failure_reason(exc)) from None
        token = self._pinned.set(_RequestScope(conn))
        try:
            yield
        finally:
            self._pinned.reset(token)
            conn.close()

    @contextmanager
    def _connection(self, begin: Transaction | None = None) -> Iterator[sa.Connection]:
        """The request's connection (``request``) or one from the pool; with ``begin``,
        its statements share one transaction (which the caller commits; anything else rolls
        it back). A database that cannot be reached, a statement cancelled or a pool with
        no connection free in 30 s is ``ServiceUnavailable`` (nothing half-written)."""
        scope = self._pinned.get()
        try:
            if scope is None:
                with self._engine.connect() as conn:
                    if begin is not None:
                        conn.exec_driver_sql(self._begins[begin])
                    yield conn
                return
            pinned = scope.conn
            try:
                if begin is not None:
                    pinned.exec_driver_sql(self._begins[begin])
                yield pinned
            except BaseException:
                # end the failed transaction; a broken connection reconnects on next use
                with contextlib.suppress(sa.exc.SQLAlchemyError):
                    pinned.rollback()
                raise
        except (sa.exc.OperationalError, sa.exc.TimeoutError) as exc:  # TimeoutError: pool
            raise ServiceUnavailable("database", failure_reason(exc)) from None

    def _rows(self, statement: Any, params: _Params) -> list[Any]:
        """A query's rows (an autocommitted statement: no transaction to end)."""
        with self._connection() as conn:
            if self._cursor is not None:
                return self._cursor.rows(conn, statement, params)
            return list(conn.execute(statement, params))

    def _write(self, statement: Any, params: _Params) -> int:
        """One statement, committed by itself (the driver autocommits: no ``COMMIT`` round
        trip); the number of rows it changed."""
        with self._connection() as conn:
            if self._cursor is not None:
                return self._cursor.write(conn, statement, params)
            return int(conn.execute(statement, params).rowcount)

    @property
    def engine(self) -> sa.Engine:
        """The SQLAlchemy engine, for instrumentation (``mfa.storage.roundtrips``). From
        then on every statement goes through ``Connection.execute``, so that listeners
        attached to the engine see them all (``mfa.storage.sqlite_cursor``)."""
        self._cursor = None
        return self._engine

    def ping(self) -> None:
        """One round trip; ``ServiceUnavailable`` when the database does not answer."""
        self._rows(sa.select(sa.literal(1)), {})

    def close(self) -> None:
        """Write the buffered log records, then let the connections go."""
        self._log.close()
        self._engine.dispose()

    def __enter__(self) -> SqlRepository:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"SqlRepository({shown(self.url)!r})"

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
            self._write(users.insert(), rows.user_row(user))
        except sa.exc.IntegrityError:
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
                conn.execute(self._sql.save_token, token_rows)

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
            with self._connection(Transaction.BULK) as conn:
                store(conn)
                conn.commit()
        except sa.exc.IntegrityError:
            with self._connection() as conn:
                clash = _existing(conn, key, keys)
            if not clash:
                raise
            return clash
        return []

    def get_user(self, user_id: str) -> User | None:
        found = self._rows(self._sql.get_user, {"k": user_id})
        return rows.user_from_row(found[0]) if found else None

    def sign_in_facts(self, user_id: str) -> SignInFacts:
        """One query (``Statements.sign_in_facts``): a begin's reads in one round trip."""
        found = self._rows(self._sql.sign_in_facts, {"k": user_id})
        if not found:
            return SignInFacts(None, empty_state(user_id), ())
        user_row, state_row, _ = _SIGN_IN_PARTS.split(found[0])
        state = self._remember_state(user_id, state_row if state_row.user_id is not None else None)
        listed = [_SIGN_IN_PARTS.split(r)[2] for r in found]
        return SignInFacts(
            rows.user_from_row(user_row),
            state,
            [rows.method_from_row(m, self._open) for m in listed if m.method_id is not None],
        )

    def save_user(self, user: User) -> None:
        self._write(self._sql.save_user, rows.user_row(user))

    def iter_users(self) -> Iterable[User]:
        return [rows.user_from_row(r) for r in self._rows(self._sql.all_users, {})]

    # ------------------------------------------------------------------ dated user facts

    def change_user(self, user: User, change: UserChange) -> None:
        """One transaction: the user's row and its history row."""
        with self._connection(Transaction.BULK) as conn:
            conn.execute(self._sql.save_user, rows.user_row(user))
            conn.execute(user_changes.insert(), [rows.change_row(change)])
            conn.commit()

    def user_changes(self) -> list[UserChange]:
        return [rows.change_from_row(r) for r in self._rows(self._sql.all_changes, {})]

    # ------------------------------------------------------------------ methods

    def add_method(self, method: RegisteredMethod) -> None:
        try:
            self._write(methods.insert(), rows.method_row(method, self._seal))
        except sa.exc.IntegrityError:
            raise ConflictError(f"method {method.method_id!r} exists") from None

    def save_method(self, method: RegisteredMethod) -> None:
        self._write(self._sql.save_method, rows.method_row(method, self._seal))

    def list_methods(self, user_id: str) -> list[RegisteredMethod]:
        found = self._rows(self._sql.list_methods, {"k": user_id})
        return [rows.method_from_row(r, self._open) for r in found]

    def delete_methods(self, user_id: str) -> int:
        return self._write(self._sql.delete_methods, {"k": user_id})

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
        found = self._rows(self._sql.get_token, {"k": serial})
        return rows.token_from_row(found[0], self._open) if found else None

    def save_token(self, token: HardwareToken) -> None:
        self._write(self._sql.save_token, rows.token_row(token, self._seal))

    # ------------------------------------------------------------------ security counters

    def get_state(self, user_id: str) -> SecurityState:
        found = self._rows(self._sql.get_state, {"k": user_id})
        return self._remember_state(user_id, found[0] if found else None)

    def _remember_state(self, user_id: str, row: Any | None) -> SecurityState:
        """The state of ``row`` (``None``: the user has no row yet), remembered for the
        rest of the request in progress, if any, as what ``update_state`` compares with."""
        state = rows.state_from_row(row) if row is not None else empty_state(user_id)
        scope = self._pinned.get()
        if scope is not None:
            was = None if row is None else {c.name: getattr(row, c.name) for c in STATE_VALUES}
            scope.states[user_id] = (state, was)
        return state

    def save_state(self, state: SecurityState) -> None:
        self._write(self._sql.save_state, rows.state_row(state))

    def update_state(self, user_id: str, change: StateChange[T]) -> T:
        """Atomic, in one of two ways.

        Within a request that has read the user's state (``sign_in_facts``, ``get_state``)
        or changed it already, the change is applied to that state and written with one
        compare-and-set statement: only if the row still holds what was read (or, with no
        row yet, if none has appeared). One round trip instead of four. Comparing values
        rather than a version is enough because ``change`` is pure: a row that went away and
        came back to the same values gives the same answer.

        Otherwise — no state read yet, another request changed the row meanwhile, or the
        change answers without changing anything (the refusals: a read that may be old must
        not refuse) — one transaction with the user's row locked from the read to the write
        (``BEGIN IMMEDIATE`` on SQLite, ``SELECT … FOR UPDATE`` on PostgreSQL)."""
        swapped = self._swap_state(user_id, change)
        if swapped is not _LOST:
            return swapped  # type: ignore[return-value]
        if self._cursor is not None:
            return self._update_state_on_cursor(self._cursor, user_id, change)
        sql = self._sql
        with self._connection(Transaction.LOCKED) as conn:
            found = conn.execute(sql.lock_state, {"k": user_id}).first()
            if found is None and self._postgres:
                # PostgreSQL locks rows, and there is none yet: create it (a concurrent
                # creator makes this wait, then do nothing), then lock it
                conn.execute(sql.ensure_state, rows.state_row(empty_state(user_id)))
                found = conn.execute(sql.lock_state, {"k": user_id}).first()
            state = self._remember_state(user_id, found)
            new, answer = change(state)
            if new is not state:
                self._save_remembered(conn, new)
            conn.commit()
        return answer

    def _swap_state(self, user_id: str, change: StateChange[T]) -> T | object:
        """``update_state`` as one compare-and-set on the state this request remembers;
        ``_LOST`` when there is none, the change writes nothing, or the row has moved on."""
        scope = self._pinned.get()
        seen = None if scope is None else scope.states.get(user_id)
        if seen is None:
            return _LOST
        state, was = seen
        new, answer = change(state)
        if new is state:
            return _LOST
        row = rows.state_row(new)
        if was is None:  # no row when read: create it, unless another request did
            written = len(self._rows(self._sql.create_state, row))
        else:
            swap = {"k": user_id, **{f"was_{name}": value for name, value in was.items()}}
            swap.update((c.name, row[c.name]) for c in STATE_VALUES)
            written = self._write(self._sql.swap_state, swap)
        if not written:
            return _LOST
        self._remember_written(user_id, new, row)
        return answer

    def _save_remembered(self, conn: sa.Connection, new: SecurityState) -> None:
        """Write ``new`` inside ``update_state``'s locked transaction, and remember it."""
        row = rows.state_row(new)
        conn.execute(self._sql.save_state, row)
        self._remember_written(new.user_id, new, row)

    def _remember_written(self, user_id: str, new: SecurityState, row: _Params) -> None:
        scope = self._pinned.get()
        if scope is not None:
            scope.states[user_id] = (new, {c.name: row[c.name] for c in STATE_VALUES})

    def _update_state_on_cursor(
        self, cursor: CursorStatements, user_id: str, change: StateChange[T]
    ) -> T:
        """``update_state`` on SQLite: ``BEGIN IMMEDIATE`` takes the database's write lock,
        so the read and the write hold together."""
        sql = self._sql
        with (
            self._connection() as conn,
            cursor.transaction(conn, self._begins[Transaction.LOCKED]),
        ):
            found = cursor.rows(conn, sql.lock_state, {"k": user_id})
            state = self._remember_state(user_id, found[0] if found else None)
            new, answer = change(state)
            if new is not state:
                row = rows.state_row(new)
                cursor.write(conn, sql.save_state, row)
                self._remember_written(user_id, new, row)
        return answer

    # ------------------------------------------------------------------ app passwords

    def add_app_password(self, user_id: str, password_hash: str, created_at: float) -> None:
        row = {"user_id": user_id, "password_hash": password_hash, "created_at": created_at}
        self._write(app_passwords.insert(), row)

    def app_password_hashes(self, user_id: str) -> list[str]:
        return [r[0] for r in self._rows(self._sql.app_password_hashes, {"k": user_id})]

    def delete_app_passwords(self, user_id: str) -> int:
        return self._write(self._sql.delete_app_passwords, {"k": user_id})

    # ------------------------------------------------------------------ authentication log

    def save_log(self, record: AuthLogRecord) -> None:
        """Buffered: written in batches within 50 ms (``mfa.storage.log_writer``)."""
        self._log.put(record)

    def _write_logs(self, records: Sequence[AuthLogRecord]) -> None:
        """One batch of the log writer, one transaction (merged by the upsert)."""
        with self._connection(Transaction.BULK) as conn:
            conn.execute(self._sql.save_log, [rows.log_row(r) for r in records])
            conn.commit()

    def flush_logs(self) -> None:
        """Write the buffered log records now (``LogWriter.flush``)."""
        self._log.flush()

    def logs(self, since: float | None = None) -> list[AuthLogRecord]:
        """Every record (since ``since``), this process's buffered ones included; a long
        log is bulk work, past the per-statement timeout."""
        self._log.flush()
        statement, params = (
            (self._sql.all_logs, {}) if since is None else (self._sql.logs_since, {"since": since})
        )
        with self._connection(Transaction.BULK) as conn:
            found = list(conn.execute(statement, params))
            conn.commit()
        return [rows.log_from_row(r) for r in found]

    # ------------------------------------------------------------------ provider accounts

    def get_account(self) -> ProviderAccount | None:
        found = self._rows(self._sql.active_account, {})
        return rows.account_from_row(found[0]) if found else None

    def save_account(self, account: ProviderAccount) -> None:
        self._write(self._sql.save_account, rows.account_row(account))

    def accounts(self) -> list[ProviderAccount]:
        return [rows.account_from_row(r) for r in self._rows(self._sql.all_accounts, {})]


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
