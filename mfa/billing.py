"""Billing models, dated facts and the usage the engine records for them.

The seed's rules: a provider is created with a per-user or per-authentication model that
can never change afterwards (a new provider is how an organisation moves to the other
model); per-user counts every user enabled for MFA in the month, whether or not they
authenticated, but not licensed users; per-authentication counts every two-step
verification, whatever the method, licensed or not; calls and texts are not billed per
message. Once every enabled user holds a licence the provider may be deleted. Re-linking a
provider to another tenant carries no user settings over.

Every fact billing reads is dated — licences assigned and removed, users enabled and
disabled (``mfa.users.UserChange``), providers created, replaced and deleted
(``ProviderAccount.created_at``/``ended_at``), authentications (the log's ``began_at``) — and
dated by the server's clock when it happens. A month's bill reads only facts dated before the
month ends, so a closed month's bill never changes afterwards.

The per-user rule, applied to a window (a month, or the part of it a provider was active):

- a user is *enabled* in the window if they were enabled for MFA at any moment of it — the
  seed bills users "configured to use MFA, regardless of whether they performed two-step
  verification";
- an enabled user is *licensed* in the window if they held a licence at the last moment they
  were enabled in it — normally the window's end. A licence is read at the end, not required
  for the whole window, because a licence is paid for the user in its own right (annually):
  reading it once bills each user once a month, either as a licence or as per-user
  consumption, never both; and because the seed lets an organisation delete the provider once
  every enabled user is licensed, the last window of a deleted provider then bills no one.
  The price of this choice: a licence assigned on the 31st spares the whole month.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from mfa.users import User, UserChange, UserFact

__all__ = [
    "BillingModel",
    "BillingUsage",
    "ProviderAccount",
    "ProviderMove",
    "ProviderUsage",
    "count_users",
    "month_bounds",
]


class BillingModel(StrEnum):
    PER_USER = "per_user"
    PER_AUTH = "per_auth"


@dataclass(frozen=True, slots=True)
class ProviderAccount:
    """A provider, active from ``created_at`` until ``ended_at`` (replaced by a new provider
    or deleted; ``None`` while active). Kept after it ends: past months are billed by it."""

    name: str
    model: BillingModel
    created_at: float
    tenant: str | None = None
    ended_at: float | None = None

    def active_in(self, start: float, end: float) -> tuple[float, float] | None:
        """The part of ``[start, end)`` in which this provider was active, if any."""
        begin = max(start, self.created_at)
        stop = end if self.ended_at is None else min(end, self.ended_at)
        return (begin, stop) if begin < stop else None


@dataclass(frozen=True, slots=True)
class ProviderMove:
    """What a new provider or a re-link did to the users (the seed: settings are carried
    only to a provider of the same tenant; the mobile app must be re-activated either way,
    as the servers are re-activated with the new provider's credentials)."""

    provider: ProviderAccount
    settings_carried: bool
    methods_removed: int
    users_to_register: int
    push_deactivated: int


@dataclass(frozen=True, slots=True)
class ProviderUsage:
    """What one provider bills for the part of a month it was active: users (per-user,
    enabled without a licence in that part) or authentications (per-auth)."""

    name: str
    model: BillingModel
    active_from: float
    active_until: float
    billed: int


@dataclass(frozen=True, slots=True)
class BillingUsage:
    """What one month's bill is computed from (prices live in ``reports``).

    ``enabled_users``, ``licensed_users`` and ``authentications`` cover the whole month, for
    pricing it under either model; ``providers`` is the bill itself: each provider active in
    the month with what it bills. ``model`` is the model of the last provider active in the
    month (``None`` if there was none).
    """

    month: str
    model: BillingModel | None
    enabled_users: int
    licensed_users: int
    authentications: int
    providers: tuple[ProviderUsage, ...] = ()

    @property
    def billable_users(self) -> int:
        """Per-user consumption: enabled users without a licence."""
        return self.enabled_users - self.licensed_users


def month_bounds(month: str) -> tuple[float, float]:
    """``'2026-11'`` → (start, end) as POSIX seconds, end exclusive, UTC."""
    try:
        year, mon = (int(part) for part in month.split("-"))
        start = datetime(year, mon, 1, tzinfo=UTC)
    except (ValueError, TypeError):
        raise ValueError(f"month {month!r} is not of the form YYYY-MM") from None
    days = calendar.monthrange(year, mon)[1]
    end = start.timestamp() + days * 86400
    return start.timestamp(), end


# ---------------------------------------------------------------------- the per-user rule

_Intervals = list[tuple[float, float]]
_FOREVER = float("inf")


def count_users(
    users: Iterable[User], changes: Sequence[UserChange], start: float, end: float
) -> tuple[int, int]:
    """(enabled, licensed) users in ``[start, end)`` by the rule of the module doc.

    ``changes`` is the repository's whole history (a user's state at creation is inferred
    from their first change, see ``UserChange``), oldest first.
    """
    by_user: dict[str, list[UserChange]] = {}
    for change in changes:
        by_user.setdefault(change.user_id, []).append(change)
    enabled = licensed = 0
    for user in users:
        if user.enabled_at >= end:
            continue
        own = by_user.get(user.user_id, [])
        periods = _clipped(_enabled_periods(user, own), start, end)
        if not periods:
            continue
        enabled += 1
        last_enabled_moment = periods[-1][1]
        licences = _periods(user, own, UserFact.LICENSED, initial=None)
        licensed += any(a < last_enabled_moment <= b for a, b in licences)
    return enabled, licensed


def _enabled_periods(user: User, own: Sequence[UserChange]) -> _Intervals:
    if not any(c.fact is UserFact.ENABLED for c in own) and user.disabled_at is not None:
        # a record from before the history was kept: one period, creation to disabling
        return [(user.enabled_at, user.disabled_at)]
    return _periods(user, own, UserFact.ENABLED, initial=True)


def _periods(
    user: User, own: Sequence[UserChange], fact: UserFact, *, initial: bool | None
) -> _Intervals:
    """Where ``fact`` held, from the user's creation on, as [from, until) periods."""
    relevant = [c for c in own if c.fact is fact]
    if initial is None:  # the licence at creation: before the first change, or today's
        initial = (not relevant[0].value) if relevant else user.licensed
    periods: _Intervals = []
    holding_since = user.enabled_at if initial else None
    for change in relevant:
        if change.value and holding_since is None:
            holding_since = change.at
        elif not change.value and holding_since is not None:
            periods.append((holding_since, change.at))
            holding_since = None
    if holding_since is not None:
        periods.append((holding_since, _FOREVER))
    return periods


def _clipped(periods: _Intervals, start: float, end: float) -> _Intervals:
    out = [(max(a, start), min(b, end)) for a, b in periods]
    return [(a, b) for a, b in out if a < b]
