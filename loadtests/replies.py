"""What a server answer means to the load generator.

The load generator plays the users and their phones, never the MFA server: whether a code is
wrong, expired, replayed or from the wrong server is what the server answers (the engine's
``DenialReason``), and that answer is what Locust records as the failure, so
``wrong_server``, ``expired`` and ``rate_limited`` are separate rows of its failure table."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from mfa.reasons import AuthResult, AuthStatus


def json_body(response: Any) -> Any:
    try:
        return json.loads(response.content or b"null")
    except (ValueError, TypeError):
        return None


class Denied(Exception):
    """A failed request or login, named by the engine's denial reason (``wrong_server``) or,
    when the server gave none, by what the client saw (``http_500``, ``code_not_received``).
    Its ``repr`` is the bare reason, so each reason is one row in Locust's failure table."""

    def __repr__(self) -> str:
        return str(self.args[0])

    def __str__(self) -> str:
        return str(self.args[0])


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    body: Any
    reason: str | None

    @property
    def ok(self) -> bool:
        return self.reason is None

    def get(self, key: str) -> Any:
        return self.body.get(key) if isinstance(self.body, dict) else None


def failure_reason(
    status: int, expected: int, body: Any, error: BaseException | None
) -> str | None:
    """The failure a response stands for, ``None`` when it is a success."""
    if status == 0:
        return _snake(type(error).__name__) if error else "no_response"
    given = body.get("reason") if isinstance(body, dict) else None
    if status != expected:
        return str(given) if given else f"http_{status}"
    if isinstance(body, dict) and (
        body.get("result") == AuthResult.DENIED
        or body.get("status") in (AuthStatus.DENIED, AuthStatus.EXPIRED)
    ):
        return str(given or body.get("status") or body.get("result"))
    return None


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower().removesuffix("_error")
