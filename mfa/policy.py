"""The engine's tunable rules, with the seed's values as defaults.

Every limit the seed or the RFCs name is here, so the simulator and the HTTP server can
change it without touching the rules themselves.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import StrEnum

from mfa.methods import MethodType

__all__ = [
    "CLOUD_TIMEOUT_SECONDS",
    "SERVER_TIMEOUT_SECONDS",
    "FraudPolicy",
    "Mode",
    "Policy",
    "security_defaults",
]

#: The MFA Server keeps a code in memory 300 s by default (pfsvc_pendingSmsTimeoutSeconds).
SERVER_TIMEOUT_SECONDS = 300.0
#: The cloud service keeps it 180 s and the value cannot be configured.
CLOUD_TIMEOUT_SECONDS = 180.0


class Mode(StrEnum):
    SERVER = "server"
    CLOUD = "cloud"


ALL_METHODS = frozenset(MethodType)


@dataclass(frozen=True, slots=True)
class FraudPolicy:
    """The defences against SMS pumping and message floods (``mfa.fraud``); a ``None``
    switch turns its defence off, and every one is off by default.

    Off by default because each depends on the deployment, which only its operator knows:
    where its users live (geo permissions), how many of them share a number range (range
    velocity), and how well its codes convert for reasons that are not fraud (a cluster
    that loses OTP affinity, a carrier outage). Turned on with the defaults below, they hold
    without further tuning; docs/api.md gives the reasoning for each value.
    """

    #: ISO 3166 alpha-2 regions sms and voice may be sent to; others ``country_blocked``.
    allowed_countries: frozenset[str] | None = None
    #: Digits of the national number that, with the country, name a range: 6 is a US
    #: area code + exchange, a block of 10,000 numbers held by one carrier.
    range_prefix_digits: int = 6
    #: sms/voice sends to one range per ``range_window_seconds``, beyond which
    #: ``fraud_suspected`` (rule ``range_velocity``).
    range_max_sends: int | None = None
    range_window_seconds: float = 600.0
    #: Least share of the codes sent to a country or a range that are verified within
    #: ``conversion_window_seconds``, once at least ``conversion_min_sends`` were sent there;
    #: below it, ``fraud_suspected`` (rule ``conversion``) until the share recovers.
    conversion_min_rate: float | None = None
    conversion_min_sends: int = 50
    conversion_window_seconds: float = 3600.0
    #: Sends younger than this are not judged yet (their codes may still be typed): without
    #: it a burst of real sign-ins, all in flight, would look like codes never verified.
    conversion_grace_seconds: float = 60.0
    #: sms, voice and push sends asked for from one client IP per ``ip_window_seconds``
    #: (when the caller gives ``client_ip``), beyond which ``fraud_suspected`` (``client_ip``).
    ip_max_sends: int | None = None
    ip_window_seconds: float = 600.0

    def __post_init__(self) -> None:
        if self.allowed_countries is not None:
            for country in self.allowed_countries:
                if not (len(country) == 2 and country.isascii() and country.isupper()):
                    raise ValueError(
                        f"allowed_countries: {country!r} is not an ISO 3166 alpha-2 code"
                    )
        if not 1 <= self.range_prefix_digits <= 15:
            raise ValueError("range_prefix_digits must be between 1 and 15")
        for name in ("range_window_seconds", "conversion_window_seconds", "ip_window_seconds"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive")
        for name in ("range_max_sends", "ip_max_sends", "conversion_min_sends"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"{name} must be at least 1")
        if not 0 <= self.conversion_grace_seconds < self.conversion_window_seconds:
            raise ValueError(
                "conversion_grace_seconds must be at least 0 and less than "
                "conversion_window_seconds"
            )
        rate = self.conversion_min_rate
        if rate is not None and not 0 < rate <= 1:
            raise ValueError("conversion_min_rate must be in (0, 1]")

    @property
    def active(self) -> bool:
        """Whether any defence is on (the begin skips the fraud step otherwise)."""
        return (
            self.allowed_countries is not None
            or self.range_max_sends is not None
            or self.conversion_min_rate is not None
            or self.ip_max_sends is not None
        )


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
    #: The defences against SMS pumping and message floods (all off by default).
    fraud: FraudPolicy = field(default_factory=FraudPolicy)

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
