"""Loaders: every input the reports read, turned into pandas DataFrames with fixed dtypes.

Analysts work in DataFrames; the reports only ever see what these functions return, so a
column's name and dtype are promised here once:

- a simulator run directory (``outputs.records``: ``auths/``, ``deliveries/``,
  ``resources.parquet``, ``scenario.yaml``, ``meta.json``, ``summary.json``) → ``SimRun``; a
  sweep is the same Parquet layout whose rows carry the swept parameters (``servers.count`` …)
  as extra columns;
- the engine's authentication log (``mfalab logs export … --out logs.parquet`` or the JSON list
  ``GET /v1/logs`` answers) → one row per ``mfa.auth_log.AuthLogRecord``;
- Locust's ``--csv PREFIX`` files and the load-test ``thresholds.json`` → ``LocustResults``.

Strings with few distinct values are ``category``; simulated times are float seconds since the
start of the run (NaN when missing); engine-log times are ``datetime64[ns, UTC]``. Anything
malformed raises ``ReportInputError`` naming the file and the reason.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import yaml

from mfa.auth_log import LOG_FIELDS
from outputs.metrics import format_parameter
from outputs.records import AUTH_COLUMNS, DELIVERY_COLUMNS, RESOURCE_COLUMNS

__all__ = [
    "AUTH_DTYPES",
    "AUTH_OPTIONAL",
    "DELIVERY_DTYPES",
    "DELIVERY_OPTIONAL",
    "LOCUST_HISTORY_COLUMNS",
    "LOCUST_STATS_COLUMNS",
    "LOG_DTYPES",
    "RESOURCE_DTYPES",
    "RESOURCE_OPTIONAL",
    "LocustResults",
    "ReportInputError",
    "SimRun",
    "is_locust_dir",
    "is_sim_run",
    "load_auths",
    "load_deliveries",
    "load_engine_logs",
    "load_locust",
    "load_resources",
    "load_run",
    "parameter_columns",
    "parameter_text",
    "parameter_value",
    "point_label",
    "sweep_points",
]


class ReportInputError(ValueError):
    """An input file or directory the reports cannot read; the message names it and why."""

    def __init__(self, where: str | Path, reason: str) -> None:
        super().__init__(f"{where}: {reason}")
        self.where = str(where)
        self.reason = reason


#: ``auths/part-*.parquet`` — one row per authentication (``outputs.records.AuthRow``).
AUTH_DTYPES: Mapping[str, str] = {
    "replication": "int64",
    "auth_seq": "int64",
    "user_id": "object",
    "country": "category",
    "carrier": "category",
    "licensed": "bool",
    "method_first": "category",
    "methods_used": "category",
    "arrived_at": "float64",
    "finished_at": "float64",
    "outcome": "category",  # success | denied | abandoned
    "reason": "category",  # "" on success
    "begins": "int64",
    "verifies": "int64",
    "time_to_auth": "float64",  # NaN unless outcome == success
    "servers": "category",  # "mfa1>mfa2"
    "wrong_server": "int64",
    "expired": "int64",
    "rate_limited": "int64",
    "first_sender": "category",
    "first_sender_kind": "category",  # short_code | long_code | ""
    "first_provider": "category",
}

#: Columns the simulator added after the agreed ones: read when present (older runs lack them).
AUTH_OPTIONAL: Mapping[str, str] = {
    "server_wait": "float64",  # seconds the authentication's calls queued at servers
    "connectivity": "category",  # wifi_and_cellular | cellular | wifi_only | none
    "signal": "category",  # good | poor
    "security_app": "bool",  # a security app blocked texts/calls at the start
    "billable": "int64",  # begins the engine accepted (each a billable log record)
}

#: ``deliveries/part-*.parquet`` — one row per message sent (``outputs.records.DeliveryRow``).
DELIVERY_DTYPES: Mapping[str, str] = {
    "replication": "int64",
    "auth_seq": "int64",
    "attempt": "int64",
    "auth_id": "object",
    "channel": "category",  # sms | voice | push
    "country": "category",
    "carrier": "category",
    "provider": "category",
    "sender": "category",
    "sender_kind": "category",
    "server": "category",
    "requested_at": "float64",
    "sent_at": "float64",
    "delivered_at": "float64",  # NaN if lost
    "loss_cause": "category",  # "" if delivered
}

DELIVERY_OPTIONAL: Mapping[str, str] = {
    "failovers": "int64",  # providers that refused the message before one took it
}

#: ``resources.parquet`` — queue samples (``outputs.records.ResourceSample``).
RESOURCE_DTYPES: Mapping[str, str] = {
    "replication": "int64",
    "time": "float64",
    "kind": "category",  # sender | provider | server
    "name": "category",
    "queue_length": "int64",
    "busy": "int64",
    "capacity": "float64",
}

RESOURCE_OPTIONAL: Mapping[str, str] = {
    "utilisation": "float64",  # senders/providers: messages in the interval / capacity;
    # servers: busy / slots at the sample time
}

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

#: ``PREFIX_stats.csv`` after renaming (one row per request name, plus ``Aggregated``).
LOCUST_STATS_COLUMNS: Mapping[str, str] = {
    "Type": "method",
    "Name": "name",
    "Request Count": "requests",
    "Failure Count": "failures",
    "Median Response Time": "median_ms",
    "Average Response Time": "mean_ms",
    "Min Response Time": "min_ms",
    "Max Response Time": "max_ms",
    "Average Content Size": "mean_bytes",
    "Requests/s": "rps",
    "Failures/s": "failures_per_s",
}

#: ``PREFIX_stats_history.csv`` after renaming (one row per second per name while running).
LOCUST_HISTORY_COLUMNS: Mapping[str, str] = {
    "Timestamp": "time",
    "User Count": "users",
    "Type": "method",
    "Name": "name",
    "Requests/s": "rps",
    "Failures/s": "failures_per_s",
    "Total Request Count": "requests",
    "Total Failure Count": "failures",
    "Total Median Response Time": "median_ms",
    "Total Average Response Time": "mean_ms",
    "Total Min Response Time": "min_ms",
    "Total Max Response Time": "max_ms",
    "Total Average Content Size": "mean_bytes",
}

_PERCENTILE = re.compile(r"^(\d+(?:\.\d+)?)%$")


@dataclass(frozen=True, slots=True, eq=False)
class SimRun:
    """One simulator run directory (or sweep), loaded."""

    path: Path
    label: str
    auths: pd.DataFrame
    deliveries: pd.DataFrame
    resources: pd.DataFrame
    scenario: Mapping[str, Any] = field(default_factory=dict)
    meta: Mapping[str, Any] = field(default_factory=dict)
    summary: Mapping[str, Any] = field(default_factory=dict)

    @property
    def parameters(self) -> list[str]:
        """Swept parameters (extra columns of a sweep); empty for a single run."""
        return parameter_columns(self.auths)


@dataclass(frozen=True, slots=True, eq=False)
class LocustResults:
    """Locust's ``--csv`` outputs and the thresholds verdicts of one load test."""

    path: Path
    label: str
    stats: pd.DataFrame
    history: pd.DataFrame
    failures: pd.DataFrame
    exceptions: pd.DataFrame
    thresholds: pd.DataFrame
    #: ``PREFIX_logins.csv`` (mfalab's locustfiles): whole sign-ins per flow, not requests.
    logins: pd.DataFrame = field(default_factory=pd.DataFrame)


