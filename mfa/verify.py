"""Answering an authentication: the code a user types, and how any answer is settled.

A verify is the rules in an order that keeps the limits under any concurrency:

1. find the live authentication (``lookup``): known, ours or in a shared store, not expired;
2. refuse before anything is spent: a locked-out user, a code out of attempts;
3. reserve the code's attempt (a compare-and-set on the pending record, ``reserve_attempt``);
4. evaluate: sms/voice against the code's keyed digest in constant time; totp and hardware
   tokens within ±``totp_window_steps``;
5. judge the user's guess in one atomic write (``judge_guess``): count it as a failure —
   or refuse it, unjudged, if the user was locked meanwhile — and for a right answer end
   the run of failures at once, a TOTP step accepted once (RFC 6238 §5.2);
6. settle: store the answer on the code on top of whatever other requests did meanwhile
   (``settle``).

``answer`` runs a decision (a verify, a push response) again when another request moved the
authentication on first. These are steps of ``mfa.engine.Engine``, written as functions
of it.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from mfa.auth_records import finish, moved, parse_auth_id
from mfa.fraud_checks import note_verified
from mfa.methods import DELIVERED_METHODS, MethodType, RegisteredMethod
from mfa.otp import TOTP_PERIOD_SECONDS, match_totp
from mfa.outcomes import Verdict
from mfa.pending import PendingAuth
from mfa.reasons import AuthStatus, DenialReason
from mfa.security_state import (
    Guess,
    SecurityState,
    Success,
    accept_totp_step,
    judge_guess,
    reserve_guess,
    settle_right_code,
)
from mfa.users import User

if TYPE_CHECKING:
    from mfa.engine import Engine

__all__ = ["answer", "judge_guess_of", "lookup", "reserve_guess_of", "verify_code"]

_A = TypeVar("_A")
_B = TypeVar("_B")
#: Answers that use up a code's attempts (a right answer is not one of them).
GUESS_FAILURES = frozenset({DenialReason.WRONG_CODE, DenialReason.REPLAYED})


def answer(
    engine: Engine,
    auth_id: str,
    decide: Callable[[Engine, PendingAuth, float, _A, _B], Verdict | None],
    first: _A,
    second: _B,
) -> Verdict:
    """Find the live authentication and let ``decide(engine, pending, now, first, second)``
    answer
    (with a verdict that names the authentication's method).

    ``decide`` answers ``None`` when its transition lost: another request (on this server
    or another) moved the authentication on since it was read, so it is read again and
    decided afresh — now maybe used up, replayed or out of attempts. Every lost race is
    another request's progress, and an authentication makes at most
    ``max_verify_attempts`` + 1 transitions, so the loop ends; the bound guards only
    against a broken store."""
    for _ in range(engine.policy.max_verify_attempts + 2):
        now = engine.clock.now()
        found = lookup(engine, auth_id, now)
        if isinstance(found, Verdict):
            return found
        verdict = decide(engine, found, now, first, second)
        if verdict is not None:
            return verdict
    return Verdict.denied(DenialReason.TOO_MANY_ATTEMPTS, auth_id)


def verify_code(
    engine: Engine, pending: PendingAuth, now: float, code: str, _: None
) -> Verdict | None:
    """Steps 2 to 6 for a code; ``None`` if another request changed the authentication
    before the reservation."""
    auth_id, kind, user_id = pending.auth_id, pending.method, pending.user_id
    if kind is MethodType.PUSH:
        return Verdict.denied(DenialReason.METHOD_NOT_ALLOWED, auth_id, None, kind)
    facts = engine.repository.sign_in_facts(user_id)  # one read: state and methods
    state = facts.state
    if state.locked_until > now:  # refused before anything is spent
        return Verdict.denied(DenialReason.LOCKED_OUT, auth_id, state.locked_until - now, kind)
    if pending.attempts >= engine.policy.max_verify_attempts:
        return Verdict.denied(DenialReason.TOO_MANY_ATTEMPTS, auth_id, None, kind)
    reserved = reserve_attempt(engine, pending)
    if reserved is None:
        return None
    user = facts.user
    method = next((m for m in facts.methods if m.method_id == pending.method_id), None)
    if user is None or method is None:
        # the user was reset (or deleted) since the code was issued
        return settle(engine, user, reserved, method, now, DenialReason.REGISTRATION_REQUIRED)
    if kind in DELIVERED_METHODS:
        success = settle_right_code if _is_sent_code(engine, pending, code) else None
    else:
        success = _totp_success(engine, method, code, now, state)
    judged = judge_guess_of(engine, user_id, now, success)
    if not isinstance(judged, bool):  # locked by a concurrent guess since the read
        return Verdict.denied(DenialReason.LOCKED_OUT, auth_id, judged, kind)
    reason = None if judged else _why_wrong(kind, success)
    verdict = settle(engine, user, reserved, method, now, reason)
    if verdict.ok and kind in DELIVERED_METHODS:
        note_verified(engine, auth_id, method)  # the conversion guard's count
    return verdict


def reserve_attempt(engine: Engine, pending: PendingAuth) -> PendingAuth | None:
    """Take one of the code's ``max_verify_attempts`` before the code is evaluated;
    ``None`` if another request moved the authentication on first."""
    reserved = moved(
        pending,
        status=pending.status,
        reason=pending.reason,
        attempts=pending.attempts + 1,
        completed_at=pending.completed_at,
    )
    keep_until = pending.expires_at + engine.policy.retention_seconds
    if not engine.pending.transition(pending, reserved, keep_until=keep_until):
        return None
    return reserved


def reserve_guess_of(engine: Engine, user_id: str, now: float) -> Guess | float:
    """Count a guess as the user's failure before it is evaluated (``reserve_guess``): the
    guess, or the seconds the user stays locked."""
    threshold, lock_for = engine.policy.lockout_threshold, engine.policy.lockout_seconds
    return engine.repository.update_state(
        user_id, lambda state: reserve_guess(state, now, threshold, lock_for)
    )


def judge_guess_of(
    engine: Engine, user_id: str, now: float, success: Success | None
) -> bool | float:
    """Count the guess and settle it (``judge_guess``) in one write: whether it succeeded,
    or the seconds the user stays locked."""
    threshold, lock_for = engine.policy.lockout_threshold, engine.policy.lockout_seconds
    return engine.repository.update_state(
        user_id, lambda state: judge_guess(state, now, threshold, lock_for, success)
    )


def _why_wrong(kind: MethodType, success: Success | None) -> DenialReason:
    """A guess judged not successful: a wrong code, or a TOTP value whose step was
    accepted already (a replay)."""
    if kind in DELIVERED_METHODS or success is None:
        return DenialReason.WRONG_CODE
    return DenialReason.REPLAYED


def _is_sent_code(engine: Engine, pending: PendingAuth, code: str) -> bool:
    """Whether the code is the one sent: its digest compared in constant time."""
    return pending.code_digest is not None and hmac.compare_digest(
        pending.code_digest, engine.digest(pending.auth_id, code)
    )


def _totp_success(
    engine: Engine,
    method: RegisteredMethod,
    code: str,
    now: float,
    state: SecurityState,
) -> Success | None:
    """For a TOTP or hardware-token value that matches a time step: its ``Success``, which
    accepts that step once, atomically with the guess (RFC 6238 §5.2: a value is accepted
    once, on whichever server comes first). ``None`` for a wrong value."""
    params = _otp_parameters(engine, method)
    if params is None:
        return None
    step = None
    # prefer a step after the last accepted one (a value may repeat in adjacent steps);
    # failing that, the used step, which accept_totp_step refuses as a replay
    for after in (state.last_totp_step.get(params.replay_key), None):
        step = match_totp(
            params.secret,
            code,
            now,
            digits=params.digits,
            period=params.period,
            algorithm=params.algorithm,
            window=engine.policy.totp_window_steps,
            after_step=after,
        )
        if step is not None or after is None:
            break
    if step is None:
        return None
    key, matched = params.replay_key, step
    return lambda reserved, guess: accept_totp_step(reserved, key, matched, guess)


@dataclass(frozen=True, slots=True)
class _OtpParameters:
    """What checks a TOTP or hardware-token value. The replay key names the secret, not the
    registration: a hardware token registered twice must not accept again a value it
    already gave."""

    secret: str
    digits: int
    period: int
    algorithm: str
    replay_key: str


def _otp_parameters(engine: Engine, method: RegisteredMethod) -> _OtpParameters | None:
    """A TOTP method's own secret (6 digits, 30 s, SHA-1: what authenticator apps use), or
    the hardware token's, if it is still the user's."""
    if method.type is MethodType.TOTP:
        if not method.secret:
            return None
        return _OtpParameters(
            secret=method.secret,
            digits=6,
            period=TOTP_PERIOD_SECONDS,
            algorithm="sha1",
            replay_key=method.method_id,
        )
    if method.type is MethodType.HARDWARE_TOKEN and method.serial:
        token = engine.repository.get_token(method.serial)
        if token is None or token.user_id not in (None, method.user_id):
            return None
        return _OtpParameters(
            secret=token.secret,
            digits=token.digits,
            period=token.period,
            algorithm=token.algorithm,
            replay_key=f"token:{token.serial}",
        )
    return None


def settle(
    engine: Engine,
    user: User | None,
    reserved: PendingAuth,
    method: RegisteredMethod | None,
    now: float,
    reason: DenialReason | None,
) -> Verdict:
    """Store the answer of a reserved attempt (``reason`` ``None``: right).

    Other requests may have reserved attempts since: the answer goes on top of theirs. A
    failure that leaves no attempt denies the authentication; a right answer reserved
    within the cap still succeeds then (it was one of the allowed attempts). An
    authentication that succeeded or ended otherwise meanwhile keeps its end."""
    auth_id, kind = reserved.auth_id, reserved.method
    current: PendingAuth | None = reserved
    for _ in range(2 * engine.policy.max_verify_attempts + 2):  # each lost race is progress
        if current is None:
            return Verdict.denied(DenialReason.UNKNOWN_AUTH, auth_id, None, kind)
        if current.status is not AuthStatus.PENDING:
            ended = _answer_after_end(current, reason)
            if ended is not None:
                return ended
        status, completed = _outcome(engine, current, reason)
        if finish(
            engine,
            user,
            current,
            method,
            now,
            status=status,
            reason=reason,
            attempts=current.attempts,
            completed=completed,
        ):
            if reason is None:
                return Verdict.success(auth_id, kind)
            return Verdict.denied(reason, auth_id, None, kind)
        current = engine.pending.get(auth_id)
    # a broken store that never lets a transition through
    return Verdict.denied(DenialReason.TOO_MANY_ATTEMPTS, auth_id, None, kind)


def _answer_after_end(current: PendingAuth, reason: DenialReason | None) -> Verdict | None:
    """The verdict for an answer whose authentication another request ended; ``None`` for
    a right answer reserved before the attempts ran out (it still succeeds)."""
    used_up = current.status is AuthStatus.DENIED and current.reason in GUESS_FAILURES
    if reason is not None and used_up:
        return Verdict.denied(reason, current.auth_id, None, current.method)
    if reason is not None or not used_up:
        return ended(current)
    return None


def _outcome(
    engine: Engine, current: PendingAuth, reason: DenialReason | None
) -> tuple[AuthStatus, bool]:
    """The status an answer moves the authentication to, and whether that ends it: a
    right answer succeeds; a wrong one leaves it pending while attempts remain."""
    if reason is None:
        return AuthStatus.SUCCESS, True
    if reason in GUESS_FAILURES and current.attempts < engine.policy.max_verify_attempts:
        return AuthStatus.PENDING, False
    return AuthStatus.DENIED, True


def ended(pending: PendingAuth) -> Verdict:
    """The answer for a request that finds its authentication ended."""
    auth_id, kind, status = pending.auth_id, pending.method, pending.status
    if status is AuthStatus.SUCCESS:
        return Verdict.denied(DenialReason.REPLAYED, auth_id, None, kind)
    if status is AuthStatus.EXPIRED:
        return Verdict.denied(DenialReason.EXPIRED, auth_id, None, kind)
    if pending.reason in GUESS_FAILURES:
        return Verdict.denied(DenialReason.TOO_MANY_ATTEMPTS, auth_id, None, kind)
    return Verdict.denied(pending.reason or DenialReason.UNKNOWN_AUTH, auth_id, None, kind)


def lookup(engine: Engine, auth_id: str, now: float) -> PendingAuth | Verdict:
    """Step 1: a live pending authentication, or the verdict that ends the request."""
    if not isinstance(auth_id, str):
        return Verdict.denied(DenialReason.UNKNOWN_AUTH, None)
    if not engine.issued_here(auth_id):
        # not one of ours: malformed, or issued by another server
        if parse_auth_id(auth_id) is None:
            return Verdict.denied(DenialReason.UNKNOWN_AUTH, auth_id)
        if not engine.pending.shared:
            # the seed: only the server that sent the code knows it
            return Verdict.denied(DenialReason.WRONG_SERVER, auth_id)
    pending = engine.pending.get(auth_id)
    if pending is None:
        return Verdict.denied(DenialReason.UNKNOWN_AUTH, auth_id)
    if pending.status is not AuthStatus.PENDING:
        return ended(pending)
    if now < pending.expires_at:
        return pending
    # whichever request marks it expired first logs it; past its time it is expired for
    # this request either way
    finish(
        engine,
        engine.user_of(pending),
        pending,
        engine.method_of(pending),
        now,
        status=AuthStatus.EXPIRED,
        reason=DenialReason.EXPIRED,
        attempts=pending.attempts,
        completed=True,
    )
    return Verdict.denied(DenialReason.EXPIRED, auth_id, None, pending.method)
