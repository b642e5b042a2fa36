"""``/v1/sink/messages``: the development outbox, read as the phone at ``to`` would.

In a cluster every server has its own outbox, yet a phone receives a code whichever server
sent it; so a server also asks the peers named in ``MFALAB_SINK_PEERS`` (with ``local=true``,
which stops the fan-out there) and merges the answers, newest first. A peer that does not
answer is skipped: the phone simply did not get that server's messages.
"""

from __future__ import annotations

import asyncio
import re
from datetime import datetime
from typing import Annotated, Any

import httpx
from fastapi import APIRouter, Query

from mfa.api.deps import RuntimeDep
from mfa.api.lean_route import LeanRoute
from mfa.api.problems import ApiProblem
from mfa.api.routers import problems
from mfa.api.runtime import Runtime
from mfa.api.schemas import RecipientAddress, SinkMessagePublic

__all__ = ["router"]

router = APIRouter(
    prefix="/v1/sink", tags=["sink"], responses=problems(404, 422), route_class=LeanRoute
)


#: ``?to=+1646…`` written without encoding: the query string decodes ``+`` to a space.
_PLUS_AS_SPACE = re.compile(r"^ \d{4,15}$")


def _unplussed(to: str) -> str:
    """The E.164 number a caller meant when its ``+`` arrived as a space (a device token
    never starts with a space followed by digits only)."""
    return "+" + to[1:] if _PLUS_AS_SPACE.match(to) else to


@router.get("/messages", response_model=list[SinkMessagePublic])
async def messages(
    runtime: RuntimeDep,
    to: Annotated[
        RecipientAddress, Query(description="recipient: E.164 number or push device token")
    ],
    limit: Annotated[
        int | None,
        Query(ge=1, le=10_000, description="extension: at most this many, the newest"),
    ] = None,
    # set by a server asking its peers: answer from this outbox only (undocumented)
    local: Annotated[bool, Query(include_in_schema=False)] = False,
) -> list[dict[str, Any]]:
    """Messages to ``to``, newest first (``to=+1…`` may be sent unencoded); 404 when the
    gateway is not the sink (or a simulated gateway in front of it, which shows only the
    messages that have been delivered)."""
    to = _unplussed(to)
    if runtime.sink is None:
        raise ApiProblem(
            404, "no-sink", "this server's gateway is not the sink: there is no outbox to read"
        )
    found = [SinkMessagePublic.of(m) for m in runtime.sink.messages_to(to)[:limit]]
    peers = runtime.settings.peer_urls
    if not local and peers:
        answers = await asyncio.gather(*(_ask_peer(runtime, url, to, limit) for url in peers))
        for answer in answers:
            found.extend(answer)
        found.sort(key=lambda m: m["sent_at"], reverse=True)
        found = found[:limit]
    return found


async def _ask_peer(
    runtime: Runtime, base_url: str, to: str, limit: int | None
) -> list[dict[str, Any]]:
    params: dict[str, str | int] = {"to": to, "local": "true"}
    if limit is not None:
        params["limit"] = limit
    try:
        response = await runtime.http().get(f"{base_url}/v1/sink/messages", params=params)
        response.raise_for_status()
        items = response.json()
    except (httpx.HTTPError, ValueError):
        return []
    for item in items:
        item["sent_at"] = datetime.fromisoformat(item["sent_at"])
    return items  # type: ignore[no-any-return]
