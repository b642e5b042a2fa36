"""``/v1/tokens/import``: OATH TOTP hardware tokens from a PSKC or CSV file, all or nothing."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from mfa.api.deps import EngineDep
from mfa.api.routers import problems
from mfa.api.schemas import TokenImport, TokensImported

__all__ = ["router"]

router = APIRouter(prefix="/v1/tokens", tags=["tokens"], responses=problems(409, 422))


@router.post("/import", response_model=TokensImported)
async def import_tokens(body: TokenImport, engine: EngineDep) -> dict[str, Any]:
    """422 lists every bad row or key (``problems``) and nothing is imported; 409 when a
    serial was imported before."""
    from mfa.tokens.importer import parse_token_file

    tokens = parse_token_file(
        body.content, body.format, password=body.password, source=f"{body.format} content"
    )
    serials = engine.import_tokens(tokens)
    return {"imported": len(serials), "serials": serials}
