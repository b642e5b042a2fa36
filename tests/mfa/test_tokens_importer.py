"""parse_token_file (the entry point the CLI and HTTP API share) and Engine.import_tokens."""

from __future__ import annotations

import base64
import io

import pskc
import pytest

from mfa import ConflictError, Engine, HardwareToken, InvalidInput, TokenImportError
from mfa.tokens.importer import parse_token_file, sniff_format

S1 = base64.b32encode(b"12345678901234567890").decode()


def pskc_bytes() -> bytes:
    container = pskc.PSKC()
    container.add_key(
        serial="P-1",
        secret=b"12345678901234567890",
        algorithm="urn:ietf:params:xml:ns:keyprov:pskc:totp",
    )
    out = io.BytesIO()
    container.write(out)
    return out.getvalue()


@pytest.mark.parametrize(
    ("content", "source", "expected"),
    [
        (b"<?xml ...", "<input>", "pskc"),
        ("  \n<KeyContainer/>", "<input>", "pskc"),
        (b"\xef\xbb\xbf<KeyContainer/>", "<input>", "pskc"),
        (b"SN,ABC,30", "<input>", "csv"),
        (b"<looks like xml>", "vendor.CSV", "csv"),  # the extension wins
        (b"SN,ABC,30", "vendor.pskcxml", "pskc"),
        (b"SN,ABC,30", "vendor.xml", "pskc"),
    ],
)
def test_sniff_format(content: bytes | str, source: str, expected: str) -> None:
    assert sniff_format(content, source) == expected


def test_parse_either_format_with_or_without_a_hint() -> None:
    assert [t.serial for t in parse_token_file(pskc_bytes())] == ["P-1"]
    assert [t.serial for t in parse_token_file(pskc_bytes(), "pskc")] == ["P-1"]
    assert [t.serial for t in parse_token_file(f"C-1,{S1},30", "CSV")] == ["C-1"]
    with pytest.raises(TokenImportError, match="not PSKC XML"):
        parse_token_file(f"C-1,{S1},30", "pskc", source="x")
    with pytest.raises(InvalidInput, match="format"):
        parse_token_file(b"", "yaml")
    with pytest.raises(TokenImportError, match="PSKC files only"):
        parse_token_file(f"C-1,{S1},30", "csv", key="00" * 16)


def test_engine_import_checks_every_token_and_stores_all_or_nothing(engine: Engine) -> None:
    good = HardwareToken("G-1", S1)
    bad = [
        good,
        HardwareToken("", S1),
        HardwareToken("B-2", "!!"),
        HardwareToken("B-3", S1, period=0),
        HardwareToken("B-4", S1, digits=5),
        HardwareToken("B-5", S1, algorithm="md5"),
        HardwareToken("G-1", S1),
    ]
    with pytest.raises(TokenImportError) as info:
        engine.import_tokens(bad, source="api")
    reasons = " | ".join(str(p) for p in info.value.problems)
    for expected in (
        "token 2 (''): missing serial",
        "token 3 ('B-2'): secret is not valid base32",
        "token 4 ('B-3'): time interval",
        "token 5 ('B-4'): digits",
        "token 6 ('B-5'): unsupported algorithm",
        "token 7 ('G-1'): serial repeated",
    ):
        assert expected in reasons
    assert engine.repository.get_token("G-1") is None
    assert engine.import_tokens([good]) == ["G-1"]
    with pytest.raises(ConflictError):
        engine.import_tokens([HardwareToken("G-2", S1), good])
    assert engine.repository.get_token("G-2") is None
