"""``/healthz`` and ``/metrics``: unauthenticated, for load balancers and Prometheus."""

from __future__ import annotations

from fastapi import APIRouter, Response

from mfa.api.deps import RuntimeDep
from mfa.api.schemas import HealthPublic

__all__ = ["router"]

router = APIRouter(tags=["health"])

_PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8"


@router.get("/healthz", response_model=HealthPublic)
async def healthz(runtime: RuntimeDep) -> dict[str, str]:
    """Answers as soon as the server can take requests; names the server."""
    return {"status": "ok", "server": runtime.engine.server.name}


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {_PROMETHEUS_TEXT: {}}, "description": "Prometheus text"}},
)
async def metrics(runtime: RuntimeDep) -> Response:
    return Response(runtime.metrics.exposition(), media_type=_PROMETHEUS_TEXT)
