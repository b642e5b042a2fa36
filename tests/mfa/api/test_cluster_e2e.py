"""End to end against real uvicorn processes: two named servers sharing one SQLite file,
pending codes in each server's memory (the seed's server mode).

One cluster serves the whole module; each test uses its own users and phone numbers.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pyotp
import pytest

from mfa.api import Cluster, ClusterSpec
from mfa.push_proof import PushDevice, fingerprint
from mfalab.server import SERVER_ENTRY
from tests.mfa.api.support import API_KEY, DEVICE_TOKEN, Api, phone

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    with Cluster(
        ClusterSpec(server=SERVER_ENTRY, servers=2, base_port=0, api_key=API_KEY)
    ) as running:
        yield running


@pytest.fixture(scope="module")
def mfa1(cluster: Cluster) -> Iterator[Api]:
    api = Api(cluster.urls[0], cluster.api_key)
    yield api
    api.close()


@pytest.fixture(scope="module")
def mfa2(cluster: Cluster) -> Iterator[Api]:
    api = Api(cluster.urls[1], cluster.api_key)
    yield api
    api.close()


def test_servers_are_named_and_health_needs_no_key(cluster: Cluster) -> None:
    for name, url in zip(cluster.names, cluster.urls, strict=True):
        assert httpx.get(url + "/healthz").json() == {"status": "ok", "server": name}


def test_sms_flow_through_the_sink(mfa1: Api) -> None:
    mfa1.user("sms-user", phone(1))
    begun = mfa1.begin("sms-user", client_ip="198.51.100.4")
    assert begun.status_code == 201
    challenge = begun.json()
    assert challenge["server"] == "mfa1" and challenge["method"] == "sms"
    message = mfa1.http.get("/v1/sink/messages", params={"to": phone(1)}).json()[0]
    assert message["sender"] == challenge["sender"]
    assert message["sender"] in {"97671", "69829", "51789", "99399"}  # US short codes
    assert mfa1.verify(challenge["auth_id"], message["code"]) == {
        "result": "success",
        "reason": None,
    }
    status = mfa1.http.get(f"/v1/auth/{challenge['auth_id']}").json()
    assert status == {"status": "success", "reason": None}


def test_totp_flow(mfa1: Api) -> None:
    secret = mfa1.user("totp-user", phone(2), method="totp")["secret"]
    auth_id = mfa1.begin("totp-user").json()["auth_id"]
    code = pyotp.TOTP(secret).now()
    assert mfa1.verify(auth_id, code)["result"] == "success"
    again = mfa1.begin("totp-user").json()["auth_id"]
    assert mfa1.verify(again, code) == {"result": "denied", "reason": "replayed"}


def test_push_approve_deny_bad_signature_and_not_activated(
    cluster: Cluster, mfa1: Api, mfa2: Api
) -> None:
    device, thief = PushDevice.generate(), PushDevice.generate()
    method = mfa1.user("push-user", phone(3), method="push")
    refused = mfa1.begin("push-user")
    assert refused.status_code == 403 and refused.json()["reason"] == "not_activated"
    activate = f"/v1/users/push-user/methods/{method['method_id']}/activate"
    body = {"device_token": DEVICE_TOKEN, "public_key": device.public_key}
    assert mfa1.http.post(activate, json=body).status_code == 200
    outcomes = []
    for signer, approve in ((device, True), (device, False), (thief, True)):
        begun = mfa1.begin("push-user").json()
        auth_id, number = begun["auth_id"], begun["number"]
        typed = number if approve else None
        answer = {"approve": approve, "signature": signer.answer(auth_id, approve, typed)}
        if approve:
            answer["number"] = number
        verdict = mfa1.http.post(f"/v1/push/{auth_id}/respond", json=answer).json()
        outcomes.append((verdict["result"], verdict["reason"]))
    assert outcomes == [
        ("success", None),
        ("denied", "user_denied"),
        ("denied", "bad_signature"),
    ]
    # the device token is a delivery address: never in clear in the log, nor in any server's
    # log lines
    logs = json.dumps(mfa2.logs_once(lambda r: fingerprint(DEVICE_TOKEN) in json.dumps(r)))
    assert fingerprint(DEVICE_TOKEN) in logs and DEVICE_TOKEN not in logs
    for index in range(len(cluster.urls)):
        assert DEVICE_TOKEN not in cluster.log_tail(index, lines=100_000)


def test_app_passwords(mfa1: Api, mfa2: Api) -> None:
    mfa1.user("app-user", phone(4))
    password = mfa1.http.post("/v1/users/app-user/app-passwords").json()["app_password"]
    check = {"user_id": "app-user", "password": password}
    # the hash lives in the shared database: any server checks it
    assert mfa2.http.post("/v1/auth/app-password", json=check).json()["result"] == "success"
    assert mfa1.http.delete("/v1/users/app-user/app-passwords").status_code == 204
    assert mfa2.http.post("/v1/auth/app-password", json=check).json() == {
        "result": "denied",
        "reason": "wrong_code",
    }


def test_rate_limit_answers_429_with_retry_after(mfa1: Api) -> None:
    mfa1.user("busy-user", phone(5))
    assert [mfa1.begin("busy-user").status_code for _ in range(5)] == [201] * 5
    refused = mfa1.begin("busy-user")
    assert refused.status_code == 429
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert refused.json()["reason"] == "rate_limited"
    assert 290 <= int(refused.headers["Retry-After"]) <= 300


def test_client_errors_over_http(cluster: Cluster, mfa1: Api) -> None:
    anonymous = httpx.post(cluster.urls[0] + "/v1/users", json={"user_id": "x"})
    assert anonymous.status_code == 401 and anonymous.headers["WWW-Authenticate"] == "Bearer"
    mfa1.user("dup-user", phone(6))
    assert mfa1.http.post("/v1/users", json={"user_id": "dup-user"}).status_code == 409
    bad = mfa1.http.post("/v1/users", json={"user_id": "y", "phone": "+1 555"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "phone"


def test_only_the_issuing_server_can_verify(mfa1: Api, mfa2: Api) -> None:
    mfa1.user("affinity-user", phone(7))
    auth_id = mfa1.begin("affinity-user").json()["auth_id"]
    code = mfa2.code(phone(7))  # the phone gets the code, whichever server sent it
    assert mfa2.verify(auth_id, code) == {"result": "denied", "reason": "wrong_server"}
    assert mfa2.http.get(f"/v1/auth/{auth_id}").json() == {
        "status": "denied",
        "reason": "wrong_server",
    }
    assert mfa1.verify(auth_id, code) == {"result": "success", "reason": None}


def test_servers_share_users_and_the_log(mfa1: Api, mfa2: Api) -> None:
    mfa1.user("shared-user", phone(8))
    on_two = mfa2.begin("shared-user").json()
    assert on_two["server"] == "mfa2"
    assert mfa2.verify(on_two["auth_id"], mfa2.code(phone(8)))["result"] == "success"
    ended = mfa1.logs_once(
        lambda rs: any(r["auth_id"] == on_two["auth_id"] and r["result"] == "success" for r in rs)
    )
    records = {r["auth_id"]: r for r in ended}
    assert records[on_two["auth_id"]]["server_name"] == "mfa2"
    assert records[on_two["auth_id"]]["result"] == "success"


def test_a_restarted_server_has_forgotten_its_codes(cluster: Cluster) -> None:
    """Last in the module: it restarts mfa1. The seed: codes live in the server's memory."""
    api = Api(cluster.urls[0], cluster.api_key)
    api.user("restart-user", phone(9))
    auth_id = api.begin("restart-user").json()["auth_id"]
    code = api.code(phone(9))
    api.close()
    cluster.restart(0)
    after = Api(cluster.urls[0], cluster.api_key)
    assert after.verify(auth_id, code) == {"result": "denied", "reason": "unknown_auth"}
    # the audit record of the begin survived the graceful restart
    logged = [r for r in after.http.get("/v1/logs").json() if r["auth_id"] == auth_id]
    assert [(r["unique_id"], r["result"]) for r in logged] == [("restart-user", "pending")]
    after.close()
