"""The engine's tunable rules, with the seed's values as defaults.

Every limit the seed or the RFCs name is here, so the simulator and the HTTP server can
change it without touching the rules themselves.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import StrEnum

from mfa.methods import MethodType

__all__ = ["CLOUD_TIMEOUT_SECONDS", "SERVER_TIMEOUT_SECONDS", "Mode", "Policy", "security_defaults"]

#: The MFA Server keeps a code in memory 300 s by default (pfsvc_pendingSmsTimeoutSeconds).
SERVER_TIMEOUT_SECONDS = 300.0
#: The cloud service keeps it 180 s and the value cannot be configured.
CLOUD_TIMEOUT_SECONDS = 180.0


class Mode(StrEnum):
    SERVER = "server"
    CLOUD = "cloud"


ALL_METHODS = frozenset(MethodType)


@dataclass(frozen=True, slots=True)
class Policy:
    mode: Mode = Mode.SERVER
    #: Only used in server mode; cloud mode is always 180 s.
    pending_timeout_seconds: float = SERVER_TIMEOUT_SECONDS
    code_digits: int = 6
    max_verify_attempts: int = 5
    lockout_threshold: int = 10
    lockout_seconds: float = 15 * 60.0
    #: sms, voice and push sends per user in ``send_window_seconds`` (push bombing is a
    #: flood of notifications, so push counts like a text).
    max_sends: int = 5
    send_window_seconds: float = 5 * 60.0
    totp_window_steps: int = 1
    allowed_methods: frozenset[MethodType] = field(default_factory=lambda: ALL_METHODS)
    #: Methods an admin has disabled; a user whose default is among them must re-register.
    disabled_methods: frozenset[MethodType] = frozenset()
    #: Optional fields of the authentication log (the seed: "can be configured").
    log_names: bool = True
    log_email: bool = True
    #: How long a finished transaction stays queryable by ``status`` (seconds).
    retention_seconds: float = 3600.0
    sms_template: str = "Your verification code is {code}"
    #: Push number matching: the sign-in page shows two digits (10–99) that the person
    #: types into the app, so an approval given blindly to a notification that the person
    #: did not ask for (push bombing) fails.
    push_number_matching: bool = True

    def __post_init__(self) -> None:
        if self.pending_timeout_seconds <= 0:
            raise ValueError("pending_timeout_seconds must be positive")
        if not 6 <= self.code_digits <= 10:
            raise ValueError("code_digits must be between 6 and 10")
        for name in ("max_verify_attempts", "lockout_threshold", "max_sends"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")

    @property
    def timeout_seconds(self) -> float:
        """How long a sent code stays valid under this mode."""
        if self.mode is Mode.CLOUD:
            return CLOUD_TIMEOUT_SECONDS
        return self.pending_timeout_seconds

    def with_(self, **changes: object) -> Policy:
        return replace(self, **changes)  # type: ignore[arg-type]


def security_defaults(base: Policy | None = None) -> Policy:
    """The seed's free tier: the authenticator app only, no text or phone verification."""
    return replace(base or Policy(), allowed_methods=frozenset({MethodType.PUSH, MethodType.TOTP}))
