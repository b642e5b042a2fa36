"""Users and their phone numbers.

Phone numbers are kept in E.164 and their country (ISO 3166 alpha-2) is derived with
``phonenumbers``: the country decides which senders (short codes or long code) carry the SMS.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from functools import lru_cache

import phonenumbers

from mfa.errors import InvalidInput
from mfa.reasons import RegistrationReason

__all__ = ["Phone", "User", "UserChange", "UserFact", "parse_phone"]


@dataclass(frozen=True, slots=True)
class Phone:
    e164: str
    country: str


def parse_phone(raw: str, *, field_name: str = "phone") -> Phone:
    """Validate a phone number given in international form and return it in E.164."""
    if isinstance(raw, str):
        try:
            return _parse_valid(raw)
        except _Invalid:
            pass
    return _explain(raw, field_name)


class _Invalid(Exception):
    pass


@lru_cache(maxsize=65_536)
def _parse_valid(raw: str) -> Phone:
    """The fast path: phonenumbers is the costliest call a sign-in makes, and a planner's
    population repeats its numbers, so valid results are cached (errors are not)."""
    text = raw.strip()
    if not text.startswith("+"):
        raise _Invalid
    try:
        number = phonenumbers.parse(text, None)
    except phonenumbers.NumberParseException:
        raise _Invalid from None
    # is_valid_number(number) is exactly this pair; the region lookup (every NANP region
    # is tried for +1) is then done once instead of twice
    region = phonenumbers.region_code_for_number(number)
    if not phonenumbers.is_valid_number_for_region(number, region):
        raise _Invalid
    country = region or "ZZ"
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return Phone(e164=e164, country=country)


def _explain(raw: object, field_name: str) -> Phone:
    """Say precisely why ``raw`` is not a usable phone number (always raises)."""
    if not isinstance(raw, str) or not raw.strip():
        raise InvalidInput(field_name, "a phone number is required")
    text = raw.strip()
    if not text.startswith("+"):
        raise InvalidInput(field_name, f"{raw!r} must be in international form, e.g. +14255550100")
    try:
        phonenumbers.parse(text, None)
    except phonenumbers.NumberParseException as exc:
        raise InvalidInput(field_name, f"{raw!r} is not a phone number ({exc})") from None
    raise InvalidInput(field_name, f"{raw!r} is not a valid phone number")


@dataclass(frozen=True, slots=True)
class User:
    """A user enabled for MFA.

    The record is the user's *current* state: ``enabled_at`` is when the user was created
    (enabled for MFA), ``disabled_at`` when they were last disabled (``None`` while enabled),
    ``licensed`` whether they hold a licence now. Billing never reads the current state of a
    past month: every later change is a dated ``UserChange`` in the repository's history, from
    which ``mfa.billing`` rebuilds the state at any moment.
    ``pending_registration`` holds reasons set by an admin action (reset, policy) that stay
    until the user registers a method again.
    """

    user_id: str
    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    phone: str | None = None
    country: str | None = None
    licensed: bool = False
    enabled_at: float = 0.0
    disabled_at: float | None = None
    pending_registration: frozenset[RegistrationReason] = field(default_factory=frozenset)


class UserFact(StrEnum):
    """A fact about a user that billing reads with its dates."""

    ENABLED = "enabled"  # enabled for MFA (per-user billing counts enabled users)
    LICENSED = "licensed"  # holds an MFA licence (not counted per user)


@dataclass(frozen=True, slots=True)
class UserChange:
    """One dated change of a user's fact, appended to the repository's history and never
    rewritten: a closed month's bill is computed from facts dated before its end, so nothing
    done later can change it. Only real changes are recorded; a user's state at creation is
    ``User.enabled_at`` (enabled) and the opposite of their first licence change (or their
    current licence when there is none)."""

    user_id: str
    fact: UserFact
    value: bool
    at: float
