"""Request bodies, query strings and path parameters read by the route itself, on the
sign-in path.

FastAPI validates declared parameters through its dependency machinery: per request, a
solve over path, query, header, cookie and body parameters that cost the begin, sink-read
and verify routes more than the engine's SQLite statements. ``read_body`` and
``read_query`` validate the same pydantic models straight from the raw request, and a
validation failure is the same ``RequestValidationError`` (locations under ``body`` or
``query``), so the answer is the same problem+json 422 naming the field. The OpenAPI
document stays as it was: ``documented`` names the body model and the parameters in the
operation, and ``add_body_schemas`` puts the body models' schemas under
``components.schemas``, where FastAPI would have put them.
"""

from __future__ import annotations

import json
from typing import Any, TypeVar

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError

__all__ = ["add_body_schemas", "documented", "parse_body", "read_body", "read_query"]

M = TypeVar("M", bound=BaseModel)
_REF = "#/components/schemas/{model}"


async def read_body(request: Request, model: type[M]) -> M:
    """The JSON body as ``model``; a 422 naming each bad field otherwise."""
    return parse_body(await request.body(), model)


def parse_body(raw: bytes, model: type[M]) -> M:
    """``read_body`` for a body already read (a route that parses a large body in a worker
    thread calls this there)."""
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        if any(error["type"] == "json_invalid" for error in exc.errors()):
            raise _invalid("body", _named(model, raw) or exc) from None
        raise _invalid("body", exc) from None


def _named(model: type[BaseModel], raw: bytes) -> ValidationError | None:
    """The error naming the field, for JSON that pydantic's parser refuses as a whole but
    Python's accepts: a lone surrogate escape (``"\\ud800"``) is not text, and the client
    should learn which field held it, as on every other route."""
    try:
        data = json.loads(raw)
    except ValueError:
        return None
    try:
        model.model_validate(data)
    except ValidationError as exc:
        return exc
    return None


def read_query(request: Request, model: type[M]) -> M:
    """The query string as ``model`` (lax: ``"5"`` is an int, ``"true"`` a bool)."""
    try:
        return model.model_validate(dict(request.query_params))
    except ValidationError as exc:
        raise _invalid("query", exc) from None


def _invalid(where: str, exc: ValidationError) -> RequestValidationError:
    return RequestValidationError(
        [
            {**error, "loc": (where, *error.get("loc", ()))}
            for error in exc.errors(include_url=False, include_context=False)
        ]
    )


def documented(
    body: type[BaseModel] | None = None,
    *,
    path: tuple[str, ...] = (),
    query: type[BaseModel] | None = None,
    hidden: tuple[str, ...] = (),
) -> dict[str, Any]:
    """``openapi_extra`` for a route that reads its ``body`` model, its ``path`` parameters
    (strings) and its ``query`` model itself; ``hidden`` query fields stay undocumented."""
    extra: dict[str, Any] = {}
    from mfa.api.params import path_schema

    parameters: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True, "schema": path_schema(name)} for name in path
    ]
    if query is not None:
        properties = query.model_json_schema(ref_template=_REF)["properties"]
        for name, field in query.model_fields.items():
            if name in hidden:
                continue
            parameter: dict[str, Any] = {
                "name": name,
                "in": "query",
                "required": field.is_required(),
                "schema": properties[name],
            }
            if field.description:
                parameter["description"] = field.description
            parameters.append(parameter)
    if parameters:
        extra["parameters"] = parameters
    if body is not None:
        schema = {"$ref": _REF.format(model=body.__name__)}
        content = {"application/json": {"schema": schema}}
        extra["requestBody"] = {"required": True, "content": content}
    return extra


def add_body_schemas(schema: dict[str, Any], models: tuple[type[BaseModel], ...]) -> dict[str, Any]:
    """Put the schemas of ``models`` (those routes read with ``read_body``) into
    ``components.schemas``, with the enums they refer to."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for model in models:
        body = model.model_json_schema(ref_template=_REF)
        for sub_name, sub_schema in body.pop("$defs", {}).items():
            components.setdefault(sub_name, sub_schema)
        components.setdefault(model.__name__, body)
    return schema
