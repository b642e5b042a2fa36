"""The delivery port: how codes and push notifications leave the engine.

The engine chooses the sender (short code or long code, per destination country) and hands
a ``Message`` to a ``DeliveryGateway``. ``ProviderChain`` is the gateway that tries several
SMS/voice providers in order and skips one that failed (the seed: "Microsoft uses multiple
providers"). ``SinkGateway`` keeps messages in memory for tests and development.
"""

from mfa.delivery.chain import ProviderChain, ProviderError
from mfa.delivery.message import Channel, DeliveryGateway, Message, Provider, Receipt, extract_code
from mfa.delivery.senders import DEFAULT_SHORT_CODES, Sender, SenderDirectory, SenderKind
from mfa.delivery.sink import SinkGateway, SinkMessage

__all__ = [
    "DEFAULT_SHORT_CODES",
    "Channel",
    "DeliveryGateway",
    "Message",
    "Provider",
    "ProviderChain",
    "ProviderError",
    "Receipt",
    "Sender",
    "SenderDirectory",
    "SenderKind",
    "SinkGateway",
    "SinkMessage",
    "extract_code",
]
