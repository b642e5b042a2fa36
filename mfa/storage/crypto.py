"""Keys and encryption at rest.

One secret (``MFALAB_SECRET_KEY``) protects everything a stolen database or store dump
would otherwise give away: it keys the engine's code digests and, through a sub-key, the
encryption of TOTP and hardware-token secrets in the repository. Operators may give either
a generated key (urlsafe base64 of 32 random bytes, e.g. ``Fernet.generate_key()``) or a
passphrase; a passphrase is stretched with HKDF-SHA256 so both yield 32 bytes.

The HKDF salt and info strings below are fixed on purpose: every server of a cluster must
derive the same key from the same passphrase, and changing them would make every stored
secret unreadable. A passphrase should therefore carry its own entropy (16+ characters).
"""

from __future__ import annotations

import base64
import binascii

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from mfa.errors import InvalidInput, MfaError

__all__ = [
    "KEY_INFO",
    "KEY_SALT",
    "MIN_PASSPHRASE_LENGTH",
    "SEAL_INFO",
    "SecretBox",
    "UnreadableSecret",
    "derive_key",
]

#: HKDF salt for passphrases (fixed: all servers must derive the same key).
KEY_SALT = b"mfalab/secret-key/v1"
#: HKDF info for the master key derived from a passphrase.
KEY_INFO = b"mfalab master key"
#: HKDF info for the encryption-at-rest sub-key, so the key that encrypts secrets is not
#: the one that keys the engine's HMAC digests of codes.
SEAL_INFO = b"mfalab secrets at rest"
MIN_PASSPHRASE_LENGTH = 16
_KEY_BYTES = 32


class UnreadableSecret(MfaError):
    """A stored secret cannot be decrypted: the key differs or the value was altered."""


def _hkdf(material: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=_KEY_BYTES, salt=KEY_SALT, info=info).derive(
        material
    )


def derive_key(secret: str | bytes) -> bytes:
    """The 32-byte master key from ``MFALAB_SECRET_KEY``.

    A urlsafe-base64 encoding of exactly 32 bytes is taken as the key itself; anything else
    is a passphrase of at least 16 characters, stretched with HKDF-SHA256.
    """
    text = secret.decode("utf-8", "replace") if isinstance(secret, bytes) else str(secret)
    text = text.strip()
    if len(text) == 44:
        try:
            raw = base64.urlsafe_b64decode(text.encode("ascii"))
        except (binascii.Error, ValueError, UnicodeEncodeError):
            raw = b""
        if len(raw) == _KEY_BYTES:
            return raw
    if len(text) < MIN_PASSPHRASE_LENGTH:
        raise InvalidInput(
            "MFALAB_SECRET_KEY",
            f"give a urlsafe-base64 32-byte key or a passphrase of at least "
            f"{MIN_PASSPHRASE_LENGTH} characters (got {len(text)})",
        )
    return _hkdf(text.encode("utf-8"), KEY_INFO)


class SecretBox:
    """Seals short secrets (TOTP seeds) for storage: Fernet, i.e. AES-128-CBC + HMAC-SHA256.

    The Fernet key is derived from ``key`` with its own HKDF info, so the same master key can
    also key the engine's code digests without the two uses sharing key material.
    """

    __slots__ = ("_fernet",)

    def __init__(self, key: bytes) -> None:
        if not isinstance(key, bytes | bytearray) or len(key) < 16:
            raise ValueError("a SecretBox key must be at least 16 bytes (see derive_key)")
        self._fernet = Fernet(base64.urlsafe_b64encode(_hkdf(bytes(key), SEAL_INFO)))

    def seal(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode("utf-8")).decode("ascii")

    def open(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode("ascii")).decode("utf-8")
        except (InvalidToken, UnicodeError, ValueError):
            raise UnreadableSecret(
                "a stored secret cannot be decrypted: MFALAB_SECRET_KEY is not the key it was "
                "written with, or the stored value was altered"
            ) from None
