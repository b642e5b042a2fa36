"""``mfalab billing``: the month's bill of a real server, read from the database it wrote."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from mfa import Engine, ManualClock, MemoryPendingStore, ServerIdentity
from mfa.api.children import free_port
from mfa.cli import main
from mfa.delivery import SinkGateway
from mfa.storage.crypto import derive_key
from mfa.storage.sql import SqlRepository
from tests.mfa.api.support import API_KEY, Api, phone

SECRET = "billing-cli-test-secret-passphrase"


def _engine_on(url: str, clock: ManualClock) -> tuple[Engine, SqlRepository]:
    repository = SqlRepository(url, secret_key=derive_key(SECRET))
    engine = Engine(
        server=ServerIdentity("admin"),
        clock=clock,
        repository=repository,
        pending=MemoryPendingStore(),
        gateway=SinkGateway(),
        secret_key=b"billing-cli-test-digest-key-0001",
    )
    return engine, repository


def _at(year: int, month: int, day: int) -> float:
    return datetime(year, month, day, 12, tzinfo=UTC).timestamp()


def _wait_healthy(url: str, proc: subprocess.Popen[str], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(url + "/healthz").status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            output = proc.communicate(timeout=5)[0] if proc.poll() is not None else ""
            raise AssertionError(f"the server never answered /healthz\n{output}")
        time.sleep(0.1)


def _mfalab(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MFALAB_")}
    return subprocess.run(
        [sys.executable, "-m", "mfa", *args], env=env, capture_output=True, text=True, timeout=120
    )


@pytest.mark.slow
def test_the_bill_of_a_database_written_by_mfalab_serve(tmp_path: Path) -> None:
    db = tmp_path / "mfalab.db"
    url = f"sqlite:///{db}"
    month = datetime.now(UTC).strftime("%Y-%m")
    # the deployment's provider, created before the server starts (dated a while ago)
    engine, repository = _engine_on(url, ManualClock(_at(2020, 1, 15)))
    engine.create_provider("contoso", "per_auth")
    repository.close()

    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MFALAB_")}
    env.update(MFALAB_API_KEY=API_KEY, MFALAB_SECRET_KEY=SECRET, MFALAB_DB_URL=url)
    server = subprocess.Popen(
        [sys.executable, "-m", "mfa", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(base, server)
        api = Api(base, API_KEY)
        for n, user in enumerate(("alice", "bob", "carol")):
            api.user(user, phone=phone(900 + n))
        for n, user in enumerate(("alice", "bob")):  # two sign-ins through HTTP
            begun = api.begin(user)
            assert begun.status_code == 201, begun.text
            verdict = api.verify(begun.json()["auth_id"], api.code(phone(900 + n)))
            assert verdict["result"] == "success"
        licensed = api.http.patch("/v1/users/carol", json={"licensed": True})
        assert licensed.status_code == 200 and licensed.json()["licensed"] is True
        api.close()
    finally:
        server.send_signal(signal.SIGTERM)
        server.communicate(timeout=30)

    done = _mfalab("billing", "--db", url, "--month", month)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert f"Bill for {month}" in out and "open: the bill may still grow" in out
    assert "users enabled for MFA in the month: 3" in out
    assert "licensed (at the last moment each was enabled): 1" in out
    assert "billable per user: 2" in out
    assert "any method, licensed or not): 2" in out
    # the provider's bill: 2 authentications at the default 1.40 per 10
    assert "contoso (per_auth)" in out and "2 authentications = 0.28 USD" in out
    assert "total consumption: 0.28 USD" in out
    lines = {line.split()[0]: line.split() for line in out.splitlines() if line.startswith("  per")}
    assert lines["per_user"][1:3] == ["2", "2.80"]  # 2 unlicensed users × 1.40
    assert lines["per_auth"][1:3] == ["2", "0.28"] and "current" in " ".join(lines["per_auth"])
    # a closed month before anything happened: nothing billed, and said to be closed
    before = _mfalab("billing", "--db", url, "--month", "2020-01")
    assert before.returncode == 0, before.stderr
    assert "closed: this bill will not change" in before.stdout
    assert "users enabled for MFA in the month: 0" in before.stdout
    assert "contoso (per_auth)" in before.stdout  # active from the 15th: billed 0
    assert "0 authentications = 0.00 USD" in before.stdout


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'db.sqlite'}"
    return str(request.getfixturevalue("postgres_url"))


def test_a_closed_month_printed_again_after_a_licence_is_the_same(
    db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    url = db_url
    clock = ManualClock(_at(2024, 1, 10))
    engine, repository = _engine_on(url, clock)
    engine.create_provider("contoso", "per_user")
    for user in ("ann", "ben"):
        engine.create_user(user)
    assert main(["billing", "--db", url, "--month", "2024-01"]) == 0
    first = capsys.readouterr().out
    assert "contoso (per_user)" in first and "2 enabled users without a licence = 2.80" in first
    clock.set(datetime(2024, 2, 1, tzinfo=UTC).timestamp())
    engine.set_licensed("ann", True)
    assert main(["billing", "--db", url, "--month", "2024-01"]) == 0
    assert capsys.readouterr().out == first
    assert main(["billing", "--db", url, "--month", "2024-02"]) == 0
    assert "1 enabled users without a licence = 1.40" in capsys.readouterr().out
    repository.close()


def test_the_default_month_is_the_last_complete_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from reports.billing import last_complete_month

    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    SqlRepository(url, secret_key=None).close()
    assert main(["billing", "--db", url]) == 0
    out = capsys.readouterr().out
    assert f"Bill for {last_complete_month()} " in out and "closed" in out
    assert last_complete_month(datetime(2026, 1, 3, tzinfo=UTC)) == "2025-12"
    assert last_complete_month(datetime(2026, 7, 31, 23, 59, tzinfo=UTC)) == "2026-06"
    assert "none: no provider was active" in out


@pytest.mark.parametrize(
    ("args", "complaint"),
    [
        (["--month", "2026-13"], "--month: '2026-13' is not a month"),
        (["--month", "November"], "--month: 'November' is not of the form YYYY-MM"),
        (["--pricing", "MISSING.yaml"], "--pricing: MISSING.yaml: cannot be read"),
        (["--pricing", "BAD.yaml"], "per_auth_block: must be a positive integer"),
    ],
)
def test_bad_input_exits_2_with_a_clear_message(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
    complaint: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("BAD.yaml").write_text("per_auth_block: 0\n", encoding="utf-8")
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    SqlRepository(url, secret_key=None).close()
    assert main(["billing", "--db", url, *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("mfalab billing: ") and complaint in err
    assert "Traceback" not in err


def test_a_missing_or_unreachable_database_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nowhere.db"
    assert main(["billing", "--db", f"sqlite:///{missing}"]) == 2
    assert "there is no database file" in capsys.readouterr().err
    assert not missing.exists()  # nothing created
    assert main(["billing", "--db", "mysql://x/y"]) == 2
    assert "--db" in capsys.readouterr().err
    port = free_port()  # nothing listens there
    assert main(["billing", "--db", f"postgresql+psycopg://u@127.0.0.1:{port}/db"]) == 2
    err = capsys.readouterr().err
    assert "--db" in err and "not reachable" in err and "Traceback" not in err


def test_a_database_of_the_earlier_one_provider_layout_keeps_its_provider(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import sqlalchemy as sa

    path = tmp_path / "old.db"
    legacy = sa.create_engine(f"sqlite:///{path}")
    with legacy.begin() as conn:
        conn.execute(
            sa.text(
                "CREATE TABLE provider_account (id INTEGER PRIMARY KEY, name TEXT NOT NULL, "
                "model VARCHAR(16) NOT NULL, created_at FLOAT NOT NULL, tenant TEXT)"
            )
        )
        conn.execute(
            sa.text("INSERT INTO provider_account VALUES (1, 'contoso', 'per_auth', :t, 'x')"),
            {"t": _at(2024, 1, 1)},
        )
    legacy.dispose()
    repository = SqlRepository(f"sqlite:///{path}", secret_key=None)
    assert [(a.name, a.model.value, a.tenant) for a in repository.accounts()] == [
        ("contoso", "per_auth", "x")
    ]
    repository.close()
    assert main(["billing", "--db", f"sqlite:///{path}", "--month", "2024-03"]) == 0
    assert "contoso (per_auth)" in capsys.readouterr().out


def test_the_provider_commands_follow_the_seed_on_a_real_database(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    engine, repository = _engine_on(url, ManualClock(_at(2024, 1, 10)))
    engine.create_user("ann", phone="+14255550100")
    engine.register_method("ann", "totp")
    repository.close()
    monkeypatch.delenv("MFALAB_SECRET_KEY", raising=False)
    assert main(["provider", "list", "--db", url]) == 0
    assert "no provider" in capsys.readouterr().out
    assert main(["provider", "create", "contoso", "--model", "per_user", "--db", url]) == 0
    assert "created provider contoso (per_user)" in capsys.readouterr().out
    # the model is locked: a second provider is refused, with the engine's message
    assert main(["provider", "create", "other", "--model", "per_auth", "--db", url]) == 1
    assert "can't be changed" in capsys.readouterr().err
    assert main(["provider", "delete", "--db", url]) == 1
    assert "1 enabled user(s) have no licence" in capsys.readouterr().err
    # replace reads sealed methods: it needs the server's key
    assert main(["provider", "replace", "fab", "--model", "per_auth", "--db", url]) == 2
    assert "MFALAB_SECRET_KEY is not set" in capsys.readouterr().err
    monkeypatch.setenv("MFALAB_SECRET_KEY", SECRET)
    assert main(["provider", "replace", "fab", "--model", "per_auth", "--db", url]) == 0
    out = capsys.readouterr().out
    assert "replaced by provider fab (per_auth)" in out and "1 method(s) removed" in out
    assert main(["provider", "list", "--db", url]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert [line.split()[:2] for line in listed] == [["contoso", "per_user"], ["fab", "per_auth"]]
    assert listed[0].endswith("UTC") and listed[1].endswith("active")
    assert main(["provider", "relink", "tenant-b", "--db", url]) == 0
    assert "linked to tenant tenant-b" in capsys.readouterr().out
    assert main(["provider", "list", "--db", f"sqlite:///{tmp_path / 'none.db'}"]) == 2
    assert "there is no database file" in capsys.readouterr().err
