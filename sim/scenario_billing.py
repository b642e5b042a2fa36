"""What a scenario's month costs: the provider's billing model, licences and list prices."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from sim.scenario_types import (
    ScenarioModel,
)

__all__ = [
    "Billing",
    "Prices",
]


class Prices(ScenarioModel):
    """List prices for the billing report. Source of the defaults: the price table of the
    Azure MFA FAQ (MicrosoftDocs, as of 2016-05-12) — HISTORICAL vendor prices, a worked
    example; put your contract's prices here."""

    currency: str = Field("USD", description="currency of every price")
    per_user_month: float = Field(
        1.40, ge=0, description="per enabled, unlicensed user and month (per-user provider)"
    )
    per_auth: float = Field(
        0.14, ge=0, description="per authentication (per-authentication provider; $1.40 per 10)"
    )
    licence_month: float = Field(
        1.40, ge=0, description="per licence and month (annual licence, $1.40 a month)"
    )
    sms_per_message: float = Field(
        0.0, ge=0, description="per SMS sent (the seed: texts are not charged per message)"
    )
    voice_per_call: float = Field(
        0.0, ge=0, description="per call placed (the seed: calls are not charged per call)"
    )


class Billing(ScenarioModel):
    model: Literal["per_user", "per_auth"] = Field(
        "per_user", description="the provider's billing model (fixed at creation, the seed)"
    )
    licences: int = Field(0, ge=0, description="users with a licence (not billed per user)")
    signins_per_user_month: float | None = Field(
        None,
        ge=0,
        description="sign-ins per user and month, to scale a simulated window to a month's "
        "bill; empty = 21 (one per working day). Source: assumed.",
    )
    prices: Prices = Field(default_factory=Prices)
