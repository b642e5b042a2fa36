"""An imported OATH TOTP hardware token (RFC 6238), assigned to a user by serial."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["HardwareToken"]


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
