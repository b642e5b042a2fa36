"""Users and their methods: creating users, registering and enrolling methods, and the
seed's reasons a user must register security information.

Everything is checked before anything is stored, so a refused registration or enrolment
leaves nothing behind. These are steps of ``mfa.engine.Engine``, written as functions of it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from mfa.enrolment import Enrolment
from mfa.errors import ConflictError, EnrolmentError, InvalidInput, ProblemItem
from mfa.methods import DELIVERED_METHODS, MethodType, RegisteredMethod
from mfa.push_proof import checked_public_key
from mfa.reasons import RegistrationReason
from mfa.tokens.model import HardwareToken
from mfa.users import User, parse_phone

if TYPE_CHECKING:
    from mfa.engine import Engine

__all__ = [
    "check_device_token",
    "default_of",
    "enrol",
    "enrol_many",
    "enrolment_records",
    "method_type",
    "pick_method",
    "register_method",
    "registration_reasons",
    "user_record",
]

_USER_ID = re.compile(r"^[^\s/?#]{1,128}$")
_TOTP_SECRET_CHARS = 32  # 32 base32 characters = 160 bits, as RFC 4226 §4 recommends


def user_record(
    user_id: str,
    *,
    first_name: str | None,
    last_name: str | None,
    email: str | None,
    phone: str | None,
    licensed: bool,
    now: float,
) -> User:
    """A checked new user, not yet stored (``InvalidInput`` names a bad field)."""
    if not isinstance(user_id, str) or not _USER_ID.match(user_id):
        raise InvalidInput("user_id", "1 to 128 characters without spaces, '/', '?' or '#'")
    if email is not None and "@" not in email:
        raise InvalidInput("email", f"{email!r} is not an e-mail address")
    parsed = parse_phone(phone) if phone is not None else None
    return User(
        user_id=user_id,
        first_name=first_name,
        last_name=last_name,
        email=email,
        phone=parsed.e164 if parsed else None,
        country=parsed.country if parsed else None,
        licensed=licensed,
        enabled_at=now,
    )


def register_method(
    engine: Engine,
    user: User,
    kind: MethodType,
    *,
    phone: str | None,
    serial: str | None,
    device_token: str | None,
    public_key: str | None,
    default: bool,
) -> RegisteredMethod:
    """``Engine.register_method`` for an existing user: sms/voice use ``phone``, else the
    user's number (which a user without one then gets)."""
    raw = phone if phone is not None else user.phone
    token = checked_method(engine, user.user_id, kind, raw, serial, device_token, public_key)
    number = None
    if kind in DELIVERED_METHODS:
        if raw is user.phone:
            number = user.phone  # stored in E.164 when the user was created
        else:
            assert raw is not None  # checked_method refused it otherwise
            parsed = parse_phone(raw)
            number = parsed.e164
            if user.phone is None:
                user = replace(user, phone=parsed.e164, country=parsed.country)
                engine.repository.save_user(user)
    now = engine.clock.now()
    registered = method_record(
        engine, user.user_id, kind, number, device_token, token, default, now, public_key
    )
    return _add_method(engine, user, registered, token)


def enrolment_records(
    engine: Engine, entry: Enrolment, now: float
) -> tuple[User, RegisteredMethod, HardwareToken | None]:
    """One checked enrolment, nothing stored yet: the new user, their default method and
    the hardware token now assigned to them, if any (``InvalidInput`` or
    ``ConflictError`` if it cannot be enrolled)."""
    user_id = entry.user_id
    kind = method_type(entry.method)
    token = checked_method(
        engine, user_id, kind, entry.phone, entry.serial, entry.device_token, entry.public_key
    )
    user = user_record(
        user_id,
        first_name=entry.first_name,
        last_name=entry.last_name,
        email=entry.email,
        phone=entry.phone,
        licensed=entry.licensed,
        now=now,
    )
    registered = method_record(
        engine, user_id, kind, user.phone, entry.device_token, token, True, now, entry.public_key
    )
    return user, registered, None if token is None else replace(token, user_id=user_id)


def enrol(engine: Engine, entry: Enrolment) -> RegisteredMethod:
    """``Engine.enrol``: one enrolment checked, then the user, their method and the token
    assigned to them stored together."""
    user, registered, token = enrolment_records(engine, entry, engine.clock.now())
    engine.repository.add_users((user,), (registered,), () if token is None else (token,))
    return registered


def enrol_many(
    engine: Engine, enrolments: Iterable[Enrolment], source: str
) -> list[RegisteredMethod]:
    """``Engine.enrol_many``: check every entry, then store all of them or none."""
    now = engine.clock.now()
    users: list[User] = []
    methods: list[RegisteredMethod] = []
    assigned: list[HardwareToken] = []
    problems: list[ProblemItem] = []
    seen: set[str] = set()  # user ids
    serials: set[str] = set()  # hardware tokens given to someone in this batch
    for index, entry in enumerate(enrolments, start=1):
        where = f"enrolment {index} ({entry.user_id!r})"
        try:
            user, registered, token = enrolment_records(engine, entry, now)
        except (InvalidInput, ConflictError) as exc:
            problems.append(ProblemItem(where, str(exc)))
            continue
        if user.user_id in seen:
            problems.append(ProblemItem(where, "user repeated in this batch"))
            continue
        seen.add(user.user_id)
        if token is not None:
            if token.serial in serials:
                problem = f"token {token.serial!r} is given to two users in this batch"
                problems.append(ProblemItem(where, problem))
                continue
            serials.add(token.serial)
            assigned.append(token)
        users.append(user)
        methods.append(registered)
    if problems:
        raise EnrolmentError(source, problems)
    engine.repository.add_users(users, methods, assigned)
    return methods


