"""``mfalab logs export``: the authentication log as a Parquet file for analysts.

One row per authentication with every field of ``mfa.auth_log.AuthLogRecord`` plus the
seed's ``result``; times are UTC timestamps so pandas and notebooks read them as dates.
The log holds no secret, so no ``MFALAB_SECRET_KEY`` is needed to export it.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from mfa.auth_log import LOG_FIELDS, AuthLogRecord
from mfa.errors import InvalidInput
from mfalab.cli import UsageError

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["export_logs", "log_schema", "register"]

_TIMES = ("began_at", "completed_at")
_INTS = ("attempts",)
_BOOLS = ("billable",)


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser("logs", help="work with the engine's authentication log")
    commands = parser.add_subparsers(dest="logs_command", metavar="ACTION", required=True)
    export = commands.add_parser(
        "export",
        help="write the authentication log to a Parquet file",
        description="Write every authentication log record (the seed's fields, result, "
        "times as UTC timestamps) from an mfalab database to Parquet.",
    )
    export.add_argument(
        "--db", required=True, metavar="URL", help="sqlite:///PATH or postgresql+psycopg://…"
    )
    export.add_argument("--out", required=True, metavar="FILE", help="the .parquet file to write")
    export.add_argument(
        "--since",
        metavar="ISO",
        help="only records that began at or after this time (ISO 8601; UTC if no offset)",
    )
    export.set_defaults(handler=_export)


def log_schema() -> pa.Schema:
    """Column types of the export: strings, UTC timestamps, ``attempts`` int32, bool."""
    import pyarrow as pa

    def column(name: str) -> pa.Field:
        if name in _TIMES:
            return pa.field(name, pa.timestamp("us", tz="UTC"), nullable=name != "began_at")
        if name in _INTS:
            return pa.field(name, pa.int32(), nullable=False)
        if name in _BOOLS:
            return pa.field(name, pa.bool_(), nullable=False)
        required = name in ("auth_id", "unique_id", "status", "result")
        return pa.field(name, pa.string(), nullable=not required)

    return pa.schema([column(name) for name in LOG_FIELDS])


def export_logs(records: Sequence[AuthLogRecord], out: str | Path) -> int:
    """Write ``records`` to ``out`` (replaced atomically: no half-written file on error)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = [r.to_dict() for r in records]
    columns: dict[str, list[object]] = {name: [row[name] for row in rows] for name in LOG_FIELDS}
    for name in _TIMES:
        columns[name] = [
            None if t is None else datetime.fromtimestamp(float(t), tz=UTC)  # type: ignore[arg-type]
            for t in columns[name]
        ]
    table = pa.Table.from_pydict(columns, schema=log_schema())
    target = Path(out)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
    try:
        pq.write_table(table, partial)
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)
    return table.num_rows


def _parse_since(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        raise UsageError(
            f"--since: {text!r} is not an ISO 8601 time, e.g. 2026-11-01T00:00Z"
        ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.timestamp()


def _export(args: argparse.Namespace) -> int:
    from mfa.storage.locations import database_url

    since = _parse_since(args.since)
    try:
        url = database_url(args.db, setting="--db")
    except InvalidInput as exc:
        raise UsageError(str(exc)) from None
    if url.get_backend_name() == "sqlite" and not Path(url.database or "").is_file():
        raise UsageError(f"--db: there is no database file at {url.database!r}")
    if not str(args.out).endswith(".parquet"):
        raise UsageError(f"--out: {args.out!r} should end in .parquet")

    from mfa.storage.sql import SqlRepository

    repository = SqlRepository(args.db, secret_key=None)
    try:
        records = repository.logs(since)
    finally:
        repository.close()
    count = export_logs(records, args.out)
    print(f"wrote {count} authentication record(s) to {args.out}")
    return 0
