"""Real traffic: ``mfalab report --logs`` on an engine log exported by ``mfalab logs export``."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from mfa import Engine, ManualClock, MemoryPendingStore, ServerIdentity
from mfa.delivery import SinkGateway
from mfa.storage.crypto import derive_key
from mfa.storage.sql import SqlRepository
from mfalab.cli import main
from reports import traffic
from reports.loaders import load_engine_logs

KEY = derive_key("traffic-test-passphrase-0001")


def _exported_log(tmp_path: Path) -> Path:
    """Known traffic: in March 3 sign-ins succeed (after 10, 20 and 30 s), one gets a wrong
    code and is never finished, one is refused (rate limit); in April one succeeds."""
    url = f"sqlite:///{tmp_path / 'mfa.db'}"
    clock = ManualClock(datetime(2026, 3, 2, 9, tzinfo=UTC).timestamp())
    sink = SinkGateway()
    repository = SqlRepository(url, secret_key=KEY)
    engine = Engine(
        server=ServerIdentity("mfa1"),
        clock=clock,
        repository=repository,
        pending=MemoryPendingStore(),
        gateway=sink,
        secret_key=KEY,
    )
    for n, user in enumerate(("ann", "ben", "cat")):
        engine.create_user(user, phone=f"+1425555{n:04d}")
        engine.register_method(user, "sms")
    for n, user in enumerate(("ann", "ben", "cat")):
        challenge = engine.begin(user)
        clock.advance(10 * (n + 1))
        assert engine.verify(challenge.auth_id, sink.messages_to(f"+1425555{n:04d}")[0].code).ok
        clock.advance(60)
    typo = engine.begin("ann")
    engine.verify(typo.auth_id, "000000")
    for _ in range(4):
        engine.begin("ben")
        clock.advance(1)
    refused = engine.begin("ben")  # the sixth code in five minutes
    assert not hasattr(refused, "auth_id")
    clock.set(datetime(2026, 4, 3, 9, tzinfo=UTC).timestamp())
    late = engine.begin("cat")
    clock.advance(5)
    assert engine.verify(late.auth_id, sink.messages_to("+14255550002")[0].code).ok
    repository.close()
    out = tmp_path / "logs.parquet"
    assert main(["logs", "export", "--db", url, "--out", str(out)]) == 0
    return out


def test_traffic_figures_from_an_exported_log(tmp_path: Path) -> None:
    logs = load_engine_logs(_exported_log(tmp_path))
    head = traffic.headline(logs)
    # 3 + 1 typo + 4 open sends + 1 refused in March, 1 in April
    assert head["authentications"] == 10
    assert head["billable"] == 9
    assert head["successes"] == 4
    # finished: 4 successes and the refused begin (denied); the rest are still pending
    assert head["success_share"] == pytest.approx(4 / 5)
    assert head["p50"] == pytest.approx(15.0)  # 5, 10, 20, 30 s
    assert head["unfinished"] == 5
    assert traffic.months(logs) == ["2026-03", "2026-04"]
    march, april = traffic.usage_by_month(logs)
    assert (march.usage.authentications, march.usage.enabled_users) == (8, 3)
    assert (april.usage.authentications, april.usage.enabled_users) == (1, 1)
    assert "lower bound" in march.users_rule
    given = traffic.usage_by_month(logs, enabled_users=10, licensed_users=4)[0].usage
    assert (given.enabled_users, given.billable_users) == (10, 6)
    reasons = traffic.refusals(logs).set_index(["status", "reason"])["count"]
    assert reasons[("denied", "rate_limited")] == 1


def test_report_logs_adds_reliability_and_billing_sections(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    exported = _exported_log(tmp_path)
    assert main(["report", "--logs", str(exported), "--enabled-users", "3"]) == 0
    written = tmp_path / "logs-report.html"
    assert f"report: {written}" in capsys.readouterr().out
    html = written.read_text(encoding="utf-8")
    assert 'id="traffic-0"' in html and 'id="traffic-billing-0"' in html
    markdown = written.with_suffix(".md").read_text(encoding="utf-8")
    assert "10 authentications began" in markdown and "80.00 % of those that finished" in markdown
    # March: 8 billable authentications at 0.14 = 1.12; 3 enabled users at 1.40 = 4.20
    assert "2026-03: 8 billable authentications; 3 enabled users, 0 licensed (users: given)" in (
        markdown
    )
    assert "5 never finished" in markdown
    assert "| 2026-03 | per_auth | 8 |" in markdown and "1.12" in markdown
    assert "4.20" in markdown


def test_report_logs_bad_input_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", "--logs", str(tmp_path / "missing.parquet")]) == 2
    assert "missing.parquet: no such file" in capsys.readouterr().err
    bad = tmp_path / "bad.parquet"
    bad.write_text("not parquet", encoding="utf-8")
    assert main(["report", "--logs", str(bad)]) == 2
    assert "not a readable Parquet file" in capsys.readouterr().err
    assert main(["report"]) == 2
    assert "give at least one RUN_DIR or --logs" in capsys.readouterr().err
    assert main(["report", "--logs", str(bad), "--enabled-users", "-1"]) == 2
    assert "--enabled-users: must not be negative" in capsys.readouterr().err


def test_every_traffic_table_column_is_in_the_traffic_catalogue(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nothing in the real-traffic sections is formatted by guessing from a column name."""
    from outputs.metrics import TRAFFIC
    from reports.run_report import build_report
    from tests.reports.catalogued import assert_catalogued, report_tables

    tables = report_tables(monkeypatch, lambda: build_report([], logs=[_exported_log(tmp_path)]))
    assert len(tables) == 4
    assert all(catalogue is TRAFFIC for _, _, catalogue in tables), tables
    assert_catalogued(tables)
