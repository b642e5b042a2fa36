"""Translation between the engine's records and the rows of ``mfa.storage.schema``.

A column has the name of the record field it holds, so most of a row is the record's
fields as they are; only a few need a translation, listed per record below: enums travel
as their string values, sets and maps as joined text or JSON, and secrets only as
``SecretBox`` ciphertext in a ``*_sealed`` column (the caller passes the seal/open
functions, so no plaintext column exists).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import fields
from functools import cache
from typing import Any, TypeVar

from mfa.auth_log import AuthLogRecord
from mfa.billing import BillingModel, ProviderAccount
from mfa.methods import MethodType, RegisteredMethod
from mfa.reasons import AuthStatus, DenialReason, FraudRule, RegistrationReason
from mfa.security_state import SecurityState
from mfa.tokens.model import HardwareToken
from mfa.users import User, UserChange, UserFact

__all__ = [
    "account_from_row",
    "account_row",
    "change_from_row",
    "change_row",
    "log_from_row",
    "log_row",
    "method_from_row",
    "method_row",
    "state_from_row",
    "state_row",
    "token_from_row",
    "token_row",
    "user_from_row",
    "user_row",
]

Row = Any  # a row with attribute access by column name
Cipher = Callable[[str], str]
R = TypeVar("R")


@cache
def _fields(cls: type) -> tuple[tuple[str, bool], ...]:
    """(name, is_bool) of a record type; SQLite gives booleans back as 0/1."""
    return tuple((f.name, f.type in ("bool", bool)) for f in fields(cls))


def _to_row(record: object, *, skip: tuple[str, ...] = (), **special: object) -> dict[str, object]:
    row = {name: getattr(record, name) for name, _ in _fields(type(record)) if name not in skip}
    row.update(special)
    return row


def _from_row(cls: type[R], row: Row, **special: object) -> R:
    values: dict[str, object] = {}
    for name, is_bool in _fields(cls):
        if name not in special:
            value = getattr(row, name)
            values[name] = bool(value) if is_bool else value
    values.update(special)
    return cls(**values)


def _value(enum: object) -> str | None:
    """Plain ``str`` for the driver (some adapt only exact types)."""
    return None if enum is None else str(enum.value)  # type: ignore[attr-defined]


def user_row(user: User) -> dict[str, object]:
    reasons = ",".join(sorted(r.value for r in user.pending_registration))
    return _to_row(user, pending_registration=reasons)


def user_from_row(row: Row) -> User:
    reasons = frozenset(RegistrationReason(r) for r in row.pending_registration.split(",") if r)
    return _from_row(User, row, pending_registration=reasons)


def method_row(method: RegisteredMethod, seal: Cipher) -> dict[str, object]:
    """The TOTP secret and the push device token are sealed (the token is a delivery
    address, not a proof, but whoever holds it can send the user notifications)."""
    sealed = None if method.secret is None else seal(method.secret)
    token = None if method.device_token is None else seal(method.device_token)
    return _to_row(
        method,
        skip=("secret", "device_token"),
        type=_value(method.type),
        secret_sealed=sealed,
        device_token_sealed=token,
    )


def method_from_row(row: Row, open_: Cipher) -> RegisteredMethod:
    secret = None if row.secret_sealed is None else open_(row.secret_sealed)
    token = None if row.device_token_sealed is None else open_(row.device_token_sealed)
    return _from_row(
        RegisteredMethod, row, type=MethodType(row.type), secret=secret, device_token=token
    )


def token_row(token: HardwareToken, seal: Cipher) -> dict[str, object]:
    return _to_row(token, skip=("secret",), secret_sealed=seal(token.secret))


def token_from_row(row: Row, open_: Cipher) -> HardwareToken:
    return _from_row(HardwareToken, row, secret=open_(row.secret_sealed))


def state_row(state: SecurityState) -> dict[str, object]:
    return _to_row(
        state,
        send_times=json.dumps(list(state.send_times)),
        last_totp_step=json.dumps(state.last_totp_step, sort_keys=True),
    )


def state_from_row(row: Row) -> SecurityState:
    steps = json.loads(row.last_totp_step)
    return _from_row(
        SecurityState,
        row,
        send_times=tuple(float(t) for t in json.loads(row.send_times)),
        last_totp_step={str(k): int(v) for k, v in steps.items()},
    )


def log_row(record: AuthLogRecord) -> dict[str, object]:
    return _to_row(
        record,
        mode=_value(record.mode),
        status=_value(record.status),
        reason=_value(record.reason),
        fraud_rule=_value(record.fraud_rule),
    )


def log_from_row(row: Row) -> AuthLogRecord:
    return _from_row(
        AuthLogRecord,
        row,
        mode=None if row.mode is None else MethodType(row.mode),
        status=AuthStatus(row.status),
        reason=None if row.reason is None else DenialReason(row.reason),
        fraud_rule=None if row.fraud_rule is None else FraudRule(row.fraud_rule),
    )


def account_row(account: ProviderAccount) -> dict[str, object]:
    return _to_row(account, model=_value(account.model))


def account_from_row(row: Row) -> ProviderAccount:
    return _from_row(ProviderAccount, row, model=BillingModel(row.model))


def change_row(change: UserChange) -> dict[str, object]:
    return _to_row(change, fact=_value(change.fact))


def change_from_row(row: Row) -> UserChange:
    return _from_row(UserChange, row, fact=UserFact(row.fact))
