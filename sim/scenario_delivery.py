"""How a code reaches a phone in a scenario: sender pools and routing per country, the
sms/voice providers and their failover, carriers, the effect of poor signal, push."""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field, field_validator, model_validator

from mfa.delivery.senders import DEFAULT_LONG_CODE, DEFAULT_SHORT_CODES
from sim.scenario_types import (
    Latency,
    ScenarioModel,
    Share,
    iso_region,
    iso_region_keys,
)

__all__ = [
    "Carrier",
    "Failover",
    "Outage",
    "ProviderSpec",
    "PushSpec",
    "RouteChange",
    "Routing",
    "SenderPool",
    "SignalEffect",
    "default_carriers",
    "default_providers",
]


class SenderPool(ScenarioModel):
    model_config = ConfigDict(extra="forbid", frozen=True, coerce_numbers_to_str=True)

    kind: Literal["short_code", "long_code"] = Field(
        description="short codes exist only in the US and Canada (the seed)"
    )
    senders: list[str] = Field(
        min_length=1, description="sender numbers; a long-code pool has exactly one"
    )
    throughput_per_s: float | None = Field(
        None,
        gt=0,
        description="message parts per second each sender may release; empty = by kind: "
        "short code 100 (AWS MPS limits), US long code 1 (10DLC default, AWS), other long "
        "code 10 (AWS)",
    )

    @model_validator(mode="after")
    def _one_long_code(self) -> SenderPool:
        if self.kind == "long_code" and len(self.senders) != 1:
            raise ValueError("a long_code pool has exactly one sender number")
        return self


class RouteChange(ScenarioModel):
    at_s: float = Field(ge=0, description="when the route changes, seconds from the start")
    country: str = Field(description="ISO country whose pool is replaced")
    pool: SenderPool

    @field_validator("country")
    @classmethod
    def _known(cls, value: str) -> str:
        return iso_region(value)


def _default_pools() -> dict[str, SenderPool]:
    return {
        country: SenderPool(kind="short_code", senders=list(codes))
        for country, codes in DEFAULT_SHORT_CODES.items()
    }


class Routing(ScenarioModel):
    model_config = ConfigDict(extra="forbid", frozen=True, coerce_numbers_to_str=True)

    pools: dict[str, SenderPool] = Field(
        default_factory=_default_pools,
        description="sender pool per ISO country; each send draws one sender from the pool "
        "(the seed: no guarantee of the same number). Default: the seed's short codes, US "
        "97671/69829/51789/99399 and CA 759731/673801.",
    )
    long_code: str = Field(
        DEFAULT_LONG_CODE,
        description="the long code used for every country without a pool (the seed: no "
        "short codes elsewhere). Source: assumed number.",
    )
    long_code_throughput_per_s: float = Field(
        10.0,
        gt=0,
        description="parts per second of that long code. Source: AWS, long code outside "
        "the US 10 MPS.",
    )
    max_queue_wait_s: float = Field(
        36_000.0,
        gt=0,
        description="a message waiting longer than this in a sender queue is dropped "
        "(loss cause queue_expired). Source: Twilio, queued messages expire after 10 h.",
    )
    changes: list[RouteChange] = Field(
        default_factory=list,
        description="route adjustments during the run: a country's pool is replaced at at_s "
        "(the seed: short codes may be added or removed at any time)",
    )

    @field_validator("pools")
    @classmethod
    def _regions(cls, value: dict[str, SenderPool]) -> dict[str, SenderPool]:
        return iso_region_keys(value)


class Outage(ScenarioModel):
    start_s: float = Field(ge=0, description="seconds from the run start")
    end_s: float = Field(gt=0, description="seconds from the run start (> start_s)")

    @model_validator(mode="after")
    def _ordered(self) -> Outage:
        if self.end_s <= self.start_s:
            raise ValueError(f"end_s ({self.end_s:g}) must be after start_s ({self.start_s:g})")
        return self


class ProviderSpec(ScenarioModel):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$", description="provider name")
    channels: list[Literal["sms", "voice"]] = Field(
        default_factory=lambda: ["sms", "voice"], min_length=1, description="what it carries"
    )
    capacity_per_s: float = Field(
        1000.0,
        gt=0,
        description="messages per second it accepts; beyond, it refuses "
        "(throttled) and the next provider is tried. Source: assumed.",
    )
    error_rate: Share = Field(
        0.001, description="probability that it refuses a message. Source: assumed."
    )
    outages: list[Outage] = Field(
        default_factory=list, description="windows in which it refuses everything"
    )


def default_providers() -> list[ProviderSpec]:
    return [ProviderSpec(name="provider_a"), ProviderSpec(name="provider_b")]


class Failover(ScenarioModel):
    enabled: bool = Field(
        True,
        description="try the next provider when one refuses (the seed: multiple "
        "providers); false = each channel uses only its first provider",
    )
    cooldown_s: float = Field(
        30.0,
        ge=0,
        description="a provider that refused is skipped this long. Source: "
        "LinOTP skips a failed provider for 30 s.",
    )


class Carrier(ScenarioModel):
    name: str = Field(min_length=1, description="carrier name")
    share: Share = Field(description="share of the country's users on this carrier")
    delivery_probability: Share = Field(
        0.97,
        description="probability an SMS reaches a phone with good signal. Source: "
        "Telesign, 1-5 % of A2P messages never arrive (vendor).",
    )
    latency: Latency = Field(
        default_factory=lambda: Latency(median_s=3.0, p95_s=15.0),
        description="time from the sender to the phone. Source: assumed, shaped on vendor "
        "averages (most within seconds, a long tail; startmessaging.com, low confidence).",
    )
    caller_id_probability: Share = Field(
        0.9,
        description="probability a call shows its caller ID (the seed: not guaranteed). "
        "Source: assumed.",
    )
    voice_answer_with_caller_id: Share = Field(
        0.53,
        description="answer rate of a call from a recognised number. Source: Hiya 2019 "
        "(recognised businesses 53 %).",
    )
    voice_answer_without_caller_id: Share = Field(
        0.24,
        description="answer rate of an anonymous call. Source: Hiya 2019 (unidentified "
        "numbers 24 %).",
    )
    call_latency: Latency = Field(
        default_factory=lambda: Latency(median_s=15.0, p95_s=30.0),
        description="from placing the call to the code being read out. Source: assumed.",
    )


def default_carriers() -> dict[str, list[Carrier]]:
    return {"default": [Carrier(name="carrier", share=1.0)]}


class SignalEffect(ScenarioModel):
    poor_delivery_factor: Share = Field(
        0.9,
        description="delivery and answer probabilities are multiplied by this under "
        "poor signal. Source: assumed.",
    )
    poor_latency_factor: float = Field(
        2.0,
        ge=1,
        description="latencies are multiplied by this under poor signal. Source: assumed.",
    )


class PushSpec(ScenarioModel):
    latency: Latency = Field(
        default_factory=lambda: Latency(median_s=1.0, p95_s=3.0),
        description="notification latency. Source: LoginTC (APNs mean 1.07 s, FCM 2.31 s, "
        "2013) and Apple forums (VoIP push p95 about 2 s) — vendor figures.",
    )
    loss_probability: Share = Field(
        0.01,
        description="probability a notification never arrives (APNs is best effort, no "
        "SLA). Source: assumed.",
    )
