"""``/healthz`` and ``/metrics``: unauthenticated, for load balancers and Prometheus.

The only router served by FastAPI's defaults: a plain ``APIRoute`` (every ``/v1`` router
uses ``LeanRoute``), included with ``app.include_router`` (the ``/v1`` routes are put
straight on the app's router). ``/healthz`` is the bare FastAPI endpoint that
``bench/http_bench.py`` measures the sign-in path against (issue 12: verify at ≥ 40 % of
it), so it stays what FastAPI gives anyone; a probe gains nothing from a leaner route.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse

from mfa.api.deps import RuntimeDep
from mfa.api.schemas import HealthPublic

__all__ = ["router"]

router = APIRouter(tags=["health"])

_PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8"


@router.get(
    "/healthz",
    response_model=HealthPublic,
    response_model_exclude_none=True,
    responses={503: {"model": HealthPublic, "description": "a store does not answer"}},
)
async def healthz(runtime: RuntimeDep) -> Any:
    """200 ``{"status": "ok"}`` when the server and its stores answer; 503 ``{"status":
    "degraded", "failing": ["redis"]}`` (within a second) when the database or Redis does
    not, so a load balancer sends sign-ins elsewhere. Names the server."""
    failing = await runtime.failing()
    server = runtime.engine.server.name
    if not failing:
        return {"status": "ok", "server": server}
    body = {"status": "degraded", "server": server, "failing": failing}
    return JSONResponse(body, status_code=503, headers={"Retry-After": "1"})


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {_PROMETHEUS_TEXT: {}}, "description": "Prometheus text"}},
)
async def metrics(runtime: RuntimeDep) -> Response:
    return Response(runtime.metrics.exposition(), media_type=_PROMETHEUS_TEXT)