# ---------------------------------------------------------------------- simulator runs


def is_sim_run(path: str | Path) -> bool:
    return (Path(path) / "auths").is_dir()


#: Sweep bookkeeping columns that are not parameters (``grid_point`` numbers the points).
SWEEP_INDEX_COLUMNS = frozenset({"grid_point"})


def parameter_columns(frame: pd.DataFrame) -> list[str]:
    """Columns a sweep added to the record columns: the swept parameters, in file order."""
    known = set(AUTH_COLUMNS) | set(DELIVERY_COLUMNS) | set(RESOURCE_COLUMNS)
    return [c for c in frame.columns if c not in known and c not in SWEEP_INDEX_COLUMNS]


def parameter_value(value: Any) -> Any:
    """A swept value as the user typed it: a whole number as ``int`` (a column that also
    holds missing values turns 3 into 3.0), a missing value (NaN) as ``None``."""
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        if math.isnan(value):
            return None
        return int(value) if float(value).is_integer() else float(value)
    return value


#: A swept value as typed (``3``, not ``3.0``; ``true``/``false``; ``None`` when missing).
parameter_text = format_parameter


def point_label(parameters: Mapping[str, Any], *, sep: str = " ") -> str:
    """``key=value`` for every parameter a point has (missing ones left out)."""
    parts = []
    for key, value in parameters.items():
        text = parameter_text(value)
        if text is not None:
            parts.append(f"{key}={text}")
    return sep.join(parts)


