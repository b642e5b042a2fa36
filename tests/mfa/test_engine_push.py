"""Push notifications to the authenticator app: activation with the device's key, answers
signed by the device, number matching, the send limit (push bombing), wrong devices."""

from __future__ import annotations

import hashlib

import pytest

from mfa import (
    AuthStatus,
    Challenge,
    Denial,
    DenialReason,
    Engine,
    InvalidInput,
    NotFound,
    Policy,
)
from mfa.delivery import Channel, SinkGateway
from mfa.push_proof import PushDevice, fingerprint, push_message

TOKEN = "device-token-alice"


@pytest.fixture
def device() -> PushDevice:
    return PushDevice.from_seed(hashlib.sha256(b"alice's phone").digest())


def _begin(engine: Engine, user_id: str = "alice", **kw: object) -> Challenge:
    c = engine.begin(user_id, **kw)  # type: ignore[arg-type]
    assert isinstance(c, Challenge), c
    return c


def _approve(engine: Engine, c: Challenge, device: PushDevice, number: int | None = None):
    """The person types the page's number into the app, which signs its approval."""
    typed = c.number if number is None else number
    return engine.respond_push(
        c.auth_id, True, number=typed, signature=device.answer(c.auth_id, True, typed)
    )


def _alice(engine: Engine, device: PushDevice) -> None:
    engine.create_user("alice")
    engine.register_method("alice", "push", device_token=TOKEN, public_key=device.public_key)


def test_registering_with_a_device_token_and_key_activates_at_once(
    engine: Engine, sink: SinkGateway, device: PushDevice
) -> None:
    engine.create_user("alice")
    method = engine.register_method(
        "alice", "push", device_token=TOKEN, public_key=device.public_key
    )
    assert method.activated and method.public_key == device.public_key
    c = _begin(engine)
    assert c.number is not None and 10 <= c.number <= 99
    note = sink.messages_to(TOKEN)[0]
    assert note.channel is Channel.PUSH
    assert note.auth_id == c.auth_id
    assert note.code is None  # a push carries no code
    assert str(c.number) not in note.text  # the number is on the sign-in page only
    assert _approve(engine, c, device).ok
    assert engine.status(c.auth_id).status is AuthStatus.SUCCESS
    # approving twice is a replay
    assert _approve(engine, c, device).reason is DenialReason.REPLAYED


def test_the_number_is_drawn_from_the_entropy_port(engine: Engine, device: PushDevice) -> None:
    _alice(engine, device)
    numbers = {_begin(engine).number for _ in range(5)}
    engine.clock.advance(600)  # type: ignore[attr-defined]
    numbers |= {_begin(engine).number for _ in range(5)}
    assert all(n is not None and 10 <= n <= 99 for n in numbers)
    assert len(numbers) > 1


def test_a_device_token_read_from_the_log_no_longer_approves(
    engine: Engine, device: PushDevice
) -> None:
    """Defect 4: the token was the proof, and the log showed it."""
    _alice(engine, device)
    c = _begin(engine)
    record = next(r for r in engine.repository.logs() if r.auth_id == c.auth_id)
    assert record.device_token == fingerprint(TOKEN)
    assert TOKEN not in repr(record)
    for stolen in (TOKEN, record.device_token):
        verdict = engine.respond_push(c.auth_id, True, number=c.number, signature=stolen)
        assert verdict.reason is DenialReason.BAD_SIGNATURE
    view = engine.status(c.auth_id)
    assert (view.status, view.reason) == (AuthStatus.DENIED, DenialReason.BAD_SIGNATURE)


@pytest.mark.parametrize(
    "signature",
    [None, "", "not base64!", "A" * 86, "A" * 85, 12345],
    ids=["missing", "empty", "garbage", "zeros", "short", "not-a-string"],
)
def test_a_missing_or_malformed_signature_is_bad_signature(
    engine: Engine, device: PushDevice, signature: object
) -> None:
    _alice(engine, device)
    c = _begin(engine)
    verdict = engine.respond_push(c.auth_id, True, number=c.number, signature=signature)  # type: ignore[arg-type]
    assert verdict.reason is DenialReason.BAD_SIGNATURE
    assert engine.repository.get_state("alice").consecutive_failures == 0


