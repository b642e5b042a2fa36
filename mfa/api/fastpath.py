"""The sign-in path dispatched without FastAPI's per-route machinery.

Begin, the sink read and verify are the requests a load test repeats; their routes read
the request themselves (``mfa.api.bodies``), so they are plain ``Request -> Response``
functions. ``install_fast_path`` puts a Starlette route for each of them in front of the
app's routes: such a route costs a regex match and a call, where an ``APIRoute`` adds a
dependency solve and FastAPI's handler wrapper. The ``APIRoute`` stays registered behind
it and is what ``/openapi.json`` documents; errors still go through the app's problem
handlers (Starlette's exception middleware covers every route), and the route is named in
the scope like an ``APIRoute`` is, so the latency histogram keeps its route template.
A request with another method than the fast route's falls through to the usual routes
(405 and the like stay theirs).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, FastAPI
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match, Route
from starlette.types import Scope

__all__ = ["FastRoute", "install_fast_path"]

Endpoint = Callable[[Request], Awaitable[Response]]


class FastRoute(Route):
    """A Starlette route that matches only fully (path and method) and names itself in the
    scope as ``route``, as FastAPI's routes do."""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        match, child_scope = super().matches(scope)
        if match is not Match.FULL:
            return Match.NONE, {}
        child_scope["route"] = self
        return match, child_scope


def install_fast_path(app: FastAPI, endpoints: tuple[tuple[APIRouter, Endpoint], ...]) -> None:
    """Put a fast route in front for each endpoint, with the path and methods of its
    ``APIRoute`` in ``router`` (which the app includes)."""
    fast: list[Any] = []
    for router, endpoint in endpoints:
        found = [r for r in router.routes if getattr(r, "endpoint", None) is endpoint]
        if len(found) != 1:  # the fast route must never be the only one
            raise ValueError(f"{endpoint.__name__} is not one route of its router")
        route: Any = found[0]
        fast.append(
            FastRoute(route.path, endpoint, methods=list(route.methods), include_in_schema=False)
        )
    app.router.routes[:0] = fast
