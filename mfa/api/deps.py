"""Named dependencies of the routes: the runtime, the engine and the API key check.

Each dependency reads ``request.app.state.runtime`` directly, without sub-dependencies:
FastAPI solves every level of a dependency tree on every request, and on the verify path
that bookkeeping costs more than the engine. They are ``async`` because a sync dependency
would run on the thread pool and the engine is not thread-safe: every route runs the engine
on the worker's event-loop thread, one request at a time per worker process; capacity comes
from more worker processes and servers, as with real MFA servers.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPBearer

from mfa.api.problems import ApiProblem
from mfa.api.runtime import Runtime
from mfa.engine import Engine

__all__ = ["ApiKeyBearer", "EngineDep", "RuntimeDep", "require_api_key"]


class ApiKeyBearer(HTTPBearer):
    """``Authorization: Bearer <MFALAB_API_KEY>``, compared in constant time; 401 otherwise.

    A subclass of ``HTTPBearer`` so that OpenAPI documents the scheme, with the check done
    in the same call (one dependency, not three).
    """

    async def __call__(self, request: Request) -> None:  # type: ignore[override]
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise ApiProblem(
                401,
                "unauthorized",
                "missing API key: send 'Authorization: Bearer <MFALAB_API_KEY>'",
                headers={"WWW-Authenticate": "Bearer"},
            )
        if not request.app.state.runtime.key_matches(token.strip()):
            raise ApiProblem(
                401,
                "unauthorized",
                "wrong API key",
                headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
            )


require_api_key = ApiKeyBearer(
    scheme_name="bearerAuth",
    auto_error=False,
    description="`Authorization: Bearer <MFALAB_API_KEY>` on every /v1 call.",
)


async def _runtime(request: Request) -> Runtime:
    return request.app.state.runtime  # type: ignore[no-any-return]


async def _engine(request: Request) -> Engine:
    return request.app.state.runtime.engine  # type: ignore[no-any-return]


#: The whole runtime (engine, metrics, sink): one dependency for routes that need several.
RuntimeDep = Annotated[Runtime, Depends(_runtime)]
EngineDep = Annotated[Engine, Depends(_engine)]
