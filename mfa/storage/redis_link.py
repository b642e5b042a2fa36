"""One connection to Redis with its timeouts and a circuit breaker, shared by every store
kept in Redis (pending codes, fraud counters).

Every call has a timeout (``MFALAB_REDIS_TIMEOUT``, 1 s by default) for connecting,
reading and writing, and a failed call raises ``mfa.errors.ServiceUnavailable("redis")``
(503 with ``Retry-After`` over HTTP). The engine runs on the event loop, so a hung Redis
would hold every request of the worker for one timeout per call; after a failure the link
therefore answers ``ServiceUnavailable`` at once for ``retry_after`` seconds (a circuit
breaker) instead of waiting again, and ``ping`` (``/healthz``) tells when Redis is back.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

import redis

from mfa.errors import InvalidInput, ServiceUnavailable
from mfa.storage.locations import StorageUnavailable

__all__ = ["REDIS_SCHEMES", "RedisLink"]

REDIS_SCHEMES = ("redis://", "rediss://", "unix://")
T = TypeVar("T")


class RedisLink:
    """A redis-py client (thread-safe connection pool) and the breaker around its calls.
    ``setting`` names the configuration a bad URL is reported under."""

    def __init__(
        self, url: str, *, timeout: float, retry_after: float, setting: str = "MFALAB_PENDING"
    ) -> None:
        if not isinstance(url, str) or not url.startswith(REDIS_SCHEMES):
            raise InvalidInput(setting, f"{url!r} is not a redis:// URL")
        try:
            self.client = redis.Redis.from_url(
                url, socket_timeout=timeout, socket_connect_timeout=timeout
            )
        except ValueError as exc:
            raise InvalidInput(setting, f"{url!r}: {exc}") from None
        self.retry_after = retry_after
        #: monotonic time until which calls fail at once (the last call failed)
        self._down_until = 0.0
        self._down_reason = ""
        try:
            self.client.ping()
        except redis.RedisError as exc:
            self.client.close()
            raise StorageUnavailable(f"Redis at {_shown(url)} is not reachable: {exc}") from None

    def call(self, action: str, function: Callable[[], T]) -> T:
        """Run one Redis call; a failure opens the breaker and is ``ServiceUnavailable``."""
        if time.monotonic() < self._down_until:
            raise ServiceUnavailable("redis", self._down_reason, retry_after=self.retry_after)
        try:
            return function()
        except redis.RedisError as exc:
            self._down_until = time.monotonic() + self.retry_after
            self._down_reason = f"{action} failed ({exc.__class__.__name__}: {exc})"
            raise ServiceUnavailable(
                "redis", self._down_reason, retry_after=self.retry_after
            ) from None

    def ping(self) -> None:
        """Ask Redis (even while the breaker is open); close the breaker when it answers.
        Raises ``ServiceUnavailable`` when it does not."""
        try:
            self.client.ping()
        except redis.RedisError as exc:
            self._down_until = time.monotonic() + self.retry_after
            self._down_reason = f"ping failed ({exc.__class__.__name__}: {exc})"
            raise ServiceUnavailable("redis", self._down_reason) from None
        self._down_until = 0.0

    def close(self) -> None:
        self.client.close()


def _shown(url: str) -> str:
    """The URL without its password."""
    scheme, sep, rest = url.partition("://")
    if "@" in rest:
        rest = "…@" + rest.split("@", 1)[1]
    return scheme + sep + rest
