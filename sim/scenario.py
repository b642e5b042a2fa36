"""The scenario: everything a planner can say about a population, its phones and our servers.

A scenario is a YAML file validated by these pydantic models. Every key has a default, so
``{}`` is a valid scenario (the US baseline's shape); a file only states what differs.
Units are in the key names (``_s`` seconds, ``_per_s`` per second, shares and probabilities
in [0, 1]). Each default's source is in its description and in ``scenarios/README.md``: most
published figures come from vendors, so they are priors, not truths; "assumed" marks values
nothing published supports.

This module holds the whole (``Scenario``); its parts live by concept — the people
(``sim.scenario_people``), the delivery path (``sim.scenario_delivery``), our servers
(``sim.scenario_servers``), billing (``sim.scenario_billing``), and the shared vocabulary
(``sim.scenario_types``) — and are re-exported here, so ``from sim.scenario import X`` works
for every part. The models only describe; ``sim.scenario_file`` reads files and reports
problems, and the model in ``sim.model`` gives the values their meaning.
"""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import Field, field_validator, model_validator

from sim.attack_spec import Attacks, PumpingSpec, PumpingTarget, PushBombingSpec
from sim.scenario_billing import Billing, Prices
from sim.scenario_delivery import (
    Carrier,
    Failover,
    Outage,
    ProviderSpec,
    PushSpec,
    RouteChange,
    Routing,
    SenderPool,
    SignalEffect,
    default_carriers,
    default_providers,
)
from sim.scenario_people import Arrivals, Population, RateSegment, UserBehaviour
from sim.scenario_servers import FraudSpec, PolicySpec, Servers, ServiceTime
from sim.scenario_types import (
    CHANNELS,
    METHODS,
    SHARE_TOLERANCE,
    Latency,
    ScenarioModel,
    iso_region,
)

__all__ = [
    "CHANNELS",
    "METHODS",
    "Arrivals",
    "Attacks",
    "Billing",
    "Carrier",
    "Failover",
    "FraudSpec",
    "Latency",
    "Outage",
    "OutputOptions",
    "PolicySpec",
    "Population",
    "Prices",
    "ProviderSpec",
    "PumpingSpec",
    "PumpingTarget",
    "PushBombingSpec",
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


class OutputOptions(ScenarioModel):
    sample_interval_s: float = Field(
        10.0, gt=0, description="seconds between resource samples (resources.parquet)"
    )
    chunk_rows: int = Field(
        65_536, ge=1024, description="rows buffered before a Parquet row group is written"
    )


# ---------------------------------------------------------------------------- scenario


class Scenario(ScenarioModel):
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
        default_factory=default_providers,
        min_length=1,
        description="sms/voice providers in failover order (the seed: multiple providers)",
    )
    failover: Failover = Field(default_factory=Failover)
    carriers: dict[str, list[Carrier]] = Field(
        default_factory=default_carriers,
        description="carriers per ISO country; 'default' serves countries not listed",
    )
    signal_effect: SignalEffect = Field(default_factory=SignalEffect)
    push: PushSpec = Field(default_factory=PushSpec)
    user: UserBehaviour = Field(default_factory=UserBehaviour)
    servers: Servers = Field(default_factory=Servers)
    policy: PolicySpec = Field(default_factory=PolicySpec)
    billing: Billing = Field(default_factory=Billing)
    output: OutputOptions = Field(default_factory=OutputOptions)
    attacks: Attacks = Field(
        default_factory=Attacks,
        description="attackers beside the real users (SMS pumping, push bombing); none by default",
    )

    @field_validator("epoch")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        return value if value.tzinfo else value.replace(tzinfo=UTC)

    @field_validator("carriers")
    @classmethod
    def _carrier_shares(cls, value: dict[str, list[Carrier]]) -> dict[str, list[Carrier]]:
        for country, carriers in value.items():
            if country != "default":
                iso_region(country)
            if not carriers:
                raise ValueError(f"{country}: at least one carrier is required")
            total = sum(c.share for c in carriers)
            if abs(total - 1.0) > SHARE_TOLERANCE:
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

    @model_validator(mode="after")
    def _attackers_fit(self) -> Scenario:
        """The attacks reach what the scenario has: carriers for the pumped countries,
        users with push for the push bomber's victims."""
        pumping = self.attacks.pumping
        if pumping is not None and "default" not in self.carriers:
            for i, target in enumerate(pumping.targets):
                if target.country not in self.carriers:
                    raise ValueError(
                        f"attacks.pumping.targets[{i}].country: no carriers for "
                        f"{target.country!r}; add carriers.{target.country} or carriers.default"
                    )
        bombing = self.attacks.push_bombing
        if bombing is not None:
            people = self.population
            if not (people.methods.get("push", 0.0) or people.backup_methods.get("push", 0.0)):
                raise ValueError(
                    "attacks.push_bombing needs users with push: give population.methods "
                    "or population.backup_methods a push share"
                )
        return self

    @property
    def epoch_seconds(self) -> float:
        return self.epoch.timestamp()
