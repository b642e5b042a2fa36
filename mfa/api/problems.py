"""Errors as ``application/problem+json`` (RFC 9457).

Every error the API returns has the same shape — ``type``, ``title``, ``status``, ``detail``,
``instance`` plus a few extension members — so a client (or a Locust failure row) can key on
``type``/``reason`` and a person can read ``detail``. The engine's own errors map onto HTTP
statuses here and nowhere else: ``InvalidInput`` → 422 naming the field, ``NotFound`` → 404,
``ConflictError`` → 409, ``TokenImportError`` and ``EnrolmentError`` → 422 listing every
problem, ``DeliveryError`` → 502, ``ServiceUnavailable`` (a store did not answer: ``what``
is ``redis`` or ``database``) → 503 with ``Retry-After``. A driver error that escaped its
store (a Redis or database connection failure) is the same 503, never a 500. A validation
failure names each bad field in ``detail`` and in ``errors``.

Every one of these answers leaves the HTTP/1.1 connection open for the next request, 500
included: ``UnexpectedErrors`` answers an unexpected exception itself instead of letting it
reach uvicorn, which would drop the connection without ``Connection: close``.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

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
    "UnexpectedErrors",
    "document_outages",
    "install_problem_handlers",
    "problem_response",
    "retry_after_header",
]

PROBLEM_JSON = "application/problem+json"
_log = logging.getLogger("mfa.api")
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


#: FastAPI's answer to a body that is not JSON (or not UTF-8) on a declared-body route
_UNPARSABLE_BODY = "There was an error parsing the body"


def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
    if exc.status_code == 400 and detail == _UNPARSABLE_BODY:
        # the same answer as every other route (and the fast path) gives a bad body
        errors = [{"field": "body", "message": "not a JSON document in UTF-8"}]
        return problem_response(
            request, 422, "validation", "body: not a JSON document in UTF-8", errors=errors
        )
    headers = dict(getattr(exc, "headers", None) or {})
    if exc.status_code == 405:
        headers["Allow"] = ", ".join(_allowed_methods(request))
    return problem_response(request, exc.status_code, "about:blank", detail, headers=headers)


def _allowed_methods(request: Request) -> list[str]:
    """The methods the OpenAPI document gives this path (Starlette names only the first
    matching route's: ``POST`` and ``DELETE`` on one path are two routes). A literal path
    wins over a template that also matches it (``/v1/auth/app-password`` is not an auth
    id)."""
    import re

    paths = request.app.openapi().get("paths", {})
    path = request.url.path
    literal = paths.get(path)
    if literal is None:
        literal = next(
            (
                operations
                for template, operations in paths.items()
                if "{" in template
                and re.fullmatch(re.sub(r"\\{[^/]+?\\}", "[^/]+", re.escape(template)), path)
            ),
            {},
        )
    methods = {method.upper() for method in literal}
    return sorted(methods)


def _unavailable(request: Request, exc: ServiceUnavailable) -> JSONResponse:
    """A store failed: the request had no effect and may be retried after ``Retry-After``.
    ``what`` (and ``failing``, as in ``/healthz``) names the store."""
    runtime = getattr(request.app.state, "runtime", None)
    if runtime is not None:
        runtime.forget_health()
    detail = f"the {exc.what} did not answer; nothing was changed, retry later"
    return problem_response(
        request,
        503,
        "service-unavailable",
        detail,
        title="Service Unavailable",
        headers=retry_after_header(exc.retry_after),
        what=exc.what,
        failing=exc.what,
        retry_after=exc.retry_after,
    )


def unavailable_of(exc: BaseException) -> ServiceUnavailable | None:
    """The outage a driver error means, if it is one: a Redis connection or timeout error,
    a database that cannot be reached or cancelled the statement."""
    if isinstance(exc, ServiceUnavailable):
        return exc
    try:
        import redis
    except ImportError:  # pragma: no cover - redis is a dependency
        redis = None  # type: ignore[assignment]
    if redis is not None and isinstance(exc, redis.ConnectionError | redis.TimeoutError):
        return ServiceUnavailable("redis", exc.__class__.__name__)
    import sqlalchemy.exc

    orig = getattr(exc, "orig", exc)
    if isinstance(exc, sqlalchemy.exc.OperationalError) or type(orig).__name__ in (
        "OperationalError",
        "QueryCanceled",
    ):
        return ServiceUnavailable("database", exc.__class__.__name__)
    return None


def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    outage = unavailable_of(exc)
    if outage is not None:
        return _unavailable(request, outage)
    # the traceback goes to the server log, never to the client
    _log.error("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    return problem_response(request, 500, "internal", "the server failed; see its log")


class UnexpectedErrors:
    """The innermost safety net: an exception no handler took becomes the 500 (or 503)
    problem here, and is not re-raised. (Starlette's own last-resort handler re-raises after
    answering, and uvicorn then closes the keep-alive connection without saying so: the
    client's next request on it fails.) If the answer had already begun, the connection
    cannot be saved: the exception goes on to uvicorn, which closes it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracked(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracked)
        except Exception as exc:
            if started:
                raise
            await _unexpected(Request(scope), exc)(scope, receive, send)


def document_outages(schema: dict[str, Any]) -> dict[str, Any]:
    """Every ``/v1`` operation may answer 503 (a store did not answer): say so, with its
    ``Retry-After`` header, in the OpenAPI document."""
    answer = {
        "description": "Service Unavailable: the database or Redis did not answer in time",
        "headers": {
            "Retry-After": {"description": "seconds", "schema": {"type": "integer"}},
        },
        "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }
    for path, operations in schema.get("paths", {}).items():
        if path.startswith("/v1/"):
            for operation in operations.values():
                operation.setdefault("responses", {}).setdefault("503", answer)
    return schema


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
