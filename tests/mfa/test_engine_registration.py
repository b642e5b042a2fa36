"""Users, method registration and the seed's reasons to (re-)register."""

from __future__ import annotations

import pytest

from mfa import (
    Challenge,
    ConflictError,
    Denial,
    DenialReason,
    Engine,
    Enrolment,
    EnrolmentError,
    InvalidInput,
    MethodType,
    NotFound,
    Policy,
    RegistrationReason,
    security_defaults,
)
from mfa.otp import new_totp_secret
from mfa.tokens.model import HardwareToken
from tests.mfa.conftest import PUSH_KEY

R = RegistrationReason


def test_create_user_validates_and_normalises(engine: Engine) -> None:
    user = engine.create_user(
        "alice@contoso.com", first_name="Alice", email="alice@contoso.com", phone="+1 425 555 0100"
    )
    assert user.phone == "+14255550100"
    assert user.country == "US"
    assert user.enabled_at == engine.clock.now()
    assert engine.create_user("x", phone="+44 20 7946 0958").country == "GB"
    with pytest.raises(ConflictError):
        engine.create_user("alice@contoso.com")
    for bad in ("", "has space", "a/b", "x" * 129):
        with pytest.raises(InvalidInput, match="user_id"):
            engine.create_user(bad)
    with pytest.raises(InvalidInput, match="email"):
        engine.create_user("bob", email="not-an-email")
    for phone in ("4255550100", "+1 555", "+999 123", "phone"):
        with pytest.raises(InvalidInput, match="phone"):
            engine.create_user("bob", phone=phone)
    with pytest.raises(NotFound):
        engine.get_user("bob")  # nothing half-created


def test_register_method_checks_its_input(engine: Engine) -> None:
    engine.create_user("carol")
    with pytest.raises(InvalidInput, match="type"):
        engine.register_method("carol", "fax")
    with pytest.raises(InvalidInput, match="phone"):
        engine.register_method("carol", "sms")  # no phone anywhere
    with pytest.raises(InvalidInput, match="serial"):
        engine.register_method("carol", "hardware_token")
    with pytest.raises(InvalidInput, match="serial"):
        engine.register_method("carol", "hardware_token", serial="NOPE")
    with pytest.raises(NotFound):
        engine.register_method("nobody", "totp")
    assert list(engine.repository.list_methods("carol")) == []


def test_sms_with_its_own_phone_sets_the_users_phone(engine: Engine) -> None:
    engine.create_user("dave")
    method = engine.register_method("dave", "sms", phone="+1 613 555 0123")
    assert method.phone == "+16135550123"
    assert engine.get_user("dave").country == "CA"


def test_first_method_becomes_default_and_default_can_move(engine: Engine) -> None:
    engine.create_user("erin", phone="+14255550100")
    sms = engine.register_method("erin", "sms")
    totp = engine.register_method("erin", "totp")
    assert sms.is_default and not totp.is_default
    engine.register_method("erin", "voice", default=True)
    defaults = [m.type for m in engine.repository.list_methods("erin") if m.is_default]
    assert defaults == [MethodType.VOICE]


def test_totp_method_has_a_secret_and_a_provisioning_uri(engine: Engine) -> None:
    engine.create_user("frank")
    totp = engine.register_method("frank", "totp")
    assert totp.secret and len(totp.secret) == 32
    uri = engine.provisioning_uri(totp)
    assert uri.startswith("otpauth://totp/mfalab:frank?secret=" + totp.secret)
    sms_like = engine.register_method("frank", "push")
    with pytest.raises(InvalidInput):
        engine.provisioning_uri(sms_like)


def test_enrol_creates_a_user_with_a_default_method_ready_to_sign_in(engine: Engine, sink) -> None:  # type: ignore[no-untyped-def]
    sms = engine.enrol("hana", "sms", phone="+1 425 555 0199", email="hana@contoso.com")
    assert sms.is_default and sms.phone == "+14255550199"
    user = engine.get_user("hana")
    assert (user.phone, user.country, user.email) == ("+14255550199", "US", "hana@contoso.com")
    assert list(engine.repository.list_methods("hana")) == [sms]
    assert isinstance(engine.begin("hana"), Challenge)
    assert engine.registration_required("hana") == []
    totp = engine.enrol("ivan", MethodType.TOTP, licensed=True)
    assert totp.secret and len(totp.secret) == 32 and engine.get_user("ivan").licensed
    push = engine.enrol("jane", "push", device_token="device-0001", public_key=PUSH_KEY)
    assert push.activated and push.device_token == "device-0001"
    token = HardwareToken("HT-1", new_totp_secret())
    engine.import_tokens([token])
    assert engine.enrol("kurt", "hardware_token", serial="HT-1").serial == "HT-1"
    assert engine.repository.get_token("HT-1").user_id == "kurt"  # type: ignore[union-attr]


