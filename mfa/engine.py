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

- ``mfa.user_accounts``: a user's account over time (created, enabled, licensed, reset);
- ``mfa.registration``: users' methods, enrolment, the reasons to (re-)register;
- ``mfa.method_setup``: a push app's activation, a TOTP app's provisioning URI;
- ``mfa.token_inventory``: importing hardware tokens, all or nothing;
- ``mfa.begin``: starting an authentication (choose the method, reserve the send, issue
  the code, store, deliver);
- ``mfa.verify``: answering with a code (find, reserve, evaluate, settle);
- ``mfa.push``: answering a push notification (signature, number matching);
- ``mfa.auth_status``: where an authentication stands;
- ``mfa.app_passwords`` (made, deleted) and ``mfa.app_password_check`` (checked);
- ``mfa.auth_records``: the pending record's transitions and the log record;
- ``mfa.security_state``: the per-user counters (lockout, send limit, TOTP replay);
- ``mfa.engine_parts``: what the steps share (the code MAC, a message's parts, the users of
  open authentications), with the memories that save repeated work;
- ``mfa.providers``: the provider account's lifecycle and the month's usage (``mfa.billing``
  holds the counting rules);
- ``mfa.fraud`` (rules), ``mfa.fraud_checks`` (steps), ``mfa.fraud_counters`` (port): the
  defences against SMS pumping and message floods (geo permissions, range velocity,
  conversion guard, client-IP limit).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from mfa import app_passwords, method_setup, providers, registration, user_accounts
from mfa.app_password_check import check_app_password
from mfa.app_passwords import AppPasswordHasher
from mfa.auth_records import AUTH_TOKEN_LENGTH, SERVER_NAME, parse_auth_id
from mfa.auth_status import AuthView, auth_status
from mfa.begin import begin_authentication
from mfa.billing import BillingModel, BillingUsage, ProviderAccount, ProviderMove
from mfa.clock import Clock
from mfa.delivery.message import DeliveryGateway
from mfa.delivery.senders import SenderDirectory
from mfa.engine_parts import CodeMac, MessageParts, OpenAuthentications
from mfa.enrolment import Enrolment
from mfa.entropy import Entropy, SecretsEntropy
from mfa.fraud_counters import FraudCounters, MemoryFraudCounters
from mfa.methods import MethodType, RegisteredMethod
from mfa.outcomes import Challenge, Denial, Verdict
from mfa.pending import PendingAuth, PendingStore
from mfa.policy import Policy
from mfa.push import decide_push
from mfa.reasons import RegistrationReason
from mfa.repository import Repository
from mfa.token_inventory import import_tokens
from mfa.tokens.model import HardwareToken
from mfa.users import User
from mfa.verify import answer, verify_code

