"""Answering a push notification: the app's signed approval or denial.

The rules, in order:

1. only a push authentication takes a push answer, and not while the user is locked out;
2. the answer must come from an activated device and carry its Ed25519 signature
   (``mfa.push_proof``): a missing or wrong one is ``bad_signature``, counted as no one's
   failure (whoever sent it does not hold the key, so it must not lock the user out);
3. a denial is ``user_denied``;
4. with number matching, the number the person typed is a guess: reserved (counted as a
   failure) before it is compared with the one the sign-in page showed, like a code; a
   wrong one is ``wrong_number``.

Any answer ends the authentication. These are steps of ``mfa.engine.Engine``, written as
functions of it.
"""

from __future__ import annotations

import hmac
from typing import TYPE_CHECKING

from mfa.auth_records import finish
from mfa.methods import MethodType, RegisteredMethod
from mfa.outcomes import Verdict
from mfa.pending import PendingAuth
from mfa.push_proof import push_message, signature_ok
from mfa.reasons import AuthStatus, DenialReason
from mfa.security_state import UNCOUNTED, Guess, settle_success
from mfa.verify import reserve_guess_of

if TYPE_CHECKING:
    from mfa.engine import Engine

__all__ = ["decide_push"]


def decide_push(
    engine: Engine,
    pending: PendingAuth,
    now: float,
    response: tuple[bool, int | None],
    signature: str | None,
) -> Verdict | None:
    """Decide a push answer (``mfa.verify.answer`` runs it); ``None`` if another request
    moved the authentication on first."""
    auth_id, kind, user_id = pending.auth_id, pending.method, pending.user_id
    if kind is not MethodType.PUSH:
        return Verdict.denied(DenialReason.METHOD_NOT_ALLOWED, auth_id, None, kind)
    state = engine.repository.get_state(user_id)
    if state.locked_until > now:
        return Verdict.denied(DenialReason.LOCKED_OUT, auth_id, state.locked_until - now, kind)
    method = engine.method_of(pending)
    approve, number = response[0] is True, response[1]
    # number matching was on when the page showed a number: its digest is pending
    matching = pending.code_digest is not None
    typed = number if matching and isinstance(number, int) else None
    reason = _proof_refusal(method, auth_id, approve, typed, signature)
    guess: Guess | None = None  # the typed number's reservation, with number matching
    if reason is None and matching:
        reserved = reserve_guess_of(engine, user_id, now)
        if not isinstance(reserved, Guess):
            return Verdict.denied(DenialReason.LOCKED_OUT, auth_id, reserved, kind)
        guess = reserved
        if not _number_matches(engine, pending, typed):
            reason = DenialReason.WRONG_NUMBER
    if not finish(
        engine,
        engine.user_of(pending),
        pending,
        method,
        now,
        status=AuthStatus.SUCCESS if reason is None else AuthStatus.DENIED,
        reason=reason,
        attempts=pending.attempts + 1,
        completed=True,
    ):
        return None
    if reason is not None:
        return Verdict.denied(reason, auth_id, None, kind)
    if guess is not None or state.consecutive_failures:
        settled = guess if guess is not None else UNCOUNTED
        engine.repository.update_state(user_id, lambda s: settle_success(s, settled))
    return Verdict.success(auth_id, kind)


def _proof_refusal(
    method: RegisteredMethod | None,
    auth_id: str,
    approve: bool,
    typed: int | None,
    signature: str | None,
) -> DenialReason | None:
    """Rules 2 and 3: ``None`` for an approval signed by the activated device."""
    if method is None or not method.activated or not method.public_key:
        # the seed: "Authentication request is not for an activated account"
        return DenialReason.NOT_ACTIVATED
    if not signature_ok(method.public_key, push_message(auth_id, approve, typed), signature):
        return DenialReason.BAD_SIGNATURE
    if not approve:
        return DenialReason.USER_DENIED
    return None


def _number_matches(engine: Engine, pending: PendingAuth, typed: int | None) -> bool:
    """Rule 4: the typed number against the shown one's digest, in constant time."""
    return typed is not None and hmac.compare_digest(
        pending.code_digest or b"", engine.digest(pending.auth_id, str(typed))
    )
