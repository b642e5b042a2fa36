"""The vocabulary every part of a scenario is written in: a frozen, strict model base,
shares and their sum rule, ISO regions, lognormal latencies, the method names.

The engine's default policy is here too, so a scenario default that restates an engine
rule (``max_sends``, the send window, lockouts) reads it from the engine instead of copying it.
"""

from __future__ import annotations

from typing import Annotated, Literal, TypeVar

import phonenumbers
from pydantic import BaseModel, ConfigDict, Field, model_validator

from mfa.policy import Policy

__all__ = [
    "CHANNELS",
    "ENGINE_POLICY",
    "METHODS",
    "SHARE_TOLERANCE",
    "Latency",
    "MethodName",
    "ScenarioModel",
    "Share",
    "iso_region",
    "iso_region_keys",
    "shares_add_up",
]

MethodName = Literal["sms", "voice", "push", "totp", "hardware_token"]
METHODS: tuple[str, ...] = ("sms", "voice", "push", "totp", "hardware_token")
CHANNELS: tuple[str, ...] = ("sms", "voice")
Share = Annotated[float, Field(ge=0.0, le=1.0)]
#: The engine's default policy: the source of every scenario default that is an engine rule.
ENGINE_POLICY = Policy()
#: How far a set of shares may be from 1 (rounding in hand-written YAML).
SHARE_TOLERANCE = 1e-6
_V = TypeVar("_V")


class ScenarioModel(BaseModel):
    """Every scenario model: unknown keys are errors (typos), values are frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def shares_add_up(shares: dict[str, float]) -> dict[str, float]:
    total = sum(shares.values())
    if shares and abs(total - 1.0) > SHARE_TOLERANCE:
        raise ValueError(f"shares must add up to 1 (these add up to {total:g})")
    if not shares:
        raise ValueError("at least one entry with a positive share is required")
    return shares


def iso_region(code: str) -> str:
    if code not in phonenumbers.SUPPORTED_REGIONS:
        raise ValueError(f"{code!r} is not an ISO 3166 alpha-2 region known to libphonenumber")
    return code


def iso_region_keys(value: dict[str, _V]) -> dict[str, _V]:
    """A mapping keyed by ISO region (countries' shares, sender pools): every key known."""
    for code in value:
        iso_region(code)
    return value


class Latency(ScenarioModel):
    """A lognormal duration given by its median and 95th percentile (equal: a constant)."""

    median_s: float = Field(gt=0, description="median, seconds")
    p95_s: float = Field(gt=0, description="95th percentile, seconds (>= median_s)")

    @model_validator(mode="after")
    def _ordered(self) -> Latency:
        if self.p95_s < self.median_s:
            raise ValueError(
                f"p95_s ({self.p95_s:g}) must not be below median_s ({self.median_s:g})"
            )
        return self
