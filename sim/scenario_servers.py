"""Our side of a scenario: the MFA servers (count, load balancing, where codes are kept,
service time) and the engine policy they run."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from mfa.policy import CLOUD_TIMEOUT_SECONDS, FraudPolicy
from sim.scenario_types import (
    ENGINE_POLICY,
    ScenarioModel,
    iso_region,
)

__all__ = [
    "FraudSpec",
    "PolicySpec",
    "Servers",
    "ServiceTime",
]


class ServiceTime(ScenarioModel):
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


class Servers(ScenarioModel):
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


_NO_FRAUD = ENGINE_POLICY.fraud


class FraudSpec(ScenarioModel):
    """The engine's fraud defences (``mfa.policy.FraudPolicy``, rules in ``mfa.fraud``);
    every one off by default, as in the engine. Defaults are the engine's."""

    allowed_countries: list[str] | None = Field(
        None,
        description="geo permissions: ISO regions sms/voice may go to; others "
        "country_blocked; empty = every country",
    )
    range_prefix_digits: int = Field(
        _NO_FRAUD.range_prefix_digits,
        ge=1,
        le=15,
        description="digits of the national number that, with the country, name a range",
    )
    range_max_sends: int | None = Field(
        None, ge=1, description="sms/voice sends to one range per range_window_s; empty = off"
    )
    range_window_s: float = Field(
        _NO_FRAUD.range_window_seconds, gt=0, description="range velocity window, seconds"
    )
    conversion_min_rate: float | None = Field(
        None,
        gt=0,
        le=1,
        description="conversion guard: least share of codes sent to a country or range "
        "that are verified; empty = off",
    )
    conversion_min_sends: int = Field(
        _NO_FRAUD.conversion_min_sends, ge=1, description="sends before the guard judges"
    )
    conversion_window_s: float = Field(
        _NO_FRAUD.conversion_window_seconds, gt=0, description="conversion window, seconds"
    )
    conversion_grace_s: float = Field(
        _NO_FRAUD.conversion_grace_seconds,
        ge=0,
        description="sends younger than this are not judged yet",
    )
    ip_max_sends: int | None = Field(
        None, ge=1, description="sends asked for from one client IP per ip_window_s; empty = off"
    )
    ip_window_s: float = Field(
        _NO_FRAUD.ip_window_seconds, gt=0, description="client-IP window, seconds"
    )

    @field_validator("allowed_countries")
    @classmethod
    def _regions(cls, value: list[str] | None) -> list[str] | None:
        for code in value or ():
            iso_region(code)
        return value

    def policy(self) -> FraudPolicy:
        """The engine's ``FraudPolicy`` (which checks the combination, e.g. the grace
        against the window)."""
        allowed = self.allowed_countries
        return FraudPolicy(
            allowed_countries=None if allowed is None else frozenset(allowed),
            range_prefix_digits=self.range_prefix_digits,
            range_max_sends=self.range_max_sends,
            range_window_seconds=self.range_window_s,
            conversion_min_rate=self.conversion_min_rate,
            conversion_min_sends=self.conversion_min_sends,
            conversion_window_seconds=self.conversion_window_s,
            conversion_grace_seconds=self.conversion_grace_s,
            ip_max_sends=self.ip_max_sends,
            ip_window_seconds=self.ip_window_s,
        )

    @model_validator(mode="after")
    def _engine_accepts(self) -> FraudSpec:
        try:
            self.policy()
        except ValueError as exc:
            raise ValueError(str(exc).replace("_seconds", "_s")) from None
        return self


class PolicySpec(ScenarioModel):
    max_verify_attempts: int = Field(
        ENGINE_POLICY.max_verify_attempts, ge=1, description="code checks per authentication"
    )
    lockout_threshold: int = Field(
        ENGINE_POLICY.lockout_threshold, ge=1, description="consecutive failures that lock a user"
    )
    lockout_s: float = Field(ENGINE_POLICY.lockout_seconds, ge=0, description="lockout, seconds")
    max_sends: int = Field(
        ENGINE_POLICY.max_sends,
        ge=1,
        description="sms, voice and push sends per user per send_window_s",
    )
    send_window_s: float = Field(
        ENGINE_POLICY.send_window_seconds, gt=0, description="sliding window of max_sends, seconds"
    )
    security_defaults: bool = Field(
        False, description="the free tier: only the authenticator app (push, totp) is allowed"
    )
    push_number_matching: bool = Field(
        ENGINE_POLICY.push_number_matching,
        description="push number matching: the sign-in page shows two digits the person "
        "types into the app (with typo_probability); off: a tap approves",
    )
    fraud: FraudSpec = Field(
        default_factory=lambda: FraudSpec(),
        description="the fraud defences (geo, range velocity, conversion guard, client IP)",
    )
    fraud_profiles: dict[str, FraudSpec] = Field(
        default_factory=dict,
        description="named sets of fraud defences, so one key can sweep them "
        "(--set policy.fraud_profile=off,geo_only,...)",
    )
    fraud_profile: str | None = Field(
        None, description="the fraud_profiles entry in force instead of fraud; empty = fraud"
    )

    @model_validator(mode="after")
    def _known_profile(self) -> PolicySpec:
        name = self.fraud_profile
        if name is not None and name not in self.fraud_profiles:
            known = ", ".join(sorted(self.fraud_profiles)) or "none defined"
            raise ValueError(f"fraud_profile {name!r} is not in fraud_profiles ({known})")
        return self

    @property
    def fraud_in_force(self) -> FraudSpec:
        """The defences the engines run: the chosen profile, else ``fraud``."""
        if self.fraud_profile is not None:
            return self.fraud_profiles[self.fraud_profile]
        return self.fraud
