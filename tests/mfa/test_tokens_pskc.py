"""PSKC (RFC 6030) token import: plain, password (PBE) and pre-shared-key encrypted files.

The fixtures are written by python-pskc in the tests themselves, so every file is readable
and its secrets are known.
"""

from __future__ import annotations

import base64
import io
import shutil
import subprocess
from typing import Any

import pskc
import pytest

from mfa.errors import TokenImportError
from mfa.otp import totp_at
from mfa.tokens.pskc import TOTP_ALGORITHM, parse_pskc

HOTP = "urn:ietf:params:xml:ns:keyprov:pskc:hotp"
SECRET_A = b"12345678901234567890"  # RFC 6238's SHA1 seed
SECRET_B = b"12345678901234567890123456789012"  # RFC 6238's SHA256 seed
PSK = bytes(range(16))


def b32(raw: bytes) -> str:
    return base64.b32encode(raw).decode().rstrip("=")


def key_spec(**overrides: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "id": "k1",
        "secret": SECRET_A,
        "algorithm": TOTP_ALGORITHM,
        "manufacturer": "Acme",
        "serial": "ACME-0001",
        "time_interval": 30,
        "response_length": 6,
        "response_encoding": "DECIMAL",
    }
    spec.update(overrides)
    return {k: v for k, v in spec.items() if v is not None}


def write_pskc(
    keys: list[dict[str, Any]], *, password: str | None = None, psk: bytes | None = None
) -> bytes:
    container = pskc.PSKC()
    for spec in keys:
        container.add_key(**spec)
    if password is not None:
        container.encryption.setup_pbkdf2(password, iterations=1000)
    if psk is not None:
        container.encryption.setup_preshared_key(key=psk, key_name="transport key")
    out = io.BytesIO()
    container.write(out)
    return out.getvalue()


TWO_KEYS = [
    key_spec(),
    key_spec(
        id="k2",
        secret=SECRET_B,
        serial="ACME-0002",
        time_interval=60,
        response_length=8,
        algorithm_suite="HMAC-SHA256",
        manufacturer="Other Co",
    ),
]


def check_two_tokens(tokens: list[Any]) -> None:
    first, second = tokens
    assert (first.serial, first.secret, first.period, first.digits, first.algorithm) == (
        "ACME-0001",
        b32(SECRET_A),
        30,
        6,
        "sha1",
    )
    assert first.manufacturer == "Acme"
    assert (second.serial, second.secret, second.period, second.digits, second.algorithm) == (
        "ACME-0002",
        b32(SECRET_B),
        60,
        8,
        "sha256",
    )
    assert second.manufacturer == "Other Co"
    # the imported parameters give the RFC 6238 values
    assert totp_at(second.secret, 59, digits=8, period=30, algorithm="sha256") == "46119246"
    assert all(t.user_id is None for t in tokens)


def test_plain_file() -> None:
    data = write_pskc(TWO_KEYS)
    check_two_tokens(parse_pskc(data, source="acme.pskc"))
    check_two_tokens(parse_pskc(data.decode()))  # text works too


def test_password_encrypted_file() -> None:
    data = write_pskc(TWO_KEYS, password="correct horse")
    assert b"EncryptedValue" in data and b"PBKDF2" in data
    check_two_tokens(parse_pskc(data, password="correct horse"))
    with pytest.raises(TokenImportError, match="encrypted: give the password"):
        parse_pskc(data)
    with pytest.raises(TokenImportError) as info:
        parse_pskc(data, password="wrong", source="acme.pskc")
    wheres = [p.where for p in info.value.problems]
    assert wheres == ["KeyPackage 1 (Key Id 'k1')", "KeyPackage 2 (Key Id 'k2')"]
    assert all("cannot decrypt" in p.reason for p in info.value.problems)
    assert str(info.value).startswith("acme.pskc: 2 problem(s), nothing imported")


def test_preshared_key_encrypted_file() -> None:
    data = write_pskc(TWO_KEYS, psk=PSK)
    check_two_tokens(parse_pskc(data, key=PSK.hex()))
    check_two_tokens(parse_pskc(data, key=PSK.hex().upper()))
    check_two_tokens(parse_pskc(data, key=PSK))
    with pytest.raises(TokenImportError, match="cannot decrypt"):
        parse_pskc(data, key=bytes(16).hex())
    with pytest.raises(TokenImportError, match="hexadecimal"):
        parse_pskc(data, key="not hex")
    with pytest.raises(TokenImportError, match="16, 24 or 32 bytes"):
        parse_pskc(data, key="00ff")
    with pytest.raises(TokenImportError, match="either a password or a key"):
        parse_pskc(data, key=PSK.hex(), password="x")


