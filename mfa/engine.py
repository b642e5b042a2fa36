"""The reference MFA engine: the single source of truth for MFA semantics.

One ``Engine`` is one MFA server: it has a name and an IP, a clock, a pending-code store, a
delivery gateway and a repository, all injected. The HTTP server runs it on the wall clock;
the simulator runs several on SimPy's clock. Nothing here reads the time, the network or a
global random source on its own.

The rules (from the seed document and the RFCs):
- sms/voice codes are 6 digits, valid for the server's timeout (300 s by default,
  configurable) or 180 s in cloud mode; only the issuing server can validate them unless the
  pending store is shared;
- at most ``max_verify_attempts`` checks per authentication; ``lockout_threshold``
  consecutive failures lock the user for ``lockout_seconds``; at most ``max_sends`` sms, voice
  and push sends per user in any ``send_window_seconds`` ("up to five times in 5 minutes";
  push too, against push bombing);
- a push answer is proven by the activated device's Ed25519 signature, never by its device
  token (a delivery address, sealed at rest and logged as a fingerprint); with number
  matching the approval carries the two digits the sign-in page showed (``mfa.push_proof``);
- TOTP accepts ±``totp_window_steps`` and each step once;
- every authentication leaves one log record with the seed's fields, never a code or secret.

Several engines may share one repository and one pending store (a cluster), so nothing is
read, decided and saved in separate steps: a pending record moves on only by a
compare-and-set (``PendingStore.transition``) and the user's counters only by an atomic
rule (``Repository.update_state``). A request that loses a race reads again and decides
afresh; see ``Engine._answer``.

Every limit is taken before the work it limits: a verify reserves the code's attempt and
the user's guess before it checks anything (``Engine._verify``), an app-password check
reserves the guess before argon2 runs, and a begin counts the send and stores the code and
its log record before it sends (``Engine.begin``). However many requests race, no more
guesses are checked and no more messages sent than the limits allow.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import TypeVar

from mfa.app_passwords import AppPasswordHasher, new_app_password
from mfa.auth_log import AuthLogRecord
from mfa.billing import BillingModel, BillingUsage, ProviderAccount, month_bounds
from mfa.clock import Clock
from mfa.delivery.message import Channel, DeliveryGateway, Message
from mfa.delivery.senders import SenderDirectory
from mfa.enrolment import Enrolment
from mfa.entropy import Entropy, SecretsEntropy
from mfa.errors import (
    BillingModelLocked,
    ConflictError,
    DeliveryError,
    EnrolmentError,
    InvalidInput,
    NotFound,
    ProblemItem,
    ServiceUnavailable,
    TokenImportError,
)
from mfa.fastrecords import builder
from mfa.methods import DELIVERED_METHODS, MethodType, RegisteredMethod
from mfa.otp import match_totp, otpauth_uri
from mfa.outcomes import Challenge, Denial, Verdict
from mfa.pending import PendingAuth, PendingStore
from mfa.policy import Policy
from mfa.push_proof import checked_public_key, fingerprint, push_message, signature_ok
from mfa.reasons import AuthStatus, DenialReason, RegistrationReason
from mfa.repository import Repository
from mfa.security_state import (
    UNCOUNTED,
    Guess,
    SecurityState,
    accept_totp_step,
    record_send,
    release_send,
    reserve_guess,
    settle_success,
)
from mfa.tokens.model import HardwareToken, token_problems
from mfa.users import User, parse_phone

__all__ = ["AuthView", "Engine", "ServerIdentity", "parse_auth_id"]

_A = TypeVar("_A")
_B = TypeVar("_B")
_SERVER_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
_USER_ID = re.compile(r"^[^\s/?#]{1,128}$")
_AUTH_TOKEN_LENGTH = 22  # 64**22 = 2**132
#: Push number matching's range: always two digits to type.
_PUSH_NUMBERS = (10, 99)
_TOTP_SECRET_CHARS = 32  # 32 base32 characters = 160 bits, as RFC 4226 §4 recommends
_PURGE_EVERY = 512
_COUNTRY_CACHE = 4096
#: Users of authentications this engine began and that are still open (see ``_user_of``).
_BEGUN_CACHE = 4096
#: Method names and members to members, without the cost of an enum call on the hot path.
_METHOD_TYPES: dict[str, MethodType] = {m.value: m for m in MethodType}
_CHANNELS = {MethodType.SMS: Channel.SMS, MethodType.VOICE: Channel.VOICE}
#: Methods whose begin sends a message, counted toward the user's send limit.
_SENT_METHODS = DELIVERED_METHODS | {MethodType.PUSH}
# Enum members the hot path compares with, bound once: on Python 3.11 ``EnumType`` has a
# ``__getattr__``, which sends every ``MethodType.PUSH``-style lookup down a slow path
# (about 70 ns each; gone in 3.12), and a simulated sign-in makes a dozen and more.
_PUSH, _TOTP, _HARDWARE_TOKEN = MethodType.PUSH, MethodType.TOTP, MethodType.HARDWARE_TOKEN
_PENDING, _SUCCESS = AuthStatus.PENDING, AuthStatus.SUCCESS
#: Answers that use up a code's attempts (a right answer is not one of them).
_GUESS_FAILURES = frozenset({DenialReason.WRONG_CODE, DenialReason.REPLAYED})
# positional constructors for the records built on every authentication (mfa.fastrecords)
_new_pending = builder(PendingAuth)
_new_log = builder(AuthLogRecord)
_new_message = builder(Message)
_new_challenge = builder(Challenge)
_new_user = builder(User)
_new_method = builder(RegisteredMethod)


@dataclass(frozen=True, slots=True)
class ServerIdentity:
    """The seed's "Multi-Factor Authentication Server Name" and "Server IP"."""

    name: str
    ip: str = "127.0.0.1"

    def __post_init__(self) -> None:
        if not _SERVER_NAME.match(self.name):
            raise ValueError(
                f"server name {self.name!r} must be lower-case letters, digits and dashes"
            )


@dataclass(frozen=True, slots=True)
class AuthView:
    """What ``status`` tells about an authentication."""

    auth_id: str
    status: AuthStatus
    reason: DenialReason | None
    method: MethodType | None = None


def parse_auth_id(auth_id: str) -> tuple[str, str] | None:
    """``'mfa2.Xy…'`` → ``('mfa2', 'Xy…')``: the issuing server is named in every auth id,
    so a wrong server can say so and a router can send the verify to the right one."""
    server, sep, token = auth_id.partition(".")
    if not sep or len(token) != _AUTH_TOKEN_LENGTH or not _SERVER_NAME.match(server):
        return None
    return server, token


