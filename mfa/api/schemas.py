"""Request and response bodies of the HTTP API (pydantic), in Create/Public families.

These models are the wire contract (paths and fields written in issue 3); they hold no rule.
Values the engine validates (phone numbers, user ids, device tokens) are passed through as
strings so the engine's message, naming the field, is the one a client sees. Request models
forbid unknown fields, so a typo is a 422 naming it instead of being silently ignored. Times
travel as ISO 8601 in UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from mfa.auth_log import AuthLogRecord
from mfa.delivery.sink import SinkMessage
from mfa.methods import MethodType
from mfa.reasons import AuthResult, AuthStatus, DenialReason, RegistrationReason

__all__ = [
    "SYNC_MAX_USERS",
    "AppPasswordCheck",
    "AppPasswordCreated",
    "AuthCreate",
    "AuthPublic",
    "AuthStatusPublic",
    "EnrolledMethod",
    "Enrollee",
    "HealthPublic",
    "LogRecordPublic",
    "MethodActivate",
    "MethodActivated",
    "MethodCreate",
    "MethodPublic",
    "Problem",
    "PushRespond",
    "RegistrationPublic",
    "SinkMessagePublic",
    "TokenImport",
    "TokensImported",
    "UserCreate",
    "UserPublic",
    "UsersSync",
    "UsersSynced",
    "VerdictPublic",
    "VerifyCreate",
    "from_timestamp",
]


#: The most users one directory-sync request may carry (one repository transaction).
SYNC_MAX_USERS = 10_000


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


_PUBLIC_KEY = (
    "push: the app's Ed25519 public key, its 32 raw bytes in base64url without padding "
    "(43 characters); answers must be signed with its private key"
)


def from_timestamp(seconds: float | None) -> datetime | None:
    return None if seconds is None else datetime.fromtimestamp(seconds, UTC)


# ---------------------------------------------------------------------------- users


class UserCreate(_Request):
    user_id: str
    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    phone: str | None = Field(None, description="E.164, e.g. +14255550100")


class UserPublic(BaseModel):
    user_id: str
    first_name: str | None
    last_name: str | None
    email: str | None
    phone: str | None


class MethodCreate(_Request):
    type: MethodType
    phone: str | None = Field(None, description="sms/voice; defaults to the user's phone")
    serial: str | None = Field(None, description="hardware_token: serial of an imported token")
    device_token: str | None = Field(
        None, description="push: where notifications go; with public_key, activates at once"
    )
    public_key: str | None = Field(None, description=_PUBLIC_KEY)
    default: bool = False


class MethodPublic(BaseModel):
    method_id: str
    type: MethodType
    secret: str | None = Field(None, description="totp only: the base32 secret, shown once")
    otpauth_uri: str | None = Field(None, description="totp only: for a QR code")


class Enrollee(_Request):
    """One user of a directory sync, with their first (default) method."""

    user_id: str
    method: MethodType
    phone: str | None = Field(None, description="sms/voice: the user's number, E.164")
    serial: str | None = Field(None, description="hardware_token: serial of an imported token")
    device_token: str | None = Field(
        None, description="push: where notifications go; with public_key, activates at once"
    )
    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    licensed: bool = False
    public_key: str | None = Field(None, description=_PUBLIC_KEY)


class UsersSync(_Request):
    users: list[Enrollee] = Field(min_length=1, max_length=SYNC_MAX_USERS)


class EnrolledMethod(MethodPublic):
    user_id: str


class UsersSynced(BaseModel):
    enrolled: int
    methods: list[EnrolledMethod] = Field(description="in the request's order")


class MethodActivate(_Request):
    device_token: str = Field(description="where notifications go (shown only as a fingerprint)")
    public_key: str = Field(description=_PUBLIC_KEY)


class MethodActivated(BaseModel):
    method_id: str
    type: MethodType
    activated: bool


class RegistrationPublic(BaseModel):
    required: bool
    reasons: list[RegistrationReason]


class AppPasswordCreated(BaseModel):
    app_password: str = Field(description="shown once; only a hash is stored")


# ---------------------------------------------------------------------------- tokens


class TokenImport(_Request):
    format: Literal["pskc", "csv"]
    content: str = Field(description="the file's text")
    password: str | None = Field(None, description="PSKC pre-shared key or passphrase")


class TokensImported(BaseModel):
    imported: int
    serials: list[str]


# ---------------------------------------------------------------------------- authentication


class AuthCreate(_Request):
    user_id: str
    method: MethodType | None = Field(None, description="default: the user's default method")
    client_ip: str | None = None


class AuthPublic(BaseModel):
    auth_id: str = Field(description="'<server>.<token>': names the issuing server")
    method: MethodType
    server: str
    expires_in: float
    sender: str | None = Field(None, description="sms/voice: the short or long code used")
    number: int | None = Field(
        None,
        description="push with number matching: the two digits (10-99) the sign-in page "
        "shows and the person types into the app",
    )


class VerifyCreate(_Request):
    code: str


class VerdictPublic(BaseModel):
    result: AuthResult
    reason: DenialReason | None


class AuthStatusPublic(BaseModel):
    status: AuthStatus
    reason: DenialReason | None


class PushRespond(_Request):
    approve: bool
    number: int | None = Field(
        None,
        ge=10,
        le=99,
        description="the number the person typed (number matching; leave out when it is off)",
    )
    signature: str | None = Field(
        None,
        max_length=128,
        description="Ed25519 signature, base64url without padding, by the activated device over "
        "the UTF-8 bytes of '<auth_id>.approve.<number>' ('<auth_id>.approve' without number "
        "matching) or '<auth_id>.deny'; missing or wrong: denied bad_signature",
    )


class AppPasswordCheck(_Request):
    user_id: str
    password: str


# ---------------------------------------------------------------------------- observation


class HealthPublic(BaseModel):
    status: Literal["ok"]
    server: str


class SinkMessagePublic(BaseModel):
    to: str
    sender: str | None
    channel: str
    text: str
    code: str | None
    sent_at: datetime
    auth_id: str = Field(description="extension: the authentication the message belongs to")

    @classmethod
    def of(cls, message: SinkMessage) -> dict[str, Any]:
        return {
            "to": message.to,
            "sender": message.sender,
            "channel": str(message.channel),
            "text": message.text,
            "code": message.code,
            "sent_at": from_timestamp(message.sent_at),
            "auth_id": message.auth_id,
        }


class LogRecordPublic(BaseModel):
    """The seed's log fields, plus timing and routing; never a code, secret or password."""

    auth_id: str
    unique_id: str
    first_name: str | None
    last_name: str | None
    email: str | None
    phone: str | None
    device_token: str | None = Field(
        description="push: the device token's fingerprint (first 8 hex characters of its "
        "SHA-256), never the token"
    )
    mode: MethodType | None
    result: Literal["success", "denied", "pending"]
    status: AuthStatus
    reason: DenialReason | None
    server_name: str
    server_ip: str
    client_ip: str | None
    began_at: datetime
    completed_at: datetime | None
    attempts: int
    sender: str | None
    provider: str | None
    billable: bool

    @classmethod
    def of(cls, record: AuthLogRecord) -> dict[str, Any]:
        out = record.to_dict()
        out["began_at"] = from_timestamp(record.began_at)
        out["completed_at"] = from_timestamp(record.completed_at)
        return out


class Problem(BaseModel):
    """RFC 9457 problem details; extension members depend on ``type``."""

    model_config = ConfigDict(extra="allow")

    type: str
    title: str
    status: int
    detail: str
    instance: str