def test_a_refused_enrolment_leaves_nothing_behind(engine: Engine) -> None:
    engine.import_tokens([HardwareToken("HT-2", new_totp_secret())])
    engine.enrol("owner", "hardware_token", serial="HT-2")
    refused: list[tuple[str, dict[str, object], type[Exception], str]] = [
        ("sms", {}, InvalidInput, "phone"),
        ("voice", {"phone": "+1 555"}, InvalidInput, "phone"),
        ("fax", {}, InvalidInput, "type"),
        ("push", {"device_token": "short"}, InvalidInput, "device_token"),
        ("hardware_token", {}, InvalidInput, "serial"),
        ("hardware_token", {"serial": "NOPE"}, InvalidInput, "serial"),
        ("hardware_token", {"serial": "HT-2"}, ConflictError, "another user"),
        ("totp", {"email": "not-an-email"}, InvalidInput, "email"),
    ]
    for kind, extra, error, match in refused:
        with pytest.raises(error, match=match):
            engine.enrol("lena", kind, **extra)  # type: ignore[arg-type]
        assert engine.repository.get_user("lena") is None, (kind, extra)
        assert list(engine.repository.list_methods("lena")) == []
    assert engine.repository.get_token("HT-2").user_id == "owner"  # type: ignore[union-attr]
    first = engine.enrol("lena", "totp")
    with pytest.raises(ConflictError):
        engine.enrol("lena", "sms", phone="+14255550100")
    assert list(engine.repository.list_methods("lena")) == [first]  # the existing user untouched


def test_enrol_many_enrols_a_directory_batch_at_one_moment(engine: Engine) -> None:
    engine.import_tokens([HardwareToken("HT-5", new_totp_secret())])
    batch = [
        Enrolment("u1", "sms", phone="+1 425 555 0101", first_name="Una"),
        Enrolment("u2", MethodType.TOTP, licensed=True),
        Enrolment("u3", "push", device_token="device-0003", public_key=PUSH_KEY),
        Enrolment("u4", "hardware_token", serial="HT-5"),
        Enrolment("u5", "voice", phone="+44 20 7946 0958"),
    ]
    engine.clock.advance(42.0)  # type: ignore[attr-defined]
    methods = engine.enrol_many(batch)
    assert [m.user_id for m in methods] == ["u1", "u2", "u3", "u4", "u5"]
    assert all(m.is_default and m.created_at == engine.clock.now() for m in methods)
    assert [list(engine.repository.list_methods(e.user_id)) for e in batch] == [
        [m] for m in methods
    ]
    assert methods[0].phone == "+14255550101" and engine.get_user("u1").first_name == "Una"
    assert engine.get_user("u5").country == "GB"
    assert methods[1].secret and len(methods[1].secret) == 32 and engine.get_user("u2").licensed
    assert methods[2].activated
    assert engine.repository.get_token("HT-5").user_id == "u4"  # type: ignore[union-attr]
    assert {u.enabled_at for u in map(engine.get_user, ["u1", "u3"])} == {engine.clock.now()}
    assert all(isinstance(engine.begin(e.user_id), Challenge) for e in batch)


def test_enrol_many_refuses_the_whole_batch_and_names_every_problem(engine: Engine) -> None:
    engine.import_tokens([HardwareToken(s, new_totp_secret()) for s in ("HT-6", "HT-7")])
    engine.enrol("owner", "hardware_token", serial="HT-7")
    batch = [
        Enrolment("ok1", "sms", phone="+14255550111"),
        Enrolment("b1", "sms", phone="+1 555"),
        Enrolment("bad id", "fax"),
        Enrolment("ok1", "totp"),
        Enrolment("t1", "hardware_token", serial="HT-6"),
        Enrolment("t2", "hardware_token", serial="HT-6"),
        Enrolment("t3", "hardware_token", serial="HT-7"),
        Enrolment("e1", "totp", email="nope"),
    ]
    with pytest.raises(EnrolmentError) as caught:
        engine.enrol_many(batch, source="directory.csv")
    problems = {p.where: p.reason for p in caught.value.problems}
    assert list(problems) == [
        "enrolment 2 ('b1')",
        "enrolment 3 ('bad id')",
        "enrolment 4 ('ok1')",
        "enrolment 6 ('t2')",
        "enrolment 7 ('t3')",
        "enrolment 8 ('e1')",
    ]
    assert problems["enrolment 2 ('b1')"].startswith("phone")
    assert problems["enrolment 3 ('bad id')"].startswith("type")  # the method is checked first
    assert "repeated" in problems["enrolment 4 ('ok1')"]
    assert "two users" in problems["enrolment 6 ('t2')"]
    assert "another user" in problems["enrolment 7 ('t3')"]
    assert str(caught.value).startswith("directory.csv: 6 problem(s), nobody enrolled")
    for user_id in ("ok1", "b1", "t1", "t2", "e1"):
        assert engine.repository.get_user(user_id) is None
        assert list(engine.repository.list_methods(user_id)) == []
    assert engine.repository.get_token("HT-6").user_id is None  # type: ignore[union-attr]