class Engine:
    """One MFA server: users and their methods, authentications, tokens, app passwords and
    billing records, with every rule of the seed and the RFCs.

    Safe to call from many threads and from many processes sharing the repository and the
    pending store: every check that only one request may pass (one success per code, the
    attempt count, the send limit, TOTP replay, lockout) is decided by an atomic step of
    the store that holds its state, never by a lock in this process.

    ``begin``/``verify`` are the hot path (the simulator runs millions): records are built
    with ``mfa.fastrecords``, sender pools and phone countries are cached, and nothing is
    read twice that a request already has.
    """

    def __init__(
        self,
        *,
        server: ServerIdentity,
        clock: Clock,
        repository: Repository,
        pending: PendingStore,
        gateway: DeliveryGateway,
        secret_key: bytes,
        policy: Policy | None = None,
        senders: SenderDirectory | None = None,
        entropy: Entropy | None = None,
        app_password_hasher: AppPasswordHasher | None = None,
        issuer: str = "mfalab",
    ) -> None:
        if len(secret_key) < 16:
            raise ValueError("secret_key must be at least 16 bytes")
        self.server = server
        self.clock = clock
        self.repository = repository
        self.pending = pending
        self.gateway = gateway
        self.policy = policy or Policy()
        self.senders = senders or SenderDirectory()
        self.entropy = entropy or SecretsEntropy()
        self.issuer = issuer
        self._hasher = app_password_hasher or AppPasswordHasher()
        self._dummy: str | None = None
        self._puts = 0
        # BLAKE2b takes keys up to 64 bytes; longer secrets are hashed down first
        mac_key = secret_key if len(secret_key) <= 64 else hashlib.sha256(secret_key).digest()
        # keyed once: each digest copies this state rather than re-keying BLAKE2b
        self._mac = hashlib.blake2b(key=mac_key, digest_size=32)
        self._enabled_for: Policy | None = None
        self._enabled: frozenset[MethodType] = frozenset()
        self._auth_prefix = f"{server.name}."
        self._auth_id_length = len(self._auth_prefix) + _AUTH_TOKEN_LENGTH
        self._countries: dict[str, str] = {}
        self._begun: dict[str, User] = {}
        self._sender_pools: dict[str | None, tuple[str, ...]] = {}
        self._pools_of = self.senders
        self._template = ""
        self._template_parts: list[str] = []

    # ------------------------------------------------------------------ users and methods

    def create_user(
        self,
        user_id: str,
        *,
        first_name: str | None = None,
        last_name: str | None = None,
        email: str | None = None,
        phone: str | None = None,
        licensed: bool = False,
    ) -> User:
        user = self._user_record(
            user_id, first_name, last_name, email, phone, licensed, self.clock.now()
        )
        self.repository.add_user(user)
        return user

    def _user_record(
        self,
        user_id: str,
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
        return _new_user(
            user_id,
            first_name,
            last_name,
            email,
            parsed.e164 if parsed else None,  # phone
            parsed.country if parsed else None,  # country
            licensed,
            now,  # enabled_at
            None,  # disabled_at
            frozenset(),  # pending_registration
        )

    def get_user(self, user_id: str) -> User:
        user = self.repository.get_user(user_id)
        if user is None:
            raise NotFound("user", user_id)
        return user

    def set_licensed(self, user_id: str, licensed: bool) -> User:
        user = replace(self.get_user(user_id), licensed=licensed)
        self.repository.save_user(user)
        return user

    def disable_user(self, user_id: str) -> User:
        """Stop counting the user as enabled for MFA (per-user billing) from now on."""
        user = replace(self.get_user(user_id), disabled_at=self.clock.now())
        self.repository.save_user(user)
        return user

    def register_method(
        self,
        user_id: str,
        method: MethodType | str,
        *,
        phone: str | None = None,
        serial: str | None = None,
        device_token: str | None = None,
        default: bool = False,
        public_key: str | None = None,
    ) -> RegisteredMethod:
        """Register a method. A push method registered with its device token and the
        device's public key is activated at once (the app did the activation step); without
        them it waits for ``activate_push``."""
        user = self.get_user(user_id)
        kind = _method_type(method)
        raw = phone if phone is not None else user.phone
        token = self._checked_method(user_id, kind, raw, serial, device_token, public_key)
        number = None
        if kind in DELIVERED_METHODS:
            if raw is user.phone:
                number = user.phone  # stored in E.164 when the user was created
            else:
                assert raw is not None  # _checked_method refused it otherwise
                parsed = parse_phone(raw)
                number = parsed.e164
                if user.phone is None:
                    user = replace(user, phone=parsed.e164, country=parsed.country)
                    self.repository.save_user(user)
        return self._add_method(
            user,
            kind,
            number,
            device_token,
            token,
            default,
            self.repository.list_methods(user_id),
            self.clock.now(),
            public_key,
        )

    def enrol(
        self,
        user_id: str,
        method: MethodType | str,
        *,
        phone: str | None = None,
        serial: str | None = None,
        device_token: str | None = None,
        first_name: str | None = None,
        last_name: str | None = None,
        email: str | None = None,
        licensed: bool = False,
        public_key: str | None = None,
    ) -> RegisteredMethod:
        """Create a user together with their first (default) method, as an admin enrolling
        someone does: everything is checked before anything is stored, so a refused
        enrolment leaves no user behind. sms/voice use ``phone``, the user's number."""
        entry = Enrolment(
            user_id,
            method,
            phone,
            serial,
            device_token,
            first_name,
            last_name,
            email,
            licensed,
            public_key,
        )
        user, registered, token = self._enrolment_records(entry, self.clock.now())
        self.repository.add_users((user,), (registered,), () if token is None else (token,))
        return registered

    def enrol_many(
        self, enrolments: Iterable[Enrolment], *, source: str = "enrolments"
    ) -> list[RegisteredMethod]:
        """A directory sync: ``enrol`` for a whole batch, all or nothing; returns the new
        methods in the batch's order.

        Every entry is checked first (``enrol``'s rules, plus user ids and hardware tokens
        repeated in the batch) and ``EnrolmentError`` lists every problem; user ids that
        exist already make the repository raise ``ConflictError``. Either way nobody is
        enrolled. All are enrolled at one moment, and in one repository transaction."""
        now = self.clock.now()
        users: list[User] = []
        methods: list[RegisteredMethod] = []
        assigned: list[HardwareToken] = []
        problems: list[ProblemItem] = []
        seen: set[str] = set()  # user ids
        serials: set[str] = set()  # hardware tokens given to someone in this batch
        for index, entry in enumerate(enrolments, start=1):
            user_id = entry.user_id
            try:
                user, registered, token = self._enrolment_records(entry, now)
            except (InvalidInput, ConflictError) as exc:
                problems.append(ProblemItem(_entry(index, user_id), str(exc)))
                continue
            if user_id in seen:
                problems.append(ProblemItem(_entry(index, user_id), "user repeated in this batch"))
                continue
            seen.add(user_id)
            if token is not None:
                if token.serial in serials:
                    problem = f"token {token.serial!r} is given to two users in this batch"
                    problems.append(ProblemItem(_entry(index, user_id), problem))
                    continue
                serials.add(token.serial)
                assigned.append(token)
            users.append(user)
            methods.append(registered)
        if problems:
            raise EnrolmentError(source, problems)
        self.repository.add_users(users, methods, assigned)
        return methods

    def _enrolment_records(
        self, entry: Enrolment, now: float
    ) -> tuple[User, RegisteredMethod, HardwareToken | None]:
        """One checked enrolment, nothing stored yet: the new user, their default method and
        the hardware token now assigned to them, if any (``InvalidInput`` or
        ``ConflictError`` if it cannot be enrolled)."""
        user_id = entry.user_id
        kind = _method_type(entry.method)
        token = self._checked_method(
            user_id, kind, entry.phone, entry.serial, entry.device_token, entry.public_key
        )
        user = self._user_record(
            user_id,
            entry.first_name,
            entry.last_name,
            entry.email,
            entry.phone,
            entry.licensed,
            now,
        )
        registered = self._method_record(
            user_id, kind, user.phone, entry.device_token, token, True, now, entry.public_key
        )
        return user, registered, None if token is None else replace(token, user_id=user_id)

    def _checked_method(
        self,
        user_id: str,
        kind: MethodType,
        phone: str | None,
        serial: str | None,
        device_token: str | None,
        public_key: str | None = None,
    ) -> HardwareToken | None:
        """Refuse a registration that cannot succeed, before anything is written; the
        hardware token it names, for that kind."""
        if kind is MethodType.APP_PASSWORD:
            raise InvalidInput("type", "app passwords are created, not registered as a method")
        if kind in DELIVERED_METHODS:
            if phone is None:
                raise InvalidInput("phone", f"a phone number is required for {kind.value}")
        elif kind is _PUSH:
            if device_token is not None or public_key is not None:
                # the activation step: a delivery address and the key that proves answers
                _check_device_token(device_token)
                checked_public_key(public_key)
        elif kind is _HARDWARE_TOKEN:
            if not serial:
                raise InvalidInput("serial", "the serial number of an imported token is required")
            token = self.repository.get_token(serial)
            if token is None:
                raise InvalidInput("serial", f"no imported token has serial {serial!r}")
            if token.user_id not in (None, user_id):
                raise ConflictError(f"token {serial!r} is assigned to another user")
            return token
        return None

    def _add_method(
        self,
        user: User,
        kind: MethodType,
        number: str | None,
        device_token: str | None,
        token: HardwareToken | None,
        default: bool,
        existing: Sequence[RegisteredMethod],
        now: float,
        public_key: str | None = None,
    ) -> RegisteredMethod:
        """Store a checked registration (``number`` in E.164 for sms/voice) made at ``now``."""
        user_id = user.user_id
        if token is not None:
            self.repository.save_token(replace(token, user_id=user_id))
        current = _default_of(existing)  # flagged, or the first: then none is flagged
        make_default = default or current is None or not current.is_default
        if make_default:
            for other in existing:
                if other.is_default:
                    self.repository.save_method(replace(other, is_default=False))
        registered = self._method_record(
            user_id, kind, number, device_token, token, make_default, now, public_key
        )
        self.repository.add_method(registered)
        # registering answers an admin reset or a registration policy
        if user.pending_registration:
            self.repository.save_user(replace(user, pending_registration=frozenset()))
        return registered

    def _method_record(
        self,
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
        push = kind is _PUSH and device_token is not None and public_key is not None
        return _new_method(
            "m-" + self.entropy.token(12),  # method_id
            user_id,
            kind,  # type
            number if kind in DELIVERED_METHODS else None,  # phone
            device_token if push else None,
            push,  # activated
            self.entropy.base32(_TOTP_SECRET_CHARS) if kind is _TOTP else None,  # secret
            token.serial if token is not None else None,  # serial
            is_default,
            now,  # created_at
            public_key if push else None,
        )

    def activate_push(
        self, user_id: str, method_id: str, device_token: str, public_key: str
    ) -> RegisteredMethod:
        """The app's activation: where notifications go (``device_token``) and the Ed25519
        public key its answers are signed with (base64url of the 32 raw bytes). A new
        activation replaces the old device: its answers are no longer accepted."""
        _check_device_token(device_token)
        checked_public_key(public_key)
        method = self._method_by_id(user_id, method_id)
        if method.type is not _PUSH:
            raise InvalidInput("method_id", f"{method_id!r} is not a push method")
        activated = replace(
            method, device_token=device_token, public_key=public_key, activated=True
        )
        self.repository.save_method(activated)
        return activated

    def provisioning_uri(self, method: RegisteredMethod) -> str:
        """The ``otpauth://`` URI an authenticator app scans (render it with ``mfa.qr``)."""
        if method.type is not _TOTP or method.secret is None:
            raise InvalidInput("type", "only totp methods have a provisioning URI")
        return otpauth_uri(method.secret, method.user_id, self.issuer)

    def reset_user(self, user_id: str) -> None:
        """The seed: reset the account by making the user go through registration again."""
        user = self.get_user(user_id)
        self.repository.delete_methods(user_id)
        self.repository.save_user(
            replace(
                user,
                pending_registration=user.pending_registration | {RegistrationReason.ADMIN_RESET},
            )
        )

    def apply_registration_policy(self, user_id: str) -> None:
        user = self.get_user(user_id)
        self.repository.save_user(
            replace(
                user,
                pending_registration=user.pending_registration
                | {RegistrationReason.REGISTRATION_POLICY},
            )
        )

    def registration_required(self, user_id: str) -> list[RegistrationReason]:
        """The seed's reasons a user is prompted to register security information."""
        user = self.get_user(user_id)
        return self._registration_reasons(user, self.repository.list_methods(user_id))

    def _registration_reasons(
        self, user: User, methods: Sequence[RegisteredMethod]
    ) -> list[RegistrationReason]:
        reasons: list[RegistrationReason] = []
        if not methods:
            reasons.append(RegistrationReason.NO_METHOD_REGISTERED)
        if RegistrationReason.REGISTRATION_POLICY in user.pending_registration:
            reasons.append(RegistrationReason.REGISTRATION_POLICY)
        default = _default_of(methods)
        if default is not None and default.type not in self._enabled_methods():
            reasons.append(RegistrationReason.DEFAULT_METHOD_DISABLED)
        if RegistrationReason.ADMIN_RESET in user.pending_registration:
            reasons.append(RegistrationReason.ADMIN_RESET)
        return reasons

    def _enabled_methods(self) -> frozenset[MethodType]:
        policy = self.policy
        if policy is not self._enabled_for:  # worked out once per policy, not per request
            self._enabled = policy.allowed_methods - policy.disabled_methods
            self._enabled_for = policy
        return self._enabled

    def _method_by_id(self, user_id: str, method_id: str) -> RegisteredMethod:
        for method in self.repository.list_methods(user_id):
            if method.method_id == method_id:
                return method
        raise NotFound("method", method_id)

    # ------------------------------------------------------------------ hardware tokens

    def import_tokens(
        self, tokens: Sequence[HardwareToken], *, source: str = "tokens"
    ) -> list[str]:
        """Store tokens all or nothing; returns their serials.

        Every token is checked first (the importers' rules, plus serials repeated in the
        batch) and ``TokenImportError`` lists every problem; serials that exist already make
        the repository raise ``ConflictError``. Either way nothing is stored.
        """
        problems: list[ProblemItem] = []
        seen: set[str] = set()
        for index, token in enumerate(tokens, start=1):
            where = f"token {index} ({token.serial!r})"
            problems += [ProblemItem(where, reason) for reason in token_problems(token)]
            if token.serial in seen:
                problems.append(ProblemItem(where, "serial repeated in this import"))
            seen.add(token.serial)
        if problems:
            raise TokenImportError(source, problems)
        now = self.clock.now()
        self.repository.add_tokens([replace(t, imported_at=now, user_id=None) for t in tokens])
        return [t.serial for t in tokens]

    # ------------------------------------------------------------------ authentication

    def begin(
        self, user_id: str, method: MethodType | str | None = None, client_ip: str | None = None
    ) -> Challenge | Denial:
        """Start an authentication; for sms/voice a fresh code is sent through the gateway,
        for push a notification.

        All or nothing: the send is counted (sms, voice and push: the user's send limit),
        the pending record stored and the log record written, and only then is the message
        sent. If storing fails, nothing is sent, the send is given back and
        ``mfa.errors.ServiceUnavailable`` is raised. If no provider takes the message, the
        log record says ``delivery_failed``, the send still counts (the attempt was made)
        and ``mfa.errors.DeliveryError`` is raised.
        """
        kind: MethodType | None = None
        if method is not None:
            kind = _METHOD_TYPES.get(method)  # type: ignore[call-overload]
            if kind is None:
                raise InvalidInput("method", f"{method!r} is not a method type")
        now = self.clock.now()
        policy = self.policy
        repository = self.repository
        user = repository.get_user(user_id)
        if user is None:
            # an unknown user looks exactly like one with nothing registered
            return self._refuse(
                None, user_id, kind, DenialReason.REGISTRATION_REQUIRED, now, client_ip
            )
        if user.disabled_at is not None:
            return self._refuse(user, user_id, kind, DenialReason.USER_DISABLED, now, client_ip)
        state = repository.get_state(user_id)
        if state.locked_until > now:
            return self._refuse(
                user,
                user_id,
                kind,
                DenialReason.LOCKED_OUT,
                now,
                client_ip,
                retry_after=state.locked_until - now,
            )
        methods = repository.list_methods(user_id)
        default = _default_of(methods)
        enabled = self._enabled_methods()
        if (
            default is None or user.pending_registration or default.type not in enabled
        ) and self._registration_reasons(user, methods):
            return self._refuse(
                user, user_id, kind, DenialReason.REGISTRATION_REQUIRED, now, client_ip
            )
        if default is not None and (kind is None or default.type is kind):
            chosen: RegisteredMethod | None = default
        else:
            chosen = _pick_method(methods, kind)
        if chosen is None or chosen.type not in enabled:
            return self._refuse(
                user, user_id, kind, DenialReason.METHOD_NOT_ALLOWED, now, client_ip
            )
        kind = chosen.type
        if kind is _PUSH and not chosen.activated:
            return self._refuse(user, user_id, kind, DenialReason.NOT_ACTIVATED, now, client_ip)

        auth_id = self._auth_prefix + self.entropy.token(_AUTH_TOKEN_LENGTH)
        sent = kind in _SENT_METHODS
        if sent:
            wait = self._reserve_send(user_id, now)
            if wait is not None:
                return self._refuse(
                    user,
                    user_id,
                    kind,
                    DenialReason.RATE_LIMITED,
                    now,
                    client_ip,
                    retry_after=wait,
                )
        digest: bytes | None = None
        number: int | None = None  # push number matching: the two digits the page shows
        sender: str | None = None
        message: Message | None = None
        if kind in DELIVERED_METHODS:
            code = self.entropy.code(policy.code_digits)
            digest = self._digest(auth_id, code)
            phone = chosen.phone or ""
            country = user.country if phone == user.phone else self._country_of(phone)
            sender = self._choose_sender(country)
            message = _new_message(
                _CHANNELS[kind],  # channel
                phone,  # to
                self._message_text(code),  # text
                auth_id,
                user_id,
                now,  # sent_at
                country,
                sender,
            )
        elif kind is _PUSH:
            if policy.push_number_matching:
                # shown on the sign-in page, typed into the app; kept only as a digest
                number = self.entropy.between(*_PUSH_NUMBERS)
                digest = self._digest(auth_id, str(number))
            message = _new_message(
                Channel.PUSH,
                chosen.device_token or "",
                f"Approve sign-in for {user_id}?",
                auth_id,
                user_id,
                now,
                None,
                None,
            )

        timeout = policy.timeout_seconds
        server = self.server
        pending = _new_pending(
            auth_id,
            user_id,
            kind,  # method
            chosen.method_id,
            server.name,  # server
            now,  # issued_at
            now + timeout,  # expires_at
            digest,  # code_digest
            0,  # attempts
            _PENDING,
            None,  # reason
            None,  # device_token
            None,  # completed_at
            sender,
            None,  # provider: known once the message is sent
            client_ip,
            server.ip,  # server_ip
            0,  # version
        )
        self._store_begun(user, pending, chosen, now, given_back=sent)
        if message is not None:
            try:
                provider = self.gateway.send(message).provider
            except DeliveryError:
                reason = DenialReason.DELIVERY_FAILED
                self._finish(user, pending, chosen, now, AuthStatus.DENIED, reason, 0, True)
                raise
            self._delivered(user, pending, chosen, provider)
        else:
            provider = None
        return _new_challenge(
            auth_id, user_id, kind, server.name, timeout, sender, provider, number
        )

    def _reserve_send(self, user_id: str, now: float) -> float | None:
        """Count one send toward the user's limit (``record_send``): ``None``, or the
        seconds to wait when the limit is reached."""
        window, max_sends = self.policy.send_window_seconds, self.policy.max_sends
        try:
            return self.repository.update_state(
                user_id, lambda state: record_send(state, now, window, max_sends)
            )
        except Exception as exc:
            raise ServiceUnavailable(_backend(self.repository, "database")) from exc

    def _store_begun(
        self,
        user: User,
        pending: PendingAuth,
        method: RegisteredMethod,
        now: float,
        *,
        given_back: bool,
    ) -> None:
        """Store a new authentication and its log record before anything is sent; if
        either fails, give back the send counted for it (``given_back``) and raise
        ``ServiceUnavailable`` naming the store: nothing was sent."""
        policy = self.policy
        repository = self.repository
        store = self.pending
        try:
            failing = _backend(store, "pending store")
            store.put(pending, keep_until=now + policy.timeout_seconds + policy.retention_seconds)
            if getattr(repository, "keep_logs", True):
                failing = _backend(repository, "database")
                repository.save_log(self._log_record(user, pending, method))
        except Exception as exc:
            if given_back:
                self._give_back_send(pending.user_id, now)
            raise ServiceUnavailable(failing) from exc
        self._puts += 1
        if self._puts % _PURGE_EVERY == 0:
            store.purge(now)
        begun = self._begun
        if len(begun) >= _BEGUN_CACHE:
            begun.clear()
        begun[pending.auth_id] = user

    def _give_back_send(self, user_id: str, at: float) -> None:
        # if the repository is failing too, the send stays counted: that errs on the side
        # of the limit (nothing was sent either way)
        with contextlib.suppress(Exception):
            self.repository.update_state(user_id, lambda state: release_send(state, at))

    def _delivered(
        self, user: User, pending: PendingAuth, method: RegisteredMethod, provider: str | None
    ) -> None:
        """Note which provider took the message, in the pending and the log record. A
        verify that came first (an instant delivery) moved the record on: the provider
        goes on top of that."""
        current: PendingAuth | None = pending
        keep_until = pending.expires_at + self.policy.retention_seconds
        for _ in range(self.policy.max_verify_attempts + 2):  # see _answer for the bound
            if current is None or current.provider is not None:
                return
            updated = self._moved(
                current,
                current.status,
                current.reason,
                current.attempts,
                current.completed_at,
                provider=provider,
            )
            if self.pending.transition(current, updated, keep_until=keep_until):
                if getattr(self.repository, "keep_logs", True):
                    self.repository.save_log(self._log_record(user, updated, method))
                return
            current = self.pending.get(pending.auth_id)

    def verify(self, auth_id: str, code: str) -> Verdict:
        """Check the code the user typed for an sms, voice, totp or hardware-token auth."""
        # as typed: "123 456" (the way apps show it) or with a stray newline
        typed = "".join(code.split()) if isinstance(code, str) else ""
        return self._answer(auth_id, self._verify, typed, None)

    def _answer(
        self,
        auth_id: str,
        decide: Callable[[PendingAuth, float, _A, _B], Verdict | None],
        first: _A,
        second: _B,
    ) -> Verdict:
        """Find the live authentication and let ``decide(pending, now, first, second)``
        answer (with a verdict that names the authentication's method).

        ``decide`` answers ``None`` when its transition lost: another request (on this
        server or another) moved the authentication on since it was read, so it is read
        again and decided afresh — now maybe used up, replayed or out of attempts. Every
        lost race is another request's progress, and an authentication makes at most
        ``max_verify_attempts`` + 1 transitions, so the loop ends; the bound guards only
        against a broken store."""
        for _ in range(self.policy.max_verify_attempts + 2):
            now = self.clock.now()
            found = self._lookup(auth_id, now)
            if isinstance(found, Verdict):
                return found
            verdict = decide(found, now, first, second)  # labelled with its method
            if verdict is not None:
                return verdict
        return Verdict.denied(DenialReason.TOO_MANY_ATTEMPTS, auth_id)

    def _verify(self, pending: PendingAuth, now: float, code: str, _: None) -> Verdict | None:
        """One verify, in the order that keeps the limits under any concurrency: reserve
        the code's attempt (a compare-and-set on the pending record), reserve the user's
        guess (counted as a failure at once, ``reserve_guess``), evaluate, then settle.
        ``None`` if another request changed the authentication before the reservation."""
        auth_id = pending.auth_id
        kind = pending.method
        if kind is _PUSH:
            return Verdict.denied(DenialReason.METHOD_NOT_ALLOWED, auth_id, None, kind)
        user_id = pending.user_id
        state = self.repository.get_state(user_id)
        if state.locked_until > now:  # refused before anything is spent
            return Verdict.denied(DenialReason.LOCKED_OUT, auth_id, state.locked_until - now, kind)
        if pending.attempts >= self.policy.max_verify_attempts:
            return Verdict.denied(DenialReason.TOO_MANY_ATTEMPTS, auth_id, None, kind)
        reserved = self._reserve_attempt(pending)
        if reserved is None:
            return None
        user = self._user_of(pending)
        method = self._method_of(pending)
        if user is None or method is None:
            # the user was reset (or deleted) since the code was issued
            return self._settle(user, reserved, method, now, DenialReason.REGISTRATION_REQUIRED)
        guess = self._reserve_guess(user_id, now)
        if not isinstance(guess, Guess):  # locked by a concurrent guess since the read
            return Verdict.denied(DenialReason.LOCKED_OUT, auth_id, guess, kind)

        if kind in DELIVERED_METHODS:
            right = pending.code_digest is not None and hmac.compare_digest(
                pending.code_digest, self._digest(auth_id, code)
            )
            reason = None if right else DenialReason.WRONG_CODE
        else:
            reason = self._check_otp(method, code, now, state, guess)
        verdict = self._settle(user, reserved, method, now, reason)
        if verdict.ok and kind in DELIVERED_METHODS:  # a TOTP success settled with its step
            self.repository.update_state(user_id, lambda s: settle_success(s, guess))
        return verdict

    def _reserve_attempt(self, pending: PendingAuth) -> PendingAuth | None:
        """Take one of the code's ``max_verify_attempts`` before the code is evaluated;
        ``None`` if another request moved the authentication on first."""
        reserved = self._moved(
            pending, pending.status, pending.reason, pending.attempts + 1, pending.completed_at
        )
        keep_until = pending.expires_at + self.policy.retention_seconds
        if not self.pending.transition(pending, reserved, keep_until=keep_until):
            return None
        return reserved

    def _reserve_guess(self, user_id: str, now: float) -> Guess | float:
        """Count a guess as the user's failure before it is evaluated (``reserve_guess``):
        the guess, or the seconds the user stays locked."""
        threshold, lock_for = self.policy.lockout_threshold, self.policy.lockout_seconds
        return self.repository.update_state(
            user_id, lambda state: reserve_guess(state, now, threshold, lock_for)
        )

    def _check_otp(
        self,
        method: RegisteredMethod,
        code: str,
        now: float,
        state: SecurityState,
        guess: Guess,
    ) -> DenialReason | None:
        """``None`` if the TOTP or hardware-token value is right and its time step unused:
        the step is then accepted and the guess settled as a success, in one atomic step
        (RFC 6238 §5.2: a value is accepted once, on whichever server comes first)."""
        params = self._otp_parameters(method)
        if params is None:
            return DenialReason.WRONG_CODE
        secret, digits, period, algorithm, replay_key = params
        step = None
        # prefer a step after the last accepted one (a value may repeat in adjacent steps);
        # failing that, the used step, which accept_totp_step refuses as a replay
        for after in (state.last_totp_step.get(replay_key), None):
            step = match_totp(
                secret,
                code,
                now,
                digits=digits,
                period=period,
                algorithm=algorithm,
                window=self.policy.totp_window_steps,
                after_step=after,
            )
            if step is not None or after is None:
                break
        if step is None:
            return DenialReason.WRONG_CODE
        accepted = self.repository.update_state(
            method.user_id, lambda s: accept_totp_step(s, replay_key, step, guess)
        )
        return None if accepted else DenialReason.REPLAYED

    def _settle(
        self,
        user: User | None,
        reserved: PendingAuth,
        method: RegisteredMethod | None,
        now: float,
        reason: DenialReason | None,
    ) -> Verdict:
        """Store the answer of a reserved attempt (``reason`` ``None``: right).

        Other requests may have reserved attempts since: the answer goes on top of theirs.
        A failure that leaves no attempt denies the authentication; a right answer reserved
        within the cap still succeeds then (it was one of the allowed attempts). An
        authentication that succeeded or ended otherwise meanwhile keeps its end."""
        auth_id, kind = reserved.auth_id, reserved.method
        current: PendingAuth | None = reserved
        cap = self.policy.max_verify_attempts
        for _ in range(2 * cap + 2):  # each lost race is another request's progress
            if current is None:
                break
            status, ended_by = current.status, current.reason
            if status is not _PENDING:
                used_up = status is AuthStatus.DENIED and ended_by in _GUESS_FAILURES
                if reason is not None and used_up:
                    return Verdict.denied(reason, auth_id, None, kind)
                if reason is not None or not used_up:
                    return self._ended(current)
            if reason is None:
                new_status, completed = _SUCCESS, True
            elif reason in _GUESS_FAILURES and current.attempts < cap:
                new_status, completed = _PENDING, False
            else:
                new_status, completed = AuthStatus.DENIED, True
            if self._finish(
                user, current, method, now, new_status, reason, current.attempts, completed
            ):
                if reason is None:
                    return Verdict.success(auth_id, kind)
                return Verdict.denied(reason, auth_id, None, kind)
            current = self.pending.get(auth_id)
        else:  # a broken store that never lets a transition through
            return Verdict.denied(DenialReason.TOO_MANY_ATTEMPTS, auth_id, None, kind)
        return Verdict.denied(DenialReason.UNKNOWN_AUTH, auth_id, None, kind)

    def _ended(self, pending: PendingAuth) -> Verdict:
        """The answer for a request that finds its authentication ended."""
        auth_id, kind, status = pending.auth_id, pending.method, pending.status
        if status is _SUCCESS:
            return Verdict.denied(DenialReason.REPLAYED, auth_id, None, kind)
        if status is AuthStatus.EXPIRED:
            return Verdict.denied(DenialReason.EXPIRED, auth_id, None, kind)
        if pending.reason in _GUESS_FAILURES:
            return Verdict.denied(DenialReason.TOO_MANY_ATTEMPTS, auth_id, None, kind)
        return Verdict.denied(pending.reason or DenialReason.UNKNOWN_AUTH, auth_id, None, kind)

    def respond_push(
        self,
        auth_id: str,
        approve: bool,
        *,
        signature: str | None,
        number: int | None = None,
    ) -> Verdict:
        """The authenticator app answers a push notification: ``signature`` is the activated
        device's Ed25519 signature of its answer (``mfa.push_proof.push_message``) and
        ``number`` what the person typed from the sign-in page (number matching).

        A missing or wrong signature is ``bad_signature`` and counts as no one's failure
        (whoever sent it does not hold the key, so it must not lock the user out); a wrong
        number is ``wrong_number`` and counts toward the lockout. Either ends the
        authentication."""
        return self._answer(auth_id, self._respond_push, (approve, number), signature)

    def _respond_push(
        self,
        pending: PendingAuth,
        now: float,
        answer: tuple[bool, int | None],
        signature: str | None,
    ) -> Verdict | None:
        auth_id = pending.auth_id
        kind = pending.method
        if kind is not _PUSH:
            return Verdict.denied(DenialReason.METHOD_NOT_ALLOWED, auth_id, None, kind)
        state = self.repository.get_state(pending.user_id)
        if state.locked_until > now:
            return Verdict.denied(DenialReason.LOCKED_OUT, auth_id, state.locked_until - now, kind)
        user = self._user_of(pending)
        method = self._method_of(pending)
        attempts = pending.attempts + 1
        approve, number = answer
        approve = approve is True
        # number matching was on when the page showed a number: its digest is pending
        matching = pending.code_digest is not None
        typed = number if matching and isinstance(number, int) else None
        guess: Guess | None = None  # the typed number's reservation, with number matching
        if method is None or not method.activated or not method.public_key:
            # the seed: "Authentication request is not for an activated account"
            reason = DenialReason.NOT_ACTIVATED
        elif not signature_ok(method.public_key, push_message(auth_id, approve, typed), signature):
            reason = DenialReason.BAD_SIGNATURE
        elif not approve:
            reason = DenialReason.USER_DENIED
        else:
            reason = None
            if matching:
                # the typed number is a guess: reserved (counted as a failure) before it is
                # compared, like a code (see _verify)
                reserved = self._reserve_guess(pending.user_id, now)
                if not isinstance(reserved, Guess):
                    return Verdict.denied(DenialReason.LOCKED_OUT, auth_id, reserved, kind)
                guess = reserved
                if typed is None or not hmac.compare_digest(
                    pending.code_digest or b"", self._digest(auth_id, str(typed))
                ):
                    reason = DenialReason.WRONG_NUMBER
        status = _SUCCESS if reason is None else AuthStatus.DENIED
        if not self._finish(user, pending, method, now, status, reason, attempts, True):
            return None
        if reason is not None:
            return Verdict.denied(reason, auth_id, None, kind)
        if guess is not None or state.consecutive_failures:
            settled = guess if guess is not None else UNCOUNTED
            self.repository.update_state(pending.user_id, lambda s: settle_success(s, settled))
        return Verdict.success(auth_id, kind)

    def status(self, auth_id: str) -> AuthView:
        """Where an authentication stands; ``NotFound`` if this server does not know it."""
        parsed = parse_auth_id(auth_id) if isinstance(auth_id, str) else None
        if parsed is None:
            raise NotFound("authentication", str(auth_id))
        if not self.pending.shared and parsed[0] != self.server.name:
            return AuthView(auth_id, AuthStatus.DENIED, DenialReason.WRONG_SERVER)
        pending = self.pending.get(auth_id)
        if pending is None:
            raise NotFound("authentication", auth_id)
        if pending.status is _PENDING and self.clock.now() >= pending.expires_at:
            return AuthView(auth_id, AuthStatus.EXPIRED, DenialReason.EXPIRED, pending.method)
        return AuthView(auth_id, pending.status, pending.reason, pending.method)

    def _lookup(self, auth_id: str, now: float) -> PendingAuth | Verdict:
        """Find a live pending authentication, or the verdict that ends the request."""
        if not isinstance(auth_id, str):
            return Verdict.denied(DenialReason.UNKNOWN_AUTH, None)
        if not auth_id.startswith(self._auth_prefix) or len(auth_id) != self._auth_id_length:
            # not one of ours: malformed, or issued by another server
            parsed = parse_auth_id(auth_id)
            if parsed is None:
                return Verdict.denied(DenialReason.UNKNOWN_AUTH, auth_id)
            if not self.pending.shared:
                # the seed: only the server that sent the code knows it
                return Verdict.denied(DenialReason.WRONG_SERVER, auth_id)
        pending = self.pending.get(auth_id)
        if pending is None:
            return Verdict.denied(DenialReason.UNKNOWN_AUTH, auth_id)
        kind = pending.method
        status = pending.status
        if status is _PENDING:
            if now < pending.expires_at:
                return pending
            # whichever request marks it expired first logs it; past its time it is expired
            # for this request either way
            self._finish(
                self._user_of(pending),
                pending,
                self._method_of(pending),
                now,
                AuthStatus.EXPIRED,
                DenialReason.EXPIRED,
                pending.attempts,
                True,
            )
            return Verdict.denied(DenialReason.EXPIRED, auth_id, None, kind)
        return self._ended(pending)

    def _user_of(self, pending: PendingAuth) -> User | None:
        """The user as ``begin`` read it, when this engine began the authentication: what
        finishing needs from the user (the log's names and e-mail) was read moments ago,
        and users are never deleted. Another server's authentication (shared pending
        store), or one pushed out of the bounded memory, reads the repository."""
        user = self._begun.get(pending.auth_id)
        return user if user is not None else self.repository.get_user(pending.user_id)

    def _method_of(self, pending: PendingAuth) -> RegisteredMethod | None:
        method_id = pending.method_id
        for method in self.repository.list_methods(pending.user_id):
            if method.method_id == method_id:
                return method
        return None

    def _otp_parameters(self, method: RegisteredMethod) -> tuple[str, int, int, str, str] | None:
        """(secret, digits, period, algorithm, replay key) of a TOTP or hardware-token method.

        The replay key names the secret, not the registration: a hardware token registered
        twice must not accept again a value it already gave."""
        if method.type is _TOTP:
            if not method.secret:
                return None
            return method.secret, 6, 30, "sha1", method.method_id
        if method.type is _HARDWARE_TOKEN and method.serial:
            token = self.repository.get_token(method.serial)
            if token is None or token.user_id not in (None, method.user_id):
                return None
            return (
                token.secret,
                token.digits,
                token.period,
                token.algorithm,
                f"token:{token.serial}",
            )
        return None

    # ------------------------------------------------------------------ app passwords

    def create_app_password(self, user_id: str) -> str:
        """A new app password, returned once and stored only as an argon2 hash."""
        self.get_user(user_id)
        password = new_app_password()
        self.repository.add_app_password(user_id, self._hasher.hash(password), self.clock.now())
        return password

    def delete_app_passwords(self, user_id: str) -> int:
        """The seed: when a phone using app passwords is lost, delete them all."""
        self.get_user(user_id)
        return self.repository.delete_app_passwords(user_id)

    def verify_app_password(
        self, user_id: str, password: str, client_ip: str | None = None
    ) -> Verdict:
        """Check an app password: an authentication like any other, with one log record
        (mode ``app_password``) that per-authentication billing counts.

        The guess is reserved before argon2 runs (``reserve_guess``), so a burst of guesses
        gets no more evaluations than the lockout allows, and a right password arriving
        after the limit is refused unchecked. A user with no app passwords (or an unknown
        user) still costs one argon2 verification, against a hash nobody knows: the time
        taken does not tell whether a user has any."""
        now = self.clock.now()
        kind = MethodType.APP_PASSWORD
        user = self.repository.get_user(user_id)
        guess = UNCOUNTED  # an unknown user has no lockout to count toward
        if user is not None:
            if user.disabled_at is not None:
                self._refuse(user, user_id, kind, DenialReason.USER_DISABLED, now, client_ip)
                return Verdict.denied(DenialReason.USER_DISABLED, None, None, kind)
            reserved = self._reserve_guess(user_id, now)
            if not isinstance(reserved, Guess):
                reason = DenialReason.LOCKED_OUT
                self._refuse(user, user_id, kind, reason, now, client_ip, retry_after=reserved)
                return Verdict.denied(DenialReason.LOCKED_OUT, None, reserved, kind)
            guess = reserved
        hashes = self.repository.app_password_hashes(user_id) if user is not None else []
        matched = self._hasher.matches_any(str(password), hashes or [self._dummy_hash()])
        right = matched and bool(hashes)
        if right:
            self.repository.update_state(user_id, lambda s: settle_success(s, guess))
        reason = None if right else DenialReason.WRONG_CODE
        self._log_check(
            user,
            user_id,
            kind,
            _SUCCESS if right else AuthStatus.DENIED,
            reason,
            now,
            client_ip,
            billable=user is not None,
            attempts=1,
        )
        return Verdict.success(None, kind) if right else Verdict.denied(reason, None, None, kind)

    def _dummy_hash(self) -> str:
        """The hash an app-password check of a user without any is verified against: made
        once by this engine's hasher (same cost), of a password never shown to anyone."""
        if self._dummy is None:
            self._dummy = self._hasher.hash(new_app_password())
        return self._dummy

    # ------------------------------------------------------------------ billing

    def create_provider(
        self, name: str, model: BillingModel | str, *, tenant: str | None = None
    ) -> ProviderAccount:
        try:
            chosen = BillingModel(model)
        except ValueError:
            raise InvalidInput("model", f"{model!r} is not per_user or per_auth") from None
        existing = self.repository.get_account()
        if existing is not None:
            if existing.model is not chosen:
                raise BillingModelLocked(
                    f"provider {existing.name!r} bills {existing.model.value}; the billing "
                    "model can't be changed after a provider is created — create a new provider"
                )
            raise ConflictError(f"provider {existing.name!r} exists")
        account = ProviderAccount(
            name=name, model=chosen, created_at=self.clock.now(), tenant=tenant
        )
        self.repository.save_account(account)
        return account

    def change_billing_model(self, model: BillingModel | str) -> None:
        """Always refused when it would change anything: the seed's rule."""
        account = self.repository.get_account()
        if account is None:
            raise NotFound("provider", "(none)")
        if BillingModel(model) is not account.model:
            raise BillingModelLocked(
                f"provider {account.name!r} bills {account.model.value}; the billing model "
                "can't be changed after a provider is created — create a new provider"
            )

    def relink_provider(self, tenant: str) -> int:
        """Link the provider to another tenant: phone and SMS keep working, but every push
        activation is invalidated until the app is re-activated. Returns how many."""
        account = self.repository.get_account()
        if account is None:
            raise NotFound("provider", "(none)")
        if account.tenant == tenant:
            return 0
        self.repository.save_account(replace(account, tenant=tenant))
        invalidated = 0
        for user in self.repository.iter_users():
            for method in self.repository.list_methods(user.user_id):
                if method.type is _PUSH and method.activated:
                    self.repository.save_method(replace(method, activated=False))
                    invalidated += 1
        return invalidated

    def usage(self, month: str) -> BillingUsage:
        start, end = month_bounds(month)
        enabled = licensed = 0
        for user in self.repository.iter_users():
            if user.enabled_at < end and (user.disabled_at is None or user.disabled_at >= start):
                enabled += 1
                licensed += user.licensed
        auths = sum(1 for r in self.repository.logs(since=start) if r.billable and r.began_at < end)
        account = self.repository.get_account()
        return BillingUsage(
            month=month,
            model=account.model if account else None,
            enabled_users=enabled,
            licensed_users=licensed,
            authentications=auths,
        )

    # ------------------------------------------------------------------ internals

    def _digest(self, auth_id: str, code: str) -> bytes:
        """A keyed BLAKE2b MAC of the code, bound to its auth id: a dump of the pending store
        reveals no live code, and a digest cannot be moved to another authentication."""
        mac = self._mac.copy()
        mac.update(f"{auth_id}:{code}".encode())
        return mac.digest()

    def _country_of(self, phone: str) -> str:
        country = self._countries.get(phone)
        if country is None:
            if len(self._countries) >= _COUNTRY_CACHE:
                self._countries.clear()
            country = self._countries[phone] = parse_phone(phone).country
        return country

    def _choose_sender(self, country: str | None) -> str:
        if self.senders is not self._pools_of:  # the directory was replaced
            self._sender_pools.clear()
            self._pools_of = self.senders
        pool = self._sender_pools.get(country)
        if pool is None:
            pool = self._sender_pools[country] = tuple(
                s.address for s in self.senders.pool(country)
            )
        return pool[0] if len(pool) == 1 else self.entropy.choice(pool)

    def _message_text(self, code: str) -> str:
        """The policy's template with the code in it (split once, not parsed per message)."""
        template = self.policy.sms_template
        if template is not self._template:
            self._template = template
            self._template_parts = template.format(code="\0").split("\0")
        return code.join(self._template_parts)

    def _finish(
        self,
        user: User | None,
        pending: PendingAuth,
        method: RegisteredMethod | None,
        now: float,
        status: AuthStatus,
        reason: DenialReason | None,
        attempts: int,
        completed: bool,
    ) -> bool:
        """Move the authentication on from ``pending`` (the version this request read) and
        bring its log record up to date; ``False``, with nothing written, if another
        request moved it on first."""
        updated = self._moved(pending, status, reason, attempts, now if completed else None)
        keep_until = pending.expires_at + self.policy.retention_seconds
        if not self.pending.transition(pending, updated, keep_until=keep_until):
            return False
        if completed:
            self._begun.pop(pending.auth_id, None)
        if getattr(self.repository, "keep_logs", True):
            self.repository.save_log(self._log_record(user, updated, method))
        return True

    def _moved(
        self,
        pending: PendingAuth,
        status: AuthStatus,
        reason: DenialReason | None,
        attempts: int,
        completed_at: float | None,
        *,
        provider: str | None = None,
    ) -> PendingAuth:
        """``pending`` one version on, with the given outcome (and ``provider``, the one
        that took its message, if ``pending`` has none yet)."""
        return _new_pending(
            pending.auth_id,
            pending.user_id,
            pending.method,
            pending.method_id,
            pending.server,
            pending.issued_at,
            pending.expires_at,
            pending.code_digest,
            attempts,
            status,
            reason,
            pending.device_token,
            completed_at,
            pending.sender,
            pending.provider or provider,
            pending.client_ip,
            pending.server_ip,
            pending.version + 1,
        )

    def _refuse(
        self,
        user: User | None,
        user_id: str,
        kind: MethodType | None,
        reason: DenialReason,
        now: float,
        client_ip: str | None,
        *,
        retry_after: float | None = None,
    ) -> Denial:
        """A begin that never reached the service still leaves a (non-billable) log record."""
        self._log_check(
            user, user_id, kind, AuthStatus.DENIED, reason, now, client_ip, billable=False
        )
        return Denial(reason=reason, user_id=user_id, method=kind, retry_after=retry_after)

    def _log_check(
        self,
        user: User | None,
        user_id: str,
        kind: MethodType | None,
        status: AuthStatus,
        reason: DenialReason | None,
        now: float,
        client_ip: str | None,
        *,
        billable: bool,
        attempts: int = 0,
    ) -> None:
        """The log record of an authentication decided at once, with no pending record: a
        refused begin, an app-password check."""
        if not getattr(self.repository, "keep_logs", True):
            return
        first, last, email = self._optional_fields(user)
        self.repository.save_log(
            AuthLogRecord(
                auth_id=self._auth_prefix + self.entropy.token(_AUTH_TOKEN_LENGTH),
                unique_id=user_id,
                mode=kind,
                status=status,
                server_name=self.server.name,
                server_ip=self.server.ip,
                began_at=now,
                first_name=first,
                last_name=last,
                email=email,
                reason=reason,
                client_ip=client_ip,
                completed_at=now,
                attempts=attempts,
                billable=billable,
            )
        )

    def _optional_fields(self, user: User | None) -> tuple[str | None, str | None, str | None]:
        """The seed's optional fields (first/last name, email), as configured."""
        if user is None:
            return None, None, None
        names = self.policy.log_names
        return (
            user.first_name if names else None,
            user.last_name if names else None,
            user.email if self.policy.log_email else None,
        )

    def _log_record(
        self, user: User | None, pending: PendingAuth, method: RegisteredMethod | None
    ) -> AuthLogRecord:
        policy = self.policy
        names = user is not None and policy.log_names
        kind = pending.method
        server_ip = pending.server_ip
        if server_ip is None:  # a record from a store that does not keep it
            server_ip = self.server.ip if pending.server == self.server.name else ""
        return _new_log(
            pending.auth_id,
            pending.user_id,  # unique_id
            kind,  # mode
            pending.status,
            pending.server,  # server_name
            server_ip,
            pending.issued_at,  # began_at
            user.first_name if names else None,  # type: ignore[union-attr]
            user.last_name if names else None,  # type: ignore[union-attr]
            user.email if user is not None and policy.log_email else None,
            method.phone if method is not None and kind in DELIVERED_METHODS else None,
            # a delivery address, shown only as a fingerprint (it must not help an attacker)
            fingerprint(method.device_token) if method is not None and kind is _PUSH else None,
            pending.reason,
            pending.client_ip,
            pending.completed_at,
            pending.attempts,
            pending.sender,
            pending.provider,
            True,  # billable
        )


def _default_of(methods: Sequence[RegisteredMethod]) -> RegisteredMethod | None:
    """The method flagged default, or else the first registered."""
    for method in methods:
        if method.is_default:
            return method
    return methods[0] if methods else None


def _pick_method(
    methods: Sequence[RegisteredMethod], kind: MethodType | None
) -> RegisteredMethod | None:
    """The named kind (its default registration first), or the user's default method."""
    if kind is None:
        return _default_of(methods)
    found = None
    for method in methods:
        if method.type is kind:
            if method.is_default:
                return method
            if found is None:
                found = method
    return found


def _entry(index: int, user_id: object) -> str:
    """Where a problem is, in a batch of enrolments."""
    return f"enrolment {index} ({user_id!r})"


def _method_type(method: MethodType | str) -> MethodType:
    found = _METHOD_TYPES.get(method) if isinstance(method, str) else None
    if found is not None:
        return found
    try:
        return MethodType(method)
    except ValueError:
        choices = [m.value for m in MethodType]
        raise InvalidInput("type", f"{method!r} is not one of {choices}") from None


def _backend(port: object, default: str) -> str:
    """What a port's failure is called in a ``ServiceUnavailable`` ("redis", "database")."""
    return str(getattr(port, "backend", default))


def _check_device_token(device_token: str | None) -> None:
    if not isinstance(device_token, str) or not 8 <= len(device_token) <= 512:
        raise InvalidInput("device_token", "a device token of 8 to 512 characters is required")
