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
afresh; see ``mfa.verify.answer``.

Every limit is taken before the work it limits: a verify reserves the code's attempt and
the user's guess before it checks anything (``mfa.verify``), an app-password check
reserves the guess before argon2 runs (``mfa.app_password_check``), and a begin counts the
send and stores the code and its log record before it sends (``mfa.begin``). However
many requests race, no more guesses are checked and no more messages sent than the limits
allow.

Where each rule lives: ``Engine`` is the server's face and holds its parts; the rules are
plain functions of it, one module per concept —

- ``mfa.registration``: users, methods, enrolment, the reasons to (re-)register;
- ``mfa.begin``: starting an authentication (choose the method, reserve the send, issue
  the code, store, deliver);
- ``mfa.verify``: answering with a code (find, reserve, evaluate, settle);
- ``mfa.push``: answering a push notification (signature, number matching);
- ``mfa.app_password_check``: checking an app password;
- ``mfa.auth_records``: the pending record's transitions and the log record;
- ``mfa.security_state``: the per-user counters (lockout, send limit, TOTP replay);
- ``mfa.providers``: the provider account's lifecycle and the month's usage (``mfa.billing``
  holds the counting rules);
- ``mfa.fraud`` (rules), ``mfa.fraud_checks`` (steps), ``mfa.fraud_counters`` (port): the
  defences against SMS pumping and message floods (geo permissions, range velocity,
  conversion guard, client-IP limit).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from mfa import providers, registration
from mfa.app_password_check import check_app_password
from mfa.app_passwords import AppPasswordHasher, new_app_password
from mfa.auth_records import AUTH_TOKEN_LENGTH, SERVER_NAME, parse_auth_id
from mfa.begin import begin_authentication
from mfa.billing import (
    BillingModel,
    BillingUsage,
    ProviderAccount,
    ProviderMove,
)
from mfa.clock import Clock
from mfa.delivery.message import DeliveryGateway
from mfa.delivery.senders import SenderDirectory
from mfa.enrolment import Enrolment
from mfa.entropy import Entropy, SecretsEntropy
from mfa.errors import (
    InvalidInput,
    NotFound,
    ProblemItem,
    TokenImportError,
)
from mfa.fraud_counters import FraudCounters, MemoryFraudCounters
from mfa.methods import MethodType, RegisteredMethod
from mfa.otp import otpauth_uri
from mfa.outcomes import Challenge, Denial, Verdict
from mfa.pending import PendingAuth, PendingStore
from mfa.policy import Policy
from mfa.push import decide_push
from mfa.push_proof import checked_public_key
from mfa.reasons import AuthStatus, DenialReason, RegistrationReason
from mfa.repository import Repository
from mfa.tokens.model import HardwareToken, token_problems
from mfa.users import User, UserChange, UserFact, parse_phone
from mfa.verify import answer, verify_code

__all__ = ["AuthView", "Engine", "ServerIdentity", "parse_auth_id"]

#: Stored authentications between two purges of the pending store's expired records.
_PURGE_EVERY = 512
#: Bounds of the per-engine caches (phone countries; users of open authentications).
_COUNTRY_CACHE = 4096
_BEGUN_CACHE = 4096


@dataclass(frozen=True, slots=True)
class ServerIdentity:
    """The seed's "Multi-Factor Authentication Server Name" and "Server IP"."""

    name: str
    ip: str = "127.0.0.1"

    def __post_init__(self) -> None:
        if not SERVER_NAME.match(self.name):
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