def checked_method(
    engine: Engine,
    user_id: str,
    kind: MethodType,
    phone: str | None,
    serial: str | None,
    device_token: str | None,
    public_key: str | None = None,
) -> HardwareToken | None:
    """Refuse a registration that cannot succeed, before anything is written; the hardware
    token it names, for that kind."""
    if kind is MethodType.APP_PASSWORD:
        raise InvalidInput("type", "app passwords are created, not registered as a method")
    if kind in DELIVERED_METHODS:
        if phone is None:
            raise InvalidInput("phone", f"a phone number is required for {kind.value}")
    elif kind is MethodType.PUSH:
        if device_token is not None or public_key is not None:
            # the activation step: a delivery address and the key that proves answers
            check_device_token(device_token)
            checked_public_key(public_key)
    elif kind is MethodType.HARDWARE_TOKEN:
        if not serial:
            raise InvalidInput("serial", "the serial number of an imported token is required")
        token = engine.repository.get_token(serial)
        if token is None:
            raise InvalidInput("serial", f"no imported token has serial {serial!r}")
        if token.user_id not in (None, user_id):
            raise ConflictError(f"token {serial!r} is assigned to another user")
        return token
    return None


def method_record(
    engine: Engine,
    user_id: str,
    kind: MethodType,
    number: str | None,
    device_token: str | None,
    token: HardwareToken | None,
    is_default: bool,
    now: float,
    public_key: str | None = None,
) -> RegisteredMethod:
    """A checked registration, not yet stored: a fresh method id, and for totp a fresh
    secret from the entropy port. A push method that comes with its device token and
    public key is active at once (the app did the activation step)."""
    push = kind is MethodType.PUSH and device_token is not None and public_key is not None
    return RegisteredMethod(
        method_id="m-" + engine.entropy.token(12),
        user_id=user_id,
        type=kind,
        phone=number if kind in DELIVERED_METHODS else None,
        device_token=device_token if push else None,
        activated=push,
        secret=engine.entropy.base32(_TOTP_SECRET_CHARS) if kind is MethodType.TOTP else None,
        serial=token.serial if token is not None else None,
        is_default=is_default,
        created_at=now,
        public_key=public_key if push else None,
    )


def _add_method(
    engine: Engine, user: User, registered: RegisteredMethod, token: HardwareToken | None
) -> RegisteredMethod:
    """Store a checked registration: the first method, or one asked to be, becomes the
    default; registering answers an admin reset or a registration policy."""
    repository = engine.repository
    if token is not None:
        repository.save_token(replace(token, user_id=user.user_id))
    existing = repository.list_methods(user.user_id)
    current = default_of(existing)  # flagged, or the first: then none is flagged
    make_default = registered.is_default or current is None or not current.is_default
    if make_default:
        for other in existing:
            if other.is_default:
                repository.save_method(replace(other, is_default=False))
    registered = replace(registered, is_default=make_default)
    repository.add_method(registered)
    if user.pending_registration:
        repository.save_user(replace(user, pending_registration=frozenset()))
    return registered


def registration_reasons(
    user: User, methods: Sequence[RegisteredMethod], enabled: frozenset[MethodType]
) -> list[RegistrationReason]:
    """The seed's reasons a user is prompted to register security information."""
    reasons: list[RegistrationReason] = []
    if not methods:
        reasons.append(RegistrationReason.NO_METHOD_REGISTERED)
    if RegistrationReason.REGISTRATION_POLICY in user.pending_registration:
        reasons.append(RegistrationReason.REGISTRATION_POLICY)
    default = default_of(methods)
    if default is not None and default.type not in enabled:
        reasons.append(RegistrationReason.DEFAULT_METHOD_DISABLED)
    if RegistrationReason.ADMIN_RESET in user.pending_registration:
        reasons.append(RegistrationReason.ADMIN_RESET)
    return reasons


def default_of(methods: Sequence[RegisteredMethod]) -> RegisteredMethod | None:
    """The method flagged default, or else the first registered."""
    for method in methods:
        if method.is_default:
            return method
    return methods[0] if methods else None


def pick_method(
    methods: Sequence[RegisteredMethod], kind: MethodType | None
) -> RegisteredMethod | None:
    """The named kind (its default registration first), or the user's default method."""
    if kind is None:
        return default_of(methods)
    found = None
    for method in methods:
        if method.type is kind:
            if method.is_default:
                return method
            if found is None:
                found = method
    return found


def method_type(method: MethodType | str) -> MethodType:
    """The method type named (``InvalidInput`` listing the choices if it is none)."""
    try:
        return MethodType(method)
    except ValueError:
        choices = [m.value for m in MethodType]
        raise InvalidInput("type", f"{method!r} is not one of {choices}") from None


def check_device_token(device_token: str | None) -> None:
    if not isinstance(device_token, str) or not 8 <= len(device_token) <= 512:
        raise InvalidInput("device_token", "a device token of 8 to 512 characters is required")
