"""Verification methods a user can register, and the registration record itself."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

__all__ = ["DELIVERED_METHODS", "MethodType", "RegisteredMethod"]


class MethodType(StrEnum):
    SMS = "sms"
    VOICE = "voice"
    PUSH = "push"
    TOTP = "totp"
    HARDWARE_TOKEN = "hardware_token"
    #: The mode of an app-password check in the authentication log; app passwords are
    #: created with ``Engine.create_app_password``, never registered as a method.
    APP_PASSWORD = "app_password"


#: Methods whose code travels through the delivery gateway (they, and push notifications,
#: count toward the send limit).
DELIVERED_METHODS = frozenset({MethodType.SMS, MethodType.VOICE})


@dataclass(frozen=True, slots=True)
class RegisteredMethod:
    """One method of one user.

    ``secret`` is the base32 TOTP secret for software tokens (hardware tokens keep theirs in
    the token record, found by ``serial``). ``activated`` matters for push only: the app must
    be activated with its device token (where notifications go) and the public key of its
    Ed25519 key pair (what proves an answer, see ``mfa.push_proof``) before notifications are
    accepted. ``public_key`` is base64url of the key's 32 raw bytes.
    """

    method_id: str
    user_id: str
    type: MethodType
    phone: str | None = None
    device_token: str | None = None
    activated: bool = False
    secret: str | None = None
    serial: str | None = None
    is_default: bool = False
    created_at: float = 0.0
    public_key: str | None = None
