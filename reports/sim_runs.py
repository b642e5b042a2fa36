"""Simulator run directories (``mfalab run``/``mfalab sweep``) as DataFrames: ``auths/``,
``deliveries/``, ``resources.parquet`` by the ``outputs.records`` schema, with ``scenario.yaml``,
``meta.json`` and ``summary.json`` → ``SimRun``; a sweep's rows carry the swept parameters as
extra columns, split back into points by ``sweep_points``."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import yaml

from outputs.metrics import format_parameter
from outputs.records import AUTH_COLUMNS, DELIVERY_COLUMNS, RESOURCE_COLUMNS
from reports.input_frames import ReportInputError, coerce_columns, empty_frame

__all__ = [
    "AUTH_DTYPES",
    "AUTH_OPTIONAL",
    "DELIVERY_DTYPES",
    "DELIVERY_OPTIONAL",
    "RESOURCE_DTYPES",
    "RESOURCE_OPTIONAL",
    "SimRun",
    "is_sim_run",
    "load_auths",
    "load_deliveries",
    "load_resources",
    "load_run",
    "parameter_columns",
    "parameter_text",
    "parameter_value",
    "point_label",
    "sweep_points",
]

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
    # begins the engine accepted, each a billable log record: what billing counts (a run
    # without it is refused, not re-derived from begins)
    "billable": "int64",
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
        return empty_frame(dtypes)
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
    return coerce_columns(frame, {**dtypes, **present}, path)


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
