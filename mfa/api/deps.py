"""Named dependencies of the routes: the server's runtime and its engine.

(The API key is checked before routing, by ``mfa.api.security``.)

Each dependency takes only the ``Request`` and reads ``request.app.state.runtime``, without
sub-dependencies: ``mfa.api.lean_route.LeanRoute`` then calls it directly instead of
solving a dependency tree on every request. They are ``async`` because a sync dependency
would run on the thread pool and the engine is not thread-safe: every route runs the engine
on the worker's event-loop thread, one request at a time per worker process; capacity comes
from more worker processes and servers, as with real MFA servers.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from mfa.api.runtime import Runtime
from mfa.engine import Engine

__all__ = ["EngineDep", "RuntimeDep"]


async def _runtime(request: Request) -> Runtime:
    return request.app.state.runtime  # type: ignore[no-any-return]


async def _engine(request: Request) -> Engine:
    return request.app.state.runtime.engine  # type: ignore[no-any-return]


#: The whole runtime (engine, metrics, sink): one dependency for routes that need several.
RuntimeDep = Annotated[Runtime, Depends(_runtime)]
EngineDep = Annotated[Engine, Depends(_engine)]
