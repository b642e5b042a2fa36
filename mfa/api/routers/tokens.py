"""``/v1/tokens/import``: OATH TOTP hardware tokens from a PSKC or CSV file, all or nothing.

Parsing a file (up to 10 MB and 100,000 tokens; PBKDF2 for an encrypted PSKC file) and
sealing every secret takes seconds at the limits, so the import runs in a worker thread:
the event loop keeps answering sign-ins and ``/healthz`` meanwhile (the body itself is
validated off the loop too, by ``LeanRoute``, when it is large).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool

from mfa.api.deps import RuntimeDep
from mfa.api.lean_route import LeanRoute
from mfa.api.routers import problems
from mfa.api.schemas import TokenImport, TokensImported
from mfa.engine import Engine

__all__ = ["router"]

router = APIRouter(
    prefix="/v1/tokens", tags=["tokens"], responses=problems(409, 422), route_class=LeanRoute
)


@router.post("/import", response_model=TokensImported)
async def import_tokens(body: TokenImport, runtime: RuntimeDep) -> dict[str, Any]:
    """422 lists every bad row or key (``problems``) and nothing is imported; 409 when a
    serial was imported before."""
    serials = await run_in_threadpool(
        _import, runtime.engine, body, runtime.settings.pskc_max_iterations
    )
    return {"imported": len(serials), "serials": serials}


def _import(engine: Engine, body: TokenImport, max_iterations: int) -> list[str]:
    from mfa.tokens.importer import parse_token_file

    tokens = parse_token_file(
        body.content,
        body.format,
        password=body.password,
        source=f"{body.format} content",
        max_iterations=max_iterations,
    )
    return engine.import_tokens(tokens)
