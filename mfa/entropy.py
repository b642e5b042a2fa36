"""Where codes and identifiers get their randomness.

Production uses the operating system's CSPRNG (``os.urandom`` / ``secrets``). The simulator
must be reproducible byte for byte from a seed, so it injects a seeded source instead; the
engine only asks for what it needs.

Tokens map each random byte onto the 64 URL-safe characters with one ``bytes.translate``
(256 = 4 × 64, so every character is equally likely): a 22-character token carries 132 bits
and costs well under a microsecond, which matters when a simulation issues millions.
"""

from __future__ import annotations

import os
import random
import secrets
from collections.abc import Sequence
from typing import Protocol, TypeVar

__all__ = ["BASE32_ALPHABET", "TOKEN_ALPHABET", "Entropy", "SecretsEntropy", "SeededEntropy"]

T = TypeVar("T")

#: The URL-safe base64 alphabet: no '.', which separates the server name in auth ids.
TOKEN_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_BYTE_TO_CHAR = bytes.maketrans(bytes(range(256)), TOKEN_ALPHABET.encode() * 4)
#: RFC 4648 base32, for OATH secrets: 256 = 8 × 32, so each character is equally likely.
BASE32_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
_BYTE_TO_BASE32 = bytes.maketrans(bytes(range(256)), BASE32_ALPHABET.encode() * 8)
_POWERS_OF_TEN = [10**n for n in range(20)]


class Entropy(Protocol):
    def code(self, digits: int) -> str:
        """A zero-padded numeric one-time code."""
        ...

    def token(self, length: int) -> str:
        """An unguessable URL-safe identifier of ``length`` characters (no dots)."""
        ...

    def base32(self, length: int) -> str:
        """``length`` random base32 characters (5 bits each): an OATH secret, ready to
        store and to show in a provisioning URI (32 characters = 160 bits)."""
        ...

    def choice(self, options: Sequence[T]) -> T: ...

    def between(self, low: int, high: int) -> int:
        """A whole number from ``low`` to ``high``, both included, each equally likely
        (push number matching's two digits)."""
        ...


class SecretsEntropy:
    """Cryptographically strong randomness for real deployments."""

    __slots__ = ()

    def code(self, digits: int) -> str:
        return str(secrets.randbelow(10**digits)).zfill(digits)

    def token(self, length: int) -> str:
        return os.urandom(length).translate(_BYTE_TO_CHAR).decode("ascii")

    def base32(self, length: int) -> str:
        return os.urandom(length).translate(_BYTE_TO_BASE32).decode("ascii")

    def choice(self, options: Sequence[T]) -> T:
        return options[secrets.randbelow(len(options))]

    def between(self, low: int, high: int) -> int:
        return low + secrets.randbelow(high - low + 1)


class SeededEntropy:
    """Deterministic randomness from a ``numpy.random.Generator`` (simulation only).

    The generator seeds a private ``random.Random`` once, so each draw costs a fraction of a
    numpy call while the whole stream still follows from the run's seed. Not for
    production: the values are predictable from the seed by design.
    """

    __slots__ = ("_at", "_chars", "_random", "_rng")

    def __init__(self, rng: object) -> None:
        # typed as object so that mfa does not import numpy at module load
        self._rng = rng
        self._random = random.Random(int(rng.integers(0, 2**63)))  # type: ignore[attr-defined]
        self._chars = ""  # random token characters, drawn a block at a time
        self._at = 0

    # ``random()`` has 53 random bits: scaling it to a million (or to a pool of four
    # senders) is uniform to within 1e-10, at a third of ``randrange``'s cost.
    def code(self, digits: int) -> str:
        return str(int(self._random.random() * _POWERS_OF_TEN[digits])).zfill(digits)

    # tokens are consecutive slices of a block of characters translated in one go (the
    # same characters, equally likely, as a draw per token, at a third of the cost)
    def token(self, length: int) -> str:
        at = self._at
        if at + length > len(self._chars):
            self._chars = _random_text(self._random, max(_TOKEN_BLOCK, length), _BYTE_TO_CHAR)
            at = 0
        self._at = at + length
        return self._chars[at : at + length]

    def base32(self, length: int) -> str:
        return _random_text(self._random, length, _BYTE_TO_BASE32)

    def choice(self, options: Sequence[T]) -> T:
        return options[int(self._random.random() * len(options))]

    def between(self, low: int, high: int) -> int:
        return low + int(self._random.random() * (high - low + 1))


_TOKEN_BLOCK = 4096


def _random_text(source: random.Random, length: int, table: bytes) -> str:
    """``length`` random bytes mapped through ``table`` (``getrandbits(8n).to_bytes(n)`` is
    what ``Random.randbytes`` does, without its Python-level call)."""
    raw = source.getrandbits(length * 8).to_bytes(length, "little")
    return raw.translate(table).decode("ascii")
