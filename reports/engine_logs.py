"""The engine's authentication log as a DataFrame: the Parquet file ``mfalab logs export``
writes, or the JSON list ``GET /v1/logs`` answers → one row per ``mfa.auth_log.AuthLogRecord``."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa

from mfa.auth_log import LOG_FIELDS
from reports.input_frames import ReportInputError, coerce_columns

__all__ = [
    "LOG_DTYPES",
    "load_engine_logs",
]

#: Log columns added after the first export format (``fraud_rule``: the fraud defences): an
#: earlier export without them loads with them empty.
LOG_OPTIONAL: tuple[str, ...] = ("fraud_rule",)

#: Engine authentication log (``mfa.auth_log.LOG_FIELDS``).
LOG_DTYPES: Mapping[str, str] = {
    "auth_id": "object",
    "unique_id": "object",
    "mode": "category",
    "status": "category",
    "server_name": "category",
    "server_ip": "category",
    "began_at": "datetime64[ns, UTC]",
    "first_name": "object",
    "last_name": "object",
    "email": "object",
    "phone": "object",
    "device_token": "object",
    "reason": "category",
    "client_ip": "object",
    "completed_at": "datetime64[ns, UTC]",  # NaT while pending
    "attempts": "int64",
    "sender": "category",
    "provider": "category",
    "billable": "bool",
    "fraud_rule": "category",  # range_velocity | conversion | client_ip (fraud_suspected)
    "result": "category",  # success | denied | pending
}


def load_engine_logs(source: str | Path | Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """The engine's authentication log as a DataFrame (columns ``LOG_DTYPES``).

    ``source`` is the Parquet file ``mfalab logs export`` writes, a ``.json`` file holding the
    list ``GET /v1/logs`` answers, or that list itself (``httpx.get(…).json()``).
    """
    where: str | Path
    if isinstance(source, str | Path):
        where = Path(source)
        if not where.exists():
            raise ReportInputError(where, "no such file")
        if where.suffix == ".json":
            try:
                records = json.loads(where.read_text(encoding="utf-8"))
            except ValueError as exc:
                raise ReportInputError(where, f"not JSON ({exc})") from None
            frame = _log_frame(records, where)
        else:
            try:
                frame = pd.read_parquet(where)
            except (pa.ArrowInvalid, OSError, ValueError) as exc:
                raise ReportInputError(where, f"not a readable Parquet file ({exc})") from None
    else:
        where = "GET /v1/logs"
        frame = _log_frame(source, where)
    for column in LOG_OPTIONAL:  # exports of earlier versions lack it: none then
        if column not in frame.columns:
            frame[column] = None
    missing = [c for c in LOG_FIELDS if c not in frame.columns]
    if missing:
        raise ReportInputError(where, f"missing columns {missing}")
    frame = frame.loc[:, list(LOG_FIELDS)].copy()
    for column in ("attempts",):
        frame[column] = pd.to_numeric(frame[column], errors="coerce").fillna(0)
    frame["billable"] = frame["billable"].fillna(True).astype(bool)
    return coerce_columns(frame, LOG_DTYPES, where)


def _log_frame(records: object, where: str | Path) -> pd.DataFrame:
    if isinstance(records, Mapping) and isinstance(records.get("items"), list):
        records = records["items"]
    if not isinstance(records, list) or not all(isinstance(r, Mapping) for r in records):
        raise ReportInputError(where, "expected a JSON list of log records")
    if not records:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in LOG_FIELDS})
    return pd.DataFrame.from_records(records)
