"""``/v1/tokens/import``: OATH TOTP hardware tokens from a PSKC or CSV file, all or nothing.

Parsing a file (up to 10 MB and 100,000 tokens; PBKDF2 for an encrypted PSKC file) and
sealing every secret takes seconds at the limits, so the import runs in a worker thread:
the event loop keeps answering sign-ins and ``/healthz`` meanwhile.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from mfa.api.bodies import documented, parse_body
from mfa.api.deps import runtime_of
from mfa.api.routers import problems
from mfa.api.schemas import TokenImport, TokensImported
from mfa.engine import Engine

__all__ = ["BODIES", "router"]

#: The request body this router reads itself (``mfa.api.bodies``).
BODIES = (TokenImport,)

router = APIRouter(prefix="/v1/tokens", tags=["tokens"], responses=problems(409, 422))


@router.post("/import", response_model=TokensImported, openapi_extra=documented(TokenImport))
async def import_tokens(request: Request) -> JSONResponse:
    """422 lists every bad row or key (``problems``) and nothing is imported; 409 when a
    serial was imported before."""
    raw = await request.body()
    runtime = runtime_of(request)
    # everything from the JSON text to the answer's JSON text runs in the worker thread
    return await run_in_threadpool(
        _import, runtime.engine, raw, runtime.settings.pskc_max_iterations
    )


def _import(engine: Engine, raw: bytes, max_iterations: int) -> JSONResponse:
    from mfa.tokens.importer import parse_token_file

    body = parse_body(raw, TokenImport)
    tokens = parse_token_file(
        body.content,
        body.format,
        password=body.password,
        source=f"{body.format} content",
        max_iterations=max_iterations,
    )
    serials = engine.import_tokens(tokens)
    return JSONResponse({"imported": len(serials), "serials": serials})
