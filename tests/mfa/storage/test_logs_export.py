"""``mfalab logs export``: the authentication log of a database as Parquet."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest

import mfalab.cli
from mfa import Challenge, Engine, ManualClock
from mfa.auth_log import LOG_FIELDS
from mfa.storage.crypto import derive_key
from mfa.storage.sql import SqlRepository

PHONE = "+14255550100"


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch) -> Callable[..., int]:
    """``mfalab`` with only this command registered: the real entry point and its error
    handling, independent of the other packages' subcommands."""
    monkeypatch.setattr(mfalab.cli, "COMMAND_MODULES", ("mfalab.cli.logs",))
    return lambda *argv: mfalab.cli.main(list(argv))


@pytest.fixture
def db(
    tmp_path: Path,
    make_engine: Callable[..., Engine],
    clock: ManualClock,
    code_to: Callable[[str], str],
) -> tuple[str, SqlRepository]:
    """A SQLite database with one success, one open sms and one refused begin."""
    url = f"sqlite:///{tmp_path / 'mfalab.db'}"
    repo = SqlRepository(url, secret_key=derive_key("logs-export test passphrase"))
    engine = make_engine(repository=repo)
    engine.create_user("alice", first_name="Alice", email="alice@example.com", phone=PHONE)
    engine.register_method("alice", "sms")
    first = engine.begin("alice", client_ip="192.0.2.1")
    assert isinstance(first, Challenge)
    clock.advance(9.5)
    assert engine.verify(first.auth_id, code_to(PHONE)).ok
    clock.advance(3600)
    engine.begin("alice")
    engine.begin("nobody")  # refused: registration_required, not billable
    repo.flush_logs()  # what another process reads: the records written to the database
    return url, repo


def test_export_writes_every_field_with_utc_times(
    cli: Callable[..., int], db: tuple[str, SqlRepository], tmp_path: Path
) -> None:
    url, repo = db
    out = tmp_path / "exports" / "logs.parquet"
    assert cli("logs", "export", "--db", url, "--out", str(out)) == 0
    frame = pd.read_parquet(out)
    records = repo.logs()
    assert list(frame.columns) == list(LOG_FIELDS)
    assert len(frame) == len(records) == 3
    assert str(frame["began_at"].dtype) == "datetime64[us, UTC]"
    for row, record in zip(frame.itertuples(index=False), records, strict=True):
        assert row.auth_id == record.auth_id
        assert row.began_at == pd.Timestamp(record.began_at, unit="s", tz="UTC")
        assert row.result == record.result
        assert row.billable == record.billable
    success = frame.iloc[0]
    assert success["result"] == "success" and success["mode"] == "sms"
    assert success["completed_at"] - success["began_at"] == pd.Timedelta(seconds=9.5)
    assert success["phone"] == PHONE and success["client_ip"] == "192.0.2.1"
    assert list(frame["result"]) == ["success", "pending", "denied"]
    assert frame.iloc[2]["reason"] == "registration_required"
    assert pd.isna(frame.iloc[1]["completed_at"])


def test_since_keeps_records_from_that_time_on(
    cli: Callable[..., int], db: tuple[str, SqlRepository], tmp_path: Path
) -> None:
    url, repo = db
    cut = repo.logs()[1].began_at
    since = datetime.fromtimestamp(cut, tz=UTC).replace(tzinfo=None).isoformat()
    out = tmp_path / "recent.parquet"
    assert cli("logs", "export", "--db", url, "--out", str(out), "--since", since) == 0
    assert len(pd.read_parquet(out)) == 2


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--db", "sqlite:///{tmp}/missing.db"], "--db: there is no database file"),
        (["--db", "mysql://root@127.0.0.1/x"], "--db: unsupported database"),
        (["--db", "sqlite:///{tmp}/mfalab.db", "--since", "yesterday"], "--since"),
    ],
)
def test_bad_arguments_exit_2_with_a_message(
    cli: Callable[..., int],
    db: tuple[str, SqlRepository],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    says: str,
) -> None:
    out = tmp_path / "logs.parquet"
    argv = [a.replace("{tmp}", str(tmp_path)) for a in args]
    assert cli("logs", "export", *argv, "--out", str(out)) == 2
    err = capsys.readouterr().err
    assert says in err and "Traceback" not in err
    assert not out.exists()


def test_an_unreachable_database_exits_1_with_a_message(
    cli: Callable[..., int], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "logs.parquet"
    url = "postgresql://postgres:pw@127.0.0.1:9/mfalab"
    assert cli("logs", "export", "--db", url, "--out", str(out)) == 1
    err = capsys.readouterr().err
    assert "not reachable" in err and "pw@" not in err
    assert not out.exists()


def test_a_push_device_token_is_exported_only_as_its_fingerprint(
    cli: Callable[..., int], tmp_path: Path, make_engine: Callable[..., Engine]
) -> None:
    from mfa.push_proof import PushDevice, fingerprint

    token = "fcm-device-token-0123456789"
    device = PushDevice.generate()
    url = f"sqlite:///{tmp_path / 'mfalab.db'}"
    repo = SqlRepository(url, secret_key=derive_key("logs-export test passphrase"))
    engine = make_engine(repository=repo)
    engine.create_user("pat")
    engine.register_method("pat", "push", device_token=token, public_key=device.public_key)
    c = engine.begin("pat")
    assert isinstance(c, Challenge)
    engine.respond_push(c.auth_id, False, signature=device.answer(c.auth_id, False))
    repo.close()
    out = tmp_path / "logs.parquet"
    assert cli("logs", "export", "--db", url, "--out", str(out)) == 0
    frame = pd.read_parquet(out)
    assert frame["device_token"].tolist() == [fingerprint(token)]
    assert len(fingerprint(token) or "") == 8
    assert token.encode() not in out.read_bytes()
    assert token not in frame.to_csv()
