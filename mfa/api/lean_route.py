"""``LeanRoute``: the one route class of every router — FastAPI's declaration, a lean
request path.

Every route is declared once, the FastAPI way (path and query parameters, a body model,
the response model and status code), and ``/openapi.json`` is generated from that
declaration. What FastAPI does per request for a route — a dependency solve over path,
query, header, cookie and body parameters, a cache key per dependency, the body parsed by
``json`` and then validated — cost the sign-in path more than its SQLite statements: plain
``APIRoute``\\ s served verify at 28 % of ``/healthz`` (issue 12's target is 40 %), so the hot
routes used to be declared twice, once more as Starlette routes with their own parser.

``LeanRoute`` does the same work in one pass, once for all routes, for every route whose
declaration needs nothing more (a *plain* route):

* path and query parameters validated by FastAPI's own fields (the same validation and
  the same error locations), their keys in the request worked out once;
* the JSON body through the model's ``model_validate_json`` (pydantic-core parses and
  validates in one pass); a body over ``OFF_LOOP_BODY`` bytes is validated in a worker
  thread, so a 10 MB import never holds the event loop;
* dependencies that take only the ``Request`` (``RuntimeDep``, ``EngineDep``) called
  directly;
* the answer serialized by FastAPI's ``serialize_response`` against the response model.

Measured with ``bench/http_bench.py`` (docs/api.md): the verify path at 39–44 % of
``/healthz`` on the wall clock, 42–52 % per server CPU-second, the same as the second copy
it replaced within the machine's noise.

Errors are the ``RequestValidationError`` FastAPI raises (locations under ``path``,
``query`` or ``body``), so the app's handlers answer the same problem+json 422 naming the
field. A route that is not plain (a header or cookie parameter, a sub-dependency, a
``yield`` dependency, a form, a sync endpoint) gets FastAPI's own handler: nothing a
declaration can say is ever ignored. (``app.dependency_overrides`` is not consulted: tests
inject an engine or settings into ``create_app`` instead.)
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Awaitable, Callable, Mapping, Sequence
from copy import deepcopy
from dataclasses import dataclass
from typing import Any

import fastapi.routing
from fastapi import params
from fastapi._compat import field_annotation_is_sequence, get_missing_field_error
from fastapi.datastructures import DefaultPlaceholder
from fastapi.dependencies.models import Dependant
from fastapi.dependencies.utils import request_params_to_args
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute, serialize_response
from fastapi.utils import is_body_allowed_for_status_code
from pydantic import BaseModel, Json, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import request_response

__all__ = ["OFF_LOOP_BODY", "LeanRoute", "parse_body"]

#: Bodies larger than this (bytes) are validated in a worker thread, not on the event loop.
OFF_LOOP_BODY = 256 * 1024

Handler = Callable[[Request], Awaitable[Response]]


class LeanRoute(APIRoute):
    """An ``APIRoute`` whose plain declarations are served without the dependency solver
    (see the module docstring); set as ``route_class`` on every router."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        self._lean: Handler | None = None
        super().__init__(path, endpoint, **kwargs)
        if self._lean is not None and self.max_body_size is None:
            # Starlette's wrapper: FastAPI's adds two exit stacks, for ``yield``
            # dependencies, which a plain route has not
            self.app = request_response(self._lean)

    @property
    def lean(self) -> bool:
        """Whether requests skip FastAPI's dependency solver (the declaration is plain)."""
        return self._lean is not None

    def get_route_handler(self) -> Handler:
        route = _effective(self)
        plan = _Plan.of(route)
        if plan is None:
            return super().get_route_handler()
        if route is self:
            self._lean = plan.answer
        return plan.answer


def _effective(route: APIRoute) -> Any:
    """The route as included in the app (prefix, dependencies and overrides of the routers
    that include it), which is what FastAPI itself builds the handler from."""
    context_var = getattr(fastapi.routing, "_effective_route_context_var", None)
    context = context_var.get() if context_var is not None else None
    if context is not None and getattr(context, "original_route", None) is route:
        return context
    return route


