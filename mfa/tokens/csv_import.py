"""Import OATH TOTP tokens from CSV files.

The seed: "CSV if the file contains a serial number, a secret key in Base 32 format, and a
time interval". Two layouts are read:

- without a header, the columns are ``serial, secret, interval[, digits]``;
- with a header (recognised by a column named like "serial"), columns are found by name,
  in any order, so the OATH token CSV that MFA products exchange
  (``upn,serial number,secret key,time interval,manufacturer,model``) imports as is.
  Known names: serial / serial number; secret / secret key / seed; time interval /
  interval / period / time step; digits / length; manufacturer; algorithm / hash. Other
  columns (upn, model, …) are ignored.

Commas, semicolons or tabs separate fields; blank lines and lines starting with ``#`` are
skipped. The import is all or nothing: every row is checked and every problem is reported
with its line number before ``TokenImportError`` is raised. Secrets never appear in a
message.
"""

from __future__ import annotations

import csv
import io
import re

from mfa.errors import ProblemItem, TokenImportError
from mfa.limits import MAX_CSV_FIELD, MAX_IMPORT_BYTES, MAX_IMPORT_TOKENS, MAX_NAME, text_problem
from mfa.otp import normalise_algorithm, normalise_base32
from mfa.tokens.model import HardwareToken, parameter_problems, secret_problem, serial_problem

__all__ = ["parse_csv"]

_COLUMNS: dict[str, tuple[str, ...]] = {
    "serial": ("serial", "serialnumber", "serialno", "sn", "tokenserial"),
    "secret": ("secret", "secretkey", "seed", "key", "base32secret", "secretbase32"),
    "interval": ("timeinterval", "interval", "period", "timestep", "step"),
    "digits": ("digits", "length", "otplength", "codelength"),
    "manufacturer": ("manufacturer", "vendor", "make"),
    "algorithm": ("algorithm", "hash", "hashalgorithm", "digest"),
}
_POSITIONAL = ("serial", "secret", "interval", "digits")
_REQUIRED = ("serial", "secret", "interval")


def _name(header: str) -> str:
    return re.sub(r"[^a-z0-9]", "", header.lower())


def _text(content: str | bytes, source: str) -> str:
    if isinstance(content, str):
        return content.removeprefix("\ufeff")
    try:
        return bytes(content).decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise TokenImportError(
            source, [ProblemItem("file", f"not UTF-8 text (byte {exc.start})")]
        ) from None


def _delimiter(line: str) -> str:
    return max((",", ";", "\t"), key=line.count)


def _header_map(cells: list[str]) -> dict[str, int] | None:
    """Column positions by field, if ``cells`` is a header row; None if it is data."""
    names = [_name(c) for c in cells]
    if not any(n in _COLUMNS["serial"] for n in names):
        return None
    found: dict[str, int] = {}
    for field, aliases in _COLUMNS.items():
        for position, name in enumerate(names):
            if name in aliases and field not in found:
                found[field] = position
    return found


def _whole_number(value: str, what: str, reasons: list[str]) -> int | None:
    text = value.strip()
    if not re.fullmatch(r"[+-]?[0-9]+", text):
        shown = repr(text) if len(text) <= 24 else repr(text[:20]) + "…"
        reasons.append(f"{what} {shown} is not a whole number" if text else f"missing {what}")
        return None
    if len(text) > 12:  # int() of a long string is slow, and no interval or length is that big
        reasons.append(f"{what} of {len(text)} digits is out of range")
        return None
    return int(text)


def _too_many_rows(source: str) -> None:
    raise TokenImportError(
        source, [ProblemItem("file", f"more than {MAX_IMPORT_TOKENS:,} rows, the import limit")]
    )


def _line_problem(line: str) -> str | None:
    """Why a line is too long to be split into fields, or None."""
    if len(line) > _MAX_LINE:
        return f"the line has {len(line):,} characters; at most {_MAX_LINE:,} are read"
    return None


#: a row has at most a dozen fields of MAX_CSV_FIELD characters
_MAX_LINE = 12 * MAX_CSV_FIELD


