"""App passwords for legacy clients that cannot do modern authentication.

Generated randomly, shown once, stored only as an argon2 hash. The seed: when a phone using
app passwords is lost, delete all of the user's app passwords. Checking one is an
authentication like any other (``mfa.app_password_check``). ``create_app_password`` and
``delete_app_passwords`` are steps of ``mfa.engine.Engine``, written as functions of it.
"""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

if TYPE_CHECKING:
    from mfa.engine import Engine

__all__ = [
    "AppPasswordHasher",
    "create_app_password",
    "delete_app_passwords",
    "new_app_password",
]

_ALPHABET = "abcdefghijkmnopqrstuvwxyz"  # no 'l': read aloud and typed on phones


def new_app_password(length: int = 16) -> str:
    """16 lower-case letters ≈ 75 bits, grouped in fours for typing."""
    raw = "".join(secrets.choice(_ALPHABET) for _ in range(length))
    return "-".join(raw[i : i + 4] for i in range(0, length, 4))


class AppPasswordHasher:
    def __init__(self, hasher: PasswordHasher | None = None) -> None:
        self._hasher = hasher or PasswordHasher()
        self._dummy: str | None = None

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

    def dummy_hash(self) -> str:
        """The hash a user without app passwords is checked against, so the check costs
        the same as for a user with one: made once by this hasher, of a password never
        shown to anyone."""
        if self._dummy is None:
            self._dummy = self.hash(new_app_password())
        return self._dummy


def create_app_password(engine: Engine, user_id: str) -> str:
    """``Engine.create_app_password``: a new password for a known user, stored as a hash."""
    engine.get_user(user_id)
    password = new_app_password()
    engine.repository.add_app_password(
        user_id, engine.app_password_hasher.hash(password), engine.clock.now()
    )
    return password


def delete_app_passwords(engine: Engine, user_id: str) -> int:
    """``Engine.delete_app_passwords``: all of a known user's, as when the phone is lost."""
    engine.get_user(user_id)
    return engine.repository.delete_app_passwords(user_id)
