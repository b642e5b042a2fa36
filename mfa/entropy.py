"""Where codes and identifiers get their randomness.

Production uses the ``secrets`` module. The simulator must be reproducible byte for byte
from a seed, so it injects a seeded source instead; the engine only asks for what it needs.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from typing import Protocol, TypeVar

__all__ = ["Entropy", "SecretsEntropy", "SeededEntropy"]

T = TypeVar("T")

_ALPHABET = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


class Entropy(Protocol):
    def code(self, digits: int) -> str:
        """A zero-padded numeric one-time code."""
        ...

    def token(self, length: int) -> str:
        """An unguessable URL-safe identifier of ``length`` characters (no dots)."""
        ...

    def choice(self, options: Sequence[T]) -> T: ...


class SecretsEntropy:
    """Cryptographically strong randomness for real deployments."""

    __slots__ = ()

    def code(self, digits: int) -> str:
        return str(secrets.randbelow(10**digits)).zfill(digits)

    def token(self, length: int) -> str:
        # urlsafe base64 has no '.', which separates the server name in auth ids
        return secrets.token_urlsafe(length)[:length]

    def choice(self, options: Sequence[T]) -> T:
        return options[secrets.randbelow(len(options))]


class SeededEntropy:
    """Deterministic randomness from a ``numpy.random.Generator`` (simulation only).

    Not for production: the values are predictable from the seed by design.
    """

    __slots__ = ("_rng",)

    def __init__(self, rng: object) -> None:
        # typed as object so that mfa does not import numpy at module load
        self._rng = rng

    def code(self, digits: int) -> str:
        return str(int(self._rng.integers(0, 10**digits))).zfill(digits)  # type: ignore[attr-defined]

    def token(self, length: int) -> str:
        idx = self._rng.integers(0, len(_ALPHABET), size=length)  # type: ignore[attr-defined]
        return "".join(_ALPHABET[i] for i in idx)

    def choice(self, options: Sequence[T]) -> T:
        return options[int(self._rng.integers(0, len(options)))]  # type: ignore[attr-defined]
