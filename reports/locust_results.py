"""A load test's results as DataFrames: Locust's ``--csv PREFIX`` files (stats, history,
failures, exceptions, mfalab's sign-ins) and the ``thresholds.json`` verdicts
→ ``LocustResults``."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from reports.input_frames import ReportInputError, empty_frame

__all__ = [
    "LOCUST_HISTORY_COLUMNS",
    "LOCUST_STATS_COLUMNS",
    "LocustResults",
    "is_locust_dir",
    "load_locust",
]

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
        return empty_frame(columns)
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