@dataclass(frozen=True)
class _Plan:
    """What a plain route does per request, worked out once from its declaration."""

    call: Callable[..., Awaitable[Any]]
    path: tuple[_Parameter, ...]
    query: tuple[_Parameter, ...]
    body: tuple[str, type[BaseModel]] | None
    json_only: bool
    request_name: str | None
    dependencies: tuple[tuple[str | None, Callable[[Request], Awaitable[Any]]], ...]
    serialize: dict[str, Any]
    status_code: int | None
    response_class: type[Response] | None  # None: JSON bytes from the response model

    @classmethod
    def of(cls, route: Any) -> _Plan | None:
        """The plan of a plain route; None when FastAPI must solve it."""
        dependant: Dependant = route.dependant
        if not _plain(dependant) or not inspect.iscoroutinefunction(dependant.call):
            return None
        dependencies = tuple(_request_only(d) for d in dependant.dependencies)
        if any(d is None for d in dependencies):
            return None
        body = _body(dependant.body_params)
        if body is False:
            return None
        response_class = route.response_class
        dump_json = route.response_field is not None and isinstance(
            response_class, DefaultPlaceholder
        )
        if isinstance(response_class, DefaultPlaceholder):
            response_class = response_class.value
        strict = route.strict_content_type
        return cls(
            call=dependant.call,  # type: ignore[arg-type]
            path=tuple(_Parameter.of(f) for f in dependant.path_params),
            query=tuple(_Parameter.of(f) for f in dependant.query_params),
            body=body,
            json_only=strict.value if isinstance(strict, DefaultPlaceholder) else strict,
            request_name=dependant.request_param_name,
            dependencies=dependencies,  # type: ignore[arg-type]
            serialize={
                "field": route.response_field,
                "include": route.response_model_include,
                "exclude": route.response_model_exclude,
                "by_alias": route.response_model_by_alias,
                "exclude_unset": route.response_model_exclude_unset,
                "exclude_defaults": route.response_model_exclude_defaults,
                "exclude_none": route.response_model_exclude_none,
                "dump_json": dump_json,
            },
            status_code=route.status_code,
            response_class=None if dump_json else response_class,
        )

    async def answer(self, request: Request) -> Response:
        values = await self._arguments(request)
        raw = await self.call(**values)
        if isinstance(raw, Response):
            return raw
        content = await serialize_response(response_content=raw, **self.serialize)
        extra = {} if self.status_code is None else {"status_code": self.status_code}
        if self.response_class is None:
            response = Response(content, media_type="application/json", **extra)
        else:
            response = self.response_class(content, **extra)
        if not is_body_allowed_for_status_code(response.status_code):
            response.body = b""
        return response

    async def _arguments(self, request: Request) -> dict[str, Any]:
        errors: list[Any] = []
        values: dict[str, Any] = {}
        if self.path:
            _read_parameters(self.path, request.path_params, values, errors)
        if self.query:
            _read_parameters(self.query, request.query_params, values, errors)
        if self.body is not None:
            name, model = self.body
            try:
                values[name] = await self._read_body(request, model)
            except RequestValidationError as exc:
                errors.extend(exc.errors())
        if errors:
            raise RequestValidationError(errors)
        if self.request_name is not None:
            values[self.request_name] = request
        for name, dependency in self.dependencies:
            value = await dependency(request)
            if name is not None:
                values[name] = value
        return values

    async def _read_body(self, request: Request, model: type[BaseModel]) -> BaseModel:
        raw = await request.body()
        if not raw:
            raise _invalid([{"type": "missing", "loc": (), "msg": "Field required"}])
        if self.json_only and not _is_json(_content_type(request)):
            message = "a JSON body is required (Content-Type: application/json)"
            raise _invalid([{"type": "model_attributes_type", "loc": (), "msg": message}])
        if len(raw) > OFF_LOOP_BODY:
            return await run_in_threadpool(parse_body, raw, model)
        return parse_body(raw, model)


@dataclass(frozen=True)
class _Parameter:
    """A path or query parameter: its key in the request, worked out once. FastAPI's
    ``request_params_to_args`` looks the key up anew on every request, at about 10 µs a
    parameter; a parameter it alone can read (a list, a model, alias choices) still goes
    through it."""

    field: Any  # FastAPI's ModelField: its own validation and error locations
    key: str
    loc: tuple[str, str]
    simple: bool
    required: bool
    #: what a missing optional parameter becomes without validation (None: validate it)
    default: Callable[[], Any] | None

    @classmethod
    def of(cls, field: Any) -> _Parameter:
        info = field.field_info
        alias = info.validation_alias
        simple = (
            (alias is None or isinstance(alias, str))
            and not field_annotation_is_sequence(info.annotation)
            and not (isinstance(info.annotation, type) and issubclass(info.annotation, BaseModel))
            and not any(type(item) is Json for item in info.metadata)
        )
        key = alias if isinstance(alias, str) else field.alias
        default = None
        if not info.is_required() and not info.validate_default:
            value = field.default
            immutable = value is None or isinstance(value, bool | int | float | str | bytes)
            default = (lambda: value) if immutable else (lambda: deepcopy(value))
        return cls(
            field=field,
            key=key,
            loc=(info.in_.value, key),
            simple=simple,
            required=info.is_required(),
            default=default,
        )


