"""The fraud defences' rules, as pure functions of the policy and of counters.

SMS pumping (artificially inflated traffic) is bots asking for codes to number ranges whose
carriers share the termination fee with them; its telltale is conversion, codes sent to a
range that are almost never verified. Message floods (push bombing, or one client asking
for code after code) come from few sources. The defences, each switched by
``mfa.policy.FraudPolicy`` and applied before anything is sent:

1. geo permissions: sms/voice only to the allowed countries, else ``country_blocked``;
2. per client IP: at most ``ip_max_sends`` sends asked for from one IP per window;
3. per destination range (country + the first digits of the national number): at most
   ``range_max_sends`` sms/voice sends per window;
4. conversion guard, per country and per range: once ``conversion_min_sends`` codes were
   sent there within the window (not counting those younger than
   ``conversion_grace_seconds``, which may still be typed), at least
   ``conversion_min_rate`` of them must have been verified, else new sends there are
   refused until the share recovers.

Rules 2 to 4 refuse with ``fraud_suspected``; which of them fired (``FraudRule``) goes to
the log only. A send refused by any rule is counted by none, so rules 2 and 3 let a steady
bot through at ``min(rate, max_sends / window)``, and the conversion guard lets a never
verifying bot through at about ``conversion_min_sends`` per window (old sends leave the
window, new ones take their place). The counters live behind a port
(``mfa.fraud_counters``) that applies ``refuses`` to every limit and counts the send in all
of them in one atomic step, so a cluster sharing the counters holds the limits together.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import phonenumbers

from mfa.policy import FraudPolicy
from mfa.reasons import DenialReason, FraudRule

__all__ = [
    "FraudRefusal",
    "Limit",
    "PhoneRange",
    "conversion_keys",
    "geo_refusal",
    "phone_range",
    "refuses",
    "send_limits",
]


@dataclass(frozen=True, slots=True)
class PhoneRange:
    """A destination range: the country (ISO 3166 alpha-2, ``ZZ`` for numbers of no
    country, such as +882 international networks) and the first digits of the national
    number."""

    country: str
    prefix: str

    @property
    def key(self) -> str:
        return f"{self.country}:{self.prefix}"


@lru_cache(maxsize=65_536)
def phone_range(phone: str, digits: int) -> PhoneRange:
    """The range of an E.164 number (cached: libphonenumber's parse is slow). A number it
    cannot parse is its own country ``ZZ``, ranged by its leading digits."""
    try:
        number = phonenumbers.parse(phone, None)
    except phonenumbers.NumberParseException:
        return PhoneRange("ZZ", "".join(c for c in phone if c.isdigit())[:digits])
    region = phonenumbers.region_code_for_number(
        number
    ) or phonenumbers.region_code_for_country_code(number.country_code)
    # "001" is libphonenumber's region of numbers of no country (+800, +882, +883)
    country = region if len(region) == 2 and region.isalpha() else "ZZ"
    national = phonenumbers.national_significant_number(number)
    return PhoneRange(country, national[:digits])


@dataclass(frozen=True, slots=True)
class Limit:
    """One sliding-window counter a send is checked against and, if admitted, counted in.

    A velocity limit (``min_rate`` ``None``) refuses once ``max_sends`` sends are counted in
    the window; a conversion floor refuses once ``min_sends`` are counted and fewer than
    ``min_rate`` of them were verified, judging only the sends older than ``grace`` seconds
    (the counts it is given leave the younger ones out)."""

    rule: FraudRule
    key: str
    window: float
    max_sends: int | None = None
    min_rate: float | None = None
    min_sends: int = 1
    grace: float = 0.0


def refuses(limit: Limit, sent: int, verified: int) -> bool:
    """Whether ``limit`` refuses one more send, with ``sent`` sends counted in its window,
    ``verified`` of them verified. (``mfa.storage.redis_fraud`` applies the same rule
    inside Redis; the port's contract tests hold both to it.)"""
    if limit.min_rate is None:
        return limit.max_sends is not None and sent >= limit.max_sends
    return sent >= limit.min_sends and verified < limit.min_rate * sent


@dataclass(frozen=True, slots=True)
class FraudRefusal:
    """A send a defence refused: the reason the caller sees and the rule only the log
    sees (``None`` for ``country_blocked``, which is its own reason)."""

    reason: DenialReason
    rule: FraudRule | None = None


def geo_refusal(policy: FraudPolicy, country: str) -> FraudRefusal | None:
    """Rule 1: ``country_blocked`` outside the allowed countries (geo permissions on)."""
    allowed = policy.allowed_countries
    if allowed is None or country in allowed:
        return None
    return FraudRefusal(DenialReason.COUNTRY_BLOCKED)


def send_limits(
    policy: FraudPolicy, to: PhoneRange | None, client_ip: str | None
) -> tuple[Limit, ...]:
    """Rules 2 to 4: the limits a send to ``to`` (``None`` for push) asked for from
    ``client_ip`` must pass, in the order they are checked (the first that refuses names
    the rule in the log)."""
    limits: list[Limit] = []
    if policy.ip_max_sends is not None and client_ip:
        limits.append(
            Limit(
                FraudRule.CLIENT_IP,
                f"ip:{client_ip}",
                policy.ip_window_seconds,
                max_sends=policy.ip_max_sends,
            )
        )
    if to is None:
        return tuple(limits)
    if policy.range_max_sends is not None:
        limits.append(
            Limit(
                FraudRule.RANGE_VELOCITY,
                f"range:{to.key}",
                policy.range_window_seconds,
                max_sends=policy.range_max_sends,
            )
        )
    if policy.conversion_min_rate is not None:
        limits.extend(
            Limit(
                FraudRule.CONVERSION,
                key,
                policy.conversion_window_seconds,
                min_rate=policy.conversion_min_rate,
                min_sends=policy.conversion_min_sends,
                grace=policy.conversion_grace_seconds,
            )
            for key in conversion_keys(to)
        )
    return tuple(limits)


def conversion_keys(to: PhoneRange) -> tuple[str, str]:
    """The conversion guard's counters of a destination: its country and its range."""
    return f"conversion:{to.country}", f"conversion:{to.key}"
