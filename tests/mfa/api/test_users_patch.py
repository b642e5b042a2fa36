"""``PATCH /v1/users/{user_id}``: enable/disable and licence changes, dated by the server."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from mfa.users import UserFact

PROBLEM = "application/problem+json"


def _engine(app: Any) -> Any:
    return app.state.runtime.engine


def _at(day: int) -> float:
    return datetime(2026, 1, day, 12, tzinfo=UTC).timestamp()


def test_patch_changes_licence_and_enablement_with_the_servers_date(
    app: Any, client: Any, clock: Any
) -> None:
    clock.set(_at(5))
    assert client.post("/v1/users", json={"user_id": "alice"}).status_code == 201
    clock.set(_at(20))
    answer = client.patch("/v1/users/alice", json={"licensed": True})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["user_id"], body["licensed"], body["enabled"]) == ("alice", True, True)
    clock.set(_at(25))
    answer = client.patch("/v1/users/alice", json={"enabled": False, "licensed": False})
    assert answer.status_code == 200
    assert (answer.json()["enabled"], answer.json()["licensed"]) == (False, False)
    engine = _engine(app)
    changes = [(c.fact, c.value, c.at) for c in engine.repository.user_changes()]
    assert changes == [
        (UserFact.LICENSED, True, _at(20)),
        (UserFact.ENABLED, False, _at(25)),
        (UserFact.LICENSED, False, _at(25)),
    ]
    # billing reads the dates: she held her licence at the last moment she was enabled
    january = engine.usage("2026-01")
    assert (january.enabled_users, january.licensed_users) == (1, 1)
    assert engine.usage("2026-02").enabled_users == 0
    # an empty patch changes nothing and answers the user
    same = client.patch("/v1/users/alice", json={})
    assert same.status_code == 200 and same.json()["enabled"] is False
    assert len(engine.repository.user_changes()) == 3


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"licensed": "yes"}, "licensed"),
        ({"enabled": 1}, "enabled"),
        ({"enabled": None}, "enabled"),
        ({"admin": True}, "admin"),
    ],
)
def test_patch_refuses_what_is_not_a_boolean_flag(
    client: Any, body: dict[str, Any], field: str
) -> None:
    client.post("/v1/users", json={"user_id": "bob"})
    answer = client.patch("/v1/users/bob", json=body)
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"].startswith(PROBLEM)
    assert field in answer.text


def test_patch_of_an_unknown_user_is_404(client: Any) -> None:
    answer = client.patch("/v1/users/nobody", json={"licensed": True})
    assert answer.status_code == 404
    assert answer.headers["content-type"].startswith(PROBLEM)
