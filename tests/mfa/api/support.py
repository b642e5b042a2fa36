"""Helpers shared by the HTTP API tests: constants and ``Api``, a client of the endpoints."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

import httpx

API_KEY = "test-api-key-0123456789"
US_PHONE = "+14255550100"
DEVICE_TOKEN = "device-token-0001"


def shared_cluster(
    servers: int,
    *,
    postgres_url: str,
    redis_url: str,
    redis_namespace: str,
    mode: str = "server",
    workdir: str | None = None,
) -> Any:
    """The production set-up under test: ``servers`` named servers on one PostgreSQL
    database and one Redis pending store (keys under the test's own namespace)."""
    from mfa.api.cluster import ClusterSpec
    from mfalab.server import SERVER_ENTRY

    return ClusterSpec(
        server=SERVER_ENTRY,
        servers=servers,
        base_port=0,
        api_key=API_KEY,
        db_url=postgres_url,
        pending=redis_url,
        mode=mode,
        workdir=workdir,
        extra_env={"MFALAB_REDIS_NAMESPACE": redis_namespace},
    )


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

    def logs_once(self, ready: Callable[[list[dict]], bool], within: float = 5.0) -> list[dict]:
        """``/v1/logs`` as soon as ``ready`` holds for it: a server writes its log in
        batches, so the records another server made reach this one within the log's
        durability bound (50 ms, docs/api.md); ``within`` allows a busy machine."""
        deadline = time.monotonic() + within
        while True:
            answer = self.http.get("/v1/logs")
            assert answer.status_code == 200, answer.text
            records = answer.json()
            if ready(records) or time.monotonic() > deadline:
                return records  # type: ignore[no-any-return]
            time.sleep(0.02)

    def verify(self, auth_id: str, code: str) -> dict:
        answer = self.http.post(f"/v1/auth/{auth_id}/verify", json={"code": code})
        assert answer.status_code == 200, answer.text
        return answer.json()  # type: ignore[no-any-return]


def phone(n: int) -> str:
    """A distinct valid US number per test user, so outboxes never mix."""
    return f"+1425200{n:04d}"


def services_required() -> bool:
    return os.environ.get("MFALAB_REQUIRE_SERVICES") == "1"


class PrivateRedis:
    """A ``redis-server`` of the test's own on a free loopback port, which the test may kill
    (``kill``), pause (``pause``/``resume``, SIGSTOP/SIGCONT) and start again (``start``),
    without touching the shared Redis other tests use."""

    def __init__(self) -> None:
        import shutil

        from mfa.api.children import free_port

        binary = shutil.which("redis-server")
        if binary is None:
            import pytest

            if services_required():
                pytest.fail("redis-server is not installed and MFALAB_REQUIRE_SERVICES=1")
            pytest.skip("redis-server is not installed")
        self.binary = binary
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: Any = None

    def start(self) -> PrivateRedis:
        import subprocess
        import time

        import redis

        self.proc = subprocess.Popen(
            [
                *(self.binary, "--port", str(self.port), "--bind", "127.0.0.1"),
                *("--save", "", "--appendonly", "no", "--protected-mode", "no"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while True:
            try:
                redis.Redis.from_url(self.url, socket_timeout=0.5).ping()
                return self
            except redis.RedisError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def pause(self) -> None:
        import signal

        self.proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        import signal

        self.proc.send_signal(signal.SIGCONT)

    def __enter__(self) -> PrivateRedis:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.resume()
            self.kill()
