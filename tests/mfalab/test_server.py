"""The lab's server: the engine's app with the simulator's gateway plugged in."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import yaml
from fastapi.testclient import TestClient

from mfa.api.runtime import ServerConfigError
from mfa.settings import Settings
from mfalab.server import create_app
from tests.mfa.api.support import API_KEY, US_PHONE

SECRET = "a-passphrase-of-enough-length"


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
