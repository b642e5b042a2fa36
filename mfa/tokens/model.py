"""An imported OATH TOTP hardware token (RFC 6238), assigned to a user by serial.

``token_problems`` holds the rules every importer and the engine apply before a token is
stored, so a PSKC file, a CSV file and an API call are judged the same way.
"""

from __future__ import annotations

from dataclasses import dataclass

from mfa.limits import MAX_INTERVAL
from mfa.otp import ALGORITHMS, MIN_SECRET_BITS, secret_bytes

__all__ = [
    "MAX_SERIAL_LENGTH",
    "HardwareToken",
    "parameter_problems",
    "secret_problem",
    "serial_problem",
    "token_problems",
]

MAX_SERIAL_LENGTH = 64


@dataclass(frozen=True, slots=True)
class HardwareToken:
    """``secret`` is base32 (RFC 4648, no padding); ``algorithm`` is sha1, sha256 or sha512."""

    serial: str
    secret: str
    period: int = 30
    digits: int = 6
    algorithm: str = "sha1"
    manufacturer: str | None = None
    user_id: str | None = None
    imported_at: float = 0.0


def serial_problem(serial: object) -> str | None:
    """Why ``serial`` cannot name a token, or None."""
    if not isinstance(serial, str) or not serial.strip():
        return "missing serial number"
    if serial != serial.strip() or any(not c.isprintable() for c in serial):
        return f"serial {serial!r} has surrounding spaces or control characters"
    if len(serial) > MAX_SERIAL_LENGTH:
        return f"serial is longer than {MAX_SERIAL_LENGTH} characters"
    return None


def secret_problem(secret: object) -> str | None:
    """Why ``secret`` is not a usable base32 TOTP secret, or None. Never quotes the secret."""
    if not isinstance(secret, str) or not secret.strip():
        return "missing secret"
    try:
        key = secret_bytes(secret)
    except ValueError:
        return "secret is not valid base32"
    if len(key) * 8 < MIN_SECRET_BITS:
        return f"secret has {len(key) * 8} bits; RFC 4226 requires at least {MIN_SECRET_BITS}"
    return None


def parameter_problems(period: object, digits: object, algorithm: object) -> list[str]:
    """Why a token's time interval, length or hash cannot be used (empty when they can)."""
    problems = []
    if not isinstance(period, int) or isinstance(period, bool) or not 1 <= period <= MAX_INTERVAL:
        shown = repr(period) if len(repr(period)) <= 24 else repr(period)[:20] + "…"
        problems.append(
            f"time interval must be a positive whole number of seconds up to {MAX_INTERVAL}, "
            f"not {shown}"
        )
    if not isinstance(digits, int) or isinstance(digits, bool) or not 6 <= digits <= 10:
        problems.append(f"digits must be between 6 and 10, not {digits!r}")
    if algorithm not in ALGORITHMS:
        problems.append(f"unsupported algorithm {algorithm!r} (use one of {', '.join(ALGORITHMS)})")
    return problems


def token_problems(token: HardwareToken) -> list[str]:
    """Every reason ``token`` cannot be stored (empty when it can)."""
    problems = [p for p in (serial_problem(token.serial), secret_problem(token.secret)) if p]
    return problems + parameter_problems(token.period, token.digits, token.algorithm)
