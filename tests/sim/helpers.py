"""Helpers for the simulator tests: quiet scenarios, merging, and reading a run."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

#: A population and network where nothing random happens unless a test asks for it.
QUIET: dict[str, Any] = {
    "population": {
        "methods": {"sms": 1.0},
        "backup_methods": {},
        "security_app_share": 0.0,
        "connectivity": {"cellular": 1.0},
        "signal": {"good": 1.0},
    },
    "carriers": {
        "default": [
            {
                "name": "carrier",
                "share": 1.0,
                "delivery_probability": 1.0,
                "latency": {"median_s": 1.0, "p95_s": 1.0},
            }
        ]
    },
    "providers": [{"name": "provider_a", "error_rate": 0.0}],
    "user": {
        "read_and_type": {"median_s": 5.0, "p95_s": 5.0},
        "typo_probability": 0.0,
        "max_attempts": 1,
    },
    "servers": {"service_time": {"mean_s": 0.0}},
}


def merged(base: Mapping[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` with ``changes``: sections merge key by key, a key's value is replaced whole
    (so a share mapping in ``changes`` is the whole mix)."""
    out = dict(base)
    for key, value in changes.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = {**out[key], **value}
        else:
            out[key] = value
    return out


@dataclass
class Run:
    path: Path
    summary: dict[str, Any]

    @property
    def auths(self) -> pd.DataFrame:
        return pd.read_parquet(self.path / "auths")

    @property
    def deliveries(self) -> pd.DataFrame:
        return pd.read_parquet(self.path / "deliveries")

    @property
    def resources(self) -> pd.DataFrame:
        return pd.read_parquet(self.path / "resources.parquet")
