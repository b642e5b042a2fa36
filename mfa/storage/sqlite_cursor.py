"""SQLite's single statements on the DB-API cursor, past SQLAlchemy's execution machinery.

Why this module exists (the one speed trick of the SQL storage): SQLite answers a keyed
read in a few microseconds, so per-statement overhead is the whole cost. Measured with
``bench/engine_bench.py --backends sqlite`` (begin+verify pairs, one thread, quiet machine,
two interleaved rounds, load average under 1): through ``Connection.execute`` a pair cost
1,418–1,791 CPU-µs (sms) and 1,221–1,599 (totp); with this module 775–904 and 786–883 —
SQLAlchemy's execution context and result objects cost ≈ 37 µs per statement against the
driver's 7 µs, more than twice the SQL. (The raw-cursor repository before SQLAlchemy Core:
607–667 and 612–707; the rest of the gap is the pool and a request's shared connection.)
On PostgreSQL a statement is a network round trip and Core costs nothing that shows
(issue 12's bar is 30 %), so PostgreSQL goes through ``Connection.execute`` only.

What stays SQLAlchemy's: the statements are Core constructs compiled by SQLAlchemy's SQLite
dialect (named parameters, once per statement and set of parameter names), connections come
from its pool, and transactions, bulk work and anything with listeners attached (``echo``,
the round-trip counter) take the ordinary ``Connection.execute`` path. Only public API is
used: ``Connection.connection.dbapi_connection`` and the DB-API cursor. Driver errors are
raised as SQLAlchemy's own exception classes, so callers handle one family of errors.
"""

from __future__ import annotations

import sqlite3
from collections import namedtuple
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import sqlite

__all__ = ["CursorStatements"]

_NAMED = sqlite.dialect(paramstyle="named")


class CursorStatements:
    """Compiles each of ``statements`` once (per set of parameter names) and runs it on a
    cursor; any other statement (made for one call) goes through ``Connection.execute``."""

    def __init__(self, statements: Iterable[Any]) -> None:
        self._known = {id(statement) for statement in statements}
        #: (statement id, parameter names) -> SQL text; the statements are the
        #: repository's own, alive as long as it is, so their ids stay theirs
        self._compiled: dict[tuple[int, frozenset[str]], str] = {}
        #: SQL text -> a named tuple type for its rows (columns renamed where repeated)
        self._row_types: dict[str, Any] = {}

    def _sql(self, statement: Any, params: Mapping[str, object]) -> str:
        key = (id(statement), frozenset(params))
        sql = self._compiled.get(key)
        if sql is None:
            sql = str(statement.compile(dialect=_NAMED, column_keys=list(params)))
            self._compiled[key] = sql
        return sql

    def rows(self, conn: sa.Connection, statement: Any, params: Mapping[str, object]) -> list[Any]:
        """A query's rows as named tuples (attribute access by column name)."""
        if id(statement) not in self._known:
            return list(conn.execute(statement, params))
        sql = self._sql(statement, params)
        cursor = self._execute(conn, sql, params)
        try:
            found = cursor.fetchall()
            row_type = self._row_types.get(sql)
            if row_type is None:
                names = [column[0] for column in cursor.description]
                row_type = namedtuple("row", names, rename=True)  # type: ignore[misc]
                self._row_types[sql] = row_type
        finally:
            cursor.close()
        return [row_type._make(row) for row in found]

    def write(self, conn: sa.Connection, statement: Any, params: Mapping[str, object]) -> int:
        """One statement, autocommitted by the driver; the number of rows it changed."""
        if id(statement) not in self._known:
            return int(conn.execute(statement, params).rowcount)
        cursor = self._execute(conn, self._sql(statement, params), params)
        count = cursor.rowcount
        cursor.close()
        return int(count)

    @contextmanager
    def transaction(self, conn: sa.Connection, begin: str) -> Iterator[None]:
        """``begin`` (``BEGIN IMMEDIATE``) to a commit on the driver's connection, rolled
        back if the block raises."""
        dbapi_connection = conn.connection.dbapi_connection
        assert dbapi_connection is not None
        cursor = self._execute(conn, begin, {})
        cursor.close()
        try:
            yield
        except BaseException:
            dbapi_connection.rollback()
            raise
        dbapi_connection.commit()

    @staticmethod
    def _execute(conn: sa.Connection, sql: str, params: Mapping[str, object]) -> sqlite3.Cursor:
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.execute(sql, params)
        except sqlite3.IntegrityError as exc:
            cursor.close()
            raise sa.exc.IntegrityError(sql, None, exc) from None
        except sqlite3.OperationalError as exc:
            cursor.close()
            raise sa.exc.OperationalError(sql, None, exc) from None
        return cursor
