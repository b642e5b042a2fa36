"""Checking an app password: an authentication like any other, decided at once.

The rules: a disabled user is refused; the guess is reserved (counted as a failure) before
argon2 runs, so a burst of guesses gets no more evaluations than the lockout allows and a
right password arriving after the limit is refused unchecked; a user with no app passwords
(or an unknown user) still costs one argon2 verification, against a hash nobody knows, so
the time taken does not tell whether a user has any. Each check leaves one log record (mode
``app_password``) that per-authentication billing counts.

A step of ``mfa.engine.Engine``, written as a function of it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mfa.auth_records import log_check, refuse
from mfa.methods import MethodType
from mfa.outcomes import Verdict
from mfa.reasons import AuthStatus, DenialReason
from mfa.security_state import UNCOUNTED, Guess, settle_success
from mfa.verify import reserve_guess_of

if TYPE_CHECKING:
    from mfa.engine import Engine

__all__ = ["check_app_password"]


def check_app_password(
    engine: Engine, user_id: str, password: str, client_ip: str | None
) -> Verdict:
    """``Engine.verify_app_password``: the rules in the module's docstring."""
    kind = MethodType.APP_PASSWORD
    now = engine.clock.now()
    user = engine.repository.get_user(user_id)
    guess = UNCOUNTED  # an unknown user has no lockout to count toward
    if user is not None:
        if user.disabled_at is not None:
            refuse(engine, user, user_id, kind, DenialReason.USER_DISABLED, now, client_ip)
            return Verdict.denied(DenialReason.USER_DISABLED, None, None, kind)
        reserved = reserve_guess_of(engine, user_id, now)
        if not isinstance(reserved, Guess):
            reason = DenialReason.LOCKED_OUT
            refuse(engine, user, user_id, kind, reason, now, client_ip, retry_after=reserved)
            return Verdict.denied(reason, None, reserved, kind)
        guess = reserved
    hashes = engine.repository.app_password_hashes(user_id) if user is not None else []
    matched = engine.app_password_hasher.matches_any(
        str(password), hashes or [engine.dummy_app_password_hash()]
    )
    right = matched and bool(hashes)
    if right:
        engine.repository.update_state(user_id, lambda s: settle_success(s, guess))
    reason = None if right else DenialReason.WRONG_CODE
    log_check(
        engine,
        user,
        user_id,
        kind,
        now,
        client_ip,
        status=AuthStatus.SUCCESS if right else AuthStatus.DENIED,
        reason=reason,
        billable=user is not None,
        attempts=1,
    )
    return Verdict.success(None, kind) if right else Verdict.denied(reason, None, None, kind)
