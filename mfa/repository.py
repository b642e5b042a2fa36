"""The repository port and its in-memory implementation.

Everything durable about users goes through this interface: users, registered methods,
hardware tokens, app-password hashes, security counters, the authentication log, the dated
history of users' licences and enablement, and the provider accounts (every provider ever
created, with its dates). ``mfa.storage.sql.SqlRepository`` implements it on SQLAlchemy (SQLite or
PostgreSQL); ``InMemoryRepository`` implements it with dicts for the simulator's speed and
for tests. Both pass the same test suite (tests/mfa/test_repository_contract.py).

Several servers may share one repository, so the security counters change only through
``update_state``, which applies a pure rule (``mfa.security_state``) atomically: no server's
failure, send or accepted TOTP step is lost to another's concurrent update.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Protocol, TypeVar

from mfa.auth_log import AuthLogRecord, merged
from mfa.billing import ProviderAccount
from mfa.errors import ConflictError
from mfa.methods import RegisteredMethod
from mfa.security_state import SecurityState, StateChange, empty_state
from mfa.tokens.model import HardwareToken
from mfa.users import User, UserChange

__all__ = ["InMemoryRepository", "Repository", "SignInFacts"]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class SignInFacts:
    """What a begin reads about its user before deciding anything: the user (``None`` if
    unknown; then ``state`` is empty and ``methods`` too), their security state and their
    registered methods. One read, so a database answers it in one round trip."""

    user: User | None
    state: SecurityState
    methods: Sequence[RegisteredMethod]


class Repository(Protocol):
    """The engine's durable state."""

    #: Whether the authentication log is kept. When False the engine builds no log records
    #: at all (the simulator's setting: it writes its own rows).
    keep_logs: bool

    def request(self) -> AbstractContextManager[None]:
        """Around one engine request (a begin, a verify): the calls inside may share what
        the store can share (``SqlRepository``: one connection). Each call keeps its own
        atomicity."""
        ...

    # users
    def add_user(self, user: User) -> None:
        """Raise ``ConflictError`` if the user id exists."""
        ...

    def add_users(
        self,
        users: Sequence[User],
        methods: Sequence[RegisteredMethod],
        tokens: Sequence[HardwareToken] = (),
    ) -> None:
        """Enrolment, all or nothing: new users, their methods and the hardware tokens now
        assigned to them (saved as given). Raise ``ConflictError`` naming every user id
        that exists already; then nothing is stored."""
        ...

    def get_user(self, user_id: str) -> User | None: ...
    def sign_in_facts(self, user_id: str) -> SignInFacts:
        """The user, their security state and methods together (see ``SignInFacts``)."""
        ...

    def save_user(self, user: User) -> None: ...
    def iter_users(self) -> Iterable[User]: ...

    # dated user facts (billing)
    def change_user(self, user: User, change: UserChange) -> None:
        """Save ``user`` (its new current state) and append ``change`` to the history, as
        one step: the record and its history never disagree."""
        ...

    def user_changes(self) -> list[UserChange]:
        """The whole history, oldest first (changes at the same time in the order made)."""
        ...

    # methods
    def add_method(self, method: RegisteredMethod) -> None: ...
    def save_method(self, method: RegisteredMethod) -> None: ...
    def list_methods(self, user_id: str) -> Sequence[RegisteredMethod]:
        """In registration order; a snapshot the caller must not change."""
        ...

    def delete_methods(self, user_id: str) -> int: ...

    # hardware tokens
    def add_tokens(self, tokens: Sequence[HardwareToken]) -> None:
        """All or nothing: raise ``ConflictError`` naming every serial that exists already."""
        ...

    def get_token(self, serial: str) -> HardwareToken | None: ...
    def save_token(self, token: HardwareToken) -> None: ...

    # security counters
    def get_state(self, user_id: str) -> SecurityState: ...
    def save_state(self, state: SecurityState) -> None: ...

    def update_state(self, user_id: str, change: StateChange[T]) -> T:
        """Apply ``change`` to the user's state atomically and return its answer.

        No other ``update_state`` for the user, in this process or another sharing the
        storage, runs between the read and the write. ``change`` must be pure (no I/O, no
        repository calls): it runs while the state is locked, and an implementation may run
        it again after a conflict. Returning the state it was given means "no change".
        """
        ...

    # app passwords (argon2 hashes only)
    def add_app_password(self, user_id: str, password_hash: str, created_at: float) -> None: ...
    def app_password_hashes(self, user_id: str) -> list[str]: ...
    def delete_app_passwords(self, user_id: str) -> int: ...

    # authentication log
    def save_log(self, record: AuthLogRecord) -> None:
        """Insert the record, or merge it with the one of the same ``auth_id``
        (``mfa.auth_log.merged``: the record further on is kept, with the provider). A
        repository may write it later, within a durability bound it documents
        (``SqlRepository``: 50 ms); its own ``logs`` sees it at once."""
        ...

    def logs(self, since: float | None = None) -> list[AuthLogRecord]:
        """Records whose ``began_at`` >= ``since``, oldest first."""
        ...

    # provider accounts (billing)
    def get_account(self) -> ProviderAccount | None:
        """The active provider (``ended_at`` is ``None``), if any."""
        ...

    def save_account(self, account: ProviderAccount) -> None:
        """Insert or replace the provider of the same name (names are never reused)."""
        ...

    def accounts(self) -> list[ProviderAccount]:
        """Every provider ever saved, ended ones included, oldest ``created_at`` first."""
        ...


