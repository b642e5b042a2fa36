"""``/v1/logs``: the authentication log (the seed's fields), oldest first."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BeforeValidator

from mfa.api.deps import EngineDep
from mfa.api.lean_route import LeanRoute
from mfa.api.routers import problems
from mfa.api.schemas import LogRecordPublic

__all__ = ["router"]

router = APIRouter(prefix="/v1/logs", tags=["logs"], responses=problems(422), route_class=LeanRoute)


def _iso_only(value: object) -> object:
    """``since`` is an ISO 8601 time, as documented; pydantic would also read a number as
    seconds since the epoch, which no client is told about."""
    if isinstance(value, str) and not re.match(r"\d{4}-\d{2}-\d{2}", value.strip()):
        raise ValueError("an ISO 8601 time is required, e.g. 2026-01-01T00:00:00Z")
    return value


@router.get("", response_model=list[LogRecordPublic])
async def logs(
    engine: EngineDep,
    since: Annotated[
        datetime | None,
        Query(description="ISO 8601; records begun at or after it (no zone = UTC)"),
        BeforeValidator(_iso_only),
    ] = None,
) -> list[dict[str, Any]]:
    """Every server's records when the servers share one database."""
    start = None
    if since is not None:
        start = (since if since.tzinfo else since.replace(tzinfo=UTC)).timestamp()
    return [LogRecordPublic.of(r) for r in engine.repository.logs(since=start)]
