"""What ``begin`` and ``verify`` answer.

Plain frozen records, so the HTTP layer turns them into JSON and the simulator into rows
without interpreting them.
"""

from __future__ import annotations

from dataclasses import dataclass

from mfa.methods import MethodType
from mfa.reasons import AuthResult, DenialReason, FraudRule

__all__ = ["Challenge", "Denial", "Verdict"]


@dataclass(frozen=True, slots=True)
class Challenge:
    """An authentication that has begun and waits for the user's answer.

    ``number`` is push number matching's two digits: the sign-in page shows them, the
    person types them into the app (``None`` for other methods or with matching off)."""

    auth_id: str
    user_id: str
    method: MethodType
    server: str
    expires_in: float
    sender: str | None = None
    provider: str | None = None
    number: int | None = None


@dataclass(frozen=True, slots=True)
class Denial:
    """``begin`` refused to start an authentication.

    ``retry_after`` is set for ``rate_limited`` and ``locked_out``: seconds until a new
    attempt can succeed. ``fraud_rule`` says which fraud defence refused a
    ``fraud_suspected`` begin, for the operator's log and the simulator's rows; the HTTP
    API never returns it (an attacker must not learn what to rotate).
    """

    reason: DenialReason
    user_id: str
    method: MethodType | None = None
    retry_after: float | None = None
    detail: str = ""
    fraud_rule: FraudRule | None = None


@dataclass(frozen=True, slots=True)
class Verdict:
    """The answer to a verify, a push response or an app password.

    ``method`` is the authentication's method when the engine found it (``None`` for an
    unknown or another server's auth id, and for app passwords), so a caller can label the
    answer without asking the pending store again."""

    result: AuthResult
    reason: DenialReason | None = None
    auth_id: str | None = None
    retry_after: float | None = None
    method: MethodType | None = None

    @property
    def ok(self) -> bool:
        return self.result is AuthResult.SUCCESS

    @classmethod
    def success(cls, auth_id: str | None = None, method: MethodType | None = None) -> Verdict:
        return cls(result=AuthResult.SUCCESS, auth_id=auth_id, method=method)

    @classmethod
    def denied(
        cls,
        reason: DenialReason,
        auth_id: str | None = None,
        retry_after: float | None = None,
        method: MethodType | None = None,
    ) -> Verdict:
        return cls(
            result=AuthResult.DENIED,
            reason=reason,
            auth_id=auth_id,
            retry_after=retry_after,
            method=method,
        )
