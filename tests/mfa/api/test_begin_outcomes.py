"""What a begin that could not be stored or delivered, or was refused, answers over HTTP.

A pending store that fails: 503 problem+json with ``Retry-After``, naming the store, and no
message sent. No provider takes the message: 502, and the log says ``delivery_failed``. A
disabled user: 403 ``user_disabled``.
"""

from __future__ import annotations

import warnings
from typing import Any

from mfa import DeliveryError, MemoryPendingStore, PendingAuth
from mfa.delivery import SinkGateway
from mfa.delivery.message import Message, Receipt
from mfa.settings import Settings
from tests.mfa.api.support import API_KEY, US_PHONE

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message=".*httpx2.*")
    from fastapi.testclient import TestClient


class DownStore(MemoryPendingStore):
    backend = "redis"

    def put(self, pending: PendingAuth, *, keep_until: float) -> None:
        raise ConnectionError("Connection refused")


class NoProvider:
    def send(self, message: Message) -> Receipt:
        raise DeliveryError("every provider refused the message")


def client_for(engine: Any) -> TestClient:
    from mfa.api.app import create_app

    app = create_app(Settings(api_key=API_KEY, server_name="mfa1"), engine=engine)
    return TestClient(app, headers={"Authorization": f"Bearer {API_KEY}"})


def test_a_begin_whose_code_cannot_be_stored_answers_503_and_sends_nothing(
    make_engine: Any, sink: SinkGateway
) -> None:
    engine = make_engine(pending=DownStore())
    engine.create_user("alice", phone=US_PHONE)
    engine.register_method("alice", "sms")
    with client_for(engine) as client:
        for _ in range(engine.policy.max_sends + 1):  # never 429: no send was counted
            answer = client.post("/v1/auth", json={"user_id": "alice"})
            assert answer.status_code == 503, answer.text
            assert answer.headers["content-type"] == "application/problem+json"
            assert int(answer.headers["retry-after"]) >= 1
            assert answer.json()["failing"] == "redis"
            assert "Connection refused" not in answer.text  # no internals to the client
    assert len(sink) == 0


def test_a_begin_no_provider_takes_answers_502_and_is_logged(make_engine: Any) -> None:
    engine = make_engine(gateway=NoProvider())
    engine.create_user("bob", phone=US_PHONE)
    engine.register_method("bob", "sms")
    with client_for(engine) as client:
        assert client.post("/v1/auth", json={"user_id": "bob"}).status_code == 502
        logs = client.get("/v1/logs").json()
    assert [(r["status"], r["reason"]) for r in logs] == [("denied", "delivery_failed")]


def test_a_disabled_user_is_refused_403_user_disabled(make_engine: Any) -> None:
    engine = make_engine()
    engine.create_user("carol", phone=US_PHONE)
    engine.register_method("carol", "sms")
    engine.disable_user("carol")
    with client_for(engine) as client:
        answer = client.post("/v1/auth", json={"user_id": "carol"})
        assert answer.status_code == 403
        assert answer.json()["reason"] == "user_disabled"
        checked = client.post(
            "/v1/auth/app-password", json={"user_id": "carol", "password": "abcd-efgh-ijkm-nopq"}
        )
        assert checked.json() == {"result": "denied", "reason": "user_disabled"}