__all__ = ["AuthView", "Engine", "ServerIdentity", "parse_auth_id"]


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

    def issued(self, auth_id: str) -> bool:
        """Whether ``auth_id`` has this server's name and an auth id's length."""
        prefix = self.name
        return (
            len(auth_id) == len(prefix) + 1 + AUTH_TOKEN_LENGTH
            and auth_id.startswith(prefix)
            and auth_id[len(prefix)] == "."
        )


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
        self._mac = CodeMac(secret_key)
        self._messages = MessageParts()
        self._open = OpenAuthentications()
        self._enabled_for: Policy | None = None
        self._enabled: frozenset[MethodType] = frozenset()

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
        return user_accounts.get_user(self, user_id)

    def set_licensed(self, user_id: str, licensed: bool) -> User:
        """Assign or remove the user's licence, dated now (billing reads the date)."""
        return user_accounts.set_licensed(self, user_id, licensed)

    def disable_user(self, user_id: str) -> User:
        """Stop counting the user as enabled for MFA (per-user billing) from now on."""
        return self.set_enabled(user_id, False)

    def enable_user(self, user_id: str) -> User:
        return self.set_enabled(user_id, True)

    def set_enabled(self, user_id: str, enabled: bool) -> User:
        """Enable or disable the user for MFA, dated now; ``User.disabled_at`` says since
        when a user is disabled (``None`` while enabled)."""
        return user_accounts.set_enabled(self, user_id, enabled)

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
        return registration.register_method(
            self,
            self.get_user(user_id),
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
        return registration.enrol(self, entry)

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
        return method_setup.activate_push(self, user_id, method_id, device_token, public_key)

    def provisioning_uri(self, method: RegisteredMethod) -> str:
        """The ``otpauth://`` URI an authenticator app scans (render it with ``mfa.qr``)."""
        return method_setup.provisioning_uri(method, self.issuer)

    def reset_user(self, user_id: str) -> None:
        """The seed: reset the account by making the user go through registration again."""
        user_accounts.reset_user(self, user_id)

    def apply_registration_policy(self, user_id: str) -> None:
        user = self.get_user(user_id)
        user_accounts.require_registration(self, user, RegistrationReason.REGISTRATION_POLICY)

    def registration_required(self, user_id: str) -> list[RegistrationReason]:
        """The seed's reasons a user is prompted to register security information."""
        user = self.get_user(user_id)
        methods = self.repository.list_methods(user_id)
        return registration.registration_reasons(user, methods, self.enabled_methods())

    # ------------------------------------------------------------------ hardware tokens

    def import_tokens(
        self, tokens: Sequence[HardwareToken], *, source: str = "tokens"
    ) -> list[str]:
        """Store tokens all or nothing; returns their serials.

        Every token is checked first (the importers' rules, plus serials repeated in the
        batch) and ``TokenImportError`` lists every problem; serials that exist already make
        the repository raise ``ConflictError``. Either way nothing is stored.
        """
        return import_tokens(self, tokens, source)

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
        return auth_status(self, auth_id)

    # ------------------------------------------------------------------ app passwords

    def create_app_password(self, user_id: str) -> str:
        """A new app password, returned once and stored only as an argon2 hash."""
        return app_passwords.create_app_password(self, user_id)

    def delete_app_passwords(self, user_id: str) -> int:
        """The seed: when a phone using app passwords is lost, delete them all."""
        return app_passwords.delete_app_passwords(self, user_id)

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
        return self.app_password_hasher.dummy_hash()

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
        """The code kept as a keyed MAC bound to its auth id (``mfa.engine_parts.CodeMac``)."""
        return self._mac.digest(auth_id, code)

    def issued_here(self, auth_id: str) -> bool:
        """Whether ``auth_id`` has this server's name and an auth id's length."""
        return self.server.issued(auth_id)

    def country_of(self, phone: str) -> str:
        """The country of an E.164 number (remembered: libphonenumber's parse is slow)."""
        return self._messages.country_of(phone)

    def choose_sender(self, country: str | None) -> str:
        """One of the country's sender numbers (the directory's pools)."""
        return self._messages.sender(self.senders, self.entropy, country)

    def message_text(self, code: str) -> str:
        """The policy's template with the code in it."""
        return self._messages.text(self.policy.sms_template, code)

    def remember_begun(self, pending: PendingAuth, user: User, now: float) -> None:
        """After a begin is stored: purge the pending store's expired records now and then,
        and keep the user as read for finishing the authentication (``user_of``)."""
        self._open.remember(pending, user, now, self.pending)

    def forget_begun(self, auth_id: str) -> None:
        self._open.forget(auth_id)

    def user_of(self, pending: PendingAuth) -> User | None:
        """The user as ``begin`` read it, when this engine began the authentication: what
        finishing needs from the user (the log's names and e-mail) was read moments ago,
        and users are never deleted. Another server's authentication (shared pending
        store), or one pushed out of the bounded memory, reads the repository."""
        return self._open.user_of(pending, self.repository)

    def method_of(self, pending: PendingAuth) -> RegisteredMethod | None:
        """The registration the authentication uses, if the user still has it."""
        return method_setup.find_method(self.repository, pending.user_id, pending.method_id)
