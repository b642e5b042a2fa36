"""The scenario: everything a planner can say about a population, its phones and our servers.

A scenario is a YAML file validated by these pydantic models. Every key has a default, so
``{}`` is a valid scenario (the US baseline's shape); a file only states what differs.
Units are in the key names (``_s`` seconds, ``_per_s`` per second, shares and probabilities
in [0, 1]). Each default's source is in its description and in ``scenarios/README.md``: most
published figures come from vendors, so they are priors, not truths; "assumed" marks values
nothing published supports.

The models only describe; ``sim.scenario_file`` reads files and reports problems, and the
model in ``sim.model`` gives the values their meaning.
"""

from __future__ import annotations

from datetime import UTC, datetime
from itertools import pairwise
from typing import Annotated, Literal

import phonenumbers
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from mfa.delivery.senders import DEFAULT_LONG_CODE, DEFAULT_SHORT_CODES
from mfa.policy import CLOUD_TIMEOUT_SECONDS, Policy

__all__ = [
    "CHANNELS",
    "METHODS",
    "Arrivals",
    "Billing",
    "Carrier",
    "Failover",
    "Latency",
    "Outage",
    "OutputOptions",
    "PolicySpec",
    "Population",
    "Prices",
    "ProviderSpec",
    "PushSpec",
    "RateSegment",
    "RouteChange",
    "Routing",
    "Scenario",
    "SenderPool",
    "Servers",
    "ServiceTime",
    "SignalEffect",
    "UserBehaviour",
]

MethodName = Literal["sms", "voice", "push", "totp", "hardware_token"]
METHODS: tuple[str, ...] = ("sms", "voice", "push", "totp", "hardware_token")
CHANNELS: tuple[str, ...] = ("sms", "voice")
Share = Annotated[float, Field(ge=0.0, le=1.0)]
_ENGINE = Policy()
_SHARE_TOLERANCE = 1e-6


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _shares_add_up(shares: dict[str, float]) -> dict[str, float]:
    total = sum(shares.values())
    if shares and abs(total - 1.0) > _SHARE_TOLERANCE:
        raise ValueError(f"shares must add up to 1 (these add up to {total:g})")
    if not shares:
        raise ValueError("at least one entry with a positive share is required")
    return shares


def _region(code: str) -> str:
    if code not in phonenumbers.SUPPORTED_REGIONS:
        raise ValueError(f"{code!r} is not an ISO 3166 alpha-2 region known to libphonenumber")
    return code


class Latency(_Model):
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


# ---------------------------------------------------------------------------- population


class Population(_Model):
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
        return _shares_add_up(value)

    @field_validator("countries")
    @classmethod
    def _regions(cls, value: dict[str, float]) -> dict[str, float]:
        for code in value:
            _region(code)
        return value


# ---------------------------------------------------------------------------- arrivals


class RateSegment(_Model):
    start_s: float = Field(ge=0, description="start of the piece, seconds from the run start")
    rate_per_s: float = Field(ge=0, description="authentications started per second")


class Arrivals(_Model):
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


# ---------------------------------------------------------------------------- routing


class SenderPool(_Model):
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


class RouteChange(_Model):
    at_s: float = Field(ge=0, description="when the route changes, seconds from the start")
    country: str = Field(description="ISO country whose pool is replaced")
    pool: SenderPool

    @field_validator("country")
    @classmethod
    def _known(cls, value: str) -> str:
        return _region(value)


def _default_pools() -> dict[str, SenderPool]:
    return {
        country: SenderPool(kind="short_code", senders=list(codes))
        for country, codes in DEFAULT_SHORT_CODES.items()
    }


class Routing(_Model):
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
        for code in value:
            _region(code)
        return value


# ---------------------------------------------------------------------------- providers