def test_every_bad_key_is_reported_with_its_package_and_id() -> None:
    data = write_pskc(
        [
            key_spec(id="good"),
            key_spec(id="hotp", serial="S-2", algorithm=HOTP),
            key_spec(id="noserial", serial=None),
            key_spec(id="dup", serial="ACME-0001"),
            key_spec(id="short", serial="S-5", secret=b"0123456789"),
            key_spec(id="zero", serial="S-6", time_interval=0),
            key_spec(id="md5", serial="S-7", algorithm_suite="HMAC-MD5"),
            key_spec(id="four", serial="S-8", response_length=4),
            key_spec(id="hex", serial="S-9", response_encoding="HEXADECIMAL"),
            key_spec(id="nosecret", serial="S-10", secret=None),
        ]
    )
    with pytest.raises(TokenImportError) as info:
        parse_pskc(data, source="vendor.xml")
    text = str(info.value)
    expected = {
        "KeyPackage 2 (Key Id 'hotp')": "only TOTP keys",
        "KeyPackage 3 (Key Id 'noserial')": "missing serial",
        "KeyPackage 4 (Key Id 'dup')": "duplicate serial 'ACME-0001' (also in KeyPackage 1",
        "KeyPackage 5 (Key Id 'short')": "secret has 80 bits",
        "KeyPackage 6 (Key Id 'zero')": "time interval must be a positive",
        "KeyPackage 7 (Key Id 'md5')": "unsupported algorithm 'HMAC-MD5'",
        "KeyPackage 8 (Key Id 'four')": "digits must be between 6 and 10",
        "KeyPackage 9 (Key Id 'hex')": "encoding HEXADECIMAL is not supported",
        "KeyPackage 10 (Key Id 'nosecret')": "missing secret",
    }
    for where, reason in expected.items():
        assert any(p.where == where and reason in p.reason for p in info.value.problems), (
            where,
            reason,
            text,
        )
    assert not any(p.where.startswith("KeyPackage 1 ") for p in info.value.problems)
    assert b32(SECRET_A) not in text and "1234567890" not in text


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"serial,secret\n", "not PSKC XML"),
        (b"", "not PSKC XML"),
        (b"<html><body/></html>", "not a PSKC file"),
        (
            b'<?xml version="1.0"?><pskc:KeyContainer Version="1.0" '
            b'xmlns:pskc="urn:ietf:params:xml:ns:keyprov:pskc"/>',
            "no KeyPackage",
        ),
        (
            b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
            b'<KeyContainer Version="1.0"><KeyPackage><DeviceInfo><SerialNo>&e;</SerialNo>'
            b"</DeviceInfo></KeyPackage></KeyContainer>",
            "DOCTYPE is not allowed",
        ),
        (
            b'<?xml version="1.0"?><pskc:KeyContainer Version="2.0" '
            b'xmlns:pskc="urn:ietf:params:xml:ns:keyprov:pskc"/>',
            "not a PSKC file",
        ),
    ],
)
def test_files_that_are_not_pskc(content: bytes, message: str) -> None:
    with pytest.raises(TokenImportError, match=message) as info:
        parse_pskc(content, source="upload.pskc")
    assert info.value.source == "upload.pskc"
    assert "root:" not in str(info.value)  # nothing of /etc/passwd leaks


def test_imported_secret_agrees_with_oathtool() -> None:
    """python-pskc reads, we import, oath-toolkit computes: all three must agree."""
    oathtool = shutil.which("oathtool")
    if oathtool is None:
        pytest.skip("oathtool is not installed (apt-get install oathtool)")
    (token,) = parse_pskc(write_pskc([TWO_KEYS[1]], password="pw"), password="pw")
    raw = base64.b32decode(token.secret + "=" * (-len(token.secret) % 8))
    for when in (1_111_111_109, 1_700_000_000):
        out = subprocess.run(
            [
                oathtool,
                f"--totp={token.algorithm}",
                f"--digits={token.digits}",
                f"--time-step-size={token.period}s",
                f"--now=@{when}",
                raw.hex(),
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        expected = totp_at(
            token.secret, when, digits=token.digits, period=token.period, algorithm="sha256"
        )
        assert out.stdout.strip() == expected