def _read_parameters(
    parameters: Sequence[_Parameter],
    source: Mapping[str, Any],
    values: dict[str, Any],
    errors: list[Any],
) -> None:
    """Validate each parameter from ``source`` into ``values`` (errors into ``errors``), as
    FastAPI does: a missing parameter is its default, or an error if it is required."""
    for parameter in parameters:
        field = parameter.field
        if not parameter.simple:
            found, bad = request_params_to_args([field], source)
            values.update(found)
            errors.extend(bad)
            continue
        raw = source.get(parameter.key)
        if raw is None:
            if parameter.required:
                errors.append(get_missing_field_error(parameter.loc))
                continue
            if parameter.default is not None:
                values[field.name] = parameter.default()
                continue
            raw = deepcopy(field.default)
        value, bad = field.validate(raw, values, loc=parameter.loc)
        if bad:
            errors.extend(bad)
        else:
            values[field.name] = value


def _plain(dependant: Dependant) -> bool:
    """Nothing but path and query parameters, a body, the request and dependencies."""
    return not (
        dependant.header_params
        or dependant.cookie_params
        or dependant.websocket_param_name
        or dependant.http_connection_param_name
        or dependant.response_param_name
        or dependant.background_tasks_param_name
        or dependant.security_scopes_param_name
    )


def _request_only(
    dependency: Dependant,
) -> tuple[str | None, Callable[[Request], Awaitable[Any]]] | None:
    """``(parameter name, call)`` for an ``async`` dependency that takes only the request."""
    call = dependency.call
    takes_only_the_request = (
        _plain(dependency)
        and not dependency.dependencies
        and not dependency.path_params
        and not dependency.query_params
        and not dependency.body_params
        and dependency.request_param_name is not None
    )
    if not takes_only_the_request or not inspect.iscoroutinefunction(call):
        return None
    request_name = dependency.request_param_name
    assert call is not None and request_name is not None

    async def resolve(request: Request) -> Any:
        return await call(**{request_name: request})

    return dependency.name, resolve


def _body(fields: Sequence[Any]) -> tuple[str, type[BaseModel]] | bool | None:
    """``(parameter name, model)`` for one required JSON body model; None without a body;
    False for what FastAPI must read (forms, files, several or embedded bodies)."""
    if not fields:
        return None
    if len(fields) > 1:
        return False
    field = fields[0]
    info = field.field_info
    model = info.annotation
    plain_json = (
        isinstance(info, params.Body)
        and not isinstance(info, params.Form)
        and not getattr(info, "embed", False)
        and info.is_required()
    )
    if not plain_json or not (isinstance(model, type) and issubclass(model, BaseModel)):
        return False
    return field.name, model


def _content_type(request: Request) -> str | None:
    """The ``Content-Type`` header, read from the raw headers (``request.headers`` builds a
    mapping of them all for one look-up)."""
    for name, value in request.scope["headers"]:
        if name == b"content-type":
            return str(value.decode("latin-1"))
    return None


def _is_json(content_type: str | None) -> bool:
    """``application/json`` or ``application/…+json``, as FastAPI reads a body."""
    if content_type is None:
        return False
    kind = content_type.partition(";")[0].strip().lower()
    main, _, sub = kind.partition("/")
    return main == "application" and (sub == "json" or sub.endswith("+json"))


def parse_body(raw: bytes, model: type[BaseModel]) -> BaseModel:
    """The JSON body as ``model`` (one pydantic-core pass); a 422 naming each bad field."""
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        if any(error["type"] == "json_invalid" for error in exc.errors()):
            named = _named(model, raw)
            if named is None:
                message = "not a JSON document in UTF-8"
                raise _invalid([{"type": "json_invalid", "loc": (), "msg": message}]) from None
            exc = named
        raise _invalid(exc.errors(include_url=False, include_context=False)) from None


def _named(model: type[BaseModel], raw: bytes) -> ValidationError | None:
    """The error naming the field, for JSON that pydantic's parser refuses as a whole but
    Python's accepts: a lone surrogate escape (``"\\ud800"``) is not text, and the client
    should learn which field held it, as for any other bad value."""
    try:
        data = json.loads(raw)
    except ValueError:
        return None
    try:
        model.model_validate(data)
    except ValidationError as exc:
        return exc
    return None


def _invalid(errors: Sequence[Any]) -> RequestValidationError:
    """FastAPI's validation error, each location under ``body``."""
    return RequestValidationError(
        [{**error, "loc": ("body", *error.get("loc", ()))} for error in errors]
    )
