"""The SQLAlchemy engine behind ``SqlRepository``: pool, timeouts and how transactions begin.

Both databases run their driver in autocommit, so a single statement is one round trip with
no ``BEGIN``/``COMMIT`` around it. Work that needs a transaction starts it with the statement
``begin_statements`` gives for its kind (``Transaction``), and
SQLAlchemy's ``Connection.commit()`` ends it. This is SQLAlchemy's documented recipe for
pysqlite ("Serializable isolation / Savepoints / Transactional DDL": ``isolation_level=None``
on connect, then the application emits ``BEGIN`` itself), used on PostgreSQL too, where
psycopg's ``commit()`` and ``rollback()`` follow the server's transaction status whatever
the autocommit flag.

The recipe emits ``BEGIN`` from a ``"begin"`` event; the repository emits it directly when
it opens a transaction instead. Measured: any listener on the engine makes every execution
dispatch the engine's events, ≈ 25–35 µs more per statement on SQLite (a third of a
``get_state``), for a statement the repository knows it needs when it opens the connection.

Why a locked begin: ``update_state`` must hold the user's row from the read to the write.
SQLite takes the database's write lock with ``BEGIN IMMEDIATE``; PostgreSQL locks the row
with ``SELECT … FOR UPDATE`` and lets that statement queue for the lock longer than the
per-statement timeout (a burst on one user is contention, not an outage) — set in the same
round trip as ``BEGIN`` (no parameters: psycopg's simple protocol runs both).

Pools: PostgreSQL connections are pooled (sized for a threaded server, ``POOL_SIZE``) and
use psycopg 3's server-side prepared statements. A connection that has been idle in the pool
for more than ``PING_AFTER_IDLE_SECONDS`` is pinged before use (a connection the server
dropped is replaced instead of failing a request); one used a moment ago is not: a ping
per checkout was one round trip in every sign-in, and a connection dropped within that
second fails its request with ``ServiceUnavailable`` (503, retry) while SQLAlchemy, which
recognises the disconnect, replaces every pooled connection. SQLAlchemy's own
``pool_pre_ping`` pings on every checkout; this uses its documented pool events instead
(``checkin`` stamps the time, ``checkout`` pings and raises ``DisconnectionError``, on
which the pool connects afresh). SQLite needs no ping (a file does not drop connections);
its pool hands out the connection returned last (``pool_use_lifo``), whose page cache is
warm.
"""

from __future__ import annotations

import math
import time
from enum import Enum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import URL

__all__ = [
    "BULK_TIMEOUT",
    "POOL_SIZE",
    "SQLITE_BUSY_SECONDS",
    "Transaction",
    "begin_statements",
    "connect",
    "failure_reason",
]

#: Connections kept per server process: as many as the server's threads may use at once.
POOL_SIZE = 16
SQLITE_BUSY_SECONDS = 15.0
#: statement_timeout for bulk work (imports, directory syncs, the log listing, the schema).
BULK_TIMEOUT = "60s"
#: statement_timeout inside ``update_state``, which queues for the user's row lock.
LOCK_QUEUE_TIMEOUT = "10s"
#: A pooled PostgreSQL connection idle longer than this is pinged before use.
PING_AFTER_IDLE_SECONDS = 1.0
#: psycopg prepares a statement on the server after this many runs on one connection.
PREPARE_THRESHOLD = 2


class Transaction(Enum):
    """The kinds of transaction the repository opens (keys of ``begin_statements``)."""

    #: bulk work: imports, syncs, the schema, the log listing (a minute per statement)
    BULK = "bulk"
    #: ``update_state``: the user's row locked from the read to the write
    LOCKED = "locked"


def connect(url: URL, *, echo: bool, timeout: float | None) -> sa.Engine:
    """The engine for ``url``. Parameters are never logged (``hide_parameters``): they hold
    sealed secrets and personal data."""
    if url.get_backend_name() == "sqlite":
        return _sqlite(url, echo)
    return _postgres(url, echo, timeout)


def _sqlite(url: URL, echo: bool) -> sa.Engine:
    engine = sa.create_engine(
        url,
        echo=echo,
        hide_parameters=True,
        pool_size=POOL_SIZE,
        max_overflow=-1,  # a file's connections are cheap: no thread waits for one
        # the connection used last has the warm page cache: handing connections round in
        # turn (with the log writer's) made SQLite re-read pages (sign-in query 30 → 20 µs)
        pool_use_lifo=True,
        connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_SECONDS},
    )
    sa.event.listen(engine, "connect", _on_sqlite_connect)
    return engine


def _on_sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # the driver issues no BEGIN of its own: the repository does (see the module doc)
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute(f"PRAGMA busy_timeout={int(SQLITE_BUSY_SECONDS * 1000)}")
    cursor.close()


def _postgres(url: URL, echo: bool, timeout: float | None) -> sa.Engine:
    connect_args: dict[str, object] = {"prepare_threshold": PREPARE_THRESHOLD}
    if timeout is not None:
        connect_args["connect_timeout"] = max(1, math.ceil(timeout))
        connect_args["options"] = f"-c statement_timeout={max(1, round(timeout * 1000))}"
    engine = sa.create_engine(
        url,
        echo=echo,
        hide_parameters=True,
        isolation_level="AUTOCOMMIT",
        pool_size=POOL_SIZE,
        max_overflow=POOL_SIZE,
        pool_recycle=1800,
        connect_args=connect_args,
    )
    _ping_after_idle(engine)
    return engine


def _ping_after_idle(engine: sa.Engine) -> None:
    """Ping a connection on checkout when it has been idle ``PING_AFTER_IDLE_SECONDS``
    (see the module's docstring)."""

    @sa.event.listens_for(engine, "checkin")
    def stamp(_dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @sa.event.listens_for(engine, "checkout")
    def ping(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.get("idle_since")
        if idle_since is None or time.monotonic() - idle_since < PING_AFTER_IDLE_SECONDS:
            return  # new, or used a moment ago
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as exc:
            raise sa.exc.DisconnectionError(str(exc)) from exc


def failure_reason(exc: BaseException) -> str:
    """The first line of what the driver said about a failure (for an error message)."""
    orig = getattr(exc, "orig", None) or exc
    text = str(orig).strip()
    return text.splitlines()[0] if text else orig.__class__.__name__


def begin_statements(dialect: str, timeout: float | None) -> dict[Transaction, str]:
    """The statement that starts each kind of transaction. On PostgreSQL a timeout change rides in
    the same simple-protocol round trip as ``BEGIN`` (no parameters)."""
    if dialect == "sqlite":
        return {Transaction.BULK: "BEGIN", Transaction.LOCKED: "BEGIN IMMEDIATE"}
    if timeout is None:
        return {Transaction.BULK: "BEGIN", Transaction.LOCKED: "BEGIN"}
    return {
        Transaction.BULK: f"BEGIN; SET LOCAL statement_timeout = '{BULK_TIMEOUT}'",
        Transaction.LOCKED: f"BEGIN; SET LOCAL statement_timeout = '{LOCK_QUEUE_TIMEOUT}'",
    }
