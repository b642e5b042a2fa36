"""The SQLAlchemy engine ``sql_connect`` builds: how its pool hands out connections."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from mfa.storage.sql_connect import connect


def test_sqlite_hands_out_the_connection_used_last(tmp_path: Path) -> None:
    """Each SQLite connection keeps its own page cache: the one returned last is warm. A
    pool that hands connections round in turn (the request's, then the log writer's) made
    every sign-in re-read its pages from the file."""
    engine = connect(sa.make_url(f"sqlite:///{tmp_path / 'x.db'}"), echo=False, timeout=None)
    try:
        first, second = engine.connect(), engine.connect()
        first_raw = first.connection.dbapi_connection
        second_raw = second.connection.dbapi_connection
        assert first_raw is not second_raw
        first.close()
        second.close()  # returned last
        with engine.connect() as again:
            assert again.connection.dbapi_connection is second_raw
    finally:
        engine.dispose()