def test_a_signature_of_another_message_or_key_is_bad_signature(
    engine: Engine, device: PushDevice
) -> None:
    _alice(engine, device)
    thief = PushDevice.generate()
    other = _begin(engine)
    wrong = [
        lambda c: thief.answer(c.auth_id, True, c.number),  # another key
        lambda c: device.answer(other.auth_id, True, c.number),  # another authentication
        lambda c: device.answer(c.auth_id, False),  # a deny presented as an approval
        lambda c: device.sign(push_message(c.auth_id, True)),  # no number, matching is on
    ]
    for signature_of in wrong:
        c = _begin(engine)
        verdict = engine.respond_push(c.auth_id, True, number=c.number, signature=signature_of(c))
        assert verdict.reason is DenialReason.BAD_SIGNATURE
        view = engine.status(c.auth_id)
        assert (view.status, view.reason) == (AuthStatus.DENIED, DenialReason.BAD_SIGNATURE)
    assert engine.repository.get_state("alice").consecutive_failures == 0


def test_a_wrong_number_is_denied_and_counts_toward_the_lockout(
    make_engine: object, device: PushDevice
) -> None:
    engine = make_engine(policy=Policy(lockout_threshold=3, max_sends=10))  # type: ignore[operator]
    _alice(engine, device)
    for _ in range(3):
        c = _begin(engine)
        assert c.number is not None
        wrong = 10 + (c.number - 10 + 1) % 90  # one off, within 10..99
        verdict = _approve(engine, c, device, number=wrong)
        assert verdict.reason is DenialReason.WRONG_NUMBER
        view = engine.status(c.auth_id)
        assert (view.status, view.reason) == (AuthStatus.DENIED, DenialReason.WRONG_NUMBER)
    # the third failure locks the user
    assert engine.repository.get_state("alice").locked_until > engine.clock.now()
    denial = engine.begin("alice")
    assert isinstance(denial, Denial) and denial.reason is DenialReason.LOCKED_OUT


def test_the_right_number_clears_earlier_failures(engine: Engine, device: PushDevice) -> None:
    _alice(engine, device)
    c = _begin(engine)
    assert c.number is not None
    _approve(engine, c, device, number=10 + (c.number - 10 + 1) % 90)
    assert engine.repository.get_state("alice").consecutive_failures == 1
    assert _approve(engine, _begin(engine), device).ok
    assert engine.repository.get_state("alice").consecutive_failures == 0


def test_without_number_matching_the_approval_signs_auth_id_and_approve(
    make_engine: object, device: PushDevice
) -> None:
    engine = make_engine(policy=Policy(push_number_matching=False))  # type: ignore[operator]
    _alice(engine, device)
    c = _begin(engine)
    assert c.number is None
    signed_with_number = device.sign(push_message(c.auth_id, True, 42))
    assert (
        engine.respond_push(c.auth_id, True, number=42, signature=signed_with_number).reason
        is DenialReason.BAD_SIGNATURE
    )
    c = _begin(engine)
    signature = device.sign(f"{c.auth_id}.approve".encode())
    assert engine.respond_push(c.auth_id, True, signature=signature).ok


def test_a_signed_deny_is_user_denied(engine: Engine, device: PushDevice) -> None:
    _alice(engine, device)
    c = _begin(engine, client_ip="198.51.100.4")
    signature = device.sign(f"{c.auth_id}.deny".encode())
    verdict = engine.respond_push(c.auth_id, False, signature=signature)
    assert verdict.reason is DenialReason.USER_DENIED
    record = next(r for r in engine.repository.logs() if r.auth_id == c.auth_id)
    assert record.reason is DenialReason.USER_DENIED
    assert record.device_token == hashlib.sha256(TOKEN.encode()).hexdigest()[:8]
    assert record.phone is None
    # a deny is not a failure toward the lockout (a fraud signal, not a typing error)
    assert engine.repository.get_state("alice").consecutive_failures == 0


def test_push_bombing_is_stopped_by_the_send_limit(
    engine: Engine, sink: SinkGateway, device: PushDevice
) -> None:
    """Defect 4: 20 push begins were 20 notifications."""
    _alice(engine, device)
    outcomes = [engine.begin("alice") for _ in range(20)]
    sent = [o for o in outcomes if isinstance(o, Challenge)]
    refused = [o for o in outcomes if isinstance(o, Denial)]
    assert len(sent) == engine.policy.max_sends == 5
    assert all(o.reason is DenialReason.RATE_LIMITED for o in refused) and len(refused) == 15
    assert all(o.retry_after is not None and o.retry_after > 0 for o in refused)
    assert len(sink.messages_to(TOKEN)) == 5
    engine.clock.advance(engine.policy.send_window_seconds)  # type: ignore[attr-defined]
    assert isinstance(engine.begin("alice"), Challenge)


