"""The HTTP contract in process: paths, status codes, JSON fields and problem+json errors.

The engine runs on the manual clock, so expiry, rate-limit windows and lockouts are probed
to the second without waiting.
"""

from __future__ import annotations

from typing import Any

import pyotp
import pytest
from fastapi.testclient import TestClient

from mfa.push_proof import PushDevice, fingerprint
from tests.mfa.api.support import API_KEY, DEVICE_TOKEN, US_PHONE

PROBLEM = "application/problem+json"

#: Every path and method issue 3 names (plus the push-activation and directory-sync
#: extensions).
CONTRACT = {
    ("/healthz", "get"),
    ("/metrics", "get"),
    ("/v1/users", "post"),
    ("/v1/users/{user_id}", "patch"),
    ("/v1/users/{user_id}/methods", "post"),
    ("/v1/users/{user_id}/methods/{method_id}/activate", "post"),
    ("/v1/users/sync", "post"),
    ("/v1/tokens/import", "post"),
    ("/v1/auth", "post"),
    ("/v1/auth/{auth_id}/verify", "post"),
    ("/v1/auth/{auth_id}", "get"),
    ("/v1/push/{auth_id}/respond", "post"),
    ("/v1/users/{user_id}/app-passwords", "post"),
    ("/v1/users/{user_id}/app-passwords", "delete"),
    ("/v1/auth/app-password", "post"),
    ("/v1/users/{user_id}/reset", "post"),
    ("/v1/users/{user_id}/registration", "get"),
    ("/v1/sink/messages", "get"),
    ("/v1/logs", "get"),
}


def _problem(answer: Any, status: int) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith(PROBLEM)
    body = answer.json()
    assert body["status"] == status
    assert body["title"] and body["detail"] and body["type"]
    return body  # type: ignore[no-any-return]


def _enrol(client: TestClient, user_id: str = "alice", method: str = "sms", **extra: Any) -> dict:
    assert client.post("/v1/users", json={"user_id": user_id, "phone": US_PHONE}).status_code == 201
    answer = client.post(f"/v1/users/{user_id}/methods", json={"type": method, **extra})
    assert answer.status_code == 201, answer.text
    return answer.json()  # type: ignore[no-any-return]


def _code(client: TestClient, phone: str = US_PHONE) -> str:
    return client.get("/v1/sink/messages", params={"to": phone}).json()[0]["code"]  # type: ignore[no-any-return]


# ---------------------------------------------------------------------------- contract


def test_openapi_lists_every_documented_path(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    served = {(path, method) for path, ops in spec["paths"].items() for method in ops}
    assert served == CONTRACT
    assert spec["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "`Authorization: Bearer <MFALAB_API_KEY>` on every /v1 call.",
    }
    for path, method in CONTRACT:
        secured = spec["paths"][path][method].get("security")
        assert secured == ([{"bearerAuth": []}] if path.startswith("/v1") else None), path
    begin = spec["paths"]["/v1/auth"]["post"]["responses"]
    assert {"201", "403", "422", "429"} <= set(begin)
    assert "application/problem+json" in begin["429"]["content"]


def test_every_v1_call_needs_the_api_key(app: Any) -> None:
    bare = TestClient(app)
    wrong = TestClient(app, headers={"Authorization": "Bearer not-the-key"})
    for path, method in sorted(CONTRACT):
        if not path.startswith("/v1"):
            continue
        url = path.format(user_id="alice", method_id="m-1", auth_id="mfa1.x")
        for who in (bare, wrong):
            body = _problem(who.request(method.upper(), url, json={}), 401)
            assert body["type"].endswith("unauthorized"), (path, method)
    # the check runs before routing: no key, no hint of which /v1 paths exist
    assert _problem(bare.get("/v1/no-such-thing"), 401)["type"].endswith("unauthorized")
    assert _problem(bare.get("/v1"), 401)["type"].endswith("unauthorized")
    assert bare.get("/healthz").json() == {"status": "ok", "server": "mfa1"}
    assert bare.get("/metrics").status_code == 200


def test_unknown_path_and_method_are_problems(client: TestClient) -> None:
    _problem(client.get("/v1/nothing-here"), 404)
    _problem(client.put("/v1/auth"), 405)


# ---------------------------------------------------------------------------- users


def test_create_user_then_duplicate_is_409(client: TestClient) -> None:
    body = {"user_id": "alice", "first_name": "Alice", "email": "a@example.org", "phone": US_PHONE}
    created = client.post("/v1/users", json=body)
    assert created.status_code == 201
    assert created.json() == {
        "user_id": "alice",
        "first_name": "Alice",
        "last_name": None,
        "email": "a@example.org",
        "phone": US_PHONE,
        "enabled": True,
        "licensed": False,
    }
    problem = _problem(client.post("/v1/users", json=body), 409)
    assert "alice" in problem["detail"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"user_id": "bob", "phone": "+1425"}, "phone"),
        ({"user_id": "bob", "phone": "4255550100"}, "phone"),
        ({"user_id": "bob", "email": "not-an-address"}, "email"),
        ({"user_id": "has space"}, "user_id"),
        ({"phone": US_PHONE}, "user_id"),
        ({"user_id": "bob", "phnoe": US_PHONE}, "phnoe"),
    ],
)
def test_bad_user_fields_are_422_naming_the_field(
    client: TestClient, body: dict, field: str
) -> None:
    problem = _problem(client.post("/v1/users", json=body), 422)
    assert problem["detail"].startswith(field + ":")
    assert [e["field"] for e in problem["errors"]] == [field]
    assert client.get("/v1/users/bob/registration").status_code == 404


