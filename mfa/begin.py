"""Beginning an authentication: who may sign in, with which method, and what is sent.

``begin`` is the rules in order:

1. the account may sign in: the user exists, is not disabled and is not locked out;
2. choose the method: the one asked for (its default registration first) or the user's
   default; it must be registered, allowed by the policy and, for push, activated; a user
   who must (re-)register security information is refused;
3. reserve the send: sms, voice and push count toward the user's send limit ("up to five
   times in 5 minutes"; push too, against push bombing) before anything is sent, then pass
   the fraud defences (``mfa.fraud_checks``), which give the send back when they refuse;
4. issue the challenge: a fresh code (sms, voice) or the number to match (push), kept only
   as a keyed digest, and the message that carries it;
5. store the pending record and its log record, all or nothing, and only then
6. deliver the message, noting in the log which provider took it.

A refusal at any step leaves a non-billable log record and a ``Denial``. These are steps of
``mfa.engine.Engine``, written as functions of it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from mfa.auth_records import finish, log_record, new_auth_id, refuse
from mfa.delivery.message import Channel, Message
from mfa.errors import DeliveryError, InvalidInput, ServiceUnavailable
from mfa.fraud_checks import screen_send
from mfa.methods import DELIVERED_METHODS, MethodType, RegisteredMethod
from mfa.outcomes import Challenge, Denial
from mfa.pending import PendingAuth
from mfa.reasons import AuthStatus, DenialReason, FraudRule
from mfa.registration import default_of, pick_method, registration_reasons
from mfa.repository import SignInFacts
from mfa.security_state import record_send, release_send
from mfa.users import User

if TYPE_CHECKING:
    from mfa.engine import Engine

__all__ = ["begin_authentication", "port_name"]

#: Push number matching's range: always two digits to type.
PUSH_NUMBERS = (10, 99)
#: Methods whose begin sends a message, counted toward the user's send limit.
SENT_METHODS = DELIVERED_METHODS | {MethodType.PUSH}
_CHANNELS = {MethodType.SMS: Channel.SMS, MethodType.VOICE: Channel.VOICE}


@dataclass(frozen=True, slots=True)
class _Refusal:
    """Why a step refused the begin, when to retry (rate limit, lockout), the method
    the refusal names when it is not the one asked for, and the fraud rule that fired (for
    the log only)."""

    reason: DenialReason
    retry_after: float | None = None
    method: MethodType | None = None
    fraud_rule: FraudRule | None = None


@dataclass(frozen=True, slots=True)
class _Issued:
    """What a begin sends: the digest the answer is checked against (``None`` for push
    without number matching), push's number to show, and the message (with its sender)."""

    digest: bytes | None
    number: int | None
    message: Message | None


def begin_authentication(
    engine: Engine, user_id: str, method: MethodType | str | None, client_ip: str | None
) -> Challenge | Denial:
    """``Engine.begin``: the steps in the module's docstring."""
    asked = _asked_kind(method)
    now = engine.clock.now()
    facts = engine.repository.sign_in_facts(user_id)  # one read: user, state, methods
    user = facts.user
    refused = _account_refusal(facts, now)
    if refused is not None:
        return _refuse(engine, user, user_id, asked, now, client_ip, refused)
    assert user is not None  # refused otherwise
    chosen = _choose_method(engine, user, facts.methods, asked)
    if isinstance(chosen, _Refusal):
        return _refuse(engine, user, user_id, chosen.method or asked, now, client_ip, chosen)
    kind = chosen.type
    auth_id = new_auth_id(engine)
    counted = kind in SENT_METHODS
    if counted:
        refused = _reserve_and_screen(engine, chosen, auth_id, now, client_ip)
        if refused is not None:
            return _refuse(engine, user, user_id, kind, now, client_ip, refused)
    issued = _issue(engine, user, chosen, auth_id, now)
    pending = _new_pending(engine, chosen, auth_id, issued, now, client_ip)
    _store_begun(engine, user, pending, chosen, now, given_back=counted)
    provider = _deliver(engine, user, pending, chosen, issued.message)
    return Challenge(
        auth_id=auth_id,
        user_id=user_id,
        method=kind,
        server=engine.server.name,
        expires_in=engine.policy.timeout_seconds,
        sender=pending.sender,
        provider=provider,
        number=issued.number,
    )


