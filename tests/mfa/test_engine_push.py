"""Push notifications to the authenticator app: activation, approve, deny, wrong device."""

from __future__ import annotations

import pytest

from mfa import AuthStatus, Challenge, Denial, DenialReason, Engine, InvalidInput, NotFound
from mfa.delivery import Channel, SinkGateway


def test_registering_with_a_device_token_activates_at_once(
    engine: Engine, sink: SinkGateway
) -> None:
    engine.create_user("alice")
    method = engine.register_method("alice", "push", device_token="device-token-alice")
    assert method.activated
    c = engine.begin("alice")
    assert isinstance(c, Challenge)
    note = sink.messages_to("device-token-alice")[0]
    assert note.channel is Channel.PUSH
    assert note.auth_id == c.auth_id
    assert note.code is None  # a push carries no code
    assert engine.respond_push(c.auth_id, "device-token-alice", True).ok
    assert engine.status(c.auth_id).status is AuthStatus.SUCCESS
    # approving twice is a replay
    assert engine.respond_push(c.auth_id, "device-token-alice", True).reason is (
        DenialReason.REPLAYED
    )


def test_activation_step(engine: Engine) -> None:
    engine.create_user("bob")
    method = engine.register_method("bob", "push")
    assert not method.activated
    denial = engine.begin("bob")
    assert isinstance(denial, Denial) and denial.reason is DenialReason.NOT_ACTIVATED
    activated = engine.activate_push("bob", method.method_id, "device-token-bob")
    assert activated.activated and activated.device_token == "device-token-bob"
    c = engine.begin("bob")
    assert isinstance(c, Challenge)
    assert engine.respond_push(c.auth_id, "device-token-bob", True).ok


def test_activation_input_is_checked(engine: Engine) -> None:
    engine.create_user("bob")
    engine.create_user("eve")
    push = engine.register_method("bob", "push")
    totp = engine.register_method("bob", "totp")
    with pytest.raises(InvalidInput, match="device_token"):
        engine.activate_push("bob", push.method_id, "short")
    with pytest.raises(InvalidInput, match="not a push method"):
        engine.activate_push("bob", totp.method_id, "device-token-bob")
    with pytest.raises(NotFound):
        engine.activate_push("bob", "m-nope", "device-token-bob")
    with pytest.raises(NotFound):
        engine.activate_push("eve", push.method_id, "device-token-eve")


def test_deny_is_recorded_as_user_denied(engine: Engine) -> None:
    engine.create_user("carol")
    engine.register_method("carol", "push", device_token="device-token-carol")
    c = engine.begin("carol", client_ip="198.51.100.4")
    assert isinstance(c, Challenge)
    verdict = engine.respond_push(c.auth_id, "device-token-carol", False)
    assert verdict.reason is DenialReason.USER_DENIED
    record = next(r for r in engine.repository.logs() if r.auth_id == c.auth_id)
    assert record.reason is DenialReason.USER_DENIED
    assert record.device_token == "device-token-carol"
    assert record.phone is None


def test_answer_from_a_device_that_is_not_the_activated_one(engine: Engine) -> None:
    """The seed: "Authentication request is not for an activated account"."""
    engine.create_user("dan")
    method = engine.register_method("dan", "push", device_token="old-phone-token")
    c = engine.begin("dan")
    assert isinstance(c, Challenge)
    engine.activate_push("dan", method.method_id, "new-phone-token")  # re-added the account
    assert engine.respond_push(c.auth_id, "old-phone-token", True).reason is (
        DenialReason.NOT_ACTIVATED
    )
    view = engine.status(c.auth_id)
    assert (view.status, view.reason) == (AuthStatus.DENIED, DenialReason.NOT_ACTIVATED)
    fresh = engine.begin("dan")
    assert isinstance(fresh, Challenge)
    assert engine.respond_push(fresh.auth_id, "new-phone-token", True).ok


def test_a_new_provider_stops_push_until_reactivation(engine: Engine) -> None:
    """The seed: re-activating the servers with a new provider's credentials stops mobile
    app notifications until each user re-activates the app; calls and texts keep working
    (a provider of the same tenant carries the user settings over)."""
    engine.create_provider("contoso", "per_user", tenant="tenant-a")
    engine.create_user("erin", phone="+14255550100")
    push = engine.register_method("erin", "push", device_token="device-token-erin")
    engine.register_method("erin", "sms")
    before = engine.begin("erin", "push")
    assert isinstance(before, Challenge)
    move = engine.replace_provider("fabrikam", "per_auth", tenant="tenant-a")
    assert move.settings_carried and move.push_deactivated == 1
    assert engine.respond_push(before.auth_id, "device-token-erin", True).reason is (
        DenialReason.NOT_ACTIVATED
    )
    denial = engine.begin("erin", "push")
    assert isinstance(denial, Denial) and denial.reason is DenialReason.NOT_ACTIVATED
    # "doesn't impact phone call and text message authentication"
    assert isinstance(engine.begin("erin", "sms"), Challenge)
    engine.activate_push("erin", push.method_id, "device-token-erin-2")
    after = engine.begin("erin", "push")
    assert isinstance(after, Challenge)
    assert engine.respond_push(after.auth_id, "device-token-erin-2", True).ok
    # relinking to the same tenant changes nothing
    assert engine.relink_provider("tenant-a").push_deactivated == 0


def test_a_locked_out_user_cannot_approve_an_open_push(engine: Engine) -> None:
    engine.create_user("gus")
    engine.register_method("gus", "push", device_token="device-token-gus")
    engine.register_method("gus", "totp")
    open_push = engine.begin("gus", "push")
    assert isinstance(open_push, Challenge)
    for _ in range(2):
        c = engine.begin("gus", "totp")
        assert isinstance(c, Challenge)
        for _ in range(5):
            engine.verify(c.auth_id, "wrong")
    verdict = engine.respond_push(open_push.auth_id, "device-token-gus", True)
    assert verdict.reason is DenialReason.LOCKED_OUT
    assert verdict.retry_after == 900
