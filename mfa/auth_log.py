"""The authentication log: one record per authentication, with the seed's fields.

Unique ID, first/last name and email (optional, configurable), phone (voice/SMS), device
token (push: only its fingerprint, the first 8 hex characters of its SHA-256 — see
``mfa.push_proof.fingerprint``), authentication mode, result and denial reason, server name
and IP, client IP — plus timing, attempts and routing for reliability analysis. A record
never holds a code, a secret or a password: the type has no field where one could go.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace

from mfa.methods import MethodType
from mfa.reasons import AuthStatus, DenialReason, FraudRule

__all__ = ["LOG_FIELDS", "AuthLogRecord", "merged", "progress"]


@dataclass(frozen=True, slots=True)
class AuthLogRecord:
    auth_id: str
    unique_id: str
    mode: MethodType | None
    status: AuthStatus
    server_name: str
    server_ip: str
    began_at: float
    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    phone: str | None = None
    #: push: the device token's fingerprint, never the token
    device_token: str | None = None
    reason: DenialReason | None = None
    client_ip: str | None = None
    completed_at: float | None = None
    attempts: int = 0
    sender: str | None = None
    provider: str | None = None
    #: False when begin was refused before reaching the service (rate limit, lockout…).
    billable: bool = True
    #: For ``fraud_suspected``: which defence refused (never shown to the caller).
    fraud_rule: FraudRule | None = None

    @property
    def result(self) -> str:
        """The seed's 'Authentication Result': success, denied, or pending while in flight."""
        if self.status is AuthStatus.SUCCESS:
            return "success"
        if self.status is AuthStatus.PENDING:
            return "pending"
        return "denied"

    def to_dict(self) -> dict[str, object]:
        out = asdict(self)
        out["result"] = self.result
        for key in ("mode", "status", "reason", "fraud_rule"):
            value = out[key]
            out[key] = None if value is None else str(value)
        return out


LOG_FIELDS: tuple[str, ...] = (*(f.name for f in fields(AuthLogRecord)), "result")


def progress(record: AuthLogRecord) -> tuple[bool, int]:
    """How far the authentication had come when ``record`` was made: ended or not, then
    the attempts taken. Every step that writes a record moves one of them on, so of two
    records of one authentication the one further on is the later."""
    return (record.completed_at is not None, record.attempts)


def merged(held: AuthLogRecord | None, new: AuthLogRecord) -> AuthLogRecord:
    """The record to keep when ``new`` comes for an authentication that has ``held``: the
    one further on (``progress``; on a tie ``new``), with the provider that took the
    message, which only the begin's last record knows (it is noted once, after sending).

    Records may arrive out of order — servers write their logs in batches
    (``mfa.storage.log_writer``), and two requests of one authentication may finish in
    either order — so keeping the one further on rather than the last one is what makes
    the log end where the authentication ended. ``mfa.storage.sql_statements`` applies the
    same rule in the database's upsert."""
    if held is None:
        return new
    kept = new if progress(new) >= progress(held) else held
    provider = held.provider or new.provider
    return kept if kept.provider == provider else replace(kept, provider=provider)