def _asked_kind(method: MethodType | str | None) -> MethodType | None:
    """The method the caller named, if any (``InvalidInput`` if it is not one)."""
    if method is None:
        return None
    try:
        return MethodType(method)
    except ValueError:
        raise InvalidInput("method", f"{method!r} is not a method type") from None


def _refuse(
    engine: Engine,
    user: User | None,
    user_id: str,
    kind: MethodType | None,
    now: float,
    client_ip: str | None,
    refusal: _Refusal,
) -> Denial:
    return refuse(
        engine,
        user,
        user_id,
        kind,
        refusal.reason,
        now,
        client_ip,
        retry_after=refusal.retry_after,
        fraud_rule=refusal.fraud_rule,
    )


def _account_refusal(facts: SignInFacts, now: float) -> _Refusal | None:
    """Step 1. An unknown user looks exactly like one with nothing registered."""
    user = facts.user
    if user is None:
        return _Refusal(DenialReason.REGISTRATION_REQUIRED)
    if user.disabled_at is not None:
        return _Refusal(DenialReason.USER_DISABLED)
    locked_until = facts.state.locked_until
    if locked_until > now:
        return _Refusal(DenialReason.LOCKED_OUT, retry_after=locked_until - now)
    return None


def _choose_method(
    engine: Engine, user: User, methods: Sequence[RegisteredMethod], asked: MethodType | None
) -> RegisteredMethod | _Refusal:
    """Step 2: the registration the authentication uses."""
    default = default_of(methods)
    enabled = engine.enabled_methods()
    # the reasons are worked out only when one may apply (the common case has none)
    may_need_registration = (
        default is None or bool(user.pending_registration) or default.type not in enabled
    )
    if may_need_registration and registration_reasons(user, methods, enabled):
        return _Refusal(DenialReason.REGISTRATION_REQUIRED)
    if default is not None and (asked is None or default.type is asked):
        chosen: RegisteredMethod | None = default
    else:
        chosen = pick_method(methods, asked)
    if chosen is None or chosen.type not in enabled:
        return _Refusal(DenialReason.METHOD_NOT_ALLOWED)
    if chosen.type is MethodType.PUSH and not chosen.activated:
        return _Refusal(DenialReason.NOT_ACTIVATED, method=MethodType.PUSH)
    return chosen


def _reserve_send(engine: Engine, user_id: str, now: float) -> float | None:
    """Step 3. Count one send toward the user's limit (``record_send``): ``None``, or the
    seconds to wait when the limit is reached."""
    window, max_sends = engine.policy.send_window_seconds, engine.policy.max_sends
    try:
        return engine.repository.update_state(
            user_id, lambda state: record_send(state, now, window, max_sends)
        )
    except Exception as exc:
        raise ServiceUnavailable(port_name(engine.repository, "database")) from exc


def _reserve_and_screen(
    engine: Engine, chosen: RegisteredMethod, auth_id: str, now: float, client_ip: str | None
) -> _Refusal | None:
    """Step 3: the user's send limit, then the fraud defences; a send they refuse is given
    back to the user's limit (it is never sent, nor billed)."""
    wait = _reserve_send(engine, chosen.user_id, now)
    if wait is not None:
        return _Refusal(DenialReason.RATE_LIMITED, retry_after=wait)
    try:
        screened = screen_send(engine, chosen, auth_id, now, client_ip)
    except Exception:
        _give_back_send(engine, chosen.user_id, now)
        raise
    if screened is None:
        return None
    _give_back_send(engine, chosen.user_id, now)
    return _Refusal(screened.reason, fraud_rule=screened.rule)