def sweep_points(run: SimRun) -> list[SimRun]:
    """A sweep split into one ``SimRun`` per point (rows filtered on every parameter; frames
    without the parameter columns are kept whole); a plain run is returned as is."""
    params = run.parameters
    if not params:
        return [run]
    points = []
    for key, auths in run.auths.groupby(params, observed=True, sort=True):
        values = key if isinstance(key, tuple) else (key,)
        chosen = dict(zip(params, values, strict=True))

        def only(frame: pd.DataFrame, chosen: dict[str, Any] = chosen) -> pd.DataFrame:
            if not set(chosen) <= set(frame.columns):
                return frame
            mask = pd.Series(True, index=frame.index)
            for column, value in chosen.items():
                mask &= frame[column] == value
            return frame[mask]

        label = point_label(chosen, sep=", ")
        points.append(
            SimRun(
                path=run.path,
                label=f"{run.label} [{label}]",
                auths=auths.drop(columns=params),
                deliveries=only(run.deliveries).drop(columns=params, errors="ignore"),
                resources=only(run.resources).drop(columns=params, errors="ignore"),
                scenario=run.scenario,
                meta=run.meta,
                summary=run.summary,
            )
        )
    return points


def load_run(path: str | Path, *, label: str | None = None) -> SimRun:
    """Read a run directory written by ``mfalab run`` or ``mfalab sweep``."""
    root = Path(path)
    if not root.is_dir():
        raise ReportInputError(root, "not a directory (expected a run directory from mfalab run)")
    if not (root / "auths").is_dir():
        raise ReportInputError(root, "no auths/ directory: this is not a simulator run directory")
    scenario = _read_mapping(root / "scenario.yaml", yaml.safe_load)
    return SimRun(
        path=root,
        label=label or root.name,
        auths=load_auths(root),
        deliveries=load_deliveries(root),
        resources=load_resources(root),
        scenario=scenario,
        meta=_read_mapping(root / "meta.json", json.loads),
        summary=_read_mapping(root / "summary.json", json.loads),
    )


def load_auths(path: str | Path) -> pd.DataFrame:
    """``auths/`` of a run directory (or a Parquet file/dataset of auth rows) → DataFrame."""
    return _load_records(_dataset_path(Path(path), "auths"), AUTH_DTYPES, AUTH_OPTIONAL)


def load_deliveries(path: str | Path) -> pd.DataFrame:
    return _load_records(
        _dataset_path(Path(path), "deliveries"), DELIVERY_DTYPES, DELIVERY_OPTIONAL
    )


def load_resources(path: str | Path) -> pd.DataFrame:
    return _load_records(
        _dataset_path(Path(path), "resources.parquet"), RESOURCE_DTYPES, RESOURCE_OPTIONAL
    )


def _dataset_path(path: Path, member: str) -> Path:
    """``RUN_DIR`` → ``RUN_DIR/member``; a path that already is the dataset is kept. A run
    without the member (e.g. a sweep holding only auths) reads as empty."""
    if path.is_dir() and (path / member).exists():
        return path / member
    if path.is_file() or path.name == member or not (path / "auths").is_dir():
        return path
    return path / member


