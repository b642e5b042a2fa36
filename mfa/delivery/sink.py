"""An in-memory outbox standing in for real providers in tests and development.

It is a provider (so it can sit in a ``ProviderChain``) and a gateway (so it can be used
alone). ``GET /v1/sink/messages`` reads it; the code is parsed from the text as a person
reading the SMS would.
"""

from __future__ import annotations

import threading
from collections import defaultdict, deque
from dataclasses import dataclass

from mfa.delivery.message import Channel, Message, Receipt, extract_code

__all__ = ["SinkGateway", "SinkMessage"]


@dataclass(frozen=True, slots=True)
class SinkMessage:
    to: str
    sender: str | None
    channel: Channel
    text: str
    code: str | None
    sent_at: float
    auth_id: str
    country: str | None = None


class SinkGateway:
    """Keeps the last ``keep`` messages per recipient, thread-safe."""

    def __init__(self, name: str = "sink", *, keep: int = 50) -> None:
        self.name = name
        self._keep = keep
        self._by_recipient: dict[str, deque[SinkMessage]] = defaultdict(
            lambda: deque(maxlen=self._keep)
        )
        self._lock = threading.Lock()
        self._count = 0

    def send(self, message: Message) -> Receipt:
        return Receipt(provider=self.name, message_id=self.submit(message))

    def submit(self, message: Message) -> str:
        item = SinkMessage(
            to=message.to,
            sender=message.sender,
            channel=message.channel,
            text=message.text,
            code=extract_code(message.text),
            sent_at=message.sent_at,
            auth_id=message.auth_id,
            country=message.country,
        )
        with self._lock:
            self._by_recipient[message.to].append(item)
            self._count += 1
            return f"{self.name}-{self._count}"

    def messages_to(self, recipient: str) -> list[SinkMessage]:
        """Newest first."""
        with self._lock:
            return list(reversed(self._by_recipient.get(recipient, ())))

    def __len__(self) -> int:
        return self._count
