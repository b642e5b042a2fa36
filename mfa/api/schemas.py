"""Request and response bodies of the HTTP API (pydantic), in Create/Public families.

These models are the wire contract (paths and fields written in issue 3); they hold no rule.
Values the engine validates (phone numbers, user ids, device tokens) are passed through as
strings so the engine's message, naming the field, is the one a client sees. Request models
forbid unknown fields, so a typo is a 422 naming it instead of being silently ignored. Times
travel as ISO 8601 in UTC.
"""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictBool

from mfa import limits
from mfa.auth_log import AuthLogRecord
from mfa.delivery.sink import SinkMessage
from mfa.methods import MethodType
from mfa.reasons import AuthResult, AuthStatus, DenialReason, RegistrationReason

__all__ = [
    "SYNC_MAX_USERS",
    "AppPasswordCheck",
    "AppPasswordCreated",
    "AuthCreate",
    "AuthId",
    "AuthPublic",
    "AuthStatusPublic",
    "EnrolledMethod",
    "Enrollee",
    "HealthPublic",
    "LogRecordPublic",
    "MethodActivate",
    "MethodActivated",
    "MethodCreate",
    "MethodId",
    "MethodPublic",
    "Problem",
    "PushRespond",
    "RecipientAddress",
    "RegistrationPublic",
    "SinkMessagePublic",
    "TokenImport",
    "TokensImported",
    "UserCreate",
    "UserId",
    "UserPatch",
    "UserPublic",
    "UsersSync",
    "UsersSynced",
    "VerdictPublic",
    "VerifyCreate",
    "bounded",
    "from_timestamp",
]


#: The most users one directory-sync request may carry (one repository transaction).
SYNC_MAX_USERS = 10_000


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _printable(maximum: int) -> AfterValidator:
    def check(value: str) -> str:
        problem = limits.text_problem(value, maximum=maximum)
        if problem is not None:
            raise ValueError(problem)
        return value

    return AfterValidator(check)


def bounded(maximum: int, *, min_length: int = 0, description: str | None = None) -> Any:
    """A string of at most ``maximum`` characters without control characters, NUL or lone
    surrogates (``mfa.limits``). The rule is in the OpenAPI document as ``maxLength`` and a
    ``pattern``; the pattern is checked by a validator (pydantic's regex engine cannot name
    surrogates), so the answer is the same 422 naming the field whatever the route."""
    return Annotated[
        str,
        Field(
            max_length=maximum,
            min_length=min_length or None,
            description=description,
            json_schema_extra={"pattern": limits.PRINTABLE},
        ),
        _printable(maximum),
    ]


def _ip_address(value: str) -> str:
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        raise ValueError("an IPv4 or IPv6 address is required") from None


UserId = bounded(limits.MAX_USER_ID, min_length=1)
AuthId = bounded(limits.MAX_AUTH_ID, min_length=1)
MethodId = bounded(limits.MAX_METHOD_ID, min_length=1)
Name = bounded(limits.MAX_NAME)
Email = bounded(limits.MAX_EMAIL)
Phone = bounded(limits.MAX_PHONE, description="E.164, e.g. +14255550100")
DeviceToken = bounded(limits.MAX_DEVICE_TOKEN, min_length=1)
Serial = bounded(limits.MAX_SERIAL)
Code = bounded(limits.MAX_CODE)
AppPassword = bounded(limits.MAX_APP_PASSWORD)
PskcPassword = bounded(limits.MAX_PSKC_PASSWORD)
RecipientAddress = bounded(limits.MAX_DEVICE_TOKEN, min_length=1)
ClientIp = Annotated[
    str,
    Field(
        max_length=45,
        description="IPv4 or IPv6 address of the person signing in (logged)",
        json_schema_extra={"pattern": r"^[0-9A-Fa-f:.]+$"},
    ),
    AfterValidator(_ip_address),
]
PublicKey = bounded(64)
Signature = bounded(128)

_PUBLIC_KEY = (
    "push: the app's Ed25519 public key, its 32 raw bytes in base64url without padding "
    "(43 characters); answers must be signed with its private key"
)


def from_timestamp(seconds: float | None) -> datetime | None:
    return None if seconds is None else datetime.fromtimestamp(seconds, UTC)


# ---------------------------------------------------------------------------- users