def test_malformed_json_is_422(client: TestClient) -> None:
    answer = client.post(
        "/v1/users", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    _problem(answer, 422)


def test_totp_method_answers_secret_and_uri(client: TestClient) -> None:
    method = _enrol(client, method="totp")
    assert method["type"] == "totp"
    assert pyotp.parse_uri(method["otpauth_uri"]).secret == method["secret"]
    sms = client.post("/v1/users/alice/methods", json={"type": "sms"}).json()
    assert set(sms) == {"method_id", "type"}


def test_methods_errors(client: TestClient) -> None:
    _problem(client.post("/v1/users/nobody/methods", json={"type": "sms"}), 404)
    client.post("/v1/users", json={"user_id": "carol"})
    assert (
        _problem(client.post("/v1/users/carol/methods", json={"type": "sms"}), 422)["errors"][0][
            "field"
        ]
        == "phone"
    )
    problem = _problem(client.post("/v1/users/carol/methods", json={"type": "fax"}), 422)
    assert problem["errors"][0]["field"] == "type"


# ---------------------------------------------------------------------------- sms


def test_sms_flow_success_then_replay(client: TestClient) -> None:
    _enrol(client)
    begun = client.post("/v1/auth", json={"user_id": "alice", "client_ip": "192.0.2.7"})
    assert begun.status_code == 201
    challenge = begun.json()
    assert set(challenge) == {"auth_id", "method", "server", "expires_in", "sender"}
    assert challenge["server"] == "mfa1" and challenge["auth_id"].startswith("mfa1.")
    assert challenge["method"] == "sms" and challenge["expires_in"] == 300
    message = client.get("/v1/sink/messages", params={"to": US_PHONE}).json()[0]
    assert set(message) == {"to", "sender", "channel", "text", "code", "sent_at", "auth_id"}
    assert message["auth_id"] == challenge["auth_id"]
    assert message["sender"] == challenge["sender"] and message["code"] in message["text"]
    auth_id = challenge["auth_id"]
    assert client.get(f"/v1/auth/{auth_id}").json() == {"status": "pending", "reason": None}
    wrong = "000000" if message["code"] != "000000" else "111111"
    assert client.post(f"/v1/auth/{auth_id}/verify", json={"code": wrong}).json() == {
        "result": "denied",
        "reason": "wrong_code",
    }
    ok = client.post(f"/v1/auth/{auth_id}/verify", json={"code": message["code"]})
    assert ok.json() == {"result": "success", "reason": None}
    assert client.get(f"/v1/auth/{auth_id}").json() == {"status": "success", "reason": None}
    again = client.post(f"/v1/auth/{auth_id}/verify", json={"code": message["code"]}).json()
    assert again == {"result": "denied", "reason": "replayed"}


def test_code_expires_after_the_server_timeout(client: TestClient, clock: Any) -> None:
    _enrol(client)
    auth_id = client.post("/v1/auth", json={"user_id": "alice"}).json()["auth_id"]
    clock.advance(300)
    verdict = client.post(f"/v1/auth/{auth_id}/verify", json={"code": _code(client)}).json()
    assert verdict == {"result": "denied", "reason": "expired"}


def test_verify_unknown_auth_and_status_404(client: TestClient) -> None:
    verdict = client.post("/v1/auth/mfa1.AAAAAAAAAAAAAAAAAAAAAA/verify", json={"code": "123456"})
    assert verdict.json() == {"result": "denied", "reason": "unknown_auth"}
    other = client.post("/v1/auth/mfa2.AAAAAAAAAAAAAAAAAAAAAA/verify", json={"code": "123456"})
    assert other.json() == {"result": "denied", "reason": "wrong_server"}
    _problem(client.get("/v1/auth/mfa1.AAAAAAAAAAAAAAAAAAAAAA"), 404)
    _problem(client.post("/v1/auth/mfa1.x/verify", json={}), 422)


def test_sixth_code_in_five_minutes_is_429_with_retry_after(client: TestClient, clock: Any) -> None:
    _enrol(client)
    for _ in range(5):
        assert client.post("/v1/auth", json={"user_id": "alice"}).status_code == 201
        clock.advance(10)
    refused = client.post("/v1/auth", json={"user_id": "alice"})
    problem = _problem(refused, 429)
    assert problem["reason"] == "rate_limited"
    assert refused.headers["Retry-After"] == "250"  # first send at t, now t+50, window 300
    clock.advance(250)
    assert client.post("/v1/auth", json={"user_id": "alice"}).status_code == 201


def test_locked_out_user_is_refused_with_retry_after(client: TestClient, clock: Any) -> None:
    _enrol(client)
    for _ in range(10):
        client.post("/v1/auth/app-password", json={"user_id": "alice", "password": "nope"})
    refused = client.post("/v1/auth", json={"user_id": "alice"})
    problem = _problem(refused, 403)
    assert problem["reason"] == "locked_out"
    assert refused.headers["Retry-After"] == "900"


def test_unknown_user_looks_like_a_user_without_methods(client: TestClient) -> None:
    client.post("/v1/users", json={"user_id": "dave"})
    known = _problem(client.post("/v1/auth", json={"user_id": "dave"}), 403)
    unknown = _problem(client.post("/v1/auth", json={"user_id": "nobody"}), 403)
    assert known["reason"] == unknown["reason"] == "registration_required"
    assert {k: v for k, v in known.items() if k != "instance"} == {
        k: v for k, v in unknown.items() if k != "instance"
    }


def test_reset_requires_registration_again(client: TestClient) -> None:
    _enrol(client)
    assert client.get("/v1/users/alice/registration").json() == {"required": False, "reasons": []}
    reset = client.post("/v1/users/alice/reset")
    assert reset.status_code == 204 and reset.content == b""
    registration = client.get("/v1/users/alice/registration").json()
    assert registration["required"] is True
    assert "admin_reset" in registration["reasons"]
    assert _problem(client.post("/v1/auth", json={"user_id": "alice"}), 403)["reason"] == (
        "registration_required"
    )
    _problem(client.post("/v1/users/nobody/reset"), 404)


# ---------------------------------------------------------------------------- totp and push


def test_totp_flow_refuses_a_reused_code(client: TestClient, clock: Any) -> None:
    secret = _enrol(client, method="totp")["secret"]
    auth_id = client.post("/v1/auth", json={"user_id": "alice"}).json()["auth_id"]
    code = pyotp.TOTP(secret).at(clock.now())
    assert client.post(f"/v1/auth/{auth_id}/verify", json={"code": code}).json()["result"] == (
        "success"
    )
    second = client.post("/v1/auth", json={"user_id": "alice"}).json()["auth_id"]
    verdict = client.post(f"/v1/auth/{second}/verify", json={"code": code}).json()
    assert verdict == {"result": "denied", "reason": "replayed"}


def test_push_activate_approve_deny(client: TestClient) -> None:
    device = PushDevice.generate()
    method = _enrol(client, method="push")
    refused = _problem(client.post("/v1/auth", json={"user_id": "alice"}), 403)
    assert refused["reason"] == "not_activated"
    url = f"/v1/users/alice/methods/{method['method_id']}/activate"
    key = device.public_key
    short = _problem(client.post(url, json={"device_token": "short", "public_key": key}), 422)
    assert short["errors"][0]["field"] == "device_token"
    for bad_key in ("not-a-key", key + "A", None):
        answer = client.post(url, json={"device_token": DEVICE_TOKEN, "public_key": bad_key})
        assert "public_key" in str(_problem(answer, 422)), bad_key
    _problem(client.post(url, json={"device_token": DEVICE_TOKEN}), 422)  # the key is required
    activated = client.post(url, json={"device_token": DEVICE_TOKEN, "public_key": key})
    assert activated.json() == {
        "method_id": method["method_id"],
        "type": "push",
        "activated": True,
    }
    begun = client.post("/v1/auth", json={"user_id": "alice"}).json()
    approve, number = begun["auth_id"], begun["number"]
    assert isinstance(number, int) and 10 <= number <= 99
    assert client.get(f"/v1/auth/{approve}").json()["status"] == "pending"
    answer = {"approve": True, "number": number, "signature": device.answer(approve, True, number)}
    ok = client.post(f"/v1/push/{approve}/respond", json=answer).json()
    assert ok == {"result": "success", "reason": None}
    assert client.get(f"/v1/auth/{approve}").json() == {"status": "success", "reason": None}
    deny = client.post("/v1/auth", json={"user_id": "alice"}).json()["auth_id"]
    signed_deny = {"approve": False, "signature": device.answer(deny, False)}
    denied = client.post(f"/v1/push/{deny}/respond", json=signed_deny).json()
    assert denied == {"result": "denied", "reason": "user_denied"}
    stranger = client.post("/v1/auth", json={"user_id": "alice"}).json()
    forged = {"approve": True, "number": stranger["number"], "signature": "A" * 86}
    verdict = client.post(f"/v1/push/{stranger['auth_id']}/respond", json=forged).json()
    assert verdict == {"result": "denied", "reason": "bad_signature"}
    unsigned = client.post("/v1/auth", json={"user_id": "alice"}).json()["auth_id"]
    verdict = client.post(f"/v1/push/{unsigned}/respond", json={"approve": True}).json()
    assert verdict == {"result": "denied", "reason": "bad_signature"}
    # the old proof is gone from the contract: a device token is refused, naming the field
    old = {"device_token": DEVICE_TOKEN, "approve": True}
    assert "device_token" in str(
        _problem(client.post(f"/v1/push/{unsigned}/respond", json=old), 422)
    )
    _problem(client.post(f"/v1/push/{unsigned}/respond", json={"signature": "x"}), 422)


def test_push_wrong_number_and_the_log_shows_only_a_fingerprint(client: TestClient) -> None:
    device = PushDevice.generate()
    _enrol(client, method="push", device_token=DEVICE_TOKEN, public_key=device.public_key)
    begun = client.post("/v1/auth", json={"user_id": "alice"}).json()
    auth_id, number = begun["auth_id"], begun["number"]
    wrong = 10 + (number - 10 + 1) % 90
    answer = {"approve": True, "number": wrong, "signature": device.answer(auth_id, True, wrong)}
    verdict = client.post(f"/v1/push/{auth_id}/respond", json=answer).json()
    assert verdict == {"result": "denied", "reason": "wrong_number"}
    for out_of_range in (9, 100):
        body = {**answer, "number": out_of_range}
        assert "number" in str(_problem(client.post(f"/v1/push/{auth_id}/respond", json=body), 422))
    logs = client.get("/v1/logs").text
    assert DEVICE_TOKEN not in logs
    assert fingerprint(DEVICE_TOKEN) in logs
    assert DEVICE_TOKEN not in client.get("/metrics").text


def test_push_begins_count_toward_the_send_limit(client: TestClient) -> None:
    device = PushDevice.generate()
    _enrol(client, method="push", device_token=DEVICE_TOKEN, public_key=device.public_key)
    answers = [client.post("/v1/auth", json={"user_id": "alice"}) for _ in range(20)]
    assert [a.status_code for a in answers] == [201] * 5 + [429] * 15
    assert _problem(answers[-1], 429)["reason"] == "rate_limited"
    assert "Retry-After" in answers[-1].headers


# ---------------------------------------------------------------------------- app passwords


def test_app_passwords_create_verify_delete(client: TestClient) -> None:
    _enrol(client)
    created = client.post("/v1/users/alice/app-passwords")
    assert created.status_code == 201
    password = created.json()["app_password"]
    check = {"user_id": "alice", "password": password}
    ok = client.post("/v1/auth/app-password", json=check).json()
    assert ok == {"result": "success", "reason": None}
    wrong = client.post("/v1/auth/app-password", json={**check, "password": "x"}).json()
    assert wrong == {"result": "denied", "reason": "wrong_code"}
    stranger = client.post("/v1/auth/app-password", json={**check, "user_id": "nobody"}).json()
    assert stranger == wrong
    assert client.delete("/v1/users/alice/app-passwords").status_code == 204
    assert client.post("/v1/auth/app-password", json=check).json() == wrong
    _problem(client.post("/v1/users/nobody/app-passwords"), 404)


def test_an_app_password_check_logs_the_client_ip(client: TestClient) -> None:
    """The seed's log fields include the client IP "if available": an app-password check
    that gives one has it in its log record, like a begin."""
    _enrol(client)
    check = {"user_id": "alice", "password": "wrong", "client_ip": "203.0.113.9"}
    assert client.post("/v1/auth/app-password", json=check).json()["reason"] == "wrong_code"
    records = client.get("/v1/logs").json()
    checks = [r for r in records if r["mode"] == "app_password"]
    assert [r["client_ip"] for r in checks] == ["203.0.113.9"]


# ---------------------------------------------------------------------------- sink and logs


def test_sink_is_404_when_the_gateway_is_not_the_sink(make_engine: Any) -> None:
    from mfa.api.app import create_app
    from mfa.delivery import Receipt
    from mfa.settings import Settings

    class Carrier:
        def send(self, message: Any) -> Receipt:
            return Receipt(provider="carrier", message_id="1")

    app = create_app(Settings(api_key=API_KEY), engine=make_engine(gateway=Carrier()))
    client = TestClient(app, headers={"Authorization": f"Bearer {API_KEY}"})
    problem = _problem(client.get("/v1/sink/messages", params={"to": US_PHONE}), 404)
    assert "sink" in problem["detail"]


def test_sink_limit_keeps_the_newest(client: TestClient) -> None:
    _enrol(client)
    first = client.post("/v1/auth", json={"user_id": "alice"}).json()["auth_id"]
    second = client.post("/v1/auth", json={"user_id": "alice"}).json()["auth_id"]
    every = client.get("/v1/sink/messages", params={"to": US_PHONE}).json()
    assert [m["auth_id"] for m in every] == [second, first]
    newest = client.get("/v1/sink/messages", params={"to": US_PHONE, "limit": 1}).json()
    assert [m["auth_id"] for m in newest] == [second]
    _problem(client.get("/v1/sink/messages", params={"to": US_PHONE, "limit": 0}), 422)


def test_sink_requires_a_recipient(client: TestClient) -> None:
    assert _problem(client.get("/v1/sink/messages"), 422)["errors"][0]["field"] == "to (query)"
    assert client.get("/v1/sink/messages", params={"to": "+19999999999"}).json() == []


def test_logs_since_an_iso_time(client: TestClient, clock: Any) -> None:
    _enrol(client)
    first = client.post("/v1/auth", json={"user_id": "alice", "client_ip": "192.0.2.1"}).json()
    clock.advance(60)
    second = client.post("/v1/auth", json={"user_id": "alice"}).json()
    client.post(f"/v1/auth/{second['auth_id']}/verify", json={"code": _code(client)})
    records = client.get("/v1/logs").json()
    assert [r["auth_id"] for r in records] == [first["auth_id"], second["auth_id"]]
    assert records[0]["client_ip"] == "192.0.2.1" and records[0]["result"] == "pending"
    assert records[0]["phone"] == US_PHONE and records[0]["server_name"] == "mfa1"
    since = records[1]["began_at"]
    later = client.get("/v1/logs", params={"since": since}).json()
    assert [(r["auth_id"], r["result"]) for r in later] == [(second["auth_id"], "success")]
    assert "code" not in later[0]
    assert (
        _problem(client.get("/v1/logs", params={"since": "yesterday"}), 422)["errors"][0]["field"]
        == "since (query)"
    )


def test_metrics_count_outcomes_and_time_requests(client: TestClient) -> None:
    _enrol(client)
    auth_id = client.post("/v1/auth", json={"user_id": "alice"}).json()["auth_id"]
    client.post(f"/v1/auth/{auth_id}/verify", json={"code": "not-it"})
    client.post(f"/v1/auth/{auth_id}/verify", json={"code": _code(client)})
    client.post("/v1/auth", json={"user_id": "nobody"})
    text = client.get("/metrics").text
    assert 'mfalab_auth_begun_total{method="sms",reason="",result="started"} 1.0' in text
    assert (
        'mfalab_auth_begun_total{method="unknown",reason="registration_required",'
        'result="denied"} 1.0' in text
    )
    assert 'mfalab_auth_verified_total{method="sms",reason="wrong_code",result="denied"} 1.0' in (
        text
    )
    assert 'mfalab_auth_verified_total{method="sms",reason="",result="success"} 1.0' in text
    assert 'mfalab_sends_total{channel="sms",provider="sink"} 1.0' in text
    assert (
        'mfalab_http_request_duration_seconds_count{method="POST",'
        'route="/v1/auth/{auth_id}/verify",status="200"} 2.0' in text
    )


# ---------------------------------------------------------------------------- tokens

GOOD_CSV = "SN-1,JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP,30\nSN-2,GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ,30,8\n"


def test_token_import_then_sign_in_with_the_hardware_token(client: TestClient, clock: Any) -> None:
    imported = client.post("/v1/tokens/import", json={"format": "csv", "content": GOOD_CSV})
    assert imported.status_code == 200
    assert imported.json() == {"imported": 2, "serials": ["SN-1", "SN-2"]}
    _enrol(client, method="hardware_token", serial="SN-2")
    auth_id = client.post("/v1/auth", json={"user_id": "alice"}).json()["auth_id"]
    code = pyotp.TOTP("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ", digits=8).at(clock.now())
    verdict = client.post(f"/v1/auth/{auth_id}/verify", json={"code": code}).json()
    assert verdict == {"result": "success", "reason": None}
    again = client.post("/v1/tokens/import", json={"format": "csv", "content": GOOD_CSV})
    assert "SN-1" in _problem(again, 409)["detail"]


def test_a_bad_token_file_lists_every_problem_and_imports_nothing(client: TestClient) -> None:
    content = GOOD_CSV + "SN-3,not-base32!,30\nSN-4,GEZDGNBV,30\n"
    problem = _problem(
        client.post("/v1/tokens/import", json={"format": "csv", "content": content}), 422
    )
    assert [p["where"] for p in problem["problems"]] == ["line 3", "line 4"]
    assert "line 3" in problem["detail"] and "line 4" in problem["detail"]
    assert "GEZDGNBV" not in problem["detail"]  # secrets never echoed
    # nothing was imported: the good rows import cleanly afterwards
    imported = client.post("/v1/tokens/import", json={"format": "csv", "content": GOOD_CSV})
    assert imported.json()["imported"] == 2
    unknown = client.post("/v1/tokens/import", json={"format": "xls", "content": GOOD_CSV})
    assert _problem(unknown, 422)["errors"][0]["field"] == "format"
    pskc = client.post(
        "/v1/tokens/import", json={"format": "pskc", "content": "<KeyContainer", "password": "x"}
    )
    assert _problem(pskc, 422)["problems"]


def test_directory_sync_enrols_everyone_who_can_then_sign_in(client: TestClient) -> None:
    cat = PushDevice.generate()
    KEY = cat.public_key
    users = [
        {"user_id": "ann", "method": "sms", "phone": US_PHONE, "first_name": "Ann"},
        {"user_id": "ben", "method": "totp", "licensed": True},
        {"user_id": "cat", "method": "push", "device_token": DEVICE_TOKEN, "public_key": KEY},
    ]
    synced = client.post("/v1/users/sync", json={"users": users})
    assert synced.status_code == 200, synced.text
    body = synced.json()
    assert body["enrolled"] == 3
    assert [(m["user_id"], m["type"]) for m in body["methods"]] == [
        ("ann", "sms"),
        ("ben", "totp"),
        ("cat", "push"),
    ]
    totp = body["methods"][1]
    assert totp["otpauth_uri"].startswith("otpauth://totp/") and len(totp["secret"]) == 32
    assert "secret" not in body["methods"][0]
    for user in ("ann", "ben", "cat"):
        assert client.get(f"/v1/users/{user}/registration").json()["required"] is False
    auth_id = client.post("/v1/auth", json={"user_id": "ann"}).json()["auth_id"]
    verdict = client.post(f"/v1/auth/{auth_id}/verify", json={"code": _code(client)}).json()
    assert verdict == {"result": "success", "reason": None}
    push = client.post("/v1/auth", json={"user_id": "cat"}).json()
    signed = cat.answer(push["auth_id"], True, push["number"])
    answer = {"approve": True, "number": push["number"], "signature": signed}
    verdict = client.post(f"/v1/push/{push['auth_id']}/respond", json=answer).json()
    assert verdict == {"result": "success", "reason": None}
    again = client.post(
        "/v1/users/sync", json={"users": [users[0], {"user_id": "dan", "method": "totp"}]}
    )
    assert "ann" in _problem(again, 409)["detail"]
    assert _problem(client.get("/v1/users/dan/registration"), 404)  # nobody was enrolled


def test_a_bad_directory_sync_lists_every_problem_and_enrols_nobody(client: TestClient) -> None:
    users = [
        {"user_id": "ok", "method": "totp"},
        {"user_id": "no-phone", "method": "sms"},
        {"user_id": "ok", "method": "voice", "phone": US_PHONE},
        {"user_id": "bad-mail", "method": "totp", "email": "nope"},
        {"user_id": "bad-key", "method": "push", "device_token": DEVICE_TOKEN, "public_key": "k"},
    ]
    problem = _problem(client.post("/v1/users/sync", json={"users": users}), 422)
    assert problem["type"].endswith("enrolment")
    assert [p["where"] for p in problem["problems"]] == [
        "enrolment 2 ('no-phone')",
        "enrolment 3 ('ok')",
        "enrolment 4 ('bad-mail')",
        "enrolment 5 ('bad-key')",
    ]
    assert "public_key" in str(problem["problems"][-1])
    assert "nobody enrolled" in problem["detail"]
    assert _problem(client.get("/v1/users/ok/registration"), 404)  # not even the good ones
    fields = _problem(client.post("/v1/users/sync", json={"users": [{"user_id": "x"}]}), 422)
    assert "method" in fields["detail"]
    assert _problem(client.post("/v1/users/sync", json={"users": []}), 422)


def test_openapi_documents_the_sign_in_bodies_and_parameters(client: TestClient) -> None:
    """begin, verify and the sink read: the request schemas clients generate code from
    (once served by a second, hand-written copy of these routes; now by their declaration)."""
    spec = client.get("/openapi.json").json()
    schemas = spec["components"]["schemas"]
    assert {"AuthCreate", "VerifyCreate"} <= set(schemas)
    begin = spec["paths"]["/v1/auth"]["post"]["requestBody"]["content"]["application/json"]
    verify = spec["paths"]["/v1/auth/{auth_id}/verify"]["post"]["requestBody"]["content"][
        "application/json"
    ]
    assert begin["schema"]["$ref"].endswith("/AuthCreate")
    assert verify["schema"]["$ref"].endswith("/VerifyCreate")
    sink = spec["paths"]["/v1/sink/messages"]["get"]["parameters"]
    assert {p["name"] for p in sink} >= {"to", "limit"}


def test_invalid_json_to_begin_is_422_naming_the_body(client: TestClient) -> None:
    answer = client.post(
        "/v1/auth", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert _problem(answer, 422)["errors"][0]["field"] == "body"


def test_the_sink_reads_a_phone_written_with_an_unencoded_plus(client: TestClient) -> None:
    """``?to=+16465550100`` typed as is: the query's ``+`` decodes to a space, which the
    sink reads back as the ``+`` of an E.164 number (``%2B`` works as well)."""
    _enrol(client)
    assert client.post("/v1/auth", json={"user_id": "alice"}).status_code == 201
    raw = client.get(f"/v1/sink/messages?to={US_PHONE}").json()
    encoded = client.get(f"/v1/sink/messages?to={US_PHONE.replace('+', '%2B')}").json()
    assert raw == encoded and len(raw) == 1 and raw[0]["to"] == US_PHONE
