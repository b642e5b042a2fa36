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

Each kind of input has its own module — ``reports.sim_runs``, ``reports.engine_logs``,
``reports.locust_results`` (with ``reports.input_frames``: the error and the dtype coercion) —
and every name is re-exported here, so ``from reports.loaders import load_run`` keeps working.
"""

from __future__ import annotations

from reports.engine_logs import LOG_DTYPES, load_engine_logs
from reports.input_frames import ReportInputError
from reports.locust_results import (
    LOCUST_HISTORY_COLUMNS,
    LOCUST_STATS_COLUMNS,
    LocustResults,
    is_locust_dir,
    load_locust,
)
from reports.sim_runs import (
    AUTH_DTYPES,
    AUTH_OPTIONAL,
    DELIVERY_DTYPES,
    DELIVERY_OPTIONAL,
    RESOURCE_DTYPES,
    RESOURCE_OPTIONAL,
    SimRun,
    is_sim_run,
    load_auths,
    load_deliveries,
    load_resources,
    load_run,
    parameter_columns,
    parameter_text,
    parameter_value,
    point_label,
    sweep_points,
)

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
