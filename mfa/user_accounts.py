"""A user's account over time: created, enabled or disabled for MFA, licensed or not, and sent
back to registration by an administrator.

Billing counts users from dated facts (``mfa.billing``), so every change of licence or
enablement is stored with the moment it happened (a ``UserChange``), and a change that
changes nothing is not dated at all. These are steps of ``mfa.engine.Engine``, written as
functions of it; a new user is ``mfa.registration.user_record``, checked, which
``Engine.create_user`` stores.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from mfa.errors import NotFound
from mfa.reasons import RegistrationReason
from mfa.users import User, UserChange, UserFact

if TYPE_CHECKING:
    from mfa.engine import Engine

__all__ = [
    "get_user",
    "require_registration",
    "reset_user",
    "set_enabled",
    "set_licensed",
]


def get_user(engine: Engine, user_id: str) -> User:
    """The stored user, or ``NotFound`` (an API's 404)."""
    user = engine.repository.get_user(user_id)
    if user is None:
        raise NotFound("user", user_id)
    return user


def set_licensed(engine: Engine, user_id: str, licensed: bool) -> User:
    """``Engine.set_licensed``: the licence assigned or removed, dated now."""
    user = get_user(engine, user_id)
    if user.licensed == bool(licensed):
        return user  # nothing changes, nothing is dated
    return _dated(engine, replace(user, licensed=bool(licensed)), UserFact.LICENSED)


def set_enabled(engine: Engine, user_id: str, enabled: bool) -> User:
    """``Engine.set_enabled``: enabled or disabled for MFA, dated now."""
    user = get_user(engine, user_id)
    if (user.disabled_at is None) == bool(enabled):
        return user
    if enabled and not any(
        c.user_id == user_id and c.fact is UserFact.ENABLED
        for c in engine.repository.user_changes()
    ):
        # disabled before the history was kept: date that first, or re-enabling would
        # erase the months the user spent disabled
        engine.repository.change_user(
            user, UserChange(user_id, UserFact.ENABLED, False, at=user.disabled_at)
        )
    disabled_at = None if enabled else engine.clock.now()
    return _dated(engine, replace(user, disabled_at=disabled_at), UserFact.ENABLED)


def _dated(engine: Engine, user: User, fact: UserFact) -> User:
    """Store the changed user with the dated fact billing reads."""
    value = user.licensed if fact is UserFact.LICENSED else user.disabled_at is None
    change = UserChange(user.user_id, fact, value, at=engine.clock.now())
    engine.repository.change_user(user, change)
    return user


def reset_user(engine: Engine, user_id: str) -> None:
    """``Engine.reset_user``: every method removed, and registration required again."""
    user = get_user(engine, user_id)
    engine.repository.delete_methods(user_id)
    require_registration(engine, user, RegistrationReason.ADMIN_RESET)


def require_registration(engine: Engine, user: User, reason: RegistrationReason) -> None:
    """Add ``reason`` to the reasons the user is prompted to register again."""
    pending = user.pending_registration | {reason}
    engine.repository.save_user(replace(user, pending_registration=pending))
