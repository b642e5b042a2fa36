"""Hostile token files: bounded size, rows, fields, intervals and PBKDF2 work (issue 11,
defects 5 and 6), through the parsers and ``mfalab tokens import``.

Every limit is a problem reported like any other bad row — ``TokenImportError`` or exit 2
with the message — never a crash, a traceback or minutes of CPU.
"""

from __future__ import annotations

import base64
import io
import re
import time
from pathlib import Path

import pskc
import pytest

from mfa.cli import main
from mfa.errors import TokenImportError
from mfa.limits import MAX_CSV_FIELD, MAX_IMPORT_BYTES, MAX_IMPORT_TOKENS, MAX_INTERVAL
from mfa.tokens.csv_import import parse_csv
from mfa.tokens.importer import parse_token_file
from mfa.tokens.pskc import TOTP_ALGORITHM, parse_pskc

SECRET = base64.b32encode(b"12345678901234567890").decode()
PASSPHRASE = "a test passphrase of sufficient length"


def pbe_pskc(iterations: int, password: str = "pw", *, honest: bool = False) -> bytes:
    """A password-encrypted PSKC file that asks for ``iterations`` PBKDF2 rounds (written
    with 1,000 and then edited, so making it costs nothing; ``honest`` derives the key with
    ``iterations`` so the file decrypts)."""
    container = pskc.PSKC()
    container.add_key(
        id="k1",
        secret=b"12345678901234567890",
        algorithm=TOTP_ALGORITHM,
        serial="ACME-1",
        time_interval=30,
        response_length=6,
    )
    container.encryption.setup_pbkdf2(password, iterations=iterations if honest else 1000)
    out = io.BytesIO()
    container.write(out)
    data = out.getvalue()
    if honest:
        return data
    data, count = re.subn(rb"(IterationCount>)1000(<)", rb"\g<1>%d\g<2>" % iterations, data)
    assert count == 1
    return data


def test_pbkdf2_iterations_over_the_cap_are_refused_before_deriving() -> None:
    data = pbe_pskc(2**31 - 1)
    started = time.perf_counter()
    with pytest.raises(TokenImportError, match="PBKDF2 iterations") as info:
        parse_pskc(data, password="pw", source="evil.pskc")
    assert time.perf_counter() - started < 1.0  # nothing was derived
    assert "MFALAB_PSKC_MAX_ITERATIONS" in str(info.value)
    with pytest.raises(TokenImportError, match="PBKDF2"):
        parse_pskc(pbe_pskc(20_000_000), password="pw")
    # a lower cap from the settings applies; files within it import
    with pytest.raises(TokenImportError, match="at most 500"):
        parse_token_file(pbe_pskc(1000), "pskc", password="pw", max_iterations=500)
    assert [t.serial for t in parse_pskc(pbe_pskc(1000), password="pw")] == ["ACME-1"]


@pytest.mark.parametrize("interval", ["0", str(MAX_INTERVAL + 1), str(2**31), "1e23", "9" * 5000])
def test_an_interval_outside_1_to_3600_is_a_row_problem(interval: str) -> None:
    with pytest.raises(TokenImportError) as info:
        parse_csv(f"SN-1,{SECRET},30\nSN-2,{SECRET},{interval}\n")
    assert [p.where for p in info.value.problems] == ["line 2"]
    assert len(str(info.value)) < 500  # a huge value is not echoed


def test_a_field_over_the_limit_is_a_row_problem_not_a_crash() -> None:
    for size in (MAX_CSV_FIELD + 1, 200_000, 9_000_000):
        content = f"SN-1,{SECRET},30\nSN-2,{SECRET},30,6,{'x' * size}\nSN-3,{SECRET},30\n"
        with pytest.raises(TokenImportError) as info:
            parse_csv(content)
        assert [p.where for p in info.value.problems] == ["line 2"], size
    with pytest.raises(TokenImportError) as quoted:  # an unclosed quote swallowing the file
        parse_csv(f'SN-1,{SECRET},30\nSN-2,"{"y" * 300_000}\n')
    assert quoted.value.problems[0].where == "line 2"


def test_a_file_over_10_mb_or_100000_tokens_is_refused() -> None:
    with pytest.raises(TokenImportError, match="import limit"):
        parse_csv(f"SN-1,{SECRET},30\n" + "#" * MAX_IMPORT_BYTES)
    rows = "".join(f"S{i},{SECRET},30\n" for i in range(MAX_IMPORT_TOKENS + 1))
    with pytest.raises(TokenImportError, match="rows, the import limit"):
        parse_csv(rows)
    with pytest.raises(TokenImportError, match="import limit"):
        parse_pskc(b"<a>" + b" " * MAX_IMPORT_BYTES + b"</a>")


# ---------------------------------------------------------------------------- the CLI


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path / 'var' / 'lab.db'}"
    monkeypatch.setenv("MFALAB_SECRET_KEY", PASSPHRASE)
    monkeypatch.setenv("MFALAB_DB_URL", url)
    monkeypatch.chdir(tmp_path)
    return url


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (f"SN-1,{SECRET},1e23\n", "line 1: time interval"),
        (f"SN-1,{SECRET},100000000000000000000000\n", "line 1: time interval"),
        (f"SN-1,{SECRET},30,6,{'x' * 9_000_000}\n", "line 1: the line has"),
        (f"SN-1,{SECRET},30\n" + "#" * 10_000_001, "import limit"),
    ],
)
def test_cli_limits_exit_2_with_the_message_never_a_traceback(
    env: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    content: str,
    message: str,
) -> None:
    path = tmp_path / "tokens.csv"
    path.write_text(content)
    assert main(["tokens", "import", str(path)]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert len(err) < 2000


def test_cli_refuses_a_costly_pskc_file(
    env: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "evil.pskc"
    path.write_bytes(pbe_pskc(20_000_000))
    started = time.perf_counter()
    assert main(["tokens", "import", str(path), "--password", "pw"]) == 2
    assert time.perf_counter() - started < 2.0
    assert "PBKDF2 iterations" in capsys.readouterr().err
    monkeypatch.setenv("MFALAB_PSKC_MAX_ITERATIONS", "999")
    path.write_bytes(pbe_pskc(1000))
    assert main(["tokens", "import", str(path), "--password", "pw", "--dry-run"]) == 2
    assert "at most 999" in capsys.readouterr().err


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_a_database_error_never_shows_sql_parameters(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """A statement the database refuses raises an error whose text (and so any traceback)
    names the statement but not its parameters: those hold sealed secrets."""
    from mfa.storage import derive_key
    from mfa.storage.sql import SqlRepository
    from mfa.tokens.model import HardwareToken

    url = (
        f"sqlite:///{tmp_path / 'x.db'}"
        if backend == "sqlite"
        else str(request.getfixturevalue("postgres_url"))
    )
    repo = SqlRepository(url, secret_key=derive_key(PASSPHRASE))
    try:
        serial = "SERIAL-VISIBLE-IN-PARAMETERS"
        bad = [HardwareToken(serial=serial, secret=SECRET, period=2**70)]  # past any integer
        with pytest.raises(Exception) as info:
            repo.add_tokens(bad)
        text = "".join(str(e) for e in (info.value, info.value.__cause__, info.value.__context__))
        assert serial not in text
    finally:
        repo.close()
