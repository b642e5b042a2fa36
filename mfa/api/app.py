"""The FastAPI application factory: the engine served over HTTP.

``create_app(settings)`` builds one app with its own runtime (engine, ports, metrics) on
``app.state`` — nothing lives in module globals, so tests build as many apps as they like and
``uvicorn --factory mfalab.server:create_app`` builds one per worker from ``MFALAB_*`` (the
composition root adds the simulated gateway).

The layer is thin: routes translate JSON to engine calls and engine answers to JSON; every
rule is the engine's. Each request's writes are committed by the repository before the
answer leaves (nothing is buffered here), and the lifespan closes the repository, the
pending store and the gateway when uvicorn shuts down gracefully.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from types import ModuleType
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from mfa import __version__
from mfa.api.metrics import LatencyMiddleware
from mfa.api.problems import UnexpectedErrors, document_outages, install_problem_handlers
from mfa.api.routers import auth, health, logs, push, sink, tokens, users
from mfa.api.runtime import SimulatedGatewayFactory, build_runtime
from mfa.api.security import ApiKeyMiddleware, document_bearer_auth
from mfa.engine import Engine
from mfa.settings import Settings

__all__ = ["SIGN_IN_PATH", "create_app", "include_routes"]

_DESCRIPTION = """\
The mfalab reference MFA engine over HTTP. Every `/v1` call needs
`Authorization: Bearer <MFALAB_API_KEY>`. Errors are `application/problem+json` (RFC 9457).
See docs/api.md.
"""


#: The requests a sign-in repeats (begin, the sink read, verify): matched before any other
#: route, as the ones a server answers most.
SIGN_IN_PATH: tuple[Callable[..., Any], ...] = (auth.begin, auth.verify, sink.messages)


def include_routes(
    app: FastAPI, modules: tuple[ModuleType, ...], *, first: tuple[Callable[..., Any], ...]
) -> None:
    """Every route of each module's router straight on the app's router: the routes of
    ``first`` ahead of all others (FastAPI's own included), the rest last, in order.

    ``app.include_router`` keeps a router as a nested group that FastAPI matches twice per
    request, route by route, switching a context for each: on the verify path that cost
    about 100 µs, more than the route itself. The routes are the routers' own ``LeanRoute``
    objects, with their prefixes, tags and responses already applied; none of these routers
    is included with dependencies or a prefix, which is all ``include_router`` would add.
    """
    routes = [route for module in modules for route in module.router.routes]
    ahead = [route for route in routes if getattr(route, "endpoint", None) in first]
    app.router.routes[:0] = ahead
    app.router.routes.extend(route for route in routes if route not in ahead)


def create_app(
    settings: Settings | None = None,
    *,
    engine: Engine | None = None,
    simulated_gateway: SimulatedGatewayFactory | None = None,
) -> FastAPI:
    """One server. ``engine`` injects a ready engine (tests, the simulator); otherwise every
    port is opened from ``settings`` (default: ``Settings()`` from the environment).
    ``simulated_gateway`` builds a ``MFALAB_GATEWAY=simulated:…`` gateway; the composition
    root (``mfalab.server.create_app``) passes the simulator's."""
    runtime = build_runtime(
        settings or Settings(), engine=engine, simulated_gateway=simulated_gateway
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await app.state.runtime.aclose()

    app = FastAPI(
        title="mfalab",
        version=__version__,
        description=_DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.runtime = runtime
    install_problem_handlers(app)
    # innermost: answers what no handler took, without dropping the connection
    app.add_middleware(UnexpectedErrors)
    app.add_middleware(ApiKeyMiddleware, runtime=runtime)
    app.add_middleware(LatencyMiddleware, metrics=runtime.metrics)
    # the sign-in path first; the probe as FastAPI includes a router by default (it is the
    # benchmark's bare FastAPI endpoint, see mfa.api.routers.health); then the rest
    app.include_router(health.router)
    include_routes(app, (auth, sink, push, users, tokens, logs), first=SIGN_IN_PATH)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            schema = document_bearer_auth(schema)
            app.openapi_schema = document_outages(schema)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app
