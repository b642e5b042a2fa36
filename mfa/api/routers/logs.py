"""``/v1/logs``: the authentication log (the seed's fields), oldest first."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query

from mfa.api.deps import EngineDep
from mfa.api.routers import problems
from mfa.api.schemas import LogRecordPublic

__all__ = ["router"]

router = APIRouter(prefix="/v1/logs", tags=["logs"], responses=problems(422))


@router.get("", response_model=list[LogRecordPublic])
async def logs(
    engine: EngineDep,
    since: Annotated[
        datetime | None,
        Query(description="ISO 8601; records begun at or after it (no zone = UTC)"),
    ] = None,
) -> list[dict[str, Any]]:
    """Every server's records when the servers share one database."""
    start = None
    if since is not None:
        start = (since if since.tzinfo else since.replace(tzinfo=UTC)).timestamp()
    return [LogRecordPublic.of(r) for r in engine.repository.logs(since=start)]
