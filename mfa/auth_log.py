"""The authentication log: one record per authentication, with the seed's fields.

Unique ID, first/last name and email (optional, configurable), phone (voice/SMS), device
token (push: only its fingerprint, the first 8 hex characters of its SHA-256 — see
``mfa.push_proof.fingerprint``), authentication mode, result and denial reason, server name
and IP, client IP — plus timing, attempts and routing for reliability analysis. A record
never holds a code, a secret or a password: the type has no field where one could go.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

from mfa.methods import MethodType
from mfa.reasons import AuthStatus, DenialReason, FraudRule

__all__ = ["LOG_FIELDS", "AuthLogRecord"]


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
