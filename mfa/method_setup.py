"""Setting a registered method up on the user's device: the authenticator app's push
activation and the TOTP app's provisioning URI, and finding a user's registration by id.

Registering a method (``mfa.registration``) records what the user has; these steps connect
the device to it. A push method answers nothing until it is activated with a device token
(where notifications go) and the Ed25519 public key its answers are signed with
(``mfa.push_proof``). These are steps of ``mfa.engine.Engine``, written as functions of it.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from mfa import registration
from mfa.errors import InvalidInput, NotFound
from mfa.methods import MethodType, RegisteredMethod
from mfa.otp import otpauth_uri
from mfa.push_proof import checked_public_key

if TYPE_CHECKING:
    from mfa.engine import Engine
    from mfa.repository import Repository

__all__ = ["activate_push", "find_method", "provisioning_uri"]


def find_method(repository: Repository, user_id: str, method_id: str) -> RegisteredMethod | None:
    """The user's registration with ``method_id``, if the user still has it."""
    for method in repository.list_methods(user_id):
        if method.method_id == method_id:
            return method
    return None


def activate_push(
    engine: Engine, user_id: str, method_id: str, device_token: str, public_key: str
) -> RegisteredMethod:
    """``Engine.activate_push``: the new device replaces the old one, whose answers are no
    longer accepted."""
    registration.check_device_token(device_token)
    checked_public_key(public_key)
    method = find_method(engine.repository, user_id, method_id)
    if method is None:
        raise NotFound("method", method_id)
    if method.type is not MethodType.PUSH:
        raise InvalidInput("method_id", f"{method_id!r} is not a push method")
    activated = replace(method, device_token=device_token, public_key=public_key, activated=True)
    engine.repository.save_method(activated)
    return activated


def provisioning_uri(method: RegisteredMethod, issuer: str) -> str:
    """``Engine.provisioning_uri``: the ``otpauth://`` URI of a TOTP registration."""
    if method.type is not MethodType.TOTP or method.secret is None:
        raise InvalidInput("type", "only totp methods have a provisioning URI")
    return otpauth_uri(method.secret, method.user_id, issuer)
