"""OATH one-time passwords: HOTP/TOTP values, and TOTP checking with replay refusal.

The arithmetic is RFC 4226 (HOTP: HMAC, dynamic truncation, modulo 10^digits) and RFC 6238
(TOTP: the counter is the number of ``period``-second steps since the epoch), done by pyotp;
the tests hold it to the RFC vectors and to oathtool.

What this module adds to the arithmetic is the verifier's policy: accept the current step
±``window`` (RFC 6238 §5.2 allows one step of network delay), compare in constant time, and
return the matched step so the caller can refuse the same or an earlier step later ("a
verifier must not accept the second attempt of the same OTP after the successful
validation").
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from functools import lru_cache

import pyotp

__all__ = [
    "ALGORITHMS",
    "MIN_SECRET_BITS",
    "TOTP_PERIOD_SECONDS",
    "hotp_at",
    "match_totp",
    "new_totp_secret",
    "normalise_algorithm",
    "normalise_base32",
    "otpauth_uri",
    "secret_bytes",
    "totp_at",
]

#: The HMAC hashes RFC 6238 names, by the names we store.
ALGORITHMS: tuple[str, ...] = ("sha1", "sha256", "sha512")
#: RFC 4226 §4 R6: "The length of the shared secret MUST be at least 128 bits."
MIN_SECRET_BITS = 128
#: RFC 6238's time step, the one authenticator apps use (and the engine's totp methods).
TOTP_PERIOD_SECONDS = 30
_CANONICAL = frozenset(ALGORITHMS)


def normalise_algorithm(name: str) -> str:
    """``'HMAC-SHA256'``, ``'SHA256'``, ``'sha-256'`` → ``'sha256'``; ``ValueError`` otherwise."""
    if name in _CANONICAL:
        return name
    cleaned = str(name).strip().lower().removeprefix("hmac-").replace("-", "")
    if cleaned not in ALGORITHMS:
        raise ValueError(f"unsupported algorithm {name!r} (use one of {', '.join(ALGORITHMS)})")
    return cleaned


def normalise_base32(secret: str) -> str:
    """Upper-case, strip spaces and padding; raise ``ValueError`` if it is not base32."""
    cleaned = _cleaned(secret)
    _decode(cleaned)
    return cleaned


def _cleaned(secret: str) -> str:
    cleaned = "".join(str(secret).split()).upper().rstrip("=")
    if not cleaned:
        raise ValueError("the secret is empty")
    return cleaned


def _decode(cleaned: str) -> bytes:
    try:
        return base64.b32decode(cleaned + "=" * (-len(cleaned) % 8))
    except (binascii.Error, ValueError):
        raise ValueError("the secret is not valid base32") from None


@lru_cache(maxsize=65_536)
def secret_bytes(secret: str) -> bytes:
    """The key bytes of a base32 secret (cached: a verifier decodes the same few often)."""
    return _decode(_cleaned(secret))


def new_totp_secret(nbytes: int = 20) -> str:
    """160 bits by default, as RFC 4226 §4 recommends. (The engine draws its secrets from
    its entropy port instead, ``Entropy.base32``, so that a simulation is reproducible.)"""
    return base64.b32encode(secrets.token_bytes(nbytes)).decode().rstrip("=")


class _KeyedHOTP(pyotp.HOTP):
    """pyotp's HOTP holding its key decoded: pyotp decodes the base32 secret again for every
    value (``OTP.byte_secret``), a fifth of a TOTP check that compares three steps (engine
    TOTP begin+verify 50.1/51.5 → 39.1/39.4 CPU-µs, ``bench/engine_bench.py --pairs 20000
    --repeat 3 --backends memory-nolog --methods totp``)."""

    def __init__(self, secret: str, *, digits: int, algorithm: str) -> None:
        self._key = secret_bytes(secret)  # set first: pyotp's constructor reads it
        super().__init__(_cleaned(secret), digits=digits, digest=getattr(hashlib, algorithm))

    def byte_secret(self) -> bytes:
        return self._key


@lru_cache(maxsize=65_536)
def _generator(secret: str, algorithm: str, digits: int) -> pyotp.HOTP:
    """pyotp's HOTP for a base32 secret, checked once (``ValueError`` if it is not base32;
    cached, as a verifier checks the same few secrets often)."""
    return _KeyedHOTP(secret, digits=digits, algorithm=algorithm)


def _hotp(generator: pyotp.HOTP, counter: int) -> str:
    """RFC 4226 §5.3: HMAC of the 8-byte counter, dynamic truncation, last digits."""
    return generator.at(counter)


def _check(digits: int, period: int) -> None:
    if not 6 <= digits <= 10:
        raise ValueError(f"digits must be between 6 and 10, not {digits}")
    if period <= 0:
        raise ValueError(f"the time step must be positive, not {period}")


def hotp_at(secret: str, counter: int, *, digits: int = 6, algorithm: str = "sha1") -> str:
    """RFC 4226 HOTP value of a base32 secret at ``counter``."""
    _check(digits, 30)
    if counter < 0:
        raise ValueError("the counter must not be negative")
    return _hotp(_generator(secret, normalise_algorithm(algorithm), digits), counter)


def totp_at(
    secret: str,
    for_time: float,
    *,
    digits: int = 6,
    period: int = TOTP_PERIOD_SECONDS,
    algorithm: str = "sha1",
) -> str:
    """RFC 6238 TOTP value of a base32 secret at POSIX time ``for_time``."""
    _check(digits, period)
    generator = _generator(secret, normalise_algorithm(algorithm), digits)
    return _hotp(generator, int(for_time // period))


def match_totp(
    secret: str,
    code: str,
    now: float,
    *,
    digits: int = 6,
    period: int = TOTP_PERIOD_SECONDS,
    algorithm: str = "sha1",
    window: int = 1,
    after_step: int | None = None,
) -> int | None:
    """The time step ``code`` belongs to, or None.

    Steps at or before ``after_step`` (the last accepted one) are never matched, which makes
    a replayed code fail even inside the window. Every candidate is compared, so the time
    taken does not depend on which one matched.
    """
    _check(digits, period)
    generator = _generator(secret, normalise_algorithm(algorithm), digits)
    current = int(now // period)
    given = str(code).encode()
    floor = -1 if after_step is None else after_step
    found: int | None = None
    for step in range(max(current - window, 0), current + window + 1):
        # a value can repeat in adjacent steps: skip used steps rather than stop at them
        matched = hmac.compare_digest(_hotp(generator, step).encode(), given)
        if matched and found is None and step > floor:
            found = step
    return found


def otpauth_uri(
    secret: str, account: str, issuer: str, *, digits: int = 6, period: int = TOTP_PERIOD_SECONDS
) -> str:
    """``otpauth://totp/Issuer:account?secret=…&issuer=Issuer`` for authenticator apps."""
    return pyotp.TOTP(secret, digits=digits, interval=period).provisioning_uri(
        name=account, issuer_name=issuer
    )
