"""The bounds of every input, in one place: the HTTP API, the token importers and the CLI
read them here, and docs/api.md lists them.

Each maximum fits the column that stores the value on SQLite and on PostgreSQL
(``mfa.storage.schema``), so an over-long value is refused with a message naming the field
before it can reach a database that would fail on it (PostgreSQL refuses a 65-character
value in a 64-character column, SQLite stores it). Text that a person or a device sends
must also be printable: a NUL byte is refused by PostgreSQL, a lone surrogate cannot be
encoded as UTF-8 by any driver, and control characters have no place in a name, an id or a
code (they also forge log lines).
"""

from __future__ import annotations

import re

__all__ = [
    "MAX_APP_PASSWORD",
    "MAX_AUTH_ID",
    "MAX_CLIENT_IP",
    "MAX_CODE",
    "MAX_CSV_FIELD",
    "MAX_DEVICE_TOKEN",
    "MAX_EMAIL",
    "MAX_IMPORT_BYTES",
    "MAX_IMPORT_TOKENS",
    "MAX_INTERVAL",
    "MAX_METHOD_ID",
    "MAX_NAME",
    "MAX_PHONE",
    "MAX_PSKC_PASSWORD",
    "MAX_SERIAL",
    "MAX_USER_ID",
    "PRINTABLE",
    "PSKC_MAX_ITERATIONS",
    "text_problem",
]

#: ``users.user_id`` and every ``user_id`` column are ``VARCHAR(128)``.
MAX_USER_ID = 128
#: first and last names (TEXT columns; bounded so a request cannot store megabytes).
MAX_NAME = 256
#: RFC 5321's limit on a forward path.
MAX_EMAIL = 254
#: a phone number as typed (spaces, dashes); stored as E.164 (at most 16) in ``VARCHAR(20)``.
MAX_PHONE = 32
#: a push device token (the engine's own rule: 8 to 512 characters).
MAX_DEVICE_TOKEN = 512
#: ``auth_log.client_ip`` is ``VARCHAR(64)``; an IPv6 address has at most 45 characters.
MAX_CLIENT_IP = 64
#: a one-time code as typed (6 to 10 digits, spaces allowed).
MAX_CODE = 32
#: ``auth_log.auth_id`` is ``VARCHAR(160)``.
MAX_AUTH_ID = 160
#: ``methods.method_id`` is ``VARCHAR(64)``.
MAX_METHOD_ID = 64
#: a hardware token's serial (``mfa.tokens.model.MAX_SERIAL_LENGTH``).
MAX_SERIAL = 64
#: an app password as typed (the server's are 16 characters).
MAX_APP_PASSWORD = 256
#: the password of an encrypted PSKC file.
MAX_PSKC_PASSWORD = 1024
#: a token file, over HTTP (the ``content`` field) or on the command line: 10 MB.
MAX_IMPORT_BYTES = 10 * 1000 * 1000
#: tokens in one import (one transaction).
MAX_IMPORT_TOKENS = 100_000
#: a TOTP time step: 1 s to one hour (``hardware_tokens.period`` is a 32-bit integer).
MAX_INTERVAL = 3600
#: one CSV field; a longer one is a problem of its row, not a crash of the import.
MAX_CSV_FIELD = 4096
#: PBKDF2 iterations accepted from a PSKC file before deriving its key (the file chooses the
#: count; 1,000,000 takes about a second; ``MFALAB_PSKC_MAX_ITERATIONS`` changes it).
PSKC_MAX_ITERATIONS = 1_000_000

#: Text without C0/C1 control characters (NUL included), as a JSON-schema pattern (the
#: OpenAPI document carries it, so clients and fuzzers know the rule). Lone surrogates are
#: refused too, but a pattern cannot say so portably (they are not text to any regex engine).
PRINTABLE = r"^[^\u0000-\u001f\u007f-\u009f]*$"
_FORBIDDEN = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


def text_problem(value: str, *, maximum: int) -> str | None:
    """Why ``value`` cannot be stored as text of at most ``maximum`` characters, or None."""
    if len(value) > maximum:
        return f"at most {maximum} characters, not {len(value)}"
    found = _FORBIDDEN.search(value)
    if found is not None:
        char = found.group()
        if "\ud800" <= char <= "\udfff":
            return f"a lone surrogate (U+{ord(char):04X}) is not text"
        return f"control characters (here U+{ord(char):04X}) are not allowed"
    return None
