"""``/v1/auth``: begin an authentication, verify its code, read its status, check an app
password.

``POST /v1/auth`` answers 201 with a challenge, or — when the engine refuses to start one —
a problem whose ``reason`` is the engine's denial reason: 429 + ``Retry-After`` for
``rate_limited``, 403 for every other refusal (``locked_out`` also carries ``Retry-After``).
An unknown user gets exactly the answer of a user with nothing registered
(``registration_required``), so the API never tells whether a user id exists. Verify answers
are always 200 ``{"result", "reason"}``, whatever the auth id.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool

from mfa.api.deps import RuntimeDep
from mfa.api.lean_route import LeanRoute
from mfa.api.metrics import FRAUD_REASONS
from mfa.api.params import AuthIdPath
from mfa.api.problems import ApiProblem, retry_after_header
from mfa.api.routers import problems
from mfa.api.schemas import (
    AppPasswordCheck,
    AuthCreate,
    AuthPublic,
    AuthStatusPublic,
    VerdictPublic,
    VerifyCreate,
)
from mfa.outcomes import Denial, Verdict
from mfa.reasons import DenialReason

__all__ = ["refusal", "router", "verdict_body"]

router = APIRouter(prefix="/v1/auth", tags=["auth"], responses=problems(422), route_class=LeanRoute)

_REFUSALS: dict[DenialReason, str] = {
    DenialReason.RATE_LIMITED: "too many codes were sent to this user recently",
    DenialReason.LOCKED_OUT: "too many failed verifications: the user is locked out for now",
    DenialReason.REGISTRATION_REQUIRED: "no verification method is ready: registration required",
    DenialReason.METHOD_NOT_ALLOWED: "that method is not registered for the user or not allowed",
    DenialReason.NOT_ACTIVATED: "the push method has not been activated by the app",
    DenialReason.USER_DISABLED: "the user is disabled for MFA",
    DenialReason.COUNTRY_BLOCKED: "codes are not sent to that country",
    # the same words whichever defence fired: the caller must not learn which
    DenialReason.FRAUD_SUSPECTED: "the send was refused by the fraud defences",
}
_log = logging.getLogger("mfa.api")


def refusal(denial: Denial) -> ApiProblem:
    """The problem for a begin the engine refused (see the module docstring)."""
    reason = denial.reason
    detail = _REFUSALS.get(reason, "the authentication was not started")
    extensions: dict[str, Any] = {"reason": str(reason)}
    if denial.retry_after is not None:
        extensions["retry_after"] = round(denial.retry_after, 3)
        detail += f"; retry in {max(1, round(denial.retry_after))} s"
    headers = retry_after_header(denial.retry_after)
    if reason is DenialReason.RATE_LIMITED:
        return ApiProblem(
            429, "rate-limited", detail, title="Too Many Codes", headers=headers, **extensions
        )
    return ApiProblem(
        403, "auth-refused", detail, title="Authentication Refused", headers=headers, **extensions
    )


def _log_fraud(denial: Denial, client_ip: str | None) -> None:
    """A refusal of the fraud defences, with the rule that fired, for the operator's log
    (the audit log keeps it too, in ``fraud_rule``); never in the answer."""
    if denial.reason in FRAUD_REASONS:
        _log.warning(
            "begin refused: %s (rule %s) user=%s method=%s client_ip=%s",
            denial.reason,
            denial.fraud_rule or "-",
            denial.user_id,
            denial.method,
            client_ip or "-",
        )


def verdict_body(verdict: Verdict) -> dict[str, Any]:
    return {"result": verdict.result, "reason": verdict.reason}


def _verdict_method(verdict: Verdict) -> str:
    """The method label of a verify for the metrics: the engine names it whenever it found
    the authentication."""
    return "unknown" if verdict.method is None else str(verdict.method)


@router.post(
    "",
    status_code=201,
    response_model=AuthPublic,
    response_model_exclude_none=True,
    responses=problems(403, 429, 502),
)
async def begin(body: AuthCreate, runtime: RuntimeDep) -> dict[str, Any]:
    """Start an authentication; sms/voice send a fresh code, push notifies the app (and,
    with number matching, answers the ``number`` the sign-in page shows)."""
    outcome = await runtime.call(runtime.engine.begin, body.user_id, body.method, body.client_ip)
    runtime.metrics.record_begin(outcome)
    if isinstance(outcome, Denial):
        _log_fraud(outcome, body.client_ip)
        raise refusal(outcome)
    return {
        "auth_id": outcome.auth_id,
        "method": outcome.method,
        "server": outcome.server,
        "expires_in": outcome.expires_in,
        "sender": outcome.sender,
        "number": outcome.number,
    }


@router.post("/app-password", response_model=VerdictPublic)
async def check_app_password(body: AppPasswordCheck, runtime: RuntimeDep) -> dict[str, Any]:
    """An unknown user is denied ``wrong_code`` like a wrong password. Argon2 takes tens to
    hundreds of milliseconds by design, so it runs in the thread pool, not on the event loop
    that every other request of this worker waits on."""
    verdict = await run_in_threadpool(
        runtime.engine.verify_app_password, body.user_id, body.password, body.client_ip
    )
    runtime.metrics.record_verdict("app_password", verdict)
    return verdict_body(verdict)


@router.post("/{auth_id}/verify", response_model=VerdictPublic)
async def verify(auth_id: AuthIdPath, body: VerifyCreate, runtime: RuntimeDep) -> dict[str, Any]:
    """``wrong_server`` when the auth id names another server and codes are not shared."""
    verdict = await runtime.call(runtime.engine.verify, auth_id, body.code)
    runtime.metrics.record_verdict(_verdict_method(verdict), verdict)
    return verdict_body(verdict)


@router.get("/{auth_id}", response_model=AuthStatusPublic, responses=problems(404))
async def status(auth_id: AuthIdPath, runtime: RuntimeDep) -> dict[str, Any]:
    """404 when this server does not know the authentication (unknown, or forgotten)."""
    view = await runtime.call(runtime.engine.status, auth_id)
    return {"status": view.status, "reason": view.reason}