class Outage(_Model):
    start_s: float = Field(ge=0, description="seconds from the run start")
    end_s: float = Field(gt=0, description="seconds from the run start (> start_s)")

    @model_validator(mode="after")
    def _ordered(self) -> Outage:
        if self.end_s <= self.start_s:
            raise ValueError(f"end_s ({self.end_s:g}) must be after start_s ({self.start_s:g})")
        return self


class ProviderSpec(_Model):
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


def _default_providers() -> list[ProviderSpec]:
    return [ProviderSpec(name="provider_a"), ProviderSpec(name="provider_b")]


class Failover(_Model):
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


# ---------------------------------------------------------------------------- carriers


class Carrier(_Model):
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


def _default_carriers() -> dict[str, list[Carrier]]:
    return {"default": [Carrier(name="carrier", share=1.0)]}


class SignalEffect(_Model):
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


class PushSpec(_Model):
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


# ---------------------------------------------------------------------------- people


class UserBehaviour(_Model):
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
        _ENGINE.max_sends,
        ge=1,
        description="sends a user asks for per method. Default: the engine policy's "
        "max_sends (the seed, 'up to five times in 5 minutes').",
    )
    window_s: float = Field(
        _ENGINE.send_window_seconds,
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


# ---------------------------------------------------------------------------- servers


class ServiceTime(_Model):
    distribution: Literal["exponential", "constant", "lognormal"] = Field(
        "exponential", description="shape of one request's service time"
    )
    mean_s: float = Field(
        0.005,
        ge=0,
        description="mean seconds per request (exponential, constant); 0 = no "
        "server queueing. Source: assumed.",
    )
    median_s: float | None = Field(None, gt=0, description="lognormal only: median seconds")
    p95_s: float | None = Field(None, gt=0, description="lognormal only: p95 seconds")

    @model_validator(mode="after")
    def _lognormal_needs_quantiles(self) -> ServiceTime:
        if self.distribution == "lognormal":
            if self.median_s is None or self.p95_s is None:
                raise ValueError("a lognormal service time needs median_s and p95_s")
            if self.p95_s < self.median_s:
                raise ValueError("p95_s must not be below median_s")
        return self


class Servers(_Model):
    count: int = Field(1, ge=1, le=64, description="MFA servers (mfa1..mfaN)")
    lb_policy: Literal["round_robin", "random", "sticky", "auth_id"] = Field(
        "round_robin",
        description="how the load balancer picks a server: round_robin = one strict "
        "rotation over every request (nginx's default; with few clients a sign-in's begin "
        "and verify land on fixed turns); random = each request on a server drawn "
        "independently (nginx's random); sticky by user; auth_id = begin round robin, "
        "verify to the server named in the auth id",
    )
    pending_store: Literal["memory", "shared"] = Field(
        "memory",
        description="memory = each server keeps its own codes (the seed: only the "
        "issuing server can validate); shared = one store for all",
    )
    mode: Literal["server", "cloud"] = Field(
        "server", description="server: codes live timeout_s; cloud: 180 s, fixed (the seed)"
    )
    timeout_s: float | None = Field(
        None,
        gt=0,
        description="code lifetime in server mode, seconds; empty = 300 (the "
        "seed's default). Not settable in cloud mode.",
    )
    concurrency: int = Field(
        16, ge=1, description="requests one server handles at once. Source: assumed."
    )
    service_time: ServiceTime = Field(default_factory=ServiceTime)

    @model_validator(mode="after")
    def _cloud_is_fixed(self) -> Servers:
        if self.mode == "cloud" and self.timeout_s not in (None, CLOUD_TIMEOUT_SECONDS):
            raise ValueError(
                "timeout_s cannot be set in cloud mode: the cloud keeps codes "
                f"{CLOUD_TIMEOUT_SECONDS:g} s (the seed)"
            )
        return self


class PolicySpec(_Model):
    max_verify_attempts: int = Field(
        _ENGINE.max_verify_attempts, ge=1, description="code checks per authentication"
    )
    lockout_threshold: int = Field(
        _ENGINE.lockout_threshold, ge=1, description="consecutive failures that lock a user"
    )
    lockout_s: float = Field(_ENGINE.lockout_seconds, ge=0, description="lockout, seconds")
    max_sends: int = Field(
        _ENGINE.max_sends, ge=1, description="sms, voice and push sends per user per send_window_s"
    )
    send_window_s: float = Field(
        _ENGINE.send_window_seconds, gt=0, description="sliding window of max_sends, seconds"
    )
    security_defaults: bool = Field(
        False, description="the free tier: only the authenticator app (push, totp) is allowed"
    )
    push_number_matching: bool = Field(
        _ENGINE.push_number_matching,
        description="push number matching: the sign-in page shows two digits the person "
        "types into the app (with typo_probability); off: a tap approves",
    )


# ---------------------------------------------------------------------------- billing


class Prices(_Model):
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


class Billing(_Model):
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


class OutputOptions(_Model):
    sample_interval_s: float = Field(
        10.0, gt=0, description="seconds between resource samples (resources.parquet)"
    )
    chunk_rows: int = Field(
        65_536, ge=1024, description="rows buffered before a Parquet row group is written"
    )


# ---------------------------------------------------------------------------- scenario


class Scenario(_Model):
    """One planner's question, as data."""

    name: str = Field("scenario", description="short name, used for the default output dir")
    question: str = Field("", description="the planner's question this scenario answers")
    seed: int = Field(1, ge=0, description="default seed (--seed overrides)")
    replications: int = Field(3, ge=1, description="default replications (--replications)")
    epoch: datetime = Field(
        datetime(2026, 1, 5, 8, 0, tzinfo=UTC),
        description="wall-clock time of simulated second 0 (the engine's clock reads "
        "epoch + simulated seconds; billing months follow it)",
    )
    population: Population = Field(default_factory=Population)
    arrivals: Arrivals = Field(default_factory=Arrivals)
    routing: Routing = Field(default_factory=Routing)
    providers: list[ProviderSpec] = Field(
        default_factory=_default_providers,
        min_length=1,
        description="sms/voice providers in failover order (the seed: multiple providers)",
    )
    failover: Failover = Field(default_factory=Failover)
    carriers: dict[str, list[Carrier]] = Field(
        default_factory=_default_carriers,
        description="carriers per ISO country; 'default' serves countries not listed",
    )
    signal_effect: SignalEffect = Field(default_factory=SignalEffect)
    push: PushSpec = Field(default_factory=PushSpec)
    user: UserBehaviour = Field(default_factory=UserBehaviour)
    servers: Servers = Field(default_factory=Servers)
    policy: PolicySpec = Field(default_factory=PolicySpec)
    billing: Billing = Field(default_factory=Billing)
    output: OutputOptions = Field(default_factory=OutputOptions)

    @field_validator("epoch")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        return value if value.tzinfo else value.replace(tzinfo=UTC)

    @field_validator("carriers")
    @classmethod
    def _carrier_shares(cls, value: dict[str, list[Carrier]]) -> dict[str, list[Carrier]]:
        for country, carriers in value.items():
            if country != "default":
                _region(country)
            if not carriers:
                raise ValueError(f"{country}: at least one carrier is required")
            total = sum(c.share for c in carriers)
            if abs(total - 1.0) > _SHARE_TOLERANCE:
                raise ValueError(f"{country}: carrier shares must add up to 1 (not {total:g})")
            names = [c.name for c in carriers]
            if len(set(names)) != len(names):
                raise ValueError(f"{country}: carrier names must be unique")
        return value

    @field_validator("providers")
    @classmethod
    def _unique_providers(cls, value: list[ProviderSpec]) -> list[ProviderSpec]:
        names = [p.name for p in value]
        if len(set(names)) != len(names):
            raise ValueError("provider names must be unique")
        return value

    @property
    def epoch_seconds(self) -> float:
        return self.epoch.timestamp()
