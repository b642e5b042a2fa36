"""One router per resource. ``create_app`` includes every ``/v1`` router behind the API key;
``health`` (``/healthz``, ``/metrics``) needs none."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from mfa.api.schemas import Problem

__all__ = ["problems"]


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries documenting problem+json answers for these statuses."""
    return {
        status: {
            "model": Problem,
            "description": HTTPStatus(status).phrase,
            "content": {"application/problem+json": {}},
        }
        for status in statuses
    }
