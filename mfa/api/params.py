"""Path parameters, bounded like body fields (``mfa.limits``).

A user id in a path is stored, looked up and logged like one in a body, so it has the same
rule: at most 128 characters, no control characters, NUL or lone surrogates: a 422 naming
the parameter, as for a body field.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Path
from pydantic import AfterValidator

from mfa import limits

__all__ = ["PATH_LIMITS", "AuthIdPath", "MethodIdPath", "UserIdPath"]

#: The maximum length of each path parameter, by name.
PATH_LIMITS = {
    "user_id": limits.MAX_USER_ID,
    "auth_id": limits.MAX_AUTH_ID,
    "method_id": limits.MAX_METHOD_ID,
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
