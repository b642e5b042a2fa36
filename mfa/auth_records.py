"""How an authentication's progress is recorded: its pending record and its log record.

A pending record moves on only by a compare-and-set (``PendingStore.transition``), one
version at a time, so that two requests racing on one authentication (on one server or on
several sharing the store) cannot both move it; the loser reads again and decides afresh.
Every move also brings the authentication's log record up to date, when the repository
keeps a log (``Repository.keep_logs``): one record per authentication, with the seed's
fields, never a code or a secret.

These are steps of ``mfa.engine.Engine``, written as functions of it.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from mfa.auth_log import AuthLogRecord
from mfa.methods import DELIVERED_METHODS, MethodType, RegisteredMethod
from mfa.outcomes import Denial
from mfa.pending import PendingAuth
from mfa.push_proof import fingerprint
from mfa.reasons import AuthStatus, DenialReason, FraudRule
from mfa.users import User

if TYPE_CHECKING:
    from mfa.engine import Engine

__all__ = [
    "SERVER_NAME",
    "finish",
    "log_check",
    "log_record",
    "moved",
    "new_auth_id",
    "parse_auth_id",
    "refuse",
]

#: What a server may be called: it is the first part of every auth id it issues.
SERVER_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
#: The random part of an auth id: 22 characters of 64 = 132 bits.
AUTH_TOKEN_LENGTH = 22


def new_auth_id(engine: Engine) -> str:
    """A fresh auth id naming the issuing server (``mfa2.Xy…``), so that a wrong server can
    say so and a router can send the verify to the right one."""
    return f"{engine.server.name}.{engine.entropy.token(AUTH_TOKEN_LENGTH)}"


def parse_auth_id(auth_id: str) -> tuple[str, str] | None:
    """``'mfa2.Xy…'`` → ``('mfa2', 'Xy…')``, or ``None`` if it is not an auth id."""
    server, sep, token = auth_id.partition(".")
    if not sep or len(token) != AUTH_TOKEN_LENGTH or not SERVER_NAME.match(server):
        return None
    return server, token


def moved(
    pending: PendingAuth,
    *,
    status: AuthStatus,
    reason: DenialReason | None,
    attempts: int,
    completed_at: float | None,
) -> PendingAuth:
    """``pending`` one version on, with the given outcome."""
    # spelt out rather than ``dataclasses.replace``, which costs three times as much (it
    # walks the fields on every call) and runs several times per authentication
    return PendingAuth(
        auth_id=pending.auth_id,
        user_id=pending.user_id,
        method=pending.method,
        method_id=pending.method_id,
        server=pending.server,
        issued_at=pending.issued_at,
        expires_at=pending.expires_at,
        code_digest=pending.code_digest,
        attempts=attempts,
        status=status,
        reason=reason,
        device_token=pending.device_token,
        completed_at=completed_at,
        sender=pending.sender,
        client_ip=pending.client_ip,
        server_ip=pending.server_ip,
        version=pending.version + 1,
    )


def finish(
    engine: Engine,
    user: User | None,
    pending: PendingAuth,
    method: RegisteredMethod | None,
    now: float,
    *,
    status: AuthStatus,
    reason: DenialReason | None,
    attempts: int,
    completed: bool,
) -> bool:
    """Move the authentication on from ``pending`` (the version this request read) and
    bring its log record up to date; ``False``, with nothing written, if another request
    moved it on first."""
    updated = moved(
        pending,
        status=status,
        reason=reason,
        attempts=attempts,
        completed_at=now if completed else None,
    )
    keep_until = pending.expires_at + engine.policy.retention_seconds
    if not engine.pending.transition(pending, updated, keep_until=keep_until):
        return False
    if completed:
        engine.forget_begun(pending.auth_id)
    if engine.repository.keep_logs:
        engine.repository.save_log(log_record(engine, user, updated, method))
    return True


def log_record(
    engine: Engine,
    user: User | None,
    pending: PendingAuth,
    method: RegisteredMethod | None,
    provider: str | None = None,
) -> AuthLogRecord:
    """The log record of an authentication that has a pending record, as it stands; the
    begin's last record names the ``provider`` that took the message (the others leave it
    to the log's merge, ``mfa.auth_log.merged``)."""
    kind = pending.method
    first_name, last_name, email = _optional_fields(engine, user)
    server_ip = pending.server_ip
    if server_ip is None:  # a record from a store that does not keep it
        server_ip = engine.server.ip if pending.server == engine.server.name else ""
    return AuthLogRecord(
        auth_id=pending.auth_id,
        unique_id=pending.user_id,
        mode=kind,
        status=pending.status,
        server_name=pending.server,
        server_ip=server_ip,
        began_at=pending.issued_at,
        first_name=first_name,
        last_name=last_name,
        email=email,
        phone=method.phone if method is not None and kind in DELIVERED_METHODS else None,
        # a delivery address, shown only as a fingerprint (it must not help an attacker)
        device_token=(
            fingerprint(method.device_token)
            if method is not None and kind is MethodType.PUSH
            else None
        ),
        reason=pending.reason,
        client_ip=pending.client_ip,
        completed_at=pending.completed_at,
        attempts=pending.attempts,
        sender=pending.sender,
        provider=provider,
        billable=True,
    )


def refuse(
    engine: Engine,
    user: User | None,
    user_id: str,
    kind: MethodType | None,
    reason: DenialReason,
    now: float,
    client_ip: str | None,
    *,
    retry_after: float | None = None,
    fraud_rule: FraudRule | None = None,
) -> Denial:
    """A begin that never reached the service still leaves a (non-billable) log record,
    with the fraud rule that refused it, if one did."""
    log_check(
        engine,
        user,
        user_id,
        kind,
        now,
        client_ip,
        status=AuthStatus.DENIED,
        reason=reason,
        billable=False,
        fraud_rule=fraud_rule,
    )
    return Denial(
        reason=reason,
        user_id=user_id,
        method=kind,
        retry_after=retry_after,
        fraud_rule=fraud_rule,
    )


def log_check(
    engine: Engine,
    user: User | None,
    user_id: str,
    kind: MethodType | None,
    now: float,
    client_ip: str | None,
    *,
    status: AuthStatus,
    reason: DenialReason | None,
    billable: bool,
    attempts: int = 0,
    fraud_rule: FraudRule | None = None,
) -> None:
    """The log record of an authentication decided at once, with no pending record: a
    refused begin, an app-password check."""
    if not engine.repository.keep_logs:
        return
    first_name, last_name, email = _optional_fields(engine, user)
    engine.repository.save_log(
        AuthLogRecord(
            auth_id=new_auth_id(engine),
            unique_id=user_id,
            mode=kind,
            status=status,
            server_name=engine.server.name,
            server_ip=engine.server.ip,
            began_at=now,
            first_name=first_name,
            last_name=last_name,
            email=email,
            reason=reason,
            client_ip=client_ip,
            completed_at=now,
            attempts=attempts,
            billable=billable,
            fraud_rule=fraud_rule,
        )
    )


def _optional_fields(
    engine: Engine, user: User | None
) -> tuple[str | None, str | None, str | None]:
    """The seed's optional fields (first/last name, email), as the policy configures."""
    if user is None:
        return None, None, None
    names = engine.policy.log_names
    return (
        user.first_name if names else None,
        user.last_name if names else None,
        user.email if engine.policy.log_email else None,
    )
