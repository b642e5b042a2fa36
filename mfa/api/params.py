"""Path parameters, bounded like body fields (``mfa.limits``).

A user id in a path is stored, looked up and logged like one in a body, so it has the same
rule: at most 128 characters, no control characters, NUL or lone surrogates. ``UserIdPath``
and friends do it for ``APIRoute`` parameters; ``read_path`` does it for the fast-path routes
(``mfa.api.fastpath``), which read ``request.path_params`` themselves, with the same 422.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Path, Request
from fastapi.exceptions import RequestValidationError
from pydantic import AfterValidator

from mfa import limits

__all__ = ["PATH_LIMITS", "AuthIdPath", "MethodIdPath", "UserIdPath", "path_schema", "read_path"]

#: The maximum length of each path parameter, by name.
PATH_LIMITS = {
    "user_id": limits.MAX_USER_ID,
    "auth_id": limits.MAX_AUTH_ID,
    "method_id": limits.MAX_METHOD_ID,
}


def path_schema(name: str) -> dict[str, Any]:
    """The OpenAPI schema of a bounded path parameter."""
    return {
        "type": "string",
        "minLength": 1,
        "maxLength": PATH_LIMITS[name],
        "pattern": limits.PRINTABLE,
    }


def _checked(name: str) -> AfterValidator:
    maximum = PATH_LIMITS[name]

    def check(value: str) -> str:
        problem = limits.text_problem(value, maximum=maximum)
        if problem is not None:
            raise ValueError(problem)
        return value

    return AfterValidator(check)


def _path(name: str) -> Any:
    return Annotated[
        str,
        Path(
            min_length=1,
            max_length=PATH_LIMITS[name],
            json_schema_extra={"pattern": limits.PRINTABLE},
        ),
        _checked(name),
    ]


UserIdPath = _path("user_id")
AuthIdPath = _path("auth_id")
MethodIdPath = _path("method_id")


def read_path(request: Request, name: str) -> str:
    """``request.path_params[name]``, or the 422 an ``APIRoute`` would answer."""
    value: str = request.path_params[name]
    problem = limits.text_problem(value, maximum=PATH_LIMITS[name])
    if problem is None and not value:
        problem = "must not be empty"
    if problem is not None:
        raise RequestValidationError(
            [{"loc": ("path", name), "msg": problem, "type": "value_error", "input": None}]
        )
    return value
