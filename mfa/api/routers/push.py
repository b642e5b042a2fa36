"""``/v1/push``: the authenticator app approves or denies a push notification."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from mfa.api.deps import RuntimeDep
from mfa.api.params import AuthIdPath
from mfa.api.routers import problems
from mfa.api.routers.auth import verdict_body
from mfa.api.schemas import PushRespond, VerdictPublic

__all__ = ["router"]

router = APIRouter(prefix="/v1/push", tags=["push"], responses=problems(422))


@router.post("/{auth_id}/respond", response_model=VerdictPublic)
async def respond(auth_id: AuthIdPath, body: PushRespond, runtime: RuntimeDep) -> dict[str, Any]:
    """``not_activated`` when the device token is not the activated one; ``user_denied``
    when the person pressed Deny."""
    verdict = runtime.engine.respond_push(auth_id, body.device_token, body.approve)
    runtime.metrics.record_verdict("push", verdict)
    return verdict_body(verdict)
