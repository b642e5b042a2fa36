"""Shared fixtures: real PostgreSQL and Redis, mandatory in CI.

Tests that need a service ask for ``postgres_url`` or ``redis_url``. On a machine without
the service they skip; with ``MFALAB_REQUIRE_SERVICES=1`` (set by ``.ci/run``) a missing
service is a failure, so CI can never pass by skipping.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator

import pytest

PG_ADMIN_URL = os.environ.get("MFALAB_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("MFALAB_TEST_REDIS", "redis://127.0.0.1:6379/0")


def _unavailable(what: str, exc: BaseException) -> None:
    message = f"{what} is not reachable ({exc.__class__.__name__}: {exc})"
    if os.environ.get("MFALAB_REQUIRE_SERVICES") == "1":
        pytest.fail(message + " and MFALAB_REQUIRE_SERVICES=1 makes it mandatory")
    pytest.skip(message)


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    import sqlalchemy as sa

    name = f"mfalab_t_{secrets.token_hex(6)}"
    try:
        admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        _unavailable("PostgreSQL at " + PG_ADMIN_URL, exc)
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(
                sa.text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = :n AND pid <> pg_backend_pid()"
                ),
                {"n": name},
            )
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


@pytest.fixture
def redis_url() -> Iterator[str]:
    """The Redis URL, with a unique key namespace in ``MFALAB_TEST_NAMESPACE`` cleaned after."""
    import redis

    try:
        client = redis.Redis.from_url(REDIS_URL)
        client.ping()
    except Exception as exc:
        _unavailable("Redis at " + REDIS_URL, exc)
    namespace = f"mfalab-t-{secrets.token_hex(6)}"
    os.environ["MFALAB_TEST_NAMESPACE"] = namespace
    try:
        yield REDIS_URL
    finally:
        for key in client.scan_iter(f"{namespace}*"):
            client.delete(key)
        client.close()


@pytest.fixture
def redis_namespace(redis_url: str) -> str:
    return os.environ["MFALAB_TEST_NAMESPACE"]
