"""``mfalab tokens import`` against a real SQLite database."""

from __future__ import annotations

import base64
import io
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pskc
import pytest

from mfa.storage import derive_key
from mfa.storage.sql import SqlRepository
from mfalab.cli import main

S1 = base64.b32encode(b"12345678901234567890").decode()
S2 = base64.b32encode(b"abcdefghijklmnopqrstuvwxyz012345").decode().rstrip("=")
PASSPHRASE = "a test passphrase of sufficient length"


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    db = tmp_path / "var" / "lab.db"
    url = f"sqlite:///{db}"
    monkeypatch.setenv("MFALAB_SECRET_KEY", PASSPHRASE)
    monkeypatch.setenv("MFALAB_DB_URL", url)
    monkeypatch.chdir(tmp_path)
    return url


def stored(url: str) -> dict[str, object]:
    repo = SqlRepository(url, secret_key=derive_key(PASSPHRASE))
    try:
        return {s: repo.get_token(s) for s in ("SN-1", "SN-2", "SN-3", "P-1", "P-2")}
    finally:
        repo.close()


def test_csv_import_stores_sealed_secrets_and_prints_serials_only(
    env: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "tokens.csv"
    path.write_text(f"serial,secret,interval\nSN-1,{S1},30\nSN-2,{S2},60\n")
    assert main(["tokens", "import", str(path)]) == 0
    out = capsys.readouterr().out
    assert "imported 2 token(s)" in out and "SN-1, SN-2" in out
    assert S1 not in out and S2 not in out
    tokens = stored(env)
    assert tokens["SN-1"].secret == S1  # type: ignore[union-attr]
    assert tokens["SN-2"].period == 60  # type: ignore[union-attr]
    # the database file never holds a secret in clear
    db_file = env.removeprefix("sqlite:///")
    raw = Path(db_file).read_bytes() + b"".join(
        p.read_bytes() for p in Path(db_file).parent.glob("*-wal")
    )
    assert S1.encode() not in raw and S2.encode() not in raw


def test_bad_file_exits_2_lists_every_problem_and_imports_nothing(
    env: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "tokens.csv"
    path.write_text(f"SN-1,{S1},30\nSN-2,nope!,30\nSN-3,{S2},0\nSN-1,{S2},30\n")
    assert main(["tokens", "import", str(path), "--format", "csv"]) == 2
    err = capsys.readouterr().err
    for expected in (
        "3 problem(s), nothing imported",
        "line 2: secret is not valid base32",
        "line 3: time interval must be a positive",
        "line 4: duplicate serial 'SN-1' (first on line 1)",
    ):
        assert expected in err
    assert "Traceback" not in err
    assert not Path(env.removeprefix("sqlite:///")).exists() or not any(stored(env).values())


def test_existing_serials_are_refused_as_a_whole(
    env: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first = tmp_path / "a.csv"
    first.write_text(f"SN-1,{S1},30\n")
    assert main(["tokens", "import", str(first)]) == 0
    second = tmp_path / "b.csv"
    second.write_text(f"SN-2,{S2},30\nSN-1,{S2},30\n")
    assert main(["tokens", "import", str(second)]) == 2
    assert "SN-1" in capsys.readouterr().err
    tokens = stored(env)
    assert tokens["SN-2"] is None
    assert tokens["SN-1"].secret == S1  # type: ignore[union-attr]


def encrypted_pskc(path: Path, *, password: str | None = None, key: bytes | None = None) -> None:
    container = pskc.PSKC()
    for n, secret in ((1, b"12345678901234567890"), (2, b"12345678901234567890123456789012")):
        container.add_key(
            id=f"k{n}",
            serial=f"P-{n}",
            secret=secret,
            algorithm="urn:ietf:params:xml:ns:keyprov:pskc:totp",
            time_interval=30,
            response_length=6,
            manufacturer="Acme",
        )
    if password:
        container.encryption.setup_pbkdf2(password, iterations=1000)
    if key:
        container.encryption.setup_preshared_key(key=key, algorithm="aes256-cbc")
    buffer = io.BytesIO()
    container.write(buffer)
    path.write_bytes(buffer.getvalue())


def test_pskc_with_password_and_with_key(
    env: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pbe = tmp_path / "pbe.pskcxml"
    encrypted_pskc(pbe, password="pw-123")
    assert main(["tokens", "import", str(pbe)]) == 2
    assert "encrypted" in capsys.readouterr().err
    assert main(["tokens", "import", str(pbe), "--password", "wrong"]) == 2
    assert "cannot decrypt" in capsys.readouterr().err
    assert main(["tokens", "import", str(pbe), "--password", "pw-123"]) == 0
    assert "P-1, P-2" in capsys.readouterr().out
    assert stored(env)["P-2"].manufacturer == "Acme"  # type: ignore[union-attr]

    psk = tmp_path / "psk.xml"
    encrypted_pskc(psk, key=bytes(range(32)))
    other_db = f"sqlite:///{tmp_path / 'other.db'}"
    args = ["tokens", "import", str(psk), "--format", "pskc", "--db", other_db]
    assert main([*args, "--key", bytes(range(32)).hex()]) == 0
    assert stored(other_db)["P-1"] is not None


def test_usage_errors(env: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["tokens", "import", str(tmp_path / "missing.csv")]) == 2
    assert "no such file" in capsys.readouterr().err
    assert main(["tokens"]) == 2
    path = tmp_path / "t.csv"
    path.write_text(f"SN-1,{S1},30\n")
    assert main(["tokens", "import", str(path), "--password", "x"]) == 2
    assert "PSKC files only" in capsys.readouterr().err
    assert main(["tokens", "import", str(path), "--dry-run"]) == 0
    assert "1 valid token(s), nothing stored: SN-1" in capsys.readouterr().out
    os.environ.pop("MFALAB_SECRET_KEY")
    assert main(["tokens", "import", str(path)]) == 2
    assert "MFALAB_SECRET_KEY" in capsys.readouterr().err


@pytest.mark.slow
def test_console_script(env: str, tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text(f"SN-1,{S1},30\n")
    script = Path(sys.executable).with_name("mfalab")
    done = subprocess.run(
        [str(script), "tokens", "import", str(path)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert "imported 1 token(s)" in done.stdout
    with sqlite3.connect(env.removeprefix("sqlite:///")) as conn:
        tables = {r[0] for r in conn.execute("select name from sqlite_master")}
    assert "tokens" in tables or any("token" in t for t in tables)
