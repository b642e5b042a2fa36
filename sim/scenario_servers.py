"""Our side of a scenario: the MFA servers (count, load balancing, where codes are kept,
service time) and the engine policy they run."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from mfa.policy import CLOUD_TIMEOUT_SECONDS
from sim.scenario_types import (
    ENGINE_POLICY,
    ScenarioModel,
)

__all__ = [
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
