"""Named dependencies of the routes: the server's runtime and its engine.

(The API key is checked before routing, by ``mfa.api.security``.)

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

from mfa.api.runtime import Runtime
from mfa.engine import Engine

__all__ = ["EngineDep", "RuntimeDep", "runtime_of"]


def runtime_of(request: Request) -> Runtime:
    """The runtime without a dependency: the sign-in routes (begin, sink read, verify) take
    the ``Request`` instead of ``RuntimeDep``, which spares FastAPI a dependency solve per
    request on the path the load tests measure."""
    return request.app.state.runtime  # type: ignore[no-any-return]


async def _runtime(request: Request) -> Runtime:
    return runtime_of(request)


async def _engine(request: Request) -> Engine:
    return request.app.state.runtime.engine  # type: ignore[no-any-return]


#: The whole runtime (engine, metrics, sink): one dependency for routes that need several.
RuntimeDep = Annotated[Runtime, Depends(_runtime)]
EngineDep = Annotated[Engine, Depends(_engine)]
