"""App passwords for legacy clients that cannot do modern authentication.

Generated randomly, shown once, stored only as an argon2 hash. The seed: when a phone using
app passwords is lost, delete all of the user's app passwords.
"""

from __future__ import annotations

import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

__all__ = ["AppPasswordHasher", "new_app_password"]

_ALPHABET = "abcdefghijkmnopqrstuvwxyz"  # no 'l': read aloud and typed on phones


def new_app_password(length: int = 16) -> str:
    """16 lower-case letters ≈ 75 bits, grouped in fours for typing."""
    raw = "".join(secrets.choice(_ALPHABET) for _ in range(length))
    return "-".join(raw[i : i + 4] for i in range(0, length, 4))


class AppPasswordHasher:
    def __init__(self, hasher: PasswordHasher | None = None) -> None:
        self._hasher = hasher or PasswordHasher()

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def matches_any(self, password: str, hashes: list[str]) -> bool:
        """Check every stored hash (no early exit), so timing does not reveal which matched."""
        matched = False
        for stored in hashes:
            try:
                self._hasher.verify(stored, password)
            except (VerifyMismatchError, VerificationError, InvalidHashError):
                continue
            matched = True
        return matched
