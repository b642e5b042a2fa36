"""What every report loader shares: the error that names a bad input, and the coercion of
raw columns to the promised dtypes (categories, objects, UTC datetimes, numbers)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pandas as pd

__all__ = [
    "ReportInputError",
    "coerce_columns",
    "empty_frame",
    "to_utc",
]


class ReportInputError(ValueError):
    """An input file or directory the reports cannot read; the message names it and why."""

    def __init__(self, where: str | Path, reason: str) -> None:
        super().__init__(f"{where}: {reason}")
        self.where = str(where)
        self.reason = reason


def empty_frame(dtypes: Mapping[str, str]) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=t) for c, t in dtypes.items()})


def coerce_columns(
    frame: pd.DataFrame, dtypes: Mapping[str, str], where: Path | str
) -> pd.DataFrame:
    for column, dtype in dtypes.items():
        try:
            if dtype == "category":
                frame[column] = frame[column].fillna("").astype(str).astype("category")
            elif dtype == "object":
                frame[column] = frame[column].astype(object)
            elif dtype.startswith("datetime64"):
                frame[column] = to_utc(frame[column])
            else:
                frame[column] = frame[column].astype(dtype)
        except (TypeError, ValueError) as exc:
            raise ReportInputError(where, f"column {column!r} is not {dtype} ({exc})") from None
    return frame


def to_utc(series: pd.Series) -> pd.Series:
    """POSIX seconds (JSON) or timestamps (Parquet export) → ``datetime64[ns, UTC]``."""
    if pd.api.types.is_datetime64_any_dtype(series):
        if getattr(series.dt, "tz", None) is None:
            return series.dt.tz_localize("UTC").astype("datetime64[ns, UTC]")
        return series.dt.tz_convert("UTC").astype("datetime64[ns, UTC]")
    numeric = pd.to_numeric(series, errors="raise")
    return pd.to_datetime(numeric, unit="s", utc=True).astype("datetime64[ns, UTC]")
