"""Fixtures for the HTTP API tests.

In-process tests drive ``create_app`` with an injected engine on the manual clock (from
tests/mfa/conftest.py), through Starlette's TestClient. End-to-end tests start real
uvicorn processes with ``mfa.api.Cluster`` on free loopback ports (see ``support.Api``).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import Any

import pytest

with warnings.catch_warnings():
    # Starlette asks for httpx2 in its TestClient; the client works the same for these tests
    warnings.filterwarnings("ignore", message=".*httpx2.*")
    from fastapi.testclient import TestClient

from mfa.settings import Settings
from tests.mfa.api.support import API_KEY


@pytest.fixture
def app(make_engine: Any) -> Any:
    from mfa.api.app import create_app

    engine = make_engine()
    application = create_app(Settings(api_key=API_KEY, server_name="mfa1"), engine=engine)
    return application


@pytest.fixture
def client(app: Any) -> Iterator[TestClient]:
    with TestClient(app, headers={"Authorization": f"Bearer {API_KEY}"}) as test_client:
        yield test_client
