"""Building a server from ``MFALAB_*`` settings: every port opened by name, bad values named."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import yaml
from fastapi.testclient import TestClient
from pydantic import ValidationError

from mfa.api.app import create_app
from mfa.api.runtime import ServerConfigError
from mfa.settings import Settings
from tests.mfa.api.support import API_KEY, US_PHONE

SECRET = "a-passphrase-of-enough-length"


def test_a_server_built_from_settings_serves_and_persists(tmp_path: Path) -> None:
    settings = Settings(
        api_key=API_KEY,
        secret_key=SECRET,
        db_url=f"sqlite:///{tmp_path / 'mfalab.db'}",
        server_name="mfa7",
        mode="cloud",
    )
    headers = {"Authorization": f"Bearer {API_KEY}"}
    with TestClient(create_app(settings), headers=headers) as client:
        assert client.get("/healthz").json() == {"status": "ok", "server": "mfa7"}
        assert (
            client.post("/v1/users", json={"user_id": "ann", "phone": US_PHONE}).status_code == 201
        )
        client.post("/v1/users/ann/methods", json={"type": "totp"})
        challenge = client.post("/v1/auth", json={"user_id": "ann"}).json()
        assert challenge["expires_in"] == 180  # cloud mode
    # a second server on the same database and key sees the user and can read its secret
    with TestClient(
        create_app(settings.model_copy(update={"server_name": "mfa8"})), headers=headers
    ) as client:
        assert client.get("/v1/users/ann/registration").json()["required"] is False
        assert client.post("/v1/users", json={"user_id": "ann"}).status_code == 409


@pytest.mark.parametrize(
    ("changes", "variable"),
    [
        ({"api_key": None}, "MFALAB_API_KEY"),
        ({"secret_key": None}, "MFALAB_SECRET_KEY"),
        ({"server_name": "Not A Name"}, "MFALAB_SERVER_NAME"),
    ],
)
def test_missing_or_bad_settings_name_the_variable(changes: dict, variable: str) -> None:
    settings = Settings(api_key=API_KEY, secret_key=SECRET, db_url="memory").model_copy(
        update=changes
    )
    with pytest.raises(ServerConfigError, match=variable):
        create_app(settings)


@pytest.mark.parametrize(
    ("field", "value"),
    [("pending", "memcached://x"), ("gateway", "carrier-pigeon"), ("otp_timeout", "0")],
)
def test_settings_refuse_bad_values(
    monkeypatch: pytest.MonkeyPatch, field: str, value: str
) -> None:
    monkeypatch.setenv(f"MFALAB_{field.upper()}", value)
    with pytest.raises(ValidationError, match=f"MFALAB_{field.upper()}"):
        Settings()


def test_sink_peers_and_scenario_path_are_parsed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MFALAB_SINK_PEERS", " http://127.0.0.1:8002/, http://127.0.0.1:8003 ,")
    monkeypatch.setenv("MFALAB_GATEWAY", "simulated: scenarios/us_baseline.yaml")
    settings = Settings()
    assert settings.peer_urls == ["http://127.0.0.1:8002", "http://127.0.0.1:8003"]
    assert settings.scenario_path == "scenarios/us_baseline.yaml"
    assert Settings(gateway="sink").scenario_path is None


def test_a_simulated_gateway_shows_a_code_only_once_delivered(tmp_path: Path) -> None:
    scenario = yaml.safe_load(Path("scenarios/us_baseline.yaml").read_text())
    fast = {"share": 1.0, "delivery_probability": 1.0, "latency": {"median_s": 0.3, "p95_s": 0.6}}
    scenario["carriers"] = {"US": [{"name": "fast_carrier", **fast}]}
    # nothing else may lose the text: no blocking app, phones reachable, providers healthy
    population = scenario.setdefault("population", {})
    population.update(
        security_app_share=0.0, connectivity={"wifi_and_cellular": 1.0}, signal={"good": 1.0}
    )
    scenario["providers"] = [{"name": "provider_a", "error_rate": 0.0}]
    path = tmp_path / "fast.yaml"
    path.write_text(yaml.safe_dump(scenario))
    settings = Settings(
        api_key=API_KEY, secret_key=SECRET, db_url="memory", gateway=f"simulated:{path}"
    )
    headers = {"Authorization": f"Bearer {API_KEY}"}
    with TestClient(create_app(settings), headers=headers) as client:
        client.post("/v1/users", json={"user_id": "sim", "phone": US_PHONE})
        client.post("/v1/users/sim/methods", json={"type": "sms"})
        sent = time.monotonic()
        auth_id = client.post("/v1/auth", json={"user_id": "sim"}).json()["auth_id"]
        outbox: list = []
        while not outbox and time.monotonic() - sent < 10:
            outbox = client.get("/v1/sink/messages", params={"to": US_PHONE}).json()
            time.sleep(0.02)
        waited = time.monotonic() - sent
        assert outbox, "the simulated carrier never delivered"
        assert 0.05 < waited < 5  # late, as carriers are, but not lost
        verdict = client.post(f"/v1/auth/{auth_id}/verify", json={"code": outbox[0]["code"]})
        assert verdict.json() == {"result": "success", "reason": None}


def test_a_bad_scenario_file_names_the_gateway_setting(tmp_path: Path) -> None:
    settings = Settings(
        api_key=API_KEY, secret_key=SECRET, db_url="memory", gateway="simulated:nowhere.yaml"
    )
    with pytest.raises(ServerConfigError, match=r"MFALAB_GATEWAY: nowhere\.yaml"):
        create_app(settings)


def test_push_number_matching_is_on_by_default_and_can_be_turned_off(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from mfa.push_proof import PushDevice

    device = PushDevice.generate()
    headers = {"Authorization": f"Bearer {API_KEY}"}
    for env, numbered in ((None, True), ("false", False), ("1", True)):
        if env is None:
            monkeypatch.delenv("MFALAB_PUSH_NUMBER_MATCHING", raising=False)
        else:
            monkeypatch.setenv("MFALAB_PUSH_NUMBER_MATCHING", env)
        settings = Settings(api_key=API_KEY, secret_key=SECRET, db_url="memory")
        assert settings.push_number_matching is numbered
        with TestClient(create_app(settings), headers=headers) as client:
            client.post("/v1/users", json={"user_id": "ann"})
            body = {"type": "push", "device_token": "device-ann-1", "public_key": device.public_key}
            assert client.post("/v1/users/ann/methods", json=body).status_code == 201
            begun = client.post("/v1/auth", json={"user_id": "ann"}).json()
            assert ("number" in begun) is numbered
            number = begun.get("number")
            answer = {
                "approve": True,
                "number": number,
                "signature": device.answer(begun["auth_id"], True, number),
            }
            verdict = client.post(f"/v1/push/{begun['auth_id']}/respond", json=answer).json()
            assert verdict == {"result": "success", "reason": None}
    monkeypatch.setenv("MFALAB_PUSH_NUMBER_MATCHING", "sometimes")
    with pytest.raises(ValidationError, match=r"MFALAB_PUSH_NUMBER_MATCHING|push_number_matching"):
        Settings()
