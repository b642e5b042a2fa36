"""Errors as ``application/problem+json`` (RFC 9457).

Every error the API returns has the same shape — ``type``, ``title``, ``status``, ``detail``,
``instance`` plus a few extension members — so a client (or a Locust failure row) can key on
``type``/``reason`` and a person can read ``detail``. The engine's own errors map onto HTTP
statuses here and nowhere else: ``InvalidInput`` → 422 naming the field, ``NotFound`` → 404,
``ConflictError`` → 409, ``TokenImportError`` and ``EnrolmentError`` → 422 listing every
problem, ``DeliveryError`` → 502, ``ServiceUnavailable`` → 503 with
``Retry-After``. A validation failure names each bad field in ``detail`` and in ``errors``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from mfa.errors import (
    ConflictError,
    DeliveryError,
    InvalidInput,
    NotFound,
    RejectedBatch,
    ServiceUnavailable,
    TokenImportError,
)

__all__ = [
    "PROBLEM_JSON",
    "ApiProblem",
    "install_problem_handlers",
    "problem_response",
    "retry_after_header",
]

PROBLEM_JSON = "application/problem+json"
_TYPE_PREFIX = "urn:mfalab:problem:"


class ApiProblem(Exception):
    """An error a route raises on purpose; rendered as problem+json."""

    def __init__(
        self,
        status: int,
        kind: str,
        detail: str,
        *,
        title: str | None = None,
        headers: Mapping[str, str] | None = None,
        **extensions: Any,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.kind = kind
        self.detail = detail
        self.title = title or HTTPStatus(status).phrase
        self.headers = dict(headers or {})
        self.extensions = extensions


def retry_after_header(seconds: float | None) -> dict[str, str]:
    """``Retry-After`` in whole seconds, rounded up so a client that waits that long is
    never refused again for the same reason."""
    if seconds is None:
        return {}
    return {"Retry-After": str(max(1, math.ceil(seconds)))}


def problem_response(
    request: Request,
    status: int,
    kind: str,
    detail: str,
    *,
    title: str | None = None,
    headers: Mapping[str, str] | None = None,
    **extensions: Any,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": "about:blank" if kind == "about:blank" else _TYPE_PREFIX + kind,
        "title": title or HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "instance": request.url.path,
        **extensions,
    }
    return JSONResponse(
        body, status_code=status, headers=dict(headers or {}), media_type=PROBLEM_JSON
    )


def _field_name(loc: Sequence[Any]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in ("body", "query", "path", "header"):
        where, rest = parts[0], parts[1:]
        if where == "body":
            return ".".join(rest) or "body"
        return ".".join(rest) + f" ({where})" if rest else where
    return ".".join(parts)


def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
    errors = [
        {"field": _field_name(err.get("loc", ())), "message": str(err.get("msg", "invalid"))}
        for err in exc.errors()
    ]
    detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors) or "invalid request"
    return problem_response(request, 422, "validation", detail, errors=errors)


def _invalid_input(request: Request, exc: InvalidInput) -> JSONResponse:
    errors = [{"field": exc.field, "message": exc.reason}]
    return problem_response(request, 422, "validation", str(exc), errors=errors)


def _rejected_batch(request: Request, exc: RejectedBatch) -> JSONResponse:
    problems = [{"where": p.where, "reason": p.reason} for p in exc.problems]
    detail = f"{len(problems)} problem(s) in {exc.source}, {exc.outcome}: " + "; ".join(
        f"{p['where']}: {p['reason']}" for p in problems
    )
    kind = "token-import" if isinstance(exc, TokenImportError) else "enrolment"
    return problem_response(request, 422, kind, detail, problems=problems)


def _not_found(request: Request, exc: NotFound) -> JSONResponse:
    return problem_response(request, 404, "not-found", str(exc))


def _conflict(request: Request, exc: ConflictError) -> JSONResponse:
    return problem_response(request, 409, "conflict", str(exc))


def _delivery(request: Request, exc: DeliveryError) -> JSONResponse:
    return problem_response(request, 502, "delivery-failed", str(exc))


def _unavailable(request: Request, exc: ServiceUnavailable) -> JSONResponse:
    """A store failed: the request had no effect (the engine saw to it) and may be retried."""
    return problem_response(
        request,
        503,
        "service-unavailable",
        str(exc),
        title="Service Unavailable",
        headers=retry_after_header(exc.retry_after),
        failing=exc.what,
        retry_after=exc.retry_after,
    )


def _api_problem(request: Request, exc: ApiProblem) -> JSONResponse:
    return problem_response(
        request,
        exc.status,
        exc.kind,
        exc.detail,
        title=exc.title,
        headers=exc.headers,
        **exc.extensions,
    )


def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
    return problem_response(
        request, exc.status_code, "about:blank", detail, headers=getattr(exc, "headers", None)
    )


def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    # the traceback goes to the server log, never to the client
    return problem_response(request, 500, "internal", "the server failed; see its log")


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _validation)  # type: ignore[arg-type]
    app.add_exception_handler(InvalidInput, _invalid_input)  # type: ignore[arg-type]
    app.add_exception_handler(RejectedBatch, _rejected_batch)  # type: ignore[arg-type]
    app.add_exception_handler(NotFound, _not_found)  # type: ignore[arg-type]
    app.add_exception_handler(ConflictError, _conflict)  # type: ignore[arg-type]
    app.add_exception_handler(DeliveryError, _delivery)  # type: ignore[arg-type]
    app.add_exception_handler(ServiceUnavailable, _unavailable)  # type: ignore[arg-type]
    app.add_exception_handler(ApiProblem, _api_problem)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, _http)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, _unexpected)