def _load_records(
    path: Path, dtypes: Mapping[str, str], optional: Mapping[str, str]
) -> pd.DataFrame:
    if not path.exists():
        return _empty(dtypes)
    try:
        dataset = ds.dataset(path, format="parquet", partitioning="hive")
        # a sweep's parts carry the swept value as typed per point (0 and 0.5: int64 in one
        # file, double in the next): read every part under one widened schema
        schemas = [fragment.physical_schema for fragment in dataset.get_fragments()]
        if len({str(schema) for schema in schemas}) > 1:
            schema = pa.unify_schemas(schemas, promote_options="permissive")
            dataset = ds.dataset(path, format="parquet", partitioning="hive", schema=schema)
        table = dataset.to_table()
    except (pa.ArrowInvalid, pa.ArrowTypeError, OSError) as exc:
        raise ReportInputError(path, f"not a readable Parquet dataset ({exc})") from None
    missing = [c for c in dtypes if c not in table.column_names]
    if missing:
        raise ReportInputError(path, f"missing columns {missing}")
    frame = table.to_pandas()
    present = {c: t for c, t in optional.items() if c in frame.columns}
    return _coerce(frame, {**dtypes, **present}, path)


def _empty(dtypes: Mapping[str, str]) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=t) for c, t in dtypes.items()})


def _coerce(frame: pd.DataFrame, dtypes: Mapping[str, str], where: Path | str) -> pd.DataFrame:
    for column, dtype in dtypes.items():
        try:
            if dtype == "category":
                frame[column] = frame[column].fillna("").astype(str).astype("category")
            elif dtype == "object":
                frame[column] = frame[column].astype(object)
            elif dtype.startswith("datetime64"):
                frame[column] = _to_utc(frame[column])
            else:
                frame[column] = frame[column].astype(dtype)
        except (TypeError, ValueError) as exc:
            raise ReportInputError(where, f"column {column!r} is not {dtype} ({exc})") from None
    return frame


def _to_utc(series: pd.Series) -> pd.Series:
    """POSIX seconds (JSON) or timestamps (Parquet export) → ``datetime64[ns, UTC]``."""
    if pd.api.types.is_datetime64_any_dtype(series):
        if getattr(series.dt, "tz", None) is None:
            return series.dt.tz_localize("UTC").astype("datetime64[ns, UTC]")
        return series.dt.tz_convert("UTC").astype("datetime64[ns, UTC]")
    numeric = pd.to_numeric(series, errors="raise")
    return pd.to_datetime(numeric, unit="s", utc=True).astype("datetime64[ns, UTC]")


def _read_mapping(path: Path, parse: Any) -> dict[str, Any]:
    if not path.exists():
        return {}
    try:
        value = parse(path.read_text(encoding="utf-8"))
    except (ValueError, yaml.YAMLError) as exc:
        raise ReportInputError(path, f"cannot be parsed ({exc})") from None
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ReportInputError(path, "expected a mapping at the top level")
    return value


# ---------------------------------------------------------------------- engine logs


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
    return _coerce(frame, LOG_DTYPES, where)


def _log_frame(records: object, where: str | Path) -> pd.DataFrame:
    if isinstance(records, Mapping) and isinstance(records.get("items"), list):
        records = records["items"]
    if not isinstance(records, list) or not all(isinstance(r, Mapping) for r in records):
        raise ReportInputError(where, "expected a JSON list of log records")
    if not records:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in LOG_FIELDS})
    return pd.DataFrame.from_records(records)


# ---------------------------------------------------------------------- Locust


def is_locust_dir(path: str | Path) -> bool:
    root = Path(path)
    return root.is_dir() and any(root.glob("*_stats.csv"))