def test_enrol_many_with_an_existing_user_enrols_nobody(engine: Engine) -> None:
    engine.enrol("kept", "totp")
    with pytest.raises(ConflictError, match="kept"):
        engine.enrol_many(
            [Enrolment("new", "totp"), Enrolment("kept", "sms", phone="+14255550122")]
        )
    assert engine.repository.get_user("new") is None
    assert [m.type for m in engine.repository.list_methods("kept")] == [MethodType.TOTP]


def test_reasons_no_method(engine: Engine) -> None:
    engine.create_user("gina")
    assert engine.registration_required("gina") == [R.NO_METHOD_REGISTERED]
    engine.register_method("gina", "totp")
    assert engine.registration_required("gina") == []
    with pytest.raises(NotFound):
        engine.registration_required("nobody")


def test_reasons_registration_policy(engine: Engine) -> None:
    engine.create_user("hank")
    engine.register_method("hank", "totp")
    engine.apply_registration_policy("hank")
    assert engine.registration_required("hank") == [R.REGISTRATION_POLICY]
    denial = engine.begin("hank")
    assert isinstance(denial, Denial) and denial.reason is DenialReason.REGISTRATION_REQUIRED
    engine.register_method("hank", "push", device_token="device-token-hank", public_key=PUSH_KEY)
    assert engine.registration_required("hank") == []
    assert isinstance(engine.begin("hank"), Challenge)


def test_reasons_default_method_disabled_by_an_admin(make_engine) -> None:  # type: ignore[no-untyped-def]
    from mfa import InMemoryRepository

    db = InMemoryRepository()
    before = make_engine(repository=db)
    before.create_user("ivy", phone="+14255550100")
    before.register_method("ivy", "sms")
    before.register_method("ivy", "totp")
    assert before.registration_required("ivy") == []
    # the admin disables text messages
    after = make_engine(repository=db, policy=Policy(disabled_methods=frozenset({MethodType.SMS})))
    assert after.registration_required("ivy") == [R.DEFAULT_METHOD_DISABLED]
    denial = after.begin("ivy")
    assert isinstance(denial, Denial) and denial.reason is DenialReason.REGISTRATION_REQUIRED
    # choosing a new default method ends it
    after.register_method("ivy", "totp", default=True)
    assert after.registration_required("ivy") == []
    refused = after.begin("ivy", "sms")
    assert isinstance(refused, Denial) and refused.reason is DenialReason.METHOD_NOT_ALLOWED


def test_reasons_admin_reset(engine: Engine) -> None:
    engine.create_user("jo", phone="+14255550100")
    engine.register_method("jo", "sms")
    engine.register_method("jo", "push", device_token="device-token-jo", public_key=PUSH_KEY)
    engine.reset_user("jo")
    assert list(engine.repository.list_methods("jo")) == []
    assert engine.registration_required("jo") == [R.NO_METHOD_REGISTERED, R.ADMIN_RESET]
    denial = engine.begin("jo")
    assert isinstance(denial, Denial) and denial.reason is DenialReason.REGISTRATION_REQUIRED
    engine.register_method("jo", "sms")
    assert engine.registration_required("jo") == []
    assert isinstance(engine.begin("jo"), Challenge)


def test_admin_reset_invalidates_open_authentications(engine: Engine, sink) -> None:  # type: ignore[no-untyped-def]
    from mfa.otp import totp_at

    engine.create_user("kay", phone="+14255550100")
    secret = engine.register_method("kay", "totp").secret or ""
    engine.register_method("kay", "sms")
    by_app = engine.begin("kay", "totp")
    by_sms = engine.begin("kay", "sms")
    assert isinstance(by_app, Challenge) and isinstance(by_sms, Challenge)
    engine.reset_user("kay")
    verdict = engine.verify(by_app.auth_id, totp_at(secret, engine.clock.now()))
    assert verdict.reason is DenialReason.REGISTRATION_REQUIRED
    verdict = engine.verify(by_sms.auth_id, sink.messages_to("+14255550100")[0].code)
    assert verdict.reason is DenialReason.REGISTRATION_REQUIRED


def test_security_defaults_allow_only_push_and_totp(make_engine) -> None:  # type: ignore[no-untyped-def]
    engine = make_engine(policy=security_defaults())
    engine.create_user("lee", phone="+14255550100")
    engine.register_method("lee", "sms")
    assert engine.registration_required("lee") == [R.DEFAULT_METHOD_DISABLED]
    engine.register_method("lee", "totp", default=True)
    assert engine.registration_required("lee") == []
    for method in ("sms", "voice", "hardware_token"):
        denial = engine.begin("lee", method)
        assert isinstance(denial, Denial) and denial.reason is DenialReason.METHOD_NOT_ALLOWED
    assert isinstance(engine.begin("lee", "totp"), Challenge)
    engine.register_method("lee", "push", device_token="device-token-lee", public_key=PUSH_KEY)
    assert isinstance(engine.begin("lee", "push"), Challenge)
    assert security_defaults().allowed_methods == {MethodType.PUSH, MethodType.TOTP}
