"""The fraud defences over HTTP: 403 with the reason, the same answer whichever rule
fired, the rule in the server's log, the counts in /metrics, and the settings
(``MFALAB_FRAUD_*``) that turn them on."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from mfa import FraudPolicy, Policy
from mfa.settings import Settings
from mfalab.cli import main
from tests.mfa.api.support import API_KEY

FR = "+33612345678"


def _number(area: str, n: int) -> str:
    return f"+1{area}555{n:04d}"


@pytest.fixture
def guarded(make_engine: Any) -> Iterator[TestClient]:
    """A server with geo permissions (US only), range velocity 2 and an IP limit of 3."""
    from mfa.api.app import create_app

    policy = Policy(
        fraud=FraudPolicy(allowed_countries=frozenset({"US"}), range_max_sends=2, ip_max_sends=3)
    )
    app = create_app(Settings(api_key=API_KEY), engine=make_engine(policy=policy))
    with TestClient(app, headers={"Authorization": f"Bearer {API_KEY}"}) as client:
        yield client


def _user(client: TestClient, user_id: str, phone: str) -> None:
    assert client.post("/v1/users", json={"user_id": user_id, "phone": phone}).status_code == 201
    added = client.post(f"/v1/users/{user_id}/methods", json={"type": "sms"})
    assert added.status_code == 201, added.text


def _begin(client: TestClient, user_id: str, ip: str | None = None) -> Any:
    body: dict[str, str] = {"user_id": user_id}
    if ip is not None:
        body["client_ip"] = ip
    return client.post("/v1/auth", json=body)


def test_a_blocked_country_is_403_country_blocked(guarded: TestClient) -> None:
    _user(guarded, "paris", FR)
    answer = _begin(guarded, "paris")
    assert answer.status_code == 403
    assert answer.json()["reason"] == "country_blocked"
    assert guarded.get("/v1/sink/messages", params={"to": FR}).json() == []


def test_fraud_suspected_answers_the_same_whichever_rule_fired(
    guarded: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    for i in range(4):
        _user(guarded, f"r{i}", _number("425", i))
        _user(guarded, f"i{i}", _number(("206", "212", "305", "503")[i], i))
    assert _begin(guarded, "r0").status_code == 201
    assert _begin(guarded, "r1").status_code == 201
    with caplog.at_level(logging.WARNING, logger="mfa.api"):
        by_range = _begin(guarded, "r2")  # the range's third send
        for i in range(3):
            assert _begin(guarded, f"i{i}", "192.0.2.1").status_code == 201
        by_ip = _begin(guarded, "i3", "192.0.2.1")  # the IP's fourth send
    assert by_range.status_code == by_ip.status_code == 403
    assert by_range.json() == by_ip.json()
    assert by_range.json()["reason"] == "fraud_suspected"
    assert by_range.headers.get("retry-after") is None
    for answer in (by_range, by_ip):
        assert "range" not in answer.text and "client_ip" not in answer.text
    logged = caplog.text
    assert "fraud_suspected (rule range_velocity) user=r2" in logged
    assert "fraud_suspected (rule client_ip) user=i3" in logged


def test_refusals_are_counted_in_metrics_without_the_rule(guarded: TestClient) -> None:
    _user(guarded, "paris", FR)
    for i in range(3):
        _user(guarded, f"r{i}", _number("425", i))
        _begin(guarded, f"r{i}")
    _begin(guarded, "paris")
    text = guarded.get("/metrics").text
    assert 'mfalab_fraud_refusals_total{method="sms",reason="fraud_suspected"} 1.0' in text
    assert 'mfalab_fraud_refusals_total{method="sms",reason="country_blocked"} 1.0' in text
    assert "range_velocity" not in text


def test_settings_turn_the_defences_on(monkeypatch: pytest.MonkeyPatch) -> None:
    assert not Settings().fraud_policy.active  # all off unless set
    for name, value in {
        "MFALAB_FRAUD_ALLOWED_COUNTRIES": "us, ca",
        "MFALAB_FRAUD_RANGE_PREFIX_DIGITS": "4",
        "MFALAB_FRAUD_RANGE_MAX_SENDS": "30",
        "MFALAB_FRAUD_RANGE_WINDOW": "120",
        "MFALAB_FRAUD_CONVERSION_MIN_RATE": "0.2",
        "MFALAB_FRAUD_CONVERSION_MIN_SENDS": "40",
        "MFALAB_FRAUD_CONVERSION_WINDOW": "1800",
        "MFALAB_FRAUD_CONVERSION_GRACE": "20",
        "MFALAB_FRAUD_IP_MAX_SENDS": "10",
        "MFALAB_FRAUD_IP_WINDOW": "60",
    }.items():
        monkeypatch.setenv(name, value)
    assert Settings().fraud_policy == FraudPolicy(
        allowed_countries=frozenset({"US", "CA"}),
        range_prefix_digits=4,
        range_max_sends=30,
        range_window_seconds=120,
        conversion_min_rate=0.2,
        conversion_min_sends=40,
        conversion_window_seconds=1800,
        conversion_grace_seconds=20,
        ip_max_sends=10,
        ip_window_seconds=60,
    )


def test_the_counters_follow_a_redis_pending_store_unless_set() -> None:
    assert Settings().fraud_counters_url == "memory"
    on_redis = Settings(pending="redis://127.0.0.1:6379/0")
    assert on_redis.fraud_counters_url == "redis://127.0.0.1:6379/0"
    own = Settings(pending="redis://127.0.0.1:6379/0", fraud_counters="memory")
    assert own.fraud_counters_url == "memory"


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("MFALAB_FRAUD_IP_MAX_SENDS", "0"),
        ("MFALAB_FRAUD_CONVERSION_MIN_RATE", "1.5"),
        ("MFALAB_FRAUD_ALLOWED_COUNTRIES", "USA"),
        ("MFALAB_FRAUD_RANGE_WINDOW", "-1"),
        ("MFALAB_FRAUD_COUNTERS", "memcached://x"),
    ],
)
def test_serve_names_a_bad_fraud_setting(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    variable: str,
    value: str,
) -> None:
    monkeypatch.setenv("MFALAB_API_KEY", "k" * 20)
    monkeypatch.setenv(variable, value)
    assert main(["serve"]) == 2
    assert variable in capsys.readouterr().err
