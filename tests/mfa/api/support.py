"""Helpers shared by the HTTP API tests: constants and ``Api``, a client of the endpoints."""

from __future__ import annotations

import os
from typing import Any

import httpx

API_KEY = "test-api-key-0123456789"
US_PHONE = "+14255550100"
DEVICE_TOKEN = "device-token-0001"


class Api:
    """The documented endpoints over real HTTP (one server or a load balancer)."""

    def __init__(self, base_url: str, api_key: str, **headers: str) -> None:
        self.http = httpx.Client(
            base_url=base_url,
            headers={"Authorization": f"Bearer {api_key}", **headers},
            timeout=10.0,
        )

    def close(self) -> None:
        self.http.close()

    def user(self, user_id: str, phone: str = US_PHONE, method: str = "sms", **extra: Any) -> dict:
        created = self.http.post("/v1/users", json={"user_id": user_id, "phone": phone})
        assert created.status_code == 201, created.text
        enrolled = self.http.post(f"/v1/users/{user_id}/methods", json={"type": method, **extra})
        assert enrolled.status_code == 201, enrolled.text
        return enrolled.json()  # type: ignore[no-any-return]

    def begin(self, user_id: str, **extra: Any) -> httpx.Response:
        return self.http.post("/v1/auth", json={"user_id": user_id, **extra})

    def code(self, phone: str = US_PHONE) -> str:
        """The newest code in the outbox for ``phone`` (as the phone's owner reads it)."""
        answer = self.http.get("/v1/sink/messages", params={"to": phone, "limit": 1})
        assert answer.status_code == 200, answer.text
        messages = answer.json()
        assert messages, f"no message to {phone}"
        return messages[0]["code"]  # type: ignore[no-any-return]

    def verify(self, auth_id: str, code: str) -> dict:
        answer = self.http.post(f"/v1/auth/{auth_id}/verify", json={"code": code})
        assert answer.status_code == 200, answer.text
        return answer.json()  # type: ignore[no-any-return]


def phone(n: int) -> str:
    """A distinct valid US number per test user, so outboxes never mix."""
    return f"+1425200{n:04d}"


def services_required() -> bool:
    return os.environ.get("MFALAB_REQUIRE_SERVICES") == "1"
