"""Writing a run directory: Parquet streamed in row groups, plus the small JSON/YAML files.

Rows arrive as the named tuples of ``outputs.records`` (``AuthRow`` …) and are buffered per
table; every ``chunk_rows`` rows become one Parquet row group, so memory stays bounded
however many authentications a run has. The Arrow schema is derived from the record
classes, so the files and the contract cannot drift apart. A sweep adds its swept
parameters as constant columns at the end of every row.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, get_type_hints

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from outputs.records import AuthRow, DeliveryRow, ResourceSample
from sim.collector import collector_paused

__all__ = [
    "AUTH_SCHEMA",
    "DELIVERY_SCHEMA",
    "RESOURCE_SCHEMA",
    "TableWriter",
    "arrow_schema",
    "prepare_run_dir",
    "write_json",
]

_ARROW_TYPES = {int: pa.int64(), float: pa.float64(), str: pa.string(), bool: pa.bool_()}
_FLOAT = pa.float64()


def arrow_schema(record: type) -> pa.Schema:
    """The Arrow schema of a records class, in its field order (ints int64, floats float64,
    str, bool)."""
    types = get_type_hints(record)
    return pa.schema(
        [pa.field(name, _ARROW_TYPES[types[name]], nullable=False) for name in record._fields]
    )


AUTH_SCHEMA = arrow_schema(AuthRow)
DELIVERY_SCHEMA = arrow_schema(DeliveryRow)
RESOURCE_SCHEMA = arrow_schema(ResourceSample)


def _constant_type(value: Any) -> pa.DataType:
    if isinstance(value, bool):
        return pa.bool_()
    if isinstance(value, int):
        return pa.int64()
    if isinstance(value, float):
        return pa.float64()
    return pa.string()


class TableWriter:
    """Append tuples; every ``chunk_rows`` they become a row group of ``path``.

    ``constants`` adds columns with one value for every row (a sweep's parameters); values
    that are not bool/int/float are written as their JSON text. ``on_columns``, when set,
    sees each block of rows as columns (without the constants) just before it is written:
    the replication's tally counts them there.
    """

    def __init__(
        self,
        path: Path,
        schema: pa.Schema,
        *,
        chunk_rows: int = 65_536,
        constants: Mapping[str, Any] | None = None,
    ) -> None:
        self._constants = {
            name: value if isinstance(value, bool | int | float) else _text(value)
            for name, value in (constants or {}).items()
        }
        extra = [pa.field(n, _constant_type(v), nullable=False) for n, v in self._constants.items()]
        self.schema = pa.schema([*schema, *extra])
        self._base = schema
        self._path = path
        self._chunk = chunk_rows
        self._rows: list[tuple[Any, ...]] = []
        self._writer: pq.ParquetWriter | None = None
        self.rows_written = 0
        self.append = self._rows.append
        self.on_columns: Callable[[Sequence[Sequence[Any]]], None] | None = None

    def _ensure_writer(self) -> pq.ParquetWriter:
        if self._writer is None:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            # dictionary pages for text only: numbers (times, counts) are nearly all distinct,
            # and trying a dictionary for them costs time and bytes
            text = [f.name for f in self.schema if f.type == pa.string()]
            self._writer = pq.ParquetWriter(
                self._path, self.schema, compression="zstd", use_dictionary=text
            )
        return self._writer

    def maybe_flush(self) -> None:
        if len(self._rows) >= self._chunk:
            self.flush()

    def flush(self) -> None:
        """Write the buffered rows as one row group (without collector passes over all the
        run holds, set off by the conversion's allocations: a third of a final flush)."""
        if self._rows:
            with collector_paused():
                self._write_rows()

    def _write_rows(self) -> None:
        rows = self._rows
        columns = list(zip(*rows, strict=True))
        if self.on_columns is not None:
            self.on_columns(columns)
        arrays = [_column(col, field.type) for col, field in zip(columns, self._base, strict=True)]
        for value in self._constants.values():
            arrays.append(pa.array([value] * len(rows), type=_constant_type(value)))
        batch = pa.RecordBatch.from_arrays(arrays, schema=self.schema)
        self._ensure_writer().write_batch(batch)
        self.rows_written += len(rows)
        rows.clear()

    def close(self) -> None:
        """Flush and close; a table that received no rows is still written (empty)."""
        self.flush()
        self._ensure_writer().close()


def _column(values: Sequence[Any], kind: pa.DataType) -> pa.Array:
    """Floats go through numpy, which reads a column of Python floats several times faster
    than Arrow's generic conversion (the same values; NaN stays NaN, not null). Other
    columns keep Arrow's conversion, which refuses a value of the wrong type."""
    if kind == _FLOAT:
        return pa.array(np.array(values, dtype=np.float64), type=kind)
    return pa.array(values, type=kind)


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


#: What ``mfalab run`` writes in a run directory (removed before a new run writes there).
RUN_FILES: Sequence[str] = (
    "auths",
    "deliveries",
    "resources.parquet",
    "scenario.yaml",
    "meta.json",
    "summary.json",
    "report.html",
    "report.md",
)


def prepare_run_dir(out: Path) -> Path:
    """Create ``out`` or clear the files a previous run left in it (and nothing else)."""
    out.mkdir(parents=True, exist_ok=True)
    for name in RUN_FILES:
        target = out / name
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()
    return out


def write_json(path: Path, data: Mapping[str, Any]) -> None:
    path.write_text(json.dumps(data, indent=2, sort_keys=False, allow_nan=False) + "\n")
