"""The statements ``SqlRepository`` runs, as PostgreSQL receives them."""

from __future__ import annotations

from sqlalchemy.dialects import postgresql

from mfa.storage.sql_statements import statements_for

#: psycopg 3 keeps the parsed form of a statement up to this many bytes
#: (``psycopg._queries.MAX_CACHED_STATEMENT_LENGTH``); a longer one is parsed again for
#: every row of every batch.
PSYCOPG_CACHED_BYTES = 4096


def test_the_log_upsert_fits_psycopgs_statement_cache() -> None:
    """The log writer sends its batches with ``executemany``: at 10 KB (the merge rule
    spelled out per column) psycopg re-parsed the upsert for every record, 5 % of a
    PostgreSQL server's interpreter time under load (py-spy --gil)."""
    statement = statements_for("postgresql").save_log
    text = str(statement.compile(dialect=postgresql.psycopg.dialect()))
    assert len(text.encode()) <= PSYCOPG_CACHED_BYTES, len(text.encode())
