"""Where an authentication stands: what ``Engine.status`` tells a caller who polls.

Read only: asking never changes an authentication, so a pending record past its expiry is
reported as expired here while the store still says pending (the next answer to it settles
it). Another server's authentication is ``wrong_server`` unless the pending
store is shared, as the seed says only the issuing server can validate its codes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from mfa.auth_records import parse_auth_id
from mfa.errors import NotFound
from mfa.methods import MethodType
from mfa.reasons import AuthStatus, DenialReason

if TYPE_CHECKING:
    from mfa.engine import Engine

__all__ = ["AuthView", "auth_status"]


@dataclass(frozen=True, slots=True)
class AuthView:
    """What ``status`` tells about an authentication."""

    auth_id: str
    status: AuthStatus
    reason: DenialReason | None
    method: MethodType | None = None


def auth_status(engine: Engine, auth_id: str) -> AuthView:
    """``Engine.status``: ``NotFound`` if this server does not know the authentication."""
    parsed = parse_auth_id(auth_id) if isinstance(auth_id, str) else None
    if parsed is None:
        raise NotFound("authentication", str(auth_id))
    if not engine.pending.shared and parsed[0] != engine.server.name:
        return AuthView(auth_id, AuthStatus.DENIED, DenialReason.WRONG_SERVER)
    pending = engine.pending.get(auth_id)
    if pending is None:
        raise NotFound("authentication", auth_id)
    if pending.status is AuthStatus.PENDING and engine.clock.now() >= pending.expires_at:
        return AuthView(auth_id, AuthStatus.EXPIRED, DenialReason.EXPIRED, pending.method)
    return AuthView(auth_id, pending.status, pending.reason, pending.method)
