"""CSV token import: positional and headed layouts, and every bad row reported."""

from __future__ import annotations

import base64

import pytest

from mfa.errors import TokenImportError
from mfa.tokens.csv_import import parse_csv

S1 = base64.b32encode(b"12345678901234567890").decode()  # 32 chars, no padding needed
S2 = base64.b32encode(b"abcdefghijklmnopqrstuvwxyz012345").decode().rstrip("=")


def test_positional_rows_with_and_without_digits() -> None:
    text = f"# vendor export\nSN-1,{S1},30\n\nSN-2, {S2.lower()} ,60,8\n"
    first, second = parse_csv(text)
    assert (first.serial, first.secret, first.period, first.digits, first.algorithm) == (
        "SN-1",
        S1,
        30,
        6,
        "sha1",
    )
    assert (second.serial, second.secret, second.period, second.digits) == ("SN-2", S2, 60, 8)
    assert first.manufacturer is None


def test_semicolons_tabs_quotes_and_padding() -> None:
    padded = S2 + "=" * (-len(S2) % 8)
    (token,) = parse_csv(f'"SN;1";{padded};30\n')
    assert (token.serial, token.secret) == ("SN;1", S2)
    (token,) = parse_csv(f"SN-1\t{S1[:8]} {S1[8:]}\t30\n")
    assert token.secret == S1


def test_the_oath_token_csv_with_its_header() -> None:
    text = (
        "upn,serial number,secret key,time interval,manufacturer,model\n"
        f"alice@contoso.com,1234567,{S1},30,Contoso,HardwareKey\n"
        f"bob@contoso.com,1234568,{S2},60,Contoso,HardwareKey\n"
    )
    first, second = parse_csv(text)
    assert (first.serial, first.secret, first.period, first.manufacturer) == (
        "1234567",
        S1,
        30,
        "Contoso",
    )
    assert (second.serial, second.period) == ("1234568", 60)


def test_header_columns_in_any_order_with_algorithm_and_digits() -> None:
    text = f"Secret;Digits;Serial;Period;Algorithm\n{S1};8;T-9;30;HMAC-SHA512\n"
    (token,) = parse_csv(text.encode("utf-8-sig"))  # with a byte-order mark
    assert (token.serial, token.digits, token.algorithm) == ("T-9", 8, "sha512")


def test_every_bad_row_is_reported_with_its_line_and_nothing_is_returned() -> None:
    rows = [
        "serial,secret,interval,digits",  # 1
        f"OK-1,{S1},30",  # 2
        f",{S1},30",  # 3 missing serial
        "BAD-B32,not*base32!,30",  # 4
        f"OK-1,{S2},30",  # 5 duplicate serial
        f"ZERO,{S1},0",  # 6 non-positive interval
        f"NEG,{S1},-30",  # 7
        f"WORDS,{S1},thirty",  # 8
        f"FEW,{S1}",  # 9 too few columns / missing interval
        f"DIG,{S1},30,4",  # 10 digits out of range
        "SHORT,GEZDGNBVGY3TQOJQ,30",  # 11 80-bit secret
        f"DIGX,{S1},30,six",  # 12
    ]
    with pytest.raises(TokenImportError) as info:
        parse_csv("\n".join(rows) + "\n", source="tokens.csv")
    problems = info.value.problems
    by_line: dict[str, list[str]] = {}
    for p in problems:
        by_line.setdefault(p.where, []).append(p.reason)
    assert set(by_line) == {f"line {n}" for n in range(3, 13)}
    expect = {
        3: "missing serial",
        4: "not valid base32",
        5: "duplicate serial 'OK-1' (first on line 2)",
        6: "time interval must be a positive",
        7: "time interval must be a positive",
        8: "time interval 'thirty' is not a whole number",
        9: "missing time interval",
        10: "digits must be between 6 and 10",
        11: "secret has 80 bits",
        12: "digits 'six' is not a whole number",
    }
    for line, reason in expect.items():
        assert any(reason in r for r in by_line[f"line {line}"]), (line, by_line)
    assert any("column(s), expected at least 3" in r for r in by_line["line 9"])
    message = str(info.value)
    assert message.startswith("tokens.csv: ")
    assert S1 not in message and S2 not in message and "not*base32" not in message


def test_unsupported_algorithm_column() -> None:
    with pytest.raises(TokenImportError, match="line 2: unsupported algorithm 'md5'"):
        parse_csv(f"serial,secret,interval,algorithm\nX,{S1},30,md5\n")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "no token rows"),
        ("# only a comment\n\n", "no token rows"),
        ("serial,secret,interval\n", "a header but no token rows"),
        ("serial number,model\n1,x\n", "the header names no column for secret, interval"),
        (b"SN,\xff\xfe,30\n", "not UTF-8"),
    ],
)
def test_unusable_files(content: str | bytes, message: str) -> None:
    with pytest.raises(TokenImportError, match=message):
        parse_csv(content)