def load_locust(path: str | Path, *, label: str | None = None) -> LocustResults:
    """Locust's ``--csv PREFIX`` files: ``path`` is the directory holding them or PREFIX."""
    prefix = _locust_prefix(Path(path))
    stats_file = Path(f"{prefix}_stats.csv")
    stats = _read_locust_csv(stats_file, LOCUST_STATS_COLUMNS, required=True)
    history = _read_locust_csv(
        Path(f"{prefix}_stats_history.csv"), LOCUST_HISTORY_COLUMNS, required=False
    )
    if "time" in history.columns and len(history):
        history["time"] = pd.to_datetime(
            pd.to_numeric(history["time"], errors="coerce"), unit="s", utc=True
        )
        history["elapsed_s"] = (history["time"] - history["time"].min()).dt.total_seconds()
    failures = _read_locust_csv(
        Path(f"{prefix}_failures.csv"),
        {"Method": "method", "Name": "name", "Error": "error", "Occurrences": "occurrences"},
        required=False,
    )
    exceptions = _read_locust_csv(
        Path(f"{prefix}_exceptions.csv"),
        {"Count": "count", "Message": "message", "Traceback": "traceback", "Nodes": "nodes"},
        required=False,
    )
    thresholds = _read_thresholds(stats_file.parent / "thresholds.json")
    logins_file = Path(f"{prefix}_logins.csv")
    logins = pd.DataFrame()
    if logins_file.exists():
        try:
            logins = pd.read_csv(logins_file, keep_default_na=False, na_values=["N/A", ""])
        except (ValueError, OSError) as exc:
            raise ReportInputError(logins_file, f"not a readable CSV file ({exc})") from None
    return LocustResults(
        path=stats_file.parent,
        label=label or stats_file.parent.name,
        stats=stats,
        history=history,
        failures=failures,
        exceptions=exceptions,
        thresholds=thresholds,
        logins=logins,
    )


def _locust_prefix(path: Path) -> str:
    if path.is_dir():
        found = sorted(p for p in path.glob("*_stats.csv"))
        if not found:
            raise ReportInputError(path, "no *_stats.csv file (run locust with --csv PREFIX)")
        if len(found) > 1:
            names = ", ".join(p.name for p in found)
            raise ReportInputError(path, f"several Locust results ({names}); give the prefix")
        return str(found[0])[: -len("_stats.csv")]
    text = str(path)
    for suffix in ("_stats.csv", "_stats_history.csv", "_failures.csv", "_exceptions.csv"):
        if text.endswith(suffix):
            return text[: -len(suffix)]
    return text


def _read_locust_csv(path: Path, names: Mapping[str, str], *, required: bool) -> pd.DataFrame:
    if not path.exists():
        if required:
            raise ReportInputError(path, "no such file (run locust with --csv PREFIX)")
        return pd.DataFrame({name: pd.Series(dtype=object) for name in names.values()})
    try:
        frame = pd.read_csv(path, na_values=["N/A"], keep_default_na=True)
    except (ValueError, OSError) as exc:
        raise ReportInputError(path, f"not a readable CSV file ({exc})") from None
    missing = [c for c in names if c not in frame.columns]
    if missing:
        raise ReportInputError(path, f"missing columns {missing}")
    rename = dict(names)
    for column in frame.columns:
        match = _PERCENTILE.match(str(column))
        if match:
            rename[column] = "p" + match.group(1).replace(".", "_")
    frame = frame.rename(columns=rename)
    for column in frame.columns:
        if (column.startswith("p") and column[1:2].isdigit()) or column.endswith(("_ms", "_s")):
            frame[column] = pd.to_numeric(frame[column], errors="coerce")
    for column in ("requests", "failures", "occurrences", "count", "users"):
        if column in frame.columns:
            frame[column] = pd.to_numeric(frame[column], errors="coerce").fillna(0).astype("int64")
    for column in ("rps", "mean_bytes"):
        if column in frame.columns:
            frame[column] = pd.to_numeric(frame[column], errors="coerce")
    for column in ("method", "name", "error", "message"):
        if column in frame.columns:
            frame[column] = frame[column].fillna("").astype(str)
    return frame


def _read_thresholds(path: Path) -> pd.DataFrame:
    columns = {"threshold": "object", "value": "float64", "passed": "bool"}
    if not path.exists():
        return _empty(columns)
    try:
        items = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise ReportInputError(path, f"not JSON ({exc})") from None
    if not isinstance(items, list) or not all(isinstance(i, Mapping) for i in items):
        raise ReportInputError(path, 'expected a list of {"threshold", "value", "passed"}')
    for index, item in enumerate(items):
        for key in columns:
            if key not in item:
                raise ReportInputError(path, f"item {index} has no {key!r}")
    frame = pd.DataFrame.from_records(items, columns=list(columns))
    frame["value"] = pd.to_numeric(frame["value"], errors="coerce")
    frame["passed"] = frame["passed"].astype(bool)
    frame["threshold"] = frame["threshold"].astype(str)
    return frame
