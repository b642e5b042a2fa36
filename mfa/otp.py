"""OATH one-time passwords: TOTP checking with a look-around window and replay refusal.

The arithmetic is pyotp's (RFC 4226 / RFC 6238). What this module adds is the verifier's
policy: accept the current step ±``window`` (RFC 6238 §5.2 allows one step of network
delay), compare in constant time, and return the matched step so the caller can refuse the
same or an earlier step later ("a verifier must not accept the second attempt of the same
OTP after the successful validation").
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets

import pyotp

__all__ = [
    "hotp_at",
    "match_totp",
    "new_totp_secret",
    "normalise_base32",
    "otpauth_uri",
    "replayed_step",
]

_DIGESTS = {"sha1": hashlib.sha1, "sha256": hashlib.sha256, "sha512": hashlib.sha512}


def normalise_base32(secret: str) -> str:
    """Upper-case, strip spaces and padding; raise ``ValueError`` if it is not base32."""
    cleaned = "".join(secret.split()).upper().rstrip("=")
    if not cleaned:
        raise ValueError("the secret is empty")
    try:
        base64.b32decode(cleaned + "=" * (-len(cleaned) % 8))
    except (binascii.Error, ValueError):
        raise ValueError("the secret is not valid base32") from None
    return cleaned


def new_totp_secret(nbytes: int = 20) -> str:
    """160 bits by default, as RFC 4226 §4 recommends."""
    return base64.b32encode(secrets.token_bytes(nbytes)).decode().rstrip("=")


def _totp(secret: str, *, digits: int, period: int, algorithm: str) -> pyotp.TOTP:
    try:
        digest = _DIGESTS[algorithm.lower()]
    except KeyError:
        raise ValueError(f"unsupported algorithm {algorithm!r}") from None
    return pyotp.TOTP(secret, digits=digits, interval=period, digest=digest)


def hotp_at(secret: str, counter: int, *, digits: int = 6, algorithm: str = "sha1") -> str:
    digest = _DIGESTS[algorithm.lower()]
    return pyotp.HOTP(secret, digits=digits, digest=digest).at(counter)


def match_totp(
    secret: str,
    code: str,
    now: float,
    *,
    digits: int = 6,
    period: int = 30,
    algorithm: str = "sha1",
    window: int = 1,
    after_step: int | None = None,
) -> int | None:
    """The time step ``code`` belongs to, or None.

    Steps at or before ``after_step`` (the last accepted one) are never matched, which makes
    a replayed code fail even inside the window. Every candidate is compared, so the time
    taken does not depend on which one matched.
    """
    totp = _totp(secret, digits=digits, period=period, algorithm=algorithm)
    current = int(now // period)
    given = code.encode()
    found: int | None = None
    for step in range(current - window, current + window + 1):
        candidate = totp.generate_otp(step).encode()
        if hmac.compare_digest(candidate, given) and found is None:
            found = step
    if found is not None and after_step is not None and found <= after_step:
        return None
    return found


def replayed_step(
    secret: str,
    code: str,
    now: float,
    *,
    digits: int = 6,
    period: int = 30,
    algorithm: str = "sha1",
    window: int = 1,
    after_step: int | None = None,
) -> bool:
    """True if ``code`` is valid in the window but for a step already used."""
    if after_step is None:
        return False
    step = match_totp(
        secret, code, now, digits=digits, period=period, algorithm=algorithm, window=window
    )
    return step is not None and step <= after_step


def otpauth_uri(
    secret: str, account: str, issuer: str, *, digits: int = 6, period: int = 30
) -> str:
    return pyotp.TOTP(secret, digits=digits, interval=period).provisioning_uri(
        name=account, issuer_name=issuer
    )
