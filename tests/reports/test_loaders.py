"""Loaders: documented columns and dtypes, engine logs from both sources, clear errors."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest

from mfa import Engine, ManualClock, MemoryPendingStore, ServerIdentity
from mfa.auth_log import LOG_FIELDS
from mfa.delivery import SinkGateway
from mfa.storage import open_repository
from mfa.storage.crypto import derive_key
from mfalab.cli import main
from outputs.records import AUTH_COLUMNS, DELIVERY_COLUMNS, RESOURCE_COLUMNS
from reports import billing, reliability
from reports.loaders import (
    AUTH_DTYPES,
    DELIVERY_DTYPES,
    LOG_DTYPES,
    RESOURCE_DTYPES,
    ReportInputError,
    load_engine_logs,
    load_run,
)
from tests.reports.conftest import FakeRun

PASSPHRASE = "loaders-test-passphrase-01"


def test_every_record_column_is_documented() -> None:
    from reports.loaders import AUTH_OPTIONAL, DELIVERY_OPTIONAL, RESOURCE_OPTIONAL

    assert set(AUTH_COLUMNS) == set(AUTH_DTYPES) | set(AUTH_OPTIONAL)
    assert set(DELIVERY_COLUMNS) == set(DELIVERY_DTYPES) | set(DELIVERY_OPTIONAL)
    assert set(RESOURCE_COLUMNS) == set(RESOURCE_DTYPES) | set(RESOURCE_OPTIONAL)
    assert set(LOG_FIELDS) == set(LOG_DTYPES)


def test_a_run_loads_with_the_documented_dtypes(fake_run: FakeRun) -> None:
    run = load_run(fake_run.path)
    assert len(run.auths) == len(fake_run.auths)  # both part files read
    assert len(run.deliveries) == len(fake_run.deliveries)
    for frame, dtypes in (
        (run.auths, AUTH_DTYPES),
        (run.deliveries, DELIVERY_DTYPES),
        (run.resources, RESOURCE_DTYPES),
    ):
        for column, dtype in dtypes.items():
            assert str(frame[column].dtype) == dtype, column
    assert run.scenario["billing"]["licences"] == 15
    assert run.parameters == []


@pytest.mark.parametrize(
    ("make", "complaint"),
    [
        (lambda root: None, "not a directory"),
        (lambda root: root.mkdir(), "no auths/ directory"),
        (
            lambda root: (
                (root / "auths").mkdir(parents=True)
                or (root / "auths" / "part-0.parquet").write_text("x")
            ),
            "not a readable Parquet dataset",
        ),
        (
            lambda root: (
                (root / "auths").mkdir(parents=True)
                or pd.DataFrame({"replication": [0]}).to_parquet(root / "auths" / "part-0.parquet")
            ),
            "missing columns",
        ),
    ],
)
def test_a_bad_run_directory_is_named_with_the_reason(
    tmp_path: Path, make: object, complaint: str
) -> None:
    root = tmp_path / "run"
    make(root)  # type: ignore[operator]
    with pytest.raises(ReportInputError, match=complaint) as caught:
        load_run(root)
    assert str(root) in str(caught.value)


def test_a_bad_scenario_file_is_named(fake_run: FakeRun, tmp_path: Path) -> None:
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(fake_run.path, copy)
    (copy / "scenario.yaml").write_text("population: [\n", encoding="utf-8")
    with pytest.raises(ReportInputError, match=r"scenario\.yaml: cannot be parsed"):
        load_run(copy)


def _engine_with_logs(tmp_path: Path) -> tuple[str, Engine]:
    url = f"sqlite:///{tmp_path / 'mfa.db'}"
    key = derive_key(PASSPHRASE)
    clock = ManualClock(datetime(2026, 3, 2, 9, tzinfo=UTC).timestamp())
    sink = SinkGateway()
    engine = Engine(
        server=ServerIdentity("mfa1"),
        clock=clock,
        repository=open_repository(url, secret_key=key),
        pending=MemoryPendingStore(),
        gateway=sink,
        secret_key=key,
    )
    engine.create_user("alice", phone="+14255550100")
    engine.register_method("alice", "sms")
    for attempt in range(6):  # five sends, the sixth refused (rate_limited, not billable)
        challenge = engine.begin("alice")
        clock.advance(5)
        if attempt == 0:
            engine.verify(challenge.auth_id, "000000")  # a wrong code
    engine.repository.flush_logs()  # type: ignore[attr-defined]  # as after the 50 ms bound
    return url, engine


def test_engine_logs_from_the_export_and_from_the_api_agree(tmp_path: Path) -> None:
    url, engine = _engine_with_logs(tmp_path)
    exported = tmp_path / "logs.parquet"
    assert main(["logs", "export", "--db", url, "--out", str(exported)]) == 0
    from_file = load_engine_logs(exported)
    api_json = tmp_path / "logs.json"
    api_json.write_text(json.dumps([r.to_dict() for r in engine.repository.logs()]))
    from_api = load_engine_logs(api_json)
    for frame in (from_file, from_api):
        assert list(frame.columns) == list(LOG_FIELDS)
        assert str(frame["began_at"].dtype) == "datetime64[ns, UTC]"
        assert len(frame) == 6 and int(frame["billable"].sum()) == 5
        assert frame["reason"].astype(str).value_counts()["rate_limited"] == 1
    key = ["auth_id", "began_at", "billable", "status", "reason"]
    left = from_file[key].sort_values("auth_id").reset_index(drop=True)
    right = from_api[key].sort_values("auth_id").reset_index(drop=True)
    pd.testing.assert_frame_equal(left.astype(str), right.astype(str))
    usage = billing.usage_from_logs(from_file, "2026-03", enabled_users=1, licensed_users=0)
    assert usage.authentications == engine.usage("2026-03").authentications == 5
    # the same reliability tables work on engine logs: success by server, denials by reason
    table = from_file.groupby("reason", observed=True).size()
    assert table["rate_limited"] == 1
    assert reliability.segment(from_file, "server_name").nunique() == 1


def test_bad_engine_logs_are_named(tmp_path: Path) -> None:
    with pytest.raises(ReportInputError, match="no such file"):
        load_engine_logs(tmp_path / "missing.parquet")
    bad = tmp_path / "logs.json"
    bad.write_text('{"not": "a list"}', encoding="utf-8")
    with pytest.raises(ReportInputError, match="expected a JSON list"):
        load_engine_logs(bad)
    with pytest.raises(ReportInputError, match="missing columns"):
        load_engine_logs([{"auth_id": "x"}])
