"""The FastAPI application factory: the engine served over HTTP.

``create_app(settings)`` builds one app with its own runtime (engine, ports, metrics) on
``app.state`` — nothing lives in module globals, so tests build as many apps as they like and
``uvicorn --factory mfa.api.app:create_app`` builds one per worker from ``MFALAB_*``.

The layer is thin: routes translate JSON to engine calls and engine answers to JSON; every
rule is the engine's. Each request's writes are committed by the repository before the
answer leaves (nothing is buffered here), and the lifespan closes the repository, the
pending store and the gateway when uvicorn shuts down gracefully.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from mfa import __version__
from mfa.api.bodies import add_body_schemas
from mfa.api.fastpath import install_fast_path
from mfa.api.metrics import LatencyMiddleware
from mfa.api.problems import UnexpectedErrors, document_outages, install_problem_handlers
from mfa.api.routers import auth, health, logs, push, sink, tokens, users
from mfa.api.runtime import build_runtime
from mfa.api.security import ApiKeyMiddleware, document_bearer_auth
from mfa.engine import Engine
from mfa.settings import Settings

__all__ = ["create_app"]

_DESCRIPTION = """\
The mfalab reference MFA engine over HTTP. Every `/v1` call needs
`Authorization: Bearer <MFALAB_API_KEY>`. Errors are `application/problem+json` (RFC 9457).
See docs/api.md.
"""


def create_app(settings: Settings | None = None, *, engine: Engine | None = None) -> FastAPI:
    """One server. ``engine`` injects a ready engine (tests, the simulator); otherwise every
    port is opened from ``settings`` (default: ``Settings()`` from the environment)."""
    runtime = build_runtime(settings or Settings(), engine=engine)

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
    # routes are matched in order: the probe, then the sign-in path, then administration
    for module in (health, auth, sink, push, users, tokens, logs):
        app.include_router(module.router)
    install_fast_path(
        app, ((auth.router, auth.begin), (sink.router, sink.messages), (auth.router, auth.verify))
    )

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            schema = document_bearer_auth(add_body_schemas(schema, (*auth.BODIES, *tokens.BODIES)))
            app.openapi_schema = document_outages(schema)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app
