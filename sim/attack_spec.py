"""Attackers in a scenario (``attacks``): SMS pumping bots and a push-bombing attacker.

An attack is a population of its own beside the real users: it calls the same engines
(``Engine.begin`` with a ``client_ip``, ``Engine.respond_push``) and the engines' fraud
defences (``policy.fraud``) and limits decide what gets through. These models only describe
the attackers; ``sim.attacks`` runs them and ``sim.attack_summary`` counts what they did.

Defaults are assumptions ("Source: assumed") unless a description names a source; the
figures the issue quotes (pumping volumes, push bombing's history) are in
``scenarios/README.md``.
"""

from __future__ import annotations

import ipaddress
from typing import Literal

import phonenumbers
from pydantic import Field, field_validator, model_validator

from mfa.begin import PUSH_NUMBERS
from sim.scenario_types import Latency, ScenarioModel, Share, iso_region

__all__ = [
    "PUSH_GUESS_ODDS",
    "Attacks",
    "PumpingSpec",
    "PumpingTarget",
    "PushBombingSpec",
    "bot_ips",
    "target_numbers",
]

#: A blind guess at push number matching's number: 1 in this many (the engine's range).
PUSH_GUESS_ODDS = PUSH_NUMBERS[1] - PUSH_NUMBERS[0] + 1
#: Bot addresses are drawn from the shared address space (RFC 6598, 100.64.0.0/10).
_BOT_NET = ipaddress.IPv4Network("100.64.0.0/10")


class PumpingTarget(ScenarioModel):
    """A number range the pumping bots send to: a country, the first digits of the national
    number, and how many numbers of it they hold."""

    country: str = Field(description="ISO 3166 alpha-2 region of the range")
    prefix: str = Field(
        min_length=1,
        max_length=12,
        pattern=r"^[0-9]+$",
        description="first digits of the national number (the engine's range is "
        "country + its first range_prefix_digits digits)",
    )
    numbers: int = Field(
        1000, ge=1, le=1_000_000, description="numbers of the range the bots use. Source: assumed."
    )

    @field_validator("country")
    @classmethod
    def _region(cls, value: str) -> str:
        return iso_region(value)

    @model_validator(mode="after")
    def _valid_numbers(self) -> PumpingTarget:
        for number in (target_number(self, 0), target_number(self, self.numbers - 1)):
            if number is None:
                raise ValueError(
                    f"prefix {self.prefix!r} with {self.numbers} numbers does not make valid "
                    f"{self.country} phone numbers (libphonenumber); give a prefix of a real "
                    "range of the country, or fewer numbers"
                )
        return self


def _national_length(country: str) -> int:
    example = phonenumbers.example_number_for_type(
        country, phonenumbers.PhoneNumberType.MOBILE
    ) or phonenumbers.example_number(country)
    return len(phonenumbers.national_significant_number(example)) if example else 0


def target_number(target: PumpingTarget, index: int) -> str | None:
    """The ``index``-th number of a target range in E.164 (the prefix, then the index
    zero-padded to the country's usual national length), or ``None`` if it is not valid."""
    length = _national_length(target.country)
    free = length - len(target.prefix)
    if length == 0 or free < 1 or index >= 10**free:
        return None
    code = phonenumbers.country_code_for_region(target.country)
    e164 = f"+{code}{target.prefix}{index:0{free}d}"
    try:
        parsed = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return None
    if phonenumbers.region_code_for_number(parsed) != target.country:
        return None
    return e164 if phonenumbers.is_valid_number(parsed) else None


def target_numbers(target: PumpingTarget) -> list[str]:
    """Every number of a target range, in E.164 (the schema checked the first and last)."""
    length = _national_length(target.country)
    free = length - len(target.prefix)
    code = phonenumbers.country_code_for_region(target.country)
    return [f"+{code}{target.prefix}{i:0{free}d}" for i in range(target.numbers)]


def bot_ips(ips: list[str], count: int) -> list[str]:
    """The addresses an attack sends from: the ones given, else ``count`` addresses of the
    shared address space."""
    if ips:
        return list(ips)
    return [str(_BOT_NET[i + 1]) for i in range(count)]


class _Attack(ScenarioModel):
    rate_per_s: float = Field(gt=0, description="requests the attacker makes per second")
    start_s: float = Field(0.0, ge=0, description="when the attack starts, simulated seconds")
    duration_s: float | None = Field(
        None, gt=0, description="how long it lasts, seconds; empty = arrivals.duration_s"
    )
    ips: list[str] = Field(
        default_factory=list,
        description="client IPs the attacker sends from (the engine's client_ip); empty = "
        "ip_count addresses of 100.64.0.0/10",
    )
    ip_count: int = Field(
        1, ge=1, le=1_000_000, description="addresses when ips is empty. Source: assumed."
    )

    @field_validator("ips")
    @classmethod
    def _addresses(cls, value: list[str]) -> list[str]:
        for text in value:
            try:
                ipaddress.ip_address(text)
            except ValueError:
                raise ValueError(f"{text!r} is not an IP address") from None
        return value


class PumpingSpec(_Attack):
    """SMS pumping: bots ask for codes to numbers of the target ranges and never verify."""

    rate_per_s: float = Field(
        10.0,
        gt=0,
        description="codes the bots ask for per second (10/s = 36,000 an hour). Source: assumed.",
    )
    channel: Literal["sms", "voice"] = Field("sms", description="what the bots ask for")
    targets: list[PumpingTarget] = Field(
        min_length=1, description="the ranges pumped: country, prefix, numbers"
    )
    rotate_on_refusal: bool = Field(
        False,
        description="false: every request goes to a random number of a target (weighted by "
        "its numbers) from a random IP; true: the bots keep one target and one IP until a "
        "request is refused, then move to the next of each",
    )


class PushBombingSpec(_Attack):
    """Push bombing (MFA fatigue): the attacker holds ``victims`` users' passwords and
    begins push for them in turn; each victim approves a push blindly with
    ``approve_probability`` (with number matching they must type a number they were
    never shown: a blind guess, 1 in ``PUSH_GUESS_ODDS``)."""

    victims: int = Field(100, ge=1, description="users whose passwords the attacker holds")
    rate_per_s: float = Field(
        5.0,
        gt=0,
        description="pushes begun per second in all, in turn over the victims not yet "
        "taken over (100 victims at 5/s: one push each every 20 s). Source: assumed.",
    )
    approve_probability: Share = Field(
        0.02,
        description="chance a victim approves one unexpected push blindly (tired, or "
        "thinking it their own). Source: assumed (sweep it); no published per-push figure.",
    )
    response: Latency = Field(
        default_factory=lambda: Latency(median_s=8.0, p95_s=60.0),
        description="time from the notification to the victim's blind approval. Source: assumed.",
    )


class Attacks(ScenarioModel):
    """The attackers of a scenario; none by default."""

    pumping: PumpingSpec | None = Field(None, description="SMS pumping bots")
    push_bombing: PushBombingSpec | None = Field(None, description="a push-bombing attacker")

    @property
    def any(self) -> bool:
        return self.pumping is not None or self.push_bombing is not None