class Engine:
    """One MFA server: users and their methods, authentications, tokens, app passwords and
    billing records, with every rule of the seed and the RFCs.

    Safe to call from many threads and from many processes sharing the repository and the
    pending store: every check that only one request may pass (one success per code, the
    attempt count, the send limit, TOTP replay, lockout) is decided by an atomic step of
    the store that holds its state, never by a lock in this process.

    Whether authentication-log records are built at all is the repository's
    ``keep_logs`` (the simulator's repository keeps none: it writes its own rows).
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
        fraud_counters: FraudCounters | None = None,
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
        #: The fraud defences' counters (``mfa.fraud_counters``): this engine's own memory
        #: unless given; servers of one cluster share one (Redis, or one memory instance).
        self.fraud_counters = fraud_counters or MemoryFraudCounters()
        self.app_password_hasher = app_password_hasher or AppPasswordHasher()
        self._dummy: str | None = None
        self._puts = 0
        # BLAKE2b takes keys up to 64 bytes; longer secrets are hashed down first
        mac_key = secret_key if len(secret_key) <= 64 else hashlib.sha256(secret_key).digest()
        # keyed once: each digest copies this state rather than re-keying BLAKE2b
        self._mac = hashlib.blake2b(key=mac_key, digest_size=32)
        self._enabled_for: Policy | None = None
        self._enabled: frozenset[MethodType] = frozenset()
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
        user = registration.user_record(
            user_id,
            first_name=first_name,
            last_name=last_name,
            email=email,
            phone=phone,
            licensed=licensed,
            now=self.clock.now(),
        )
        self.repository.add_user(user)
        return user

    def get_user(self, user_id: str) -> User:
        user = self.repository.get_user(user_id)
        if user is None:
            raise NotFound("user", user_id)
        return user

    def set_licensed(self, user_id: str, licensed: bool) -> User:
        """Assign or remove the user's licence, dated now (billing reads the date)."""
        user = self.get_user(user_id)
        if user.licensed == bool(licensed):
            return user  # nothing changes, nothing is dated
        return self._change_user(replace(user, licensed=bool(licensed)), UserFact.LICENSED)

    def disable_user(self, user_id: str) -> User:
        """Stop counting the user as enabled for MFA (per-user billing) from now on."""
        return self.set_enabled(user_id, False)

    def enable_user(self, user_id: str) -> User:
        return self.set_enabled(user_id, True)

    def set_enabled(self, user_id: str, enabled: bool) -> User:
        """Enable or disable the user for MFA, dated now; ``User.disabled_at`` says since
        when a user is disabled (``None`` while enabled)."""
        user = self.get_user(user_id)
        if (user.disabled_at is None) == bool(enabled):
            return user
        if enabled and not any(
            c.user_id == user_id and c.fact is UserFact.ENABLED
            for c in self.repository.user_changes()
        ):
            # disabled before the history was kept: date that first, or re-enabling would
            # erase the months the user spent disabled
            self.repository.change_user(
                user, UserChange(user_id, UserFact.ENABLED, False, at=user.disabled_at)
            )
        disabled_at = None if enabled else self.clock.now()
        return self._change_user(replace(user, disabled_at=disabled_at), UserFact.ENABLED)

    def _change_user(self, user: User, fact: UserFact) -> User:
        value = user.licensed if fact is UserFact.LICENSED else user.disabled_at is None
        change = UserChange(user.user_id, fact, value, at=self.clock.now())
        self.repository.change_user(user, change)
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
        return registration.register_method(
            self,
            user,
            registration.method_type(method),
            phone=phone,
            serial=serial,
            device_token=device_token,
            public_key=public_key,
            default=default,
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
            user_id=user_id,
            method=method,
            phone=phone,
            serial=serial,
            device_token=device_token,
            first_name=first_name,
            last_name=last_name,
            email=email,
            licensed=licensed,
            public_key=public_key,
        )
        user, registered, token = registration.enrolment_records(self, entry, self.clock.now())
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
        return registration.enrol_many(self, enrolments, source)

    def activate_push(
        self, user_id: str, method_id: str, device_token: str, public_key: str
    ) -> RegisteredMethod:
        """The app's activation: where notifications go (``device_token``) and the Ed25519
        public key its answers are signed with (base64url of the 32 raw bytes). A new
        activation replaces the old device: its answers are no longer accepted."""
        registration.check_device_token(device_token)
        checked_public_key(public_key)
        method = self._method_by_id(user_id, method_id)
        if method.type is not MethodType.PUSH:
            raise InvalidInput("method_id", f"{method_id!r} is not a push method")
        activated = replace(
            method, device_token=device_token, public_key=public_key, activated=True
        )
        self.repository.save_method(activated)
        return activated

    def provisioning_uri(self, method: RegisteredMethod) -> str:
        """The ``otpauth://`` URI an authenticator app scans (render it with ``mfa.qr``)."""
        if method.type is not MethodType.TOTP or method.secret is None:
            raise InvalidInput("type", "only totp methods have a provisioning URI")
        return otpauth_uri(method.secret, method.user_id, self.issuer)

    def reset_user(self, user_id: str) -> None:
        """The seed: reset the account by making the user go through registration again."""
        user = self.get_user(user_id)
        self.repository.delete_methods(user_id)
        self._require_registration(user, RegistrationReason.ADMIN_RESET)

    def apply_registration_policy(self, user_id: str) -> None:
        self._require_registration(self.get_user(user_id), RegistrationReason.REGISTRATION_POLICY)

    def _require_registration(self, user: User, reason: RegistrationReason) -> None:
        pending = user.pending_registration | {reason}
        self.repository.save_user(replace(user, pending_registration=pending))

    def registration_required(self, user_id: str) -> list[RegistrationReason]:
        """The seed's reasons a user is prompted to register security information."""
        user = self.get_user(user_id)
        methods = self.repository.list_methods(user_id)
        return registration.registration_reasons(user, methods, self.enabled_methods())

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
        for push a notification (the steps: ``mfa.begin``).

        All or nothing: the send is counted (sms, voice and push: the user's send limit),
        the pending record stored and the log record written, and only then is the message
        sent. If storing fails, nothing is sent, the send is given back and
        ``mfa.errors.ServiceUnavailable`` is raised. If no provider takes the message, the
        log record says ``delivery_failed``, the send still counts (the attempt was made)
        and ``mfa.errors.DeliveryError`` is raised.
        """
        with self.repository.request():  # one database connection for the request
            return begin_authentication(self, user_id, method, client_ip)

    def verify(self, auth_id: str, code: str) -> Verdict:
        """Check the code the user typed for an sms, voice, totp or hardware-token auth
        (the steps: ``mfa.verify``)."""
        # as typed: "123 456" (the way apps show it) or with a stray newline
        typed = "".join(code.split()) if isinstance(code, str) else ""
        with self.repository.request():
            return answer(self, auth_id, verify_code, typed, None)

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
        authentication (the steps: ``mfa.push``)."""
        return answer(self, auth_id, decide_push, (approve, number), signature)

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
        if pending.status is AuthStatus.PENDING and self.clock.now() >= pending.expires_at:
            return AuthView(auth_id, AuthStatus.EXPIRED, DenialReason.EXPIRED, pending.method)
        return AuthView(auth_id, pending.status, pending.reason, pending.method)

    # ------------------------------------------------------------------ app passwords

    def create_app_password(self, user_id: str) -> str:
        """A new app password, returned once and stored only as an argon2 hash."""
        self.get_user(user_id)
        password = new_app_password()
        self.repository.add_app_password(
            user_id, self.app_password_hasher.hash(password), self.clock.now()
        )
        return password

    def delete_app_passwords(self, user_id: str) -> int:
        """The seed: when a phone using app passwords is lost, delete them all."""
        self.get_user(user_id)
        return self.repository.delete_app_passwords(user_id)

    def verify_app_password(
        self, user_id: str, password: str, client_ip: str | None = None
    ) -> Verdict:
        """Check an app password: an authentication like any other, with one log record
        (mode ``app_password``) that per-authentication billing counts; the guess is
        reserved before argon2 runs (the rules: ``mfa.app_password_check``)."""
        return check_app_password(self, user_id, password, client_ip)

    def dummy_app_password_hash(self) -> str:
        """The hash an app-password check of a user without any is verified against: made
        once by this engine's hasher (same cost), of a password never shown to anyone."""
        if self._dummy is None:
            self._dummy = self.app_password_hasher.hash(new_app_password())
        return self._dummy

    # ------------------------------------------------------------------ billing

    def create_provider(
        self, name: str, model: BillingModel | str, *, tenant: str | None = None
    ) -> ProviderAccount:
        """The deployment's provider, with a model fixed for its lifetime. Refused while
        another is active: moving to a new provider is ``replace_provider``."""
        return providers.create_provider(self, name, model, tenant=tenant)

    def change_billing_model(self, model: BillingModel | str) -> None:
        """Always refused when it would change anything: the seed's rule."""
        providers.change_billing_model(self, model)

    def replace_provider(
        self, name: str, model: BillingModel | str, *, tenant: str | None = None
    ) -> ProviderMove:
        """A new provider (e.g. for the other billing model) in place of the active one,
        which ends now and stays in the history; user settings carry over only when both
        providers are linked to the same tenant (the seed)."""
        return providers.replace_provider(self, name, model, tenant=tenant)

    def delete_provider(self) -> ProviderAccount:
        """The seed: once every user enabled for MFA holds a licence the provider may be
        deleted (it ends now and stays in the history). Refused otherwise."""
        return providers.delete_provider(self)

    def relink_provider(self, tenant: str) -> ProviderMove:
        """Link the provider to another tenant: user settings are not transferred (the
        seed), so every method is removed and users register again."""
        return providers.relink_provider(self, tenant)

    def usage(self, month: str) -> BillingUsage:
        """The month's usage from dated facts only: nothing done after the month ends
        changes it (the rule is in ``mfa.billing``)."""
        return providers.usage(self, month)

    # ------------------------------------------------------------------ parts the steps share

    def enabled_methods(self) -> frozenset[MethodType]:
        """The policy's allowed methods less the disabled ones."""
        policy = self.policy
        if policy is not self._enabled_for:  # worked out once per policy, not per request
            self._enabled = policy.allowed_methods - policy.disabled_methods
            self._enabled_for = policy
        return self._enabled

    def digest(self, auth_id: str, code: str) -> bytes:
        """A keyed BLAKE2b MAC of the code, bound to its auth id: a dump of the pending store
        reveals no live code, and a digest cannot be moved to another authentication."""
        mac = self._mac.copy()
        mac.update(f"{auth_id}:{code}".encode())
        return mac.digest()

    def issued_here(self, auth_id: str) -> bool:
        """Whether ``auth_id`` has this server's name and an auth id's length."""
        prefix = self.server.name
        return (
            len(auth_id) == len(prefix) + 1 + AUTH_TOKEN_LENGTH
            and auth_id.startswith(prefix)
            and auth_id[len(prefix)] == "."
        )

    def country_of(self, phone: str) -> str:
        """The country of an E.164 number (cached: libphonenumber's parse is slow)."""
        country = self._countries.get(phone)
        if country is None:
            if len(self._countries) >= _COUNTRY_CACHE:
                self._countries.clear()
            country = self._countries[phone] = parse_phone(phone).country
        return country

    def choose_sender(self, country: str | None) -> str:
        """One of the country's sender numbers (the directory's pools, cached per country)."""
        if self.senders is not self._pools_of:  # the directory was replaced
            self._sender_pools.clear()
            self._pools_of = self.senders
        pool = self._sender_pools.get(country)
        if pool is None:
            pool = self._sender_pools[country] = tuple(
                s.address for s in self.senders.pool(country)
            )
        return pool[0] if len(pool) == 1 else self.entropy.choice(pool)

    def message_text(self, code: str) -> str:
        """The policy's template with the code in it (split once, not parsed per message)."""
        template = self.policy.sms_template
        if template is not self._template:
            self._template = template
            self._template_parts = template.format(code="\0").split("\0")
        return code.join(self._template_parts)

    def remember_begun(self, pending: PendingAuth, user: User, now: float) -> None:
        """After a begin is stored: purge the pending store's expired records now and then,
        and keep the user as read for finishing the authentication (``user_of``)."""
        self._puts += 1
        if self._puts % _PURGE_EVERY == 0:
            self.pending.purge(now)
        if len(self._begun) >= _BEGUN_CACHE:
            self._begun.clear()
        self._begun[pending.auth_id] = user

    def forget_begun(self, auth_id: str) -> None:
        self._begun.pop(auth_id, None)

    def user_of(self, pending: PendingAuth) -> User | None:
        """The user as ``begin`` read it, when this engine began the authentication: what
        finishing needs from the user (the log's names and e-mail) was read moments ago,
        and users are never deleted. Another server's authentication (shared pending
        store), or one pushed out of the bounded memory, reads the repository."""
        user = self._begun.get(pending.auth_id)
        return user if user is not None else self.repository.get_user(pending.user_id)

    def method_of(self, pending: PendingAuth) -> RegisteredMethod | None:
        """The registration the authentication uses, if the user still has it."""
        method_id = pending.method_id
        for method in self.repository.list_methods(pending.user_id):
            if method.method_id == method_id:
                return method
        return None
