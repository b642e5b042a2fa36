"""Per-user counters behind the lockout, the send limit and TOTP replay protection.

They live in the repository (shared by every server) so that limits hold across sessions
and servers, as RFC 4226 §7 asks for lockout.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

__all__ = ["SecurityState"]


@dataclass(frozen=True, slots=True)
class SecurityState:
    user_id: str
    consecutive_failures: int = 0
    locked_until: float = 0.0
    #: Times of recent sms/voice sends, oldest first (sliding window).
    send_times: tuple[float, ...] = ()
    #: Last accepted TOTP time step per method id (RFC 6238 §5.2: accept a value once).
    last_totp_step: dict[str, int] = field(default_factory=dict)

    def evolve(self, **changes: object) -> SecurityState:
        return replace(self, **changes)  # type: ignore[arg-type]
