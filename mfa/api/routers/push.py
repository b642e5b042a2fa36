"""``/v1/push``: the authenticator app approves or denies a push notification."""

from __future__ import annotations

from functools import partial
from typing import Any

from fastapi import APIRouter

from mfa.api.deps import RuntimeDep
from mfa.api.lean_route import LeanRoute
from mfa.api.params import AuthIdPath
from mfa.api.routers import problems
from mfa.api.routers.auth import verdict_body
from mfa.api.schemas import PushRespond, VerdictPublic

__all__ = ["router"]

router = APIRouter(prefix="/v1/push", tags=["push"], responses=problems(422), route_class=LeanRoute)


@router.post("/{auth_id}/respond", response_model=VerdictPublic)
async def respond(auth_id: AuthIdPath, body: PushRespond, runtime: RuntimeDep) -> dict[str, Any]:
    """The app's answer, signed with the activated device's key: ``bad_signature`` when the
    signature is missing or not that device's, ``wrong_number`` when the typed number is not
    the one the sign-in page showed, ``user_denied`` when the person pressed Deny,
    ``not_activated`` when the method is no longer activated."""
    verdict = await runtime.call(
        partial(
            runtime.engine.respond_push,
            auth_id,
            body.approve,
            signature=body.signature,
            number=body.number,
        )
    )
    runtime.metrics.record_verdict("push", verdict)
    return verdict_body(verdict)
