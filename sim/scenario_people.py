"""The people in a scenario: who they are (population: countries, methods, phones), when
they sign in (arrivals) and what they do while waiting for a code (user behaviour)."""

from __future__ import annotations

from itertools import pairwise
from typing import Literal

from pydantic import Field, field_validator

from sim.scenario_types import (
    ENGINE_POLICY,
    Latency,
    MethodName,
    ScenarioModel,
    Share,
    iso_region_keys,
    shares_add_up,
)

__all__ = [
    "Arrivals",
    "Population",
    "RateSegment",
    "UserBehaviour",
]


class Population(ScenarioModel):
    users: int = Field(10_000, ge=1, description="users enabled for MFA (people). Source: assumed.")
    countries: dict[str, Share] = Field(
        default_factory=lambda: {"US": 1.0},
        description="share of users by the ISO country of their phone (E.164 country). "
        "Source: assumed.",
    )
    methods: dict[MethodName, Share] = Field(
        default_factory=lambda: {
            "sms": 0.55,
            "voice": 0.05,
            "push": 0.30,
            "totp": 0.08,
            "hardware_token": 0.02,
        },
        description="share of users by default method (the one tried first). Source: assumed.",
    )
    backup_methods: dict[MethodName, Share] = Field(
        default_factory=lambda: {
            "sms": 0.20,
            "voice": 0.30,
            "push": 0.20,
            "totp": 0.10,
            "hardware_token": 0.0,
        },
        description="probability that a user has also registered this method besides the "
        "default (used for fallback). Source: assumed.",
    )
    security_app_share: Share = Field(
        0.02,
        description="share of users whose third-party security app blocks the code's text "
        "or call (the seed names the effect, no figure). Source: assumed.",
    )
    connectivity: dict[Literal["wifi_and_cellular", "cellular", "wifi_only", "none"], Share] = (
        Field(
            default_factory=lambda: {
                "wifi_and_cellular": 0.55,
                "cellular": 0.40,
                "wifi_only": 0.03,
                "none": 0.02,
            },
            description="how the phone is connected at sign-in, drawn per authentication: sms "
            "and calls need cellular coverage, push needs Wi-Fi or cellular data, totp and "
            "hardware tokens need nothing (the seed). Source: assumed.",
        )
    )
    signal: dict[Literal["good", "poor"], Share] = Field(
        default_factory=lambda: {"good": 0.85, "poor": 0.15},
        description="cellular signal quality among authentications with cellular coverage "
        "(the seed names signal strength as a factor). Source: assumed.",
    )

    @field_validator("countries", "methods", "connectivity", "signal")
    @classmethod
    def _add_up(cls, value: dict[str, float]) -> dict[str, float]:
        return shares_add_up(value)

    @field_validator("countries")
    @classmethod
    def _regions(cls, value: dict[str, float]) -> dict[str, float]:
        return iso_region_keys(value)


class RateSegment(ScenarioModel):
    start_s: float = Field(ge=0, description="start of the piece, seconds from the run start")
    rate_per_s: float = Field(ge=0, description="authentications started per second")


class Arrivals(ScenarioModel):
    duration_s: float = Field(
        3600.0,
        gt=0,
        description="seconds during which authentications start; the run "
        "continues until every started one has finished. Source: assumed.",
    )
    profile: list[RateSegment] = Field(
        default_factory=lambda: [RateSegment(start_s=0.0, rate_per_s=3.0)],
        min_length=1,
        description="piecewise-constant Poisson rate: each piece holds from its start_s to "
        "the next one's (or duration_s). Source: assumed.",
    )
    user_choice: Literal["cycle", "random"] = Field(
        "cycle",
        description="which user an arrival is: 'cycle' = every user once, in random order, "
        "before anyone signs in again; 'random' = any user, uniformly. Source: assumed.",
    )

    @field_validator("profile")
    @classmethod
    def _ordered(cls, value: list[RateSegment]) -> list[RateSegment]:
        if value[0].start_s != 0:
            raise ValueError("the first piece must start at start_s: 0")
        for before, after in pairwise(value):
            if after.start_s <= before.start_s:
                raise ValueError(
                    f"pieces must start in increasing order ({after.start_s:g} follows "
                    f"{before.start_s:g})"
                )
        return value


class UserBehaviour(ScenarioModel):
    read_and_type: Latency = Field(
        default_factory=lambda: Latency(median_s=10.0, p95_s=25.0),
        description="from the code arriving (or opening the app) to submitting it. Source: "
        "assumed; 2FA adds 15-25 s to a login (Prove 2023, second-hand).",
    )
    push_response: Latency = Field(
        default_factory=lambda: Latency(median_s=5.0, p95_s=15.0),
        description="from a notification arriving to tapping Approve. Source: assumed.",
    )
    resend_after_s: float = Field(
        30.0,
        gt=0,
        description="how long a user waits for a code or notification before "
        "asking for another. Source: assumed (>30 % give up after 10 s, Mblox, vendor).",
    )
    max_attempts: int = Field(
        ENGINE_POLICY.max_sends,
        ge=1,
        description="sends a user asks for per method. Default: the engine policy's "
        "max_sends (the seed, 'up to five times in 5 minutes').",
    )
    window_s: float = Field(
        ENGINE_POLICY.send_window_seconds,
        gt=0,
        description="after this long on one method the user stops asking. Default: the "
        "engine policy's send window (the seed).",
    )
    retry_probability: list[Share] = Field(
        default_factory=lambda: [1.0],
        min_length=1,
        description="probability of asking again after the 1st, 2nd, ... failed attempt (the "
        "last value repeats). Source: the seed's advice (retry); TrueCheck's 0.37, 0.08 "
        "(vendor, unverified) is a pessimistic prior.",
    )
    fallback_order: list[MethodName] = Field(
        default_factory=lambda: ["push", "totp", "hardware_token", "voice", "sms"],
        description="order in which a user tries the other methods they registered. Source: "
        "assumed.",
    )
    fallback_probability: Share = Field(
        1.0,
        description="probability of switching to another registered method when one "
        "fails (the seed's advice). Source: assumed.",
    )
    typo_probability: Share = Field(
        0.02, description="probability that a typed code is wrong. Source: assumed."
    )
    push_deny_probability: Share = Field(
        0.0, description="probability of pressing Deny on a genuine notification. Source: assumed."
    )
    security_app_disable_probability: Share = Field(
        0.5,
        description="after a code that never came, probability that a user whose "
        "security app blocks it disables the protection (the seed's advice). Source: assumed.",
    )

    @field_validator("fallback_order")
    @classmethod
    def _unique(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("each method may appear once")
        return value
