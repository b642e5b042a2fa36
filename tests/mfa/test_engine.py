"""The engine's authentication lifecycle and every denial reason it can give.

Each test drives the public API the HTTP layer and the simulator use (begin, verify,
respond_push, status) and checks what a user or an operator would see.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from mfa import (
    AuthStatus,
    Challenge,
    DeliveryError,
    DenialReason,
    Engine,
    FraudPolicy,
    InvalidInput,
    MemoryPendingStore,
    MethodType,
    NotFound,
    Policy,
    SeededEntropy,
    security_defaults,
)
from mfa.delivery import Channel, SinkGateway
from mfa.otp import totp_at
from mfa.push_proof import PushDevice
from tests.mfa.conftest import PUSH_KEY, answer_push

US = "+14255550100"


def sms_user(engine: Engine, user_id: str = "alice", phone: str = US) -> None:
    engine.create_user(user_id, first_name="Alice", last_name="Liddell", phone=phone)
    engine.register_method(user_id, "sms")


def test_sms_sign_in_sends_a_fresh_six_digit_code_and_accepts_it(
    expect: Any, engine: Engine, sink: SinkGateway, code_to: Callable[[str], str]
) -> None:
    sms_user(engine)
    first = expect.challenge(engine.begin("alice", client_ip="192.0.2.7"))
    assert first.auth_id.startswith("mfa1.")
    assert first.method is MethodType.SMS
    assert first.server == "mfa1"
    assert first.expires_in == 300
    assert first.provider == "sink"
    code = code_to(US)
    assert len(code) == 6 and code.isdigit()
    message = sink.messages_to(US)[0]
    assert message.channel is Channel.SMS
    assert message.auth_id == first.auth_id
    assert message.sender == first.sender
    assert engine.verify(first.auth_id, code).ok
    assert engine.status(first.auth_id).status is AuthStatus.SUCCESS


def test_codes_differ_between_authentications(
    expect: Any, engine: Engine, code_to: Callable[[str], str]
) -> None:
    sms_user(engine)
    codes = set()
    ids = set()
    for _ in range(5):
        c = expect.challenge(engine.begin("alice"))
        ids.add(c.auth_id)
        codes.add(code_to(US))
    assert len(ids) == 5
    assert len(codes) >= 4  # five draws from a million: a repeat has probability 1e-5


def test_voice_sends_the_code_by_call(
    expect: Any, engine: Engine, sink: SinkGateway, code_to: Callable[[str], str]
) -> None:
    engine.create_user("bob", phone=US)
    engine.register_method("bob", "voice")
    c = expect.challenge(engine.begin("bob", "voice"))
    assert sink.messages_to(US)[0].channel is Channel.VOICE
    assert engine.verify(c.auth_id, code_to(US)).ok


def test_code_is_accepted_with_spaces_around_and_inside(
    expect: Any, engine: Engine, code_to: Callable[[str], str]
) -> None:
    sms_user(engine)
    c = expect.challenge(engine.begin("alice"))
    assert engine.verify(c.auth_id, f" {code_to(US)}\n").ok
    c = expect.challenge(engine.begin("alice"))
    code = code_to(US)
    assert engine.verify(c.auth_id, f"{code[:3]} {code[3:]}").ok  # as apps display it


def test_the_default_method_is_used_when_none_is_named(expect: Any, engine: Engine) -> None:
    engine.create_user("carol", phone=US)
    engine.register_method("carol", "sms")
    totp = engine.register_method("carol", "totp", default=True)
    c = expect.challenge(engine.begin("carol"))
    assert c.method is MethodType.TOTP
    assert engine.verify(c.auth_id, totp_at(totp.secret or "", engine.clock.now())).ok


def test_a_method_string_that_is_not_a_method_is_invalid_input(engine: Engine) -> None:
    sms_user(engine)
    with pytest.raises(InvalidInput, match="method"):
        engine.begin("alice", "carrier-pigeon")


# ----------------------------------------------------------------- every denial reason


def test_wrong_code(expect: Any, engine: Engine, code_to: Callable[[str], str]) -> None:
    sms_user(engine)
    c = expect.challenge(engine.begin("alice"))
    wrong = f"{(int(code_to(US)) + 1) % 10**6:06d}"
    verdict = engine.verify(c.auth_id, wrong)
    assert verdict.reason is DenialReason.WRONG_CODE
    assert engine.status(c.auth_id).status is AuthStatus.PENDING
    # a typo does not end the authentication
    assert engine.verify(c.auth_id, code_to(US)).ok


def test_expired(expect: Any, engine: Engine, code_to: Callable[[str], str]) -> None:
    sms_user(engine)
    c = expect.challenge(engine.begin("alice"))
    engine.clock.advance(300)  # type: ignore[attr-defined]
    assert engine.verify(c.auth_id, code_to(US)).reason is DenialReason.EXPIRED
    assert engine.verify(c.auth_id, code_to(US)).reason is DenialReason.EXPIRED
    view = engine.status(c.auth_id)
    assert (view.status, view.reason) == (AuthStatus.EXPIRED, DenialReason.EXPIRED)


@pytest.mark.parametrize(
    "auth_id", ["", "garbage", "mfa1.short", "mfa1." + "A" * 22, "MFA1." + "A" * 22, None, 7]
)
def test_unknown_auth(expect: Any, engine: Engine, auth_id: object) -> None:
    sms_user(engine)
    expect.challenge(engine.begin("alice"))
    verdict = engine.verify(auth_id, "123456")  # type: ignore[arg-type]
    assert verdict.reason is DenialReason.UNKNOWN_AUTH
    assert answer_push(engine, auth_id, True).reason is (  # type: ignore[arg-type]
        DenialReason.UNKNOWN_AUTH
    )


def test_status_of_an_unknown_auth_is_not_found(engine: Engine) -> None:
    with pytest.raises(NotFound):
        engine.status("mfa1." + "B" * 22)
    with pytest.raises(NotFound):
        engine.status("nonsense")


def test_wrong_server(
    expect: Any, make_engine: Callable[..., Engine], code_to: Callable[[str], str]
) -> None:
    from mfa import InMemoryRepository

    shared_db = InMemoryRepository()
    mfa1 = make_engine("mfa1", repository=shared_db)
    mfa2 = make_engine("mfa2", repository=shared_db)
    sms_user(mfa1)
    c = expect.challenge(mfa1.begin("alice"))
    verdict = mfa2.verify(c.auth_id, code_to(US))
    assert verdict.reason is DenialReason.WRONG_SERVER
    assert verdict.auth_id == c.auth_id
    assert mfa2.status(c.auth_id).reason is DenialReason.WRONG_SERVER


def test_too_many_attempts(expect: Any, engine: Engine, code_to: Callable[[str], str]) -> None:
    sms_user(engine)
    c = expect.challenge(engine.begin("alice"))
    code = code_to(US)
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    reasons = [engine.verify(c.auth_id, wrong).reason for _ in range(5)]
    assert reasons == [DenialReason.WRONG_CODE] * 5
    # the sixth try is refused even with the right code
    assert engine.verify(c.auth_id, code).reason is DenialReason.TOO_MANY_ATTEMPTS
    assert engine.status(c.auth_id).status is AuthStatus.DENIED


def test_too_many_attempts_follows_the_policy(
    expect: Any, make_engine: Callable[..., Engine], code_to: Callable[[str], str]
) -> None:
    engine = make_engine(policy=Policy(max_verify_attempts=2))
    sms_user(engine)
    c = expect.challenge(engine.begin("alice"))
    assert engine.verify(c.auth_id, "000000x").reason is DenialReason.WRONG_CODE
    assert engine.verify(c.auth_id, "000000x").reason is DenialReason.WRONG_CODE
    assert engine.verify(c.auth_id, code_to(US)).reason is DenialReason.TOO_MANY_ATTEMPTS


def test_locked_out(expect: Any, engine: Engine, code_to: Callable[[str], str]) -> None:
    sms_user(engine)
    for _ in range(2):
        c = expect.challenge(engine.begin("alice"))
        for _ in range(5):
            engine.verify(c.auth_id, "not-a-code")
    denial = expect.denial(engine.begin("alice"))
    assert denial.reason is DenialReason.LOCKED_OUT
    assert denial.retry_after == 15 * 60


def test_replayed_sms_code(expect: Any, engine: Engine, code_to: Callable[[str], str]) -> None:
    sms_user(engine)
    c = expect.challenge(engine.begin("alice"))
    assert engine.verify(c.auth_id, code_to(US)).ok
    assert engine.verify(c.auth_id, code_to(US)).reason is DenialReason.REPLAYED


def test_replayed_totp_code(expect: Any, engine: Engine) -> None:
    engine.create_user("dave")
    totp = engine.register_method("dave", "totp")
    code = totp_at(totp.secret or "", engine.clock.now())
    first = expect.challenge(engine.begin("dave"))
    assert engine.verify(first.auth_id, code).ok
    second = expect.challenge(engine.begin("dave"))
    assert engine.verify(second.auth_id, code).reason is DenialReason.REPLAYED


def test_rate_limited(expect: Any, engine: Engine) -> None:
    sms_user(engine)
    for _ in range(5):
        expect.challenge(engine.begin("alice"))
        engine.clock.advance(10)  # type: ignore[attr-defined]
    denial = expect.denial(engine.begin("alice"))
    assert denial.reason is DenialReason.RATE_LIMITED
    assert denial.retry_after == pytest.approx(250)


def test_method_not_allowed(expect: Any, engine: Engine, code_to: Callable[[str], str]) -> None:
    sms_user(engine)
    # a method the user has not registered
    assert expect.denial(engine.begin("alice", "voice")).reason is DenialReason.METHOD_NOT_ALLOWED
    # a code for a push authentication, and a push answer for an sms one
    engine.register_method("alice", "push", device_token="device-token-alice", public_key=PUSH_KEY)
    push = expect.challenge(engine.begin("alice", "push"))
    assert engine.verify(push.auth_id, "123456").reason is DenialReason.METHOD_NOT_ALLOWED
    sms = expect.challenge(engine.begin("alice", "sms"))
    verdict = answer_push(engine, sms)
    assert verdict.reason is DenialReason.METHOD_NOT_ALLOWED
    # neither wrong call used up the authentication
    assert engine.verify(sms.auth_id, code_to(US)).ok
    assert answer_push(engine, push).ok


def test_method_not_allowed_by_security_defaults(
    expect: Any,
    make_engine: Callable[..., Engine],
) -> None:
    engine = make_engine(policy=security_defaults())
    engine.create_user("erin", phone=US)
    engine.register_method(
        "erin", "push", device_token="device-token-erin", default=True, public_key=PUSH_KEY
    )
    engine.register_method("erin", "sms")
    for method in ("sms", "voice"):
        assert expect.denial(engine.begin("erin", method)).reason is DenialReason.METHOD_NOT_ALLOWED
    assert isinstance(engine.begin("erin", "push"), Challenge)


def test_not_activated(expect: Any, engine: Engine) -> None:
    engine.create_user("frank")
    method = engine.register_method("frank", "push")
    assert expect.denial(engine.begin("frank")).reason is DenialReason.NOT_ACTIVATED
    engine.activate_push("frank", method.method_id, "device-token-frank", PUSH_KEY)
    c = expect.challenge(engine.begin("frank"))
    # another device's answer: its signature is not the activated key's
    verdict = answer_push(engine, c, device=PushDevice.generate())
    assert verdict.reason is DenialReason.BAD_SIGNATURE


def test_registration_required(expect: Any, engine: Engine) -> None:
    assert expect.denial(engine.begin("nobody")).reason is DenialReason.REGISTRATION_REQUIRED
    engine.create_user("gina", phone=US)
    assert expect.denial(engine.begin("gina")).reason is DenialReason.REGISTRATION_REQUIRED


def test_user_denied(expect: Any, engine: Engine) -> None:
    engine.create_user("hank")
    engine.register_method("hank", "push", device_token="device-token-hank", public_key=PUSH_KEY)
    c = expect.challenge(engine.begin("hank"))
    assert answer_push(engine, c, False).reason is (DenialReason.USER_DENIED)
    view = engine.status(c.auth_id)
    assert (view.status, view.reason) == (AuthStatus.DENIED, DenialReason.USER_DENIED)
    # the answer is final
    assert answer_push(engine, c).reason is (DenialReason.USER_DENIED)


def test_every_denial_reason_is_reachable(
    expect: Any, make_engine: Callable[..., Engine], clock: object
) -> None:
    """One pass over all reasons, so a reason added to the enum needs a way to reach it."""
    from mfa import InMemoryRepository

    db = InMemoryRepository()
    mfa1 = make_engine("mfa1", repository=db)
    mfa2 = make_engine("mfa2", repository=db)
    seen: set[DenialReason] = set()

    def note(outcome: object) -> None:
        reason = getattr(outcome, "reason", None)
        if reason is not None:
            seen.add(reason)

    note(mfa1.begin("ghost"))  # registration_required
    mfa1.create_user("u", phone=US)
    mfa1.register_method("u", "sms")
    mfa1.register_method("u", "totp")
    pending_push = mfa1.register_method("u", "push")
    note(mfa1.begin("u", "voice"))  # method_not_allowed
    c = expect.challenge(mfa1.begin("u", "sms"))
    note(mfa2.verify(c.auth_id, "1"))  # wrong_server
    note(mfa1.verify("mfa1.nope", "1"))  # unknown_auth
    for _ in range(6):
        note(mfa1.verify(c.auth_id, "1"))  # wrong_code, too_many_attempts
    for _ in range(5):
        note(mfa1.begin("u", "sms"))  # rate_limited on the 5th
    totp_code = totp_at(mfa1.repository.list_methods("u")[1].secret or "", mfa1.clock.now())
    note(mfa1.verify(expect.challenge(mfa1.begin("u", "totp")).auth_id, totp_code))
    note(mfa1.verify(expect.challenge(mfa1.begin("u", "totp")).auth_id, totp_code))  # replayed
    clock.advance(300)  # type: ignore[attr-defined]  # the send window is past
    note(mfa1.begin("u", "push"))  # not_activated
    mfa1.activate_push("u", pending_push.method_id, "device-token-u", PUSH_KEY)
    note(answer_push(mfa1, expect.challenge(mfa1.begin("u", "push")), False))  # user_denied
    push = expect.challenge(mfa1.begin("u", "push"))
    assert push.number is not None
    note(answer_push(mfa1, push, number=10 + (push.number - 10 + 1) % 90))  # wrong_number
    thief = PushDevice.generate()
    note(answer_push(mfa1, expect.challenge(mfa1.begin("u", "push")), device=thief))
    late = expect.challenge(mfa1.begin("u", "totp"))
    clock.advance(301)  # type: ignore[attr-defined]
    note(mfa1.verify(late.auth_id, "1"))  # expired
    # the totp success reset the failure count; the replay, the wrong number and these make
    # ten in a row
    for _ in range(8):
        note(mfa1.verify(expect.challenge(mfa1.begin("u", "totp")).auth_id, "1"))
    note(mfa1.begin("u", "totp"))  # locked_out
    mfa1.create_user("gone", phone=US)
    mfa1.register_method("gone", "sms")
    mfa1.disable_user("gone")
    note(mfa1.begin("gone"))  # user_disabled
    unreachable = make_engine("mfa3", repository=db, gateway=_NoProvider())
    unreachable.create_user("far", phone=US)
    unreachable.register_method("far", "sms")
    with pytest.raises(DeliveryError):
        unreachable.begin("far")
    note(next(r for r in db.logs() if r.unique_id == "far"))  # delivery_failed, logged
    guarded = make_engine(
        "mfa4",
        repository=db,
        policy=Policy(fraud=FraudPolicy(allowed_countries=frozenset({"CA"}), ip_max_sends=1)),
    )
    guarded.create_user("v", phone=US)
    guarded.register_method("v", "sms")
    note(guarded.begin("v", "sms"))  # country_blocked
    guarded.create_user("w", phone="+16135550123")
    guarded.register_method("w", "sms")
    expect.challenge(guarded.begin("w", "sms", client_ip="192.0.2.1"))
    note(guarded.begin("w", "sms", client_ip="192.0.2.1"))  # fraud_suspected
    assert seen == set(DenialReason)


class _NoProvider:
    def send(self, message: object) -> object:
        raise DeliveryError("no provider took the message")


def test_seeded_entropy_makes_a_run_reproducible(
    expect: Any, make_engine: Callable[..., Engine]
) -> None:
    def run() -> list[tuple[str, str | None]]:
        sink = SinkGateway()
        engine = make_engine(
            entropy=SeededEntropy(np.random.default_rng(42)),
            gateway=sink,
            pending=MemoryPendingStore(),
        )
        sms_user(engine)
        out = []
        for _ in range(3):
            c = expect.challenge(engine.begin("alice"))
            out.append((c.auth_id, c.sender))
            out.append((sink.messages_to(US)[0].code or "", None))
        return out

    assert run() == run()


def test_a_verdict_names_the_method_of_the_authentication_it_found() -> None:
    from mfa import (
        Challenge,
        Engine,
        InMemoryRepository,
        ManualClock,
        MemoryPendingStore,
        MethodType,
        ServerIdentity,
    )
    from mfa.delivery import SinkGateway

    sink = SinkGateway()
    engine = Engine(
        server=ServerIdentity("mfa1"),
        clock=ManualClock(),
        repository=InMemoryRepository(),
        pending=MemoryPendingStore(),
        gateway=sink,
        secret_key=b"k" * 32,
    )
    engine.create_user("ann", phone="+14255550100")
    engine.register_method("ann", "sms")
    challenge = engine.begin("ann")
    assert isinstance(challenge, Challenge)
    assert engine.verify(challenge.auth_id, "000000x").method is MethodType.SMS
    assert engine.verify("mfa1." + "A" * 22, "123456").method is None