def test_activation_step(engine: Engine) -> None:
    bob = PushDevice.generate()
    engine.create_user("bob")
    method = engine.register_method("bob", "push")
    assert not method.activated
    denial = engine.begin("bob")
    assert isinstance(denial, Denial) and denial.reason is DenialReason.NOT_ACTIVATED
    activated = engine.activate_push("bob", method.method_id, "device-token-bob", bob.public_key)
    assert activated.activated and activated.device_token == "device-token-bob"
    assert activated.public_key == bob.public_key
    c = _begin(engine, "bob")
    assert _approve(engine, c, bob).ok


def test_activation_input_is_checked(engine: Engine) -> None:
    key = PushDevice.generate().public_key
    engine.create_user("bob")
    engine.create_user("eve")
    push = engine.register_method("bob", "push")
    totp = engine.register_method("bob", "totp")
    with pytest.raises(InvalidInput, match="device_token"):
        engine.activate_push("bob", push.method_id, "short", key)
    for bad in (None, "", "A" * 42, "A" * 44, key + "=", "!" * 43, key[:-1] + "B"):
        with pytest.raises(InvalidInput, match="public_key"):
            engine.activate_push("bob", push.method_id, "device-token-bob", bad)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="not a push method"):
        engine.activate_push("bob", totp.method_id, "device-token-bob", key)
    with pytest.raises(NotFound):
        engine.activate_push("bob", "m-nope", "device-token-bob", key)
    with pytest.raises(NotFound):
        engine.activate_push("eve", push.method_id, "device-token-eve", key)


def test_registration_needs_the_key_with_the_token(engine: Engine) -> None:
    key = PushDevice.generate().public_key
    engine.create_user("bob")
    with pytest.raises(InvalidInput, match="public_key"):
        engine.register_method("bob", "push", device_token="device-token-bob")
    with pytest.raises(InvalidInput, match="device_token"):
        engine.register_method("bob", "push", public_key=key)
    with pytest.raises(InvalidInput, match="public_key"):
        engine.register_method("bob", "push", device_token="device-token-bob", public_key="x")
    assert not engine.repository.list_methods("bob")


def test_an_answer_from_the_replaced_device_is_bad_signature(engine: Engine) -> None:
    old, new = PushDevice.generate(), PushDevice.generate()
    engine.create_user("dan")
    method = engine.register_method(
        "dan", "push", device_token="old-phone-token", public_key=old.public_key
    )
    c = _begin(engine, "dan")
    engine.activate_push("dan", method.method_id, "new-phone-token", new.public_key)
    assert _approve(engine, c, old).reason is DenialReason.BAD_SIGNATURE
    view = engine.status(c.auth_id)
    assert (view.status, view.reason) == (AuthStatus.DENIED, DenialReason.BAD_SIGNATURE)
    assert _approve(engine, _begin(engine, "dan"), new).ok


def test_a_new_provider_stops_push_until_reactivation(engine: Engine) -> None:
    """The seed: re-activating the servers with a new provider's credentials stops mobile
    app notifications until each user re-activates the app; calls and texts keep working
    (a provider of the same tenant carries the user settings over)."""
    first, second = PushDevice.generate(), PushDevice.generate()
    engine.create_provider("contoso", "per_user", tenant="tenant-a")
    engine.create_user("erin", phone="+14255550100")
    push = engine.register_method(
        "erin", "push", device_token="device-token-erin", public_key=first.public_key
    )
    engine.register_method("erin", "sms")
    before = _begin(engine, "erin", method="push")
    move = engine.replace_provider("fabrikam", "per_auth", tenant="tenant-a")
    assert move.settings_carried and move.push_deactivated == 1
    assert _approve(engine, before, first).reason is DenialReason.NOT_ACTIVATED
    denial = engine.begin("erin", "push")
    assert isinstance(denial, Denial) and denial.reason is DenialReason.NOT_ACTIVATED
    # "doesn't impact phone call and text message authentication"
    assert isinstance(engine.begin("erin", "sms"), Challenge)
    engine.activate_push("erin", push.method_id, "device-token-erin-2", second.public_key)
    assert _approve(engine, _begin(engine, "erin", method="push"), second).ok
    # relinking to the same tenant changes nothing
    assert engine.relink_provider("tenant-a").push_deactivated == 0


def test_a_locked_out_user_cannot_approve_an_open_push(engine: Engine, device: PushDevice) -> None:
    engine.create_user("gus")
    engine.register_method(
        "gus", "push", device_token="device-token-gus", public_key=device.public_key
    )
    engine.register_method("gus", "totp")
    open_push = _begin(engine, "gus", method="push")
    for _ in range(2):
        c = _begin(engine, "gus", method="totp")
        for _ in range(5):
            engine.verify(c.auth_id, "wrong")
    verdict = _approve(engine, open_push, device)
    assert verdict.reason is DenialReason.LOCKED_OUT
    assert verdict.retry_after == 900
