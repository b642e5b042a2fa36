"""What ``begin`` and ``verify`` answer.

Plain frozen records, so the HTTP layer turns them into JSON and the simulator into rows
without interpreting them.
"""

from __future__ import annotations

from dataclasses import dataclass

from mfa.fastrecords import builder
from mfa.methods import MethodType
from mfa.reasons import AuthResult, DenialReason

__all__ = ["Challenge", "Denial", "Verdict"]


@dataclass(frozen=True, slots=True)
class Challenge:
    """An authentication that has begun and waits for the user's answer."""

    auth_id: str
    user_id: str
    method: MethodType
    server: str
    expires_in: float
    sender: str | None = None
    provider: str | None = None


@dataclass(frozen=True, slots=True)
class Denial:
    """``begin`` refused to start an authentication.

    ``retry_after`` is set for ``rate_limited`` and ``locked_out``: seconds until a new
    attempt can succeed.
    """

    reason: DenialReason
    user_id: str
    method: MethodType | None = None
    retry_after: float | None = None
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Verdict:
    result: AuthResult
    reason: DenialReason | None = None
    auth_id: str | None = None
    retry_after: float | None = None

    @property
    def ok(self) -> bool:
        return self.result is AuthResult.SUCCESS

    @classmethod
    def success(cls, auth_id: str | None = None) -> Verdict:
        return _new_verdict(AuthResult.SUCCESS, None, auth_id, None)

    @classmethod
    def denied(
        cls, reason: DenialReason, auth_id: str | None = None, retry_after: float | None = None
    ) -> Verdict:
        return _new_verdict(AuthResult.DENIED, reason, auth_id, retry_after)


# every verify answers with one of these: built without the frozen-setattr cost
_new_verdict = builder(Verdict)
