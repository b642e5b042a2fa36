"""Count what a request sends to the back ends: SQL statements, commits, pool pings, Redis calls.

Each is one network round trip on PostgreSQL and Redis (on SQLite a call into the library),
so the counts say what a begin or a verify costs before any timing does. Counting uses only
public hooks: SQLAlchemy's ``before_cursor_execute`` (every statement, including the
``BEGIN`` the repository's ``"begin"`` event emits) and ``commit`` events (an explicit
transaction ends with a ``COMMIT`` round trip; single statements autocommit and call no
commit), the dialect's ``do_ping`` (the pool's pre-ping, one ``SELECT 1``), and the Redis
client's ``execute_command`` (every command and script call; a pipeline is one round trip
and is not used by mfalab's stores).

Only the calls of the thread that counts are counted: the authentication log's batches,
written by a thread of their own (``mfa.storage.log_writer``) for hundreds of records at a
time, are not a request's round trips.

Used by ``bench/engine_bench.py --count`` and ``tests/mfa/storage/test_round_trips.py``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

__all__ = ["RoundTripCounter", "RoundTrips", "counting"]


@dataclass(frozen=True, slots=True)
class RoundTrips:
    """Round trips sent while counting, by kind."""

    statements: int = 0
    commits: int = 0
    pings: int = 0
    redis: int = 0

    @property
    def sql(self) -> int:
        """Round trips to the database: statements, commits and pings."""
        return self.statements + self.commits + self.pings

    @property
    def total(self) -> int:
        return self.sql + self.redis

    def __str__(self) -> str:
        return (
            f"{self.total} ({self.statements} SQL statements, {self.commits} commits, "
            f"{self.pings} pings, {self.redis} Redis calls)"
        )


class RoundTripCounter:
    """Counts on an engine and a Redis client until ``detach``; ``take`` reads and resets."""

    def __init__(self, engine: sa.Engine | None = None, redis_client: Any = None) -> None:
        self._counts = {"statements": 0, "commits": 0, "pings": 0, "redis": 0}
        self._thread = threading.get_ident()
        self._engine = engine
        self._redis = redis_client
        if engine is not None:
            sa.event.listen(engine, "before_cursor_execute", self._on_statement)
            sa.event.listen(engine, "commit", self._on_commit)
            ping = engine.dialect.do_ping

            def counted_ping(dbapi_connection: Any) -> bool:
                self._count("pings")
                return ping(dbapi_connection)

            engine.dialect.do_ping = counted_ping  # type: ignore[method-assign]
        if redis_client is not None:
            command = redis_client.execute_command

            def counted_command(*args: Any, **options: Any) -> Any:
                self._count("redis")
                return command(*args, **options)

            redis_client.execute_command = counted_command

    def _count(self, kind: str) -> None:
        if threading.get_ident() == self._thread:
            self._counts[kind] += 1

    def _on_statement(self, *_args: Any) -> None:
        self._count("statements")

    def _on_commit(self, _conn: sa.Connection) -> None:
        self._count("commits")

    def take(self) -> RoundTrips:
        """The counts since the last ``take`` (or since attaching)."""
        taken = RoundTrips(**self._counts)
        for kind in self._counts:
            self._counts[kind] = 0
        return taken

    def detach(self) -> None:
        if self._engine is not None:
            sa.event.remove(self._engine, "before_cursor_execute", self._on_statement)
            sa.event.remove(self._engine, "commit", self._on_commit)
            del self._engine.dialect.do_ping
        if self._redis is not None:
            del self._redis.execute_command


@contextmanager
def counting(
    engine: sa.Engine | None = None, redis_client: Any = None
) -> Iterator[RoundTripCounter]:
    """A ``RoundTripCounter`` attached for the ``with`` block."""
    counter = RoundTripCounter(engine, redis_client)
    try:
        yield counter
    finally:
        counter.detach()
