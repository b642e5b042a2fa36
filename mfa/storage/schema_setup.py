"""Creating mfalab's tables on first use, and bringing an earlier version's database up to date.

Several servers may start at once on one database: on PostgreSQL an advisory lock makes
them take turns; on SQLite a table another process created between the check and the
``CREATE`` is retried. The only changes made to an existing schema are the nullable columns
of ``ADDED_COLUMNS`` and the copy of a legacy provider row; a database that lacks anything
else is refused with a clear error (there are no migrations yet: alembic comes when the
schema must evolve).
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import URL

from mfa.storage.locations import StorageUnavailable, shown
from mfa.storage.schema import ADDED_COLUMNS, LEGACY_ACCOUNT_TABLE, accounts, metadata
from mfa.storage.sql_connect import failure_reason

__all__ = ["create_schema"]

#: Any constant: serialises schema creation when several servers start at once.
_SCHEMA_LOCK_ID = 0x6D66_616C_6162


def create_schema(engine: sa.Engine, url: URL, begin: str) -> None:
    """Create what is missing in one transaction started with ``begin``; on failure the
    engine is disposed and ``StorageUnavailable`` says why, naming the database."""
    for attempt in range(3):
        try:
            with engine.connect() as conn:
                conn.exec_driver_sql(begin)
                if engine.dialect.name == "postgresql":
                    conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_SCHEMA_LOCK_ID)))
                metadata.create_all(conn, checkfirst=True)
                _adopt_legacy_account(conn)
                _add_new_columns(conn)
                missing = _missing_columns(conn)
                conn.commit()
            if missing:
                engine.dispose()
                raise StorageUnavailable(
                    f"database {shown(url)} was created by an older mfalab: "
                    f"{'; '.join(missing)}. Use a new database (there are no migrations "
                    "yet)"
                )
            return
        except sa.exc.OperationalError as exc:
            # another SQLite process created a table between our check and our CREATE
            if "already exists" in str(exc) and attempt < 2:
                continue
            engine.dispose()
            raise StorageUnavailable(
                f"database {shown(url)} is not reachable: {failure_reason(exc)}"
            ) from None
        except sa.exc.DBAPIError as exc:
            engine.dispose()
            raise StorageUnavailable(
                f"database {shown(url)} cannot hold mfalab's tables: {failure_reason(exc)}"
            ) from None


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
