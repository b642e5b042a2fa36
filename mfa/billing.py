"""Billing models and the usage the engine records for them.

The seed's rules: a provider is created with a per-user or per-authentication model that
can never change afterwards; per-user counts every user enabled for MFA in the month,
whether or not they authenticated, but not licensed users; per-authentication counts every
two-step verification, whatever the method, licensed or not; calls and texts are not billed
per message. Re-linking a provider to another tenant carries no user settings over and stops
push notifications until each app is re-activated.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

__all__ = ["BillingModel", "BillingUsage", "ProviderAccount", "month_bounds"]


class BillingModel(StrEnum):
    PER_USER = "per_user"
    PER_AUTH = "per_auth"


@dataclass(frozen=True, slots=True)
class ProviderAccount:
    name: str
    model: BillingModel
    created_at: float
    tenant: str | None = None


@dataclass(frozen=True, slots=True)
class BillingUsage:
    """What one month's bill is computed from (prices live in ``reports``)."""

    month: str
    model: BillingModel | None
    enabled_users: int
    licensed_users: int
    authentications: int

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
