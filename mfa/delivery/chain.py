"""Failover across providers.

Providers are tried in order; one that raises is skipped for ``cooldown`` seconds (LinOTP
skips a failed provider for 30 s) so that a dead provider does not add its timeout to every
send. When every provider is cooling down they are all tried again rather than failing
without an attempt.
"""

from __future__ import annotations

from collections.abc import Sequence

from mfa.clock import Clock
from mfa.delivery.message import Message, Provider, Receipt
from mfa.errors import DeliveryError

__all__ = ["ProviderChain", "ProviderError"]


class ProviderError(Exception):
    """A provider could not take a message (outage, error answer, throttling)."""


class ProviderChain:
    def __init__(self, providers: Sequence[Provider], clock: Clock, *, cooldown: float = 30.0):
        if not providers:
            raise ValueError("a provider chain needs at least one provider")
        self.providers = list(providers)
        self.clock = clock
        self.cooldown = cooldown
        self._skip_until: dict[str, float] = {}
        #: Sends each provider failed, for metrics.
        self.failures: dict[str, int] = {p.name: 0 for p in self.providers}

    def _order(self) -> list[Provider]:
        if not self._skip_until:
            return self.providers
        now = self.clock.now()
        ready = [p for p in self.providers if self._skip_until.get(p.name, 0.0) <= now]
        return ready or self.providers

    def send(self, message: Message) -> Receipt:
        errors: list[str] = []
        skip_until = self._skip_until
        for provider in self._order() if skip_until else self.providers:
            try:
                message_id = provider.submit(message)
            except ProviderError as exc:
                self.failures[provider.name] += 1
                skip_until[provider.name] = self.clock.now() + self.cooldown
                errors.append(f"{provider.name}: {exc}")
                continue
            if skip_until:
                skip_until.pop(provider.name, None)
            return Receipt(provider=provider.name, message_id=message_id)
        raise DeliveryError("no provider took the message (" + "; ".join(errors) + ")")