def _issue(
    engine: Engine, user: User, chosen: RegisteredMethod, auth_id: str, now: float
) -> _Issued:
    """Step 4. sms/voice: a fresh code from the entropy port, in a message from one of the
    country's senders. Push: a notification to the device, with number matching a two-digit
    number for the sign-in page to show and the person to type into the app."""
    kind = chosen.type
    if kind in DELIVERED_METHODS:
        code = engine.entropy.code(engine.policy.code_digits)
        digest = engine.digest(auth_id, code)
        phone = chosen.phone or ""
        country = user.country if phone == user.phone else engine.country_of(phone)
        message = Message(
            channel=_CHANNELS[kind],
            to=phone,
            text=engine.message_text(code),
            auth_id=auth_id,
            user_id=user.user_id,
            sent_at=now,
            country=country,
            sender=engine.choose_sender(country),
        )
        return _Issued(digest=digest, number=None, message=message)
    if kind is MethodType.PUSH:
        digest = number = None
        if engine.policy.push_number_matching:
            number = engine.entropy.between(*PUSH_NUMBERS)
            digest = engine.digest(auth_id, str(number))  # kept only as a digest
        notification = Message(
            channel=Channel.PUSH,
            to=chosen.device_token or "",
            text=f"Approve sign-in for {user.user_id}?",
            auth_id=auth_id,
            user_id=user.user_id,
            sent_at=now,
        )
        return _Issued(digest=digest, number=number, message=notification)
    return _Issued(digest=None, number=None, message=None)  # totp, hardware token


def _new_pending(
    engine: Engine,
    chosen: RegisteredMethod,
    auth_id: str,
    issued: _Issued,
    now: float,
    client_ip: str | None,
) -> PendingAuth:
    """The authentication as it waits for its answer, valid for the policy's timeout."""
    server = engine.server
    return PendingAuth(
        auth_id=auth_id,
        user_id=chosen.user_id,
        method=chosen.type,
        method_id=chosen.method_id,
        server=server.name,
        issued_at=now,
        expires_at=now + engine.policy.timeout_seconds,
        code_digest=issued.digest,
        sender=issued.message.sender if issued.message is not None else None,
        client_ip=client_ip,
        server_ip=server.ip,
    )


def _store_begun(
    engine: Engine,
    user: User,
    pending: PendingAuth,
    method: RegisteredMethod,
    now: float,
    *,
    given_back: bool,
) -> None:
    """Step 5. Store a new authentication and its log record before anything is sent; if
    either fails, give back the send counted for it (``given_back``) and raise
    ``ServiceUnavailable`` naming the store: nothing was sent."""
    policy, repository, store = engine.policy, engine.repository, engine.pending
    try:
        failing = port_name(store, "pending store")
        store.put(pending, keep_until=now + policy.timeout_seconds + policy.retention_seconds)
        if repository.keep_logs:
            failing = port_name(repository, "database")
            repository.save_log(log_record(engine, user, pending, method))
    except Exception as exc:
        if given_back:
            _give_back_send(engine, pending.user_id, now)
        raise ServiceUnavailable(failing) from exc
    engine.remember_begun(pending, user, now)


def _give_back_send(engine: Engine, user_id: str, at: float) -> None:
    # if the repository is failing too, the send stays counted: that errs on the side of
    # the limit (nothing was sent either way)
    with contextlib.suppress(Exception):
        engine.repository.update_state(user_id, lambda state: release_send(state, at))


def _deliver(
    engine: Engine,
    user: User,
    pending: PendingAuth,
    method: RegisteredMethod,
    message: Message | None,
) -> str | None:
    """Step 6. Send the message; the provider that took it. If none did, the log record
    says ``delivery_failed``, the send still counts (the attempt was made) and
    ``DeliveryError`` is raised."""
    if message is None:
        return None
    try:
        provider = engine.gateway.send(message).provider
    except DeliveryError:
        finish(
            engine,
            user,
            pending,
            method,
            pending.issued_at,
            status=AuthStatus.DENIED,
            reason=DenialReason.DELIVERY_FAILED,
            attempts=0,
            completed=True,
        )
        raise
    if engine.repository.keep_logs:
        # the provider is a fact of the log only (billing, reliability): the begin's
        # record again, now with it; a verify that came first (an instant delivery)
        # keeps its outcome, and gains the provider (``mfa.auth_log.merged``)
        engine.repository.save_log(log_record(engine, user, pending, method, provider))
    return provider


def port_name(port: object, default: str) -> str:
    """What a port's failure is called in a ``ServiceUnavailable`` ("redis", "database")."""
    return str(getattr(port, "backend", default))
