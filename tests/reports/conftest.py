"""Fixtures: a small simulator run directory written from ``outputs.records`` rows, and the rows."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from outputs.records import AuthRow, DeliveryRow, ResourceSample
from tests.reports import fakeruns

SCENARIO = {
    "name": "fake-us-ca-gb",
    "epoch": "2026-01-05T08:00:00+00:00",
    "population": {"users": 60, "methods": {"sms": 0.5, "voice": 0.1, "push": 0.3, "totp": 0.1}},
    "arrivals": {"duration_s": 600.0},
    "billing": {"model": "per_user", "licences": 15},
}


@dataclass(frozen=True)
class FakeRun:
    path: Path
    auths: list[AuthRow]
    deliveries: list[DeliveryRow]
    resources: list[ResourceSample]


@pytest.fixture(scope="session")
def fake_run(tmp_path_factory: pytest.TempPathFactory) -> FakeRun:
    auths, deliveries, resources = fakeruns.generate()
    root = tmp_path_factory.mktemp("runs") / "us-ca-gb"
    fakeruns.write_run(root, auths, deliveries, resources, scenario=SCENARIO)
    return FakeRun(root, auths, deliveries, resources)


@pytest.fixture(scope="session")
def other_run(tmp_path_factory: pytest.TempPathFactory) -> FakeRun:
    auths, deliveries, resources = fakeruns.generate(servers=1, seed=11, replications=3)
    root = tmp_path_factory.mktemp("runs") / "one-server"
    fakeruns.write_run(root, auths, deliveries, resources, scenario=SCENARIO)
    return FakeRun(root, auths, deliveries, resources)
