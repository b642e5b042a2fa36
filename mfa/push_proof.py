"""What proves a push answer came from the activated device, and how a device token is shown.

A device token is a delivery address: the notification service, every log reader and every
export see it, so it cannot also be the proof that the person approved. At activation the
authenticator app registers the public half of an Ed25519 key it keeps; each answer is
signed with the private half over a message that names the authentication and the choice:

- approve: ``"<auth_id>.approve.<number>"`` with number matching (the two digits the
  sign-in page shows and the person types into the app), ``"<auth_id>.approve"`` without;
- deny: ``"<auth_id>.deny"``.

Keys and signatures travel as base64url without padding (RFC 4648 §5): a public key is its
32 raw bytes (43 characters), a signature its 64 bytes (86 characters).

``PushDevice`` is the app's side, for the simulator, the load tests, the demo and the
tests: the engine only verifies.

Ed25519 by libsodium (PyNaCl) rather than OpenSSL (``cryptography``): the same scheme and
the same signatures (Ed25519 is deterministic), at half the cost — on the project's machine
deriving a key from its seed 31 → 18 µs, signing 31 → 19 µs, verifying 106 → 54 µs (one core,
3,000 calls each), which is most of what a simulated push sign-in costs. libsodium is also
the stricter verifier: it refuses small-order public keys and non-canonical signatures.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from functools import lru_cache

from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey

from mfa.errors import InvalidInput

__all__ = [
    "FINGERPRINT_CHARS",
    "PUBLIC_KEY_BYTES",
    "PushDevice",
    "b64url",
    "checked_public_key",
    "fingerprint",
    "public_key_of",
    "push_message",
    "sign_answer",
    "signature_ok",
]

PUBLIC_KEY_BYTES = 32
SIGNATURE_BYTES = 64
#: Hex characters of a device token's SHA-256 shown in logs and exports.
FINGERPRINT_CHARS = 8
_KEY_CACHE = 4096


def b64url(raw: bytes) -> str:
    """base64url without padding."""
    return binascii.b2a_base64(raw, newline=False).rstrip(b"=").translate(_TO_URLSAFE).decode()


def _canonical(length: int) -> re.Pattern[str]:
    """base64url of exactly ``length`` bytes, unpadded, in its one canonical spelling: the
    last character leaves the unused low bits zero."""
    chars, spare = divmod(length * 8, 6)
    if not spare:
        return re.compile(f"[A-Za-z0-9_-]{{{chars}}}")
    unused = 6 - spare  # low bits of the last character that carry nothing
    last = "".join(c for i, c in enumerate(_ALPHABET) if i % (1 << unused) == 0)
    return re.compile(f"[A-Za-z0-9_-]{{{chars}}}[{re.escape(last)}]")


_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_TO_URLSAFE = bytes.maketrans(b"+/", b"-_")
_SPELLING = {n: _canonical(n) for n in (PUBLIC_KEY_BYTES, SIGNATURE_BYTES)}


def _unb64url(text: object, length: int) -> bytes | None:
    """The ``length`` bytes that ``text`` encodes as base64url without padding, or None."""
    if not isinstance(text, str) or _SPELLING[length].fullmatch(text) is None:
        return None
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def push_message(auth_id: str, approve: bool, number: int | None = None) -> bytes:
    """The bytes a device signs to answer ``auth_id`` (see the module docstring)."""
    if not approve:
        return f"{auth_id}.deny".encode()
    if number is None:
        return f"{auth_id}.approve".encode()
    return f"{auth_id}.approve.{number}".encode()


def checked_public_key(public_key: object) -> str:
    """``public_key`` if it is an Ed25519 public key as base64url of its 32 raw bytes;
    ``InvalidInput`` naming the field otherwise."""
    raw = _unb64url(public_key, PUBLIC_KEY_BYTES)
    if raw is None:
        raise InvalidInput(
            "public_key",
            "an Ed25519 public key is required: its 32 raw bytes in base64url without padding "
            "(43 characters)",
        )
    try:
        VerifyKey(raw)
    except ValueError:
        raise InvalidInput("public_key", "not an Ed25519 public key") from None
    return str(public_key)


@lru_cache(maxsize=_KEY_CACHE)
def _public_key(public_key: str) -> VerifyKey | None:
    """Parsed once per key, not per answer (a simulation checks millions)."""
    raw = _unb64url(public_key, PUBLIC_KEY_BYTES)
    if raw is None:
        return None
    try:
        return VerifyKey(raw)
    except ValueError:
        return None


def signature_ok(public_key: str | None, message: bytes, signature: object) -> bool:
    """Whether ``signature`` (base64url) is the Ed25519 signature of ``message`` by the
    holder of ``public_key``; False for anything missing or malformed."""
    if not public_key:
        return False
    key = _public_key(public_key)
    raw = _unb64url(signature, SIGNATURE_BYTES)
    if key is None or raw is None:
        return False
    try:
        key.verify(message, raw)
    except BadSignatureError:
        return False
    return True


def fingerprint(device_token: str | None) -> str | None:
    """How a device token is shown in logs and exports: the first 8 hex characters of its
    SHA-256 — enough to tell devices apart and to match a known token, useless to send a
    notification or to answer one."""
    if device_token is None:
        return None
    return hashlib.sha256(device_token.encode("utf-8", "surrogatepass")).hexdigest()[
        :FINGERPRINT_CHARS
    ]


def sign_answer(
    private_key: SigningKey, auth_id: str, approve: bool, number: int | None = None
) -> str:
    """The app's signature (base64url) of its answer to ``auth_id``."""
    return b64url(private_key.sign(push_message(auth_id, approve, number)).signature)


def public_key_of(private_key: SigningKey) -> str:
    """The public half, as the app registers it (base64url of the 32 raw bytes)."""
    return b64url(bytes(private_key.verify_key))


class PushDevice:
    """An authenticator app's key pair: registers ``public_key``, signs its answers."""

    __slots__ = ("_key", "public_key")

    def __init__(self, private_key: SigningKey) -> None:
        self._key = private_key
        self.public_key = public_key_of(private_key)

    @classmethod
    def generate(cls) -> PushDevice:
        """A fresh key from the operating system's CSPRNG."""
        return cls(SigningKey.generate())

    @classmethod
    def from_seed(cls, seed: bytes) -> PushDevice:
        """The key whose 32 private bytes are ``seed`` (reproducible: simulation and load
        tests only, where the seed comes from the run's own randomness)."""
        return cls(SigningKey(seed))

    def sign(self, message: bytes) -> str:
        return b64url(self._key.sign(message).signature)

    def answer(self, auth_id: str, approve: bool, number: int | None = None) -> str:
        """The signature of the answer to ``auth_id`` (``number``: what the person typed,
        ``None`` without number matching)."""
        return sign_answer(self._key, auth_id, approve, number)