def parse_csv(content: str | bytes, *, source: str = "<input>") -> list[HardwareToken]:
    """Every token in a CSV file, or ``TokenImportError`` listing every bad row."""
    if len(content) > MAX_IMPORT_BYTES:
        raise TokenImportError(
            source,
            [ProblemItem("file", f"larger than {MAX_IMPORT_BYTES:,} bytes, the import limit")],
        )
    text = _text(content, source)
    lines = [
        (number, line)
        for number, line in enumerate(text.splitlines(), start=1)
        if line.strip() and not line.lstrip().startswith("#")
    ]
    if not lines:
        raise TokenImportError(source, [ProblemItem("file", "no token rows")])
    if len(lines) > MAX_IMPORT_TOKENS + 1:  # one line may be the header
        _too_many_rows(source)
    delimiter = _delimiter(lines[0][1][:_MAX_LINE])
    columns, rows = _columns(lines, delimiter, source)
    if len(rows) > MAX_IMPORT_TOKENS:
        _too_many_rows(source)
    tokens: list[HardwareToken] = []
    problems: list[ProblemItem] = []
    first_seen: dict[str, int] = {}  # serial -> line
    for number, line in rows:
        try:
            row = _cells(line, delimiter)
        except ValueError as exc:
            problems.append(ProblemItem(f"line {number}", str(exc)))
            continue
        token, reasons = _row_token(row, columns, number, first_seen)
        if token is None:
            problems.extend(ProblemItem(f"line {number}", r) for r in reasons)
        else:
            tokens.append(token)
    if problems:
        raise TokenImportError(source, problems)
    return tokens


def _cells(line: str, delimiter: str) -> list[str]:
    """The fields of a line; ``csv.Error`` (a field over the csv module's limit, a
    stray quote) is the line's problem, raised as ``ValueError``.

    The line and each field are bounded so that a hostile file cannot make the import
    split or store megabytes per row.
    """
    if problem := _line_problem(line):
        raise ValueError(problem)
    try:
        row = next(csv.reader(io.StringIO(line), delimiter=delimiter), [])
    except csv.Error as exc:
        raise ValueError(f"not a CSV row ({exc})") from None
    for position, cell in enumerate(row, start=1):
        if len(cell) > MAX_CSV_FIELD:
            raise ValueError(
                f"field {position} has {len(cell):,} characters; at most {MAX_CSV_FIELD:,}"
            )
    return [c.strip() for c in row]


def _columns(
    lines: list[tuple[int, str]], delimiter: str, source: str
) -> tuple[dict[str, int], list[tuple[int, str]]]:
    """Column positions by field, and the data lines: named by a header, or positional.

    A first line that cannot be read stops the import: without it the columns are unknown.
    """
    number, line = lines[0]
    try:
        first = _cells(line, delimiter)
    except ValueError as exc:
        raise TokenImportError(source, [ProblemItem(f"line {number}", str(exc))]) from None
    columns = _header_map(first)
    if columns is None:
        return {field: i for i, field in enumerate(_POSITIONAL)}, lines
    missing = [f for f in _REQUIRED if f not in columns]
    if missing:
        problem = "the header names no column for " + ", ".join(missing)
        raise TokenImportError(source, [ProblemItem(f"line {number}", problem)])
    if len(lines) == 1:
        raise TokenImportError(source, [ProblemItem("file", "a header but no token rows")])
    return columns, lines[1:]


def _row_token(
    row: list[str], columns: dict[str, int], number: int, first_seen: dict[str, int]
) -> tuple[HardwareToken | None, list[str]]:
    """The token on one data line, or ``None`` and every reason it is refused.

    Every reason is collected (not only the first) so that one import run shows everything
    to fix on the line.
    """

    def cell(field: str) -> str:
        position = columns.get(field)
        return row[position] if position is not None and position < len(row) else ""

    reasons: list[str] = []
    needed = max(columns[f] for f in _REQUIRED) + 1
    if len(row) < needed:
        reasons.append(f"{len(row)} column(s), expected at least {needed}")
    serial = cell("serial")
    if problem := serial_problem(serial):
        reasons.append(problem)
    elif serial in first_seen:
        reasons.append(f"duplicate serial {serial!r} (first on line {first_seen[serial]})")
    else:
        first_seen[serial] = number
    secret = cell("secret")
    if problem := secret_problem(secret):
        reasons.append(problem)
    period = _whole_number(cell("interval"), "time interval", reasons)
    digits_text = cell("digits")
    digits = _whole_number(digits_text, "digits", reasons) if digits_text else 6
    algorithm = "sha1"
    if cell("algorithm"):
        try:
            algorithm = normalise_algorithm(cell("algorithm"))
        except ValueError as exc:
            reasons.append(str(exc))
    if period is not None and digits is not None:
        reasons += parameter_problems(period, digits, algorithm)
    if problem := text_problem(cell("manufacturer"), maximum=MAX_NAME):
        reasons.append(f"manufacturer: {problem}")
    if reasons or period is None or digits is None:
        return None, reasons
    token = HardwareToken(
        serial=serial,
        secret=normalise_base32(secret),
        period=period,
        digits=digits,
        algorithm=algorithm,
        manufacturer=cell("manufacturer") or None,
    )
    return token, []