class InMemoryRepository:
    """Dictionaries behind the repository port; no persistence. Single dictionary operations
    are atomic in CPython; ``update_state`` takes a lock for its read-modify-write, and adding
    users another for its check-then-store.

    ``keep_logs=False`` drops the authentication log (and lets the engine skip building it).
    """

    def __init__(self, *, keep_logs: bool = True) -> None:
        self._users: dict[str, User] = {}
        self._methods: dict[str, tuple[RegisteredMethod, ...]] = {}
        self._tokens: dict[str, HardwareToken] = {}
        self._states: dict[str, SecurityState] = {}
        self._app_passwords: dict[str, list[str]] = {}
        self._logs: dict[str, AuthLogRecord] = {}
        self._accounts: dict[str, ProviderAccount] = {}
        self._changes: list[UserChange] = []
        self._state_lock = threading.Lock()
        self._users_lock = threading.Lock()
        self.keep_logs = keep_logs

    # users
    def add_user(self, user: User) -> None:
        with self._users_lock:  # the check and the store as one step
            if user.user_id in self._users:
                raise ConflictError(f"user {user.user_id!r} exists")
            self._users[user.user_id] = user

    def add_users(
        self,
        users: Sequence[User],
        methods: Sequence[RegisteredMethod],
        tokens: Sequence[HardwareToken] = (),
    ) -> None:
        if len({u.user_id for u in users}) < len(users):
            raise ConflictError("a user id is repeated in the batch")
        known = self._users
        with self._users_lock:
            clash = [u.user_id for u in users if u.user_id in known]
            if clash:
                raise ConflictError(f"user(s) exist already: {', '.join(clash)}")
            for user in users:
                known[user.user_id] = user
            for method in methods:
                self.add_method(method)
            for token in tokens:
                self._tokens[token.serial] = token

    def get_user(self, user_id: str) -> User | None:
        return self._users.get(user_id)

    def request(self) -> AbstractContextManager[None]:
        return nullcontext()

    def sign_in_facts(self, user_id: str) -> SignInFacts:
        user = self.get_user(user_id)
        if user is None:
            return SignInFacts(None, empty_state(user_id), ())
        return SignInFacts(user, self.get_state(user_id), self.list_methods(user_id))

    def save_user(self, user: User) -> None:
        self._users[user.user_id] = user

    def iter_users(self) -> Iterable[User]:
        return list(self._users.values())

    # dated user facts
    def change_user(self, user: User, change: UserChange) -> None:
        with self._users_lock:
            self._users[user.user_id] = user
            self._changes.append(change)

    def user_changes(self) -> list[UserChange]:
        return sorted(self._changes, key=lambda c: c.at)  # stable: ties keep their order

    # methods
    # a user's methods are a tuple, replaced on every change: ``list_methods`` hands out the
    # stored tuple itself (immutable), with no copy per call on the engine's hot path
    def add_method(self, method: RegisteredMethod) -> None:
        self._methods[method.user_id] = (*self._methods.get(method.user_id, ()), method)

    def save_method(self, method: RegisteredMethod) -> None:
        methods = self._methods.get(method.user_id, ())
        for i, existing in enumerate(methods):
            if existing.method_id == method.method_id:
                self._methods[method.user_id] = (*methods[:i], method, *methods[i + 1 :])
                return
        self._methods[method.user_id] = (*methods, method)

    def list_methods(self, user_id: str) -> Sequence[RegisteredMethod]:
        return self._methods.get(user_id, ())

    def delete_methods(self, user_id: str) -> int:
        return len(self._methods.pop(user_id, ()))

    # hardware tokens
    def add_tokens(self, tokens: Sequence[HardwareToken]) -> None:
        clash = sorted(t.serial for t in tokens if t.serial in self._tokens)
        if clash:
            raise ConflictError(f"token serial(s) already imported: {', '.join(clash)}")
        for token in tokens:
            self._tokens[token.serial] = token

    def get_token(self, serial: str) -> HardwareToken | None:
        return self._tokens.get(serial)

    def save_token(self, token: HardwareToken) -> None:
        self._tokens[token.serial] = token

    # security counters
    def get_state(self, user_id: str) -> SecurityState:
        state = self._states.get(user_id)
        if state is None:
            state = empty_state(user_id)
            if user_id in self._users:
                # kept, so that the update that usually follows (a send, a TOTP step) and
                # the next sign-in find it rather than build another; only for known users,
                # so that probing unknown ids cannot fill memory
                state = self._states.setdefault(user_id, state)
        return state

    def save_state(self, state: SecurityState) -> None:
        self._states[state.user_id] = state

    def update_state(self, user_id: str, change: StateChange[T]) -> T:
        states = self._states
        with self._state_lock:
            state = states.get(user_id)
            if state is None:
                state = empty_state(user_id)
            new, answer = change(state)
            if new is not state:
                states[user_id] = new
        return answer

    # app passwords
    def add_app_password(self, user_id: str, password_hash: str, created_at: float) -> None:
        self._app_passwords.setdefault(user_id, []).append(password_hash)

    def app_password_hashes(self, user_id: str) -> list[str]:
        return list(self._app_passwords.get(user_id, ()))

    def delete_app_passwords(self, user_id: str) -> int:
        return len(self._app_passwords.pop(user_id, ()))

    # log
    def save_log(self, record: AuthLogRecord) -> None:
        if self.keep_logs:
            self._logs[record.auth_id] = merged(self._logs.get(record.auth_id), record)

    def logs(self, since: float | None = None) -> list[AuthLogRecord]:
        records = sorted(self._logs.values(), key=lambda r: r.began_at)
        if since is None:
            return records
        return [r for r in records if r.began_at >= since]

    # provider accounts
    def get_account(self) -> ProviderAccount | None:
        active = [a for a in self.accounts() if a.ended_at is None]
        return active[-1] if active else None

    def save_account(self, account: ProviderAccount) -> None:
        self._accounts[account.name] = account

    def accounts(self) -> list[ProviderAccount]:
        return sorted(self._accounts.values(), key=lambda a: a.created_at)