class UserCreate(_Request):
    user_id: UserId
    first_name: Name | None = None
    last_name: Name | None = None
    email: Email | None = None
    phone: Phone | None = None


class UserPublic(BaseModel):
    user_id: str
    first_name: str | None
    last_name: str | None
    email: str | None
    phone: str | None
    enabled: bool = Field(True, description="enabled for MFA (counted by per-user billing)")
    licensed: bool = Field(False, description="holds an MFA licence (not billed per user)")


class UserPatch(_Request):
    """Only the fields given change; each change is dated by the server's clock."""

    enabled: StrictBool | None = Field(
        None, description="enable or disable the user for MFA (a disabled user can't sign in)"
    )
    licensed: StrictBool | None = Field(None, description="assign or remove an MFA licence")


class MethodCreate(_Request):
    type: MethodType
    phone: Phone | None = Field(None, description="sms/voice; defaults to the user's phone")
    serial: Serial | None = Field(None, description="hardware_token: serial of an imported token")
    device_token: DeviceToken | None = Field(
        None, description="push: where notifications go; with public_key, activates at once"
    )
    public_key: PublicKey | None = Field(None, description=_PUBLIC_KEY)
    default: StrictBool = False


class MethodPublic(BaseModel):
    method_id: str
    type: MethodType
    secret: str | None = Field(None, description="totp only: the base32 secret, shown once")
    otpauth_uri: str | None = Field(None, description="totp only: for a QR code")


class Enrollee(_Request):
    """One user of a directory sync, with their first (default) method."""

    user_id: UserId
    method: MethodType
    phone: Phone | None = Field(None, description="sms/voice: the user's number, E.164")
    serial: Serial | None = Field(None, description="hardware_token: serial of an imported token")
    device_token: DeviceToken | None = Field(
        None, description="push: where notifications go; with public_key, activates at once"
    )
    first_name: Name | None = None
    last_name: Name | None = None
    email: Email | None = None
    licensed: StrictBool = False
    public_key: PublicKey | None = Field(None, description=_PUBLIC_KEY)


class UsersSync(_Request):
    users: list[Enrollee] = Field(min_length=1, max_length=SYNC_MAX_USERS)


class EnrolledMethod(MethodPublic):
    user_id: str


class UsersSynced(BaseModel):
    enrolled: int
    methods: list[EnrolledMethod] = Field(description="in the request's order")


class MethodActivate(_Request):
    device_token: DeviceToken = Field(
        description="where notifications go (shown only as a fingerprint)"
    )
    public_key: PublicKey = Field(description=_PUBLIC_KEY)


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
    content: str = Field(
        max_length=limits.MAX_IMPORT_BYTES,
        description=f"the file's text (at most {limits.MAX_IMPORT_BYTES:,} characters)",
    )
    password: PskcPassword | None = Field(None, description="PSKC pre-shared key or passphrase")


class TokensImported(BaseModel):
    imported: int
    serials: list[str]


# ---------------------------------------------------------------------------- authentication


class AuthCreate(_Request):
    user_id: UserId
    method: MethodType | None = Field(None, description="default: the user's default method")
    client_ip: ClientIp | None = None


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
    code: Code


class VerdictPublic(BaseModel):
    result: AuthResult
    reason: DenialReason | None


class AuthStatusPublic(BaseModel):
    status: AuthStatus
    reason: DenialReason | None


class PushRespond(_Request):
    approve: StrictBool
    number: int | None = Field(
        None,
        ge=10,
        le=99,
        description="the number the person typed (number matching; leave out when it is off)",
    )
    signature: Signature | None = Field(
        None,
        description="Ed25519 signature, base64url without padding, by the activated device over "
        "the UTF-8 bytes of '<auth_id>.approve.<number>' ('<auth_id>.approve' without number "
        "matching) or '<auth_id>.deny'; missing or wrong: denied bad_signature",
    )


class AppPasswordCheck(_Request):
    user_id: UserId
    password: AppPassword
    client_ip: ClientIp | None = None


# ---------------------------------------------------------------------------- observation


class HealthPublic(BaseModel):
    status: Literal["ok", "degraded"]
    server: str
    failing: list[Literal["database", "redis"]] | None = Field(
        None, description="degraded only: the stores that did not answer"
    )


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
