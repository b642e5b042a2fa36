"""``/v1/users``: enrolment — users, their methods, push activation, resets, app passwords."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from starlette.concurrency import run_in_threadpool

from mfa.api.deps import EngineDep
from mfa.api.lean_route import LeanRoute
from mfa.api.params import MethodIdPath, UserIdPath
from mfa.api.routers import problems
from mfa.api.schemas import (
    AppPasswordCreated,
    MethodActivate,
    MethodActivated,
    MethodCreate,
    MethodPublic,
    RegistrationPublic,
    UserCreate,
    UserPatch,
    UserPublic,
    UsersSync,
    UsersSynced,
)
from mfa.engine import Engine
from mfa.enrolment import Enrolment
from mfa.errors import InvalidInput
from mfa.methods import MethodType, RegisteredMethod
from mfa.users import User

__all__ = ["router"]

router = APIRouter(
    prefix="/v1/users", tags=["users"], responses=problems(404, 422), route_class=LeanRoute
)


@router.post("", status_code=201, response_model=UserPublic, responses=problems(409))
async def create_user(body: UserCreate, engine: EngineDep) -> dict[str, Any]:
    """409 if the user id exists; 422 naming the bad field (e.g. an invalid phone)."""
    user = engine.create_user(
        body.user_id,
        first_name=body.first_name,
        last_name=body.last_name,
        email=body.email,
        phone=body.phone,
    )
    return _user_public(user)


@router.patch("/{user_id}", response_model=UserPublic)
async def patch_user(user_id: str, body: UserPatch, engine: EngineDep) -> dict[str, Any]:
    """Enable/disable the user and assign/remove their licence; each change is dated by the
    server's clock, and billing reads those dates (a closed month's bill never changes).
    ``null`` is refused: leave a field out to keep it."""
    if "enabled" in body.model_fields_set and body.enabled is None:
        raise InvalidInput("enabled", "must be true or false (leave it out to keep it)")
    if "licensed" in body.model_fields_set and body.licensed is None:
        raise InvalidInput("licensed", "must be true or false (leave it out to keep it)")
    user = engine.get_user(user_id)
    if body.enabled is not None:
        user = engine.set_enabled(user_id, body.enabled)
    if body.licensed is not None:
        user = engine.set_licensed(user_id, body.licensed)
    return _user_public(user)


def _user_public(user: User) -> dict[str, Any]:
    return {
        "user_id": user.user_id,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "email": user.email,
        "phone": user.phone,
        "enabled": user.disabled_at is None,
        "licensed": user.licensed,
    }


@router.post(
    "/sync", response_model=UsersSynced, response_model_exclude_none=True, responses=problems(409)
)
async def sync_users(body: UsersSync, engine: EngineDep) -> dict[str, Any]:
    """A directory sync: every user with their first method, all or nothing. 422 lists every
    bad entry (``problems``) and nobody is enrolled; 409 names the users that exist already.
    totp methods answer their ``secret`` and ``otpauth_uri`` (shown once)."""
    batch = [Enrolment(**user.model_dump()) for user in body.users]  # the same fields
    methods = await run_in_threadpool(engine.enrol_many, batch, source="users")
    return {
        "enrolled": len(methods),
        "methods": [{"user_id": m.user_id, **_method_public(engine, m)} for m in methods],
    }


@router.post(
    "/{user_id}/methods",
    status_code=201,
    response_model=MethodPublic,
    response_model_exclude_none=True,
    responses=problems(409),
)
async def register_method(
    user_id: UserIdPath, body: MethodCreate, engine: EngineDep
) -> dict[str, Any]:
    """A totp method answers its base32 ``secret`` and ``otpauth_uri`` (shown once)."""
    method = engine.register_method(
        user_id,
        body.type,
        phone=body.phone,
        serial=body.serial,
        device_token=body.device_token,
        default=body.default,
        public_key=body.public_key,
    )
    return _method_public(engine, method)


def _method_public(engine: Engine, method: RegisteredMethod) -> dict[str, Any]:
    out: dict[str, Any] = {"method_id": method.method_id, "type": method.type}
    if method.type is MethodType.TOTP:
        out["secret"] = method.secret
        out["otpauth_uri"] = engine.provisioning_uri(method)
    return out


@router.post("/{user_id}/methods/{method_id}/activate", response_model=MethodActivated)
async def activate_push(
    user_id: UserIdPath, method_id: MethodIdPath, body: MethodActivate, engine: EngineDep
) -> dict[str, Any]:
    """Extension: the authenticator app activates a push method with its device token (where
    notifications go) and its Ed25519 public key (what its answers are signed with)."""
    method = engine.activate_push(user_id, method_id, body.device_token, body.public_key)
    return {"method_id": method.method_id, "type": method.type, "activated": method.activated}


@router.post("/{user_id}/reset", status_code=204, response_class=Response)
async def reset_user(user_id: UserIdPath, engine: EngineDep) -> Response:
    """The seed's reset: methods removed, the user must register again."""
    engine.reset_user(user_id)
    return Response(status_code=204)


@router.get("/{user_id}/registration", response_model=RegistrationPublic)
async def registration(user_id: UserIdPath, engine: EngineDep) -> dict[str, Any]:
    reasons = engine.registration_required(user_id)
    return {"required": bool(reasons), "reasons": reasons}


@router.post("/{user_id}/app-passwords", status_code=201, response_model=AppPasswordCreated)
async def create_app_password(user_id: UserIdPath, engine: EngineDep) -> dict[str, str]:
    """Hashing with argon2 is slow on purpose: off the event loop (see check_app_password)."""
    return {"app_password": await run_in_threadpool(engine.create_app_password, user_id)}


@router.delete("/{user_id}/app-passwords", status_code=204, response_class=Response)
async def delete_app_passwords(user_id: UserIdPath, engine: EngineDep) -> Response:
    """The seed: a lost phone that used app passwords → delete them all."""
    engine.delete_app_passwords(user_id)
    return Response(status_code=204)
