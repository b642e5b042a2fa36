"""The API key: every ``/v1`` call presents ``Authorization: Bearer <MFALAB_API_KEY>``.

The check is a pure ASGI middleware on the ``/v1`` prefix rather than a FastAPI dependency:
it covers every ``/v1`` path by construction (a route added later cannot forget it, and an
unknown ``/v1`` path answers 401, not 404, to a caller without the key), and it costs a few
microseconds where a dependency costs a dependency-tree solve on every request. The key is
compared in constant time. ``document_bearer_auth`` writes the scheme into the OpenAPI
document, on every ``/v1`` operation.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from mfa.api.problems import problem_response
from mfa.api.runtime import Runtime

__all__ = ["SCHEME", "ApiKeyMiddleware", "document_bearer_auth"]

SCHEME = "bearerAuth"
_PREFIX = "/v1/"


class ApiKeyMiddleware:
    def __init__(self, app: ASGIApp, runtime: Runtime) -> None:
        self.app = app
        self.runtime = runtime

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and (scope["path"] + "/").startswith(_PREFIX):
            problem = self._refusal(scope)
            if problem is not None:
                await problem_response(
                    Request(scope),
                    401,
                    "unauthorized",
                    problem[0],
                    headers={"WWW-Authenticate": problem[1]},
                )(scope, receive, send)
                return
        await self.app(scope, receive, send)

    def _refusal(self, scope: Scope) -> tuple[str, str] | None:
        """None when the key is right; else (detail, WWW-Authenticate)."""
        header = b""
        for name, value in scope["headers"]:
            if name == b"authorization":
                header = value
                break
        scheme, _, token = header.decode("latin-1").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return "missing API key: send 'Authorization: Bearer <MFALAB_API_KEY>'", "Bearer"
        if not self.runtime.key_matches(token.strip()):
            return "wrong API key", 'Bearer error="invalid_token"'
        return None


def document_bearer_auth(schema: dict[str, Any]) -> dict[str, Any]:
    """Add the bearer scheme and, on every /v1 operation, its requirement and 401 answer."""
    components = schema.setdefault("components", {})
    components.setdefault("securitySchemes", {})[SCHEME] = {
        "type": "http",
        "scheme": "bearer",
        "description": "`Authorization: Bearer <MFALAB_API_KEY>` on every /v1 call.",
    }
    for path, operations in schema.get("paths", {}).items():
        if not path.startswith(_PREFIX):
            continue
        for operation in operations.values():
            operation["security"] = [{SCHEME: []}]
            operation.setdefault("responses", {}).setdefault(
                "401",
                {
                    "description": "Unauthorized",
                    "content": {
                        "application/problem+json": {
                            "schema": {"$ref": "#/components/schemas/Problem"}
                        }
                    },
                },
            )
    return schema
