"""The road a code travels: provider → sender queue → carrier → the user's phone.

The engine hands a ``Message`` to its delivery gateway; here that gateway is a
``ChannelGateway`` whose sms and voice parts are ``mfa.delivery.ProviderChain``s over
``SimulatedProvider``s (and whose push part is the notification service). A provider
refuses during its outage windows, at its error rate and above its capacity — the chain
then fails over to the next one, as the engine's own code does. A provider that accepts
passes the message on:

- **sms** waits in its sender number's FIFO queue (a short code releases 100 parts/s, a US
  long code 1), then the carrier delivers it or loses it, after a lognormal latency;
- **voice** is placed at once; it reaches a phone with cellular coverage, is answered more
  often when caller ID shows, and the code is read out after the call latency;
- **push** needs Wi-Fi or cellular data and is lost now and then.

Third-party security apps block texts and calls; no cellular coverage loses them; poor
signal lowers delivery odds and stretches latencies. Everything about a message — when it
leaves its queue, whether and when it arrives — is decided the moment a provider accepts it,
so the simulator needs no events until the phone rings, and the real-time gateway only has
to wait for the computed moment. Both use this module: one model, two clocks.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from itertools import accumulate
from typing import Protocol

import numpy as np

from mfa.clock import Clock
from mfa.delivery import ProviderChain, ProviderError, SenderDirectory
from mfa.delivery.message import Message, Receipt
from mfa.errors import DeliveryError
from sim.distributions import Lognormal, RandomStream
from sim.queues import FifoQueue
from sim.scenario import Carrier, Population, ProviderSpec, Routing, Scenario, SenderPool

__all__ = [
    "CarrierModel",
    "CarrierTable",
    "ChannelGateway",
    "Conditions",
    "Connectivity",
    "Delivery",
    "DeliveryNetwork",
    "DeliverySink",
    "LossCause",
    "PushService",
    "Recipient",
    "RecipientDirectory",
    "RecipientProfile",
    "SenderLine",
    "SimulatedProvider",
    "sender_directory",
]

NAN = float("nan")
SHORT_CODE_THROUGHPUT = 100.0  # AWS MPS limits: US short code 100 parts/s
US_LONG_CODE_THROUGHPUT = 1.0  # AWS: US 10DLC long code 1 part/s by default
LONG_CODE_THROUGHPUT = 10.0  # AWS: long code outside the US 10 parts/s


class Connectivity(StrEnum):
    WIFI_AND_CELLULAR = "wifi_and_cellular"
    CELLULAR = "cellular"
    WIFI_ONLY = "wifi_only"
    NONE = "none"


_CELLULAR = frozenset({Connectivity.WIFI_AND_CELLULAR.value, Connectivity.CELLULAR.value})


class LossCause(StrEnum):
    CARRIER_LOSS = "carrier_loss"
    SECURITY_APP = "security_app"
    NO_SIGNAL = "no_signal"
    PROVIDER_ERROR = "provider_error"
    UNANSWERED = "unanswered"
    PUSH_LOST = "push_lost"
    QUEUE_EXPIRED = "queue_expired"


# the plain strings, for the hot path (an enum's ``.value`` is a Python-level property)
_CARRIER_LOSS = LossCause.CARRIER_LOSS.value
_SECURITY_APP = LossCause.SECURITY_APP.value
_NO_SIGNAL = LossCause.NO_SIGNAL.value
_PROVIDER_ERROR = LossCause.PROVIDER_ERROR.value
_UNANSWERED = LossCause.UNANSWERED.value
_PUSH_LOST = LossCause.PUSH_LOST.value
_QUEUE_EXPIRED = LossCause.QUEUE_EXPIRED.value
_NONE = Connectivity.NONE.value
_CELLULAR_ONLY = Connectivity.CELLULAR.value


class Recipient(Protocol):
    """What the network needs to know about the phone a message is for."""

    carrier: CarrierModel | None
    security_app: bool
    connectivity: str
    signal: str


class RecipientDirectory(Protocol):
    def recipient(self, message: Message) -> Recipient: ...


@dataclass(slots=True)
class RecipientProfile:
    carrier: CarrierModel | None
    security_app: bool
    connectivity: str
    signal: str


@dataclass(slots=True)
class Delivery:
    """The fate of one message, fully known when a provider accepts (or all refuse) it.

    The network hands these fields to its ``DeliverySink`` positionally, in this order,
    rather than as an object: one fewer allocation per message on the hot path."""

    message: Message
    provider: str
    sender: str
    sender_kind: str
    carrier: str
    requested_at: float
    sent_at: float
    delivered_at: float
    loss_cause: str
    failovers: int


class DeliverySink(Protocol):
    """Receives every message's fate, as ``Delivery``'s fields in their order."""

    def __call__(
        self,
        message: Message,
        provider: str,
        sender: str,
        sender_kind: str,
        carrier: str,
        requested_at: float,
        sent_at: float,
        delivered_at: float,
        loss_cause: str,
        failovers: int,
    ) -> None: ...


class CarrierModel:
    """One mobile carrier's delivery odds and latencies, with the signal's effect."""

    __slots__ = (
        "answer_anonymous",
        "answer_identified",
        "call_latency",
        "caller_id",
        "deliver",
        "latency",
        "name",
        "poor_deliver",
        "poor_latency",
    )

    def __init__(self, spec: Carrier, *, poor_delivery_factor: float, poor_latency_factor: float):
        self.name = spec.name
        self.deliver = spec.delivery_probability
        self.poor_deliver = poor_delivery_factor
        self.poor_latency = poor_latency_factor
        self.latency = Lognormal.from_median_p95(spec.latency.median_s, spec.latency.p95_s)
        self.call_latency = Lognormal.from_median_p95(
            spec.call_latency.median_s, spec.call_latency.p95_s
        )
        self.caller_id = spec.caller_id_probability
        self.answer_identified = spec.voice_answer_with_caller_id
        self.answer_anonymous = spec.voice_answer_without_caller_id

    def _reach(self, recipient: Recipient, stream: RandomStream) -> bool | str:
        """Whether the network reaches the phone: the loss cause, or whether the signal is
        poor (which scales the latency). Draws the carrier-loss number, as texts and calls
        both go through the carrier."""
        if recipient.connectivity not in _CELLULAR:
            return _NO_SIGNAL
        if recipient.security_app:
            return _SECURITY_APP
        poor = recipient.signal == "poor"
        odds = self.deliver * self.poor_deliver if poor else self.deliver
        if stream.uniform() >= odds:
            return _CARRIER_LOSS
        return poor

    def text(self, recipient: Recipient, stream: RandomStream) -> float | str:
        """Seconds from the sender to the phone, or the loss cause."""
        poor = self._reach(recipient, stream)
        if isinstance(poor, str):
            return poor
        latency = self.latency.sample(stream)
        return latency * self.poor_latency if poor else latency

    def call(self, recipient: Recipient, stream: RandomStream) -> float | str:
        """Seconds until the code has been read out to the user, or the loss cause."""
        poor = self._reach(recipient, stream)
        if isinstance(poor, str):
            return poor
        answer = (
            self.answer_identified if stream.uniform() < self.caller_id else (self.answer_anonymous)
        )
        if stream.uniform() >= answer:
            return _UNANSWERED
        latency = self.call_latency.sample(stream)
        return latency * self.poor_latency if poor else latency


def _carrier(carrier: CarrierModel | None) -> CarrierModel:
    if carrier is None:
        raise LookupError("an sms or voice recipient without a carrier")
    return carrier


class CarrierTable:
    """Carriers per country with their shares; ``default`` serves unlisted countries."""

    def __init__(self, scenario: Scenario) -> None:
        effect = scenario.signal_effect
        self._by_country: dict[str, tuple[list[CarrierModel], list[float]]] = {}
        for country, specs in scenario.carriers.items():
            models = [
                CarrierModel(
                    spec,
                    poor_delivery_factor=effect.poor_delivery_factor,
                    poor_latency_factor=effect.poor_latency_factor,
                )
                for spec in specs
            ]
            self._by_country[country] = (models, list(accumulate(s.share for s in specs)))

    def choices(self, country: str | None) -> tuple[list[CarrierModel], list[float]]:
        found = self._by_country.get(country or "")
        if found is None:
            found = self._by_country.get("default")
        if found is None:
            raise KeyError(f"no carriers for {country!r} and no default")
        return found

    def draw(self, country: str | None, stream: RandomStream) -> CarrierModel:
        models, cumulative = self.choices(country)
        return models[stream.pick(cumulative)] if len(models) > 1 else models[0]


class Conditions:
    """Connectivity and signal at the moment of a sign-in, drawn from the population mix."""

    __slots__ = ("_connectivity", "_cum_connectivity", "_cum_signal", "_signal")

    def __init__(self, population: Population) -> None:
        self._connectivity = list(population.connectivity)
        self._cum_connectivity = list(accumulate(population.connectivity.values()))
        self._signal = list(population.signal)
        self._cum_signal = list(accumulate(population.signal.values()))

    def draw(self, stream: RandomStream) -> tuple[str, str]:
        connectivity = self._connectivity[stream.pick(self._cum_connectivity)]
        signal = self._signal[stream.pick(self._cum_signal)]
        return connectivity, signal

    def draw_many(self, count: int, rng: np.random.Generator) -> tuple[list[str], list[str]]:
        """``draw`` for ``count`` sign-ins at once (a chunk of arrivals): a few numpy calls
        instead of two Python-level picks per sign-in."""
        return (
            _picks(self._connectivity, self._cum_connectivity, rng.random(count)),
            _picks(self._signal, self._cum_signal, rng.random(count)),
        )


def _picks(names: list[str], cumulative: list[float], uniforms: np.ndarray) -> list[str]:
    """``RandomStream.pick`` for a whole array of uniforms, as names."""
    edges = np.asarray(cumulative)
    index = np.searchsorted(edges, uniforms * edges[-1], side="right")
    return np.asarray(names, dtype=object)[np.minimum(index, len(edges) - 1)].tolist()


@dataclass(slots=True)
class SenderLine:
    """One sender number: its kind and its throughput-limited FIFO queue."""

    address: str
    kind: str
    throughput: float
    queue: FifoQueue


def _throughput(pool: SenderPool, country: str) -> float:
    if pool.throughput_per_s is not None:
        return pool.throughput_per_s
    if pool.kind == "short_code":
        return SHORT_CODE_THROUGHPUT
    return US_LONG_CODE_THROUGHPUT if country == "US" else LONG_CODE_THROUGHPUT


def sender_directory(pools: Mapping[str, SenderPool], routing: Routing) -> SenderDirectory:
    """The engine's sender choice for these pools (the engine draws a sender per send)."""
    return SenderDirectory(
        short_codes={c: tuple(p.senders) for c, p in pools.items() if p.kind == "short_code"},
        long_codes={c: p.senders[0] for c, p in pools.items() if p.kind == "long_code"},
        default_long_code=routing.long_code,
    )


class SimulatedProvider:
    """An SMS/voice provider: refuses in outages, at its error rate and above capacity."""

    __slots__ = (
        "_burst",
        "_last",
        "_network",
        "_tokens",
        "accepted",
        "capacity",
        "channels",
        "error_rate",
        "errors",
        "name",
        "outages",
        "throttled",
    )

    def __init__(self, spec: ProviderSpec, network: DeliveryNetwork) -> None:
        self.name = spec.name
        self.channels = tuple(spec.channels)
        self.capacity = spec.capacity_per_s
        self.error_rate = spec.error_rate
        self.outages = tuple((o.start_s, o.end_s) for o in spec.outages)
        self._network = network
        self._burst = max(1.0, spec.capacity_per_s)  # a one-second burst
        self._tokens = self._burst
        self._last = 0.0
        self.accepted = 0
        self.errors = 0
        self.throttled = 0

    def submit(self, message: Message) -> str:
        network = self._network
        t = network.now()
        network.note_submit(message)
        for start, end in self.outages:
            if start <= t < end:
                self.errors += 1
                raise ProviderError("outage")
        if self.error_rate and network.stream.uniform() < self.error_rate:
            self.errors += 1
            raise ProviderError("error answer")
        tokens = self._tokens + (t - self._last) * self.capacity
        if tokens > self._burst:
            tokens = self._burst
        self._last = t
        if tokens < 1.0:
            self._tokens = tokens
            self.throttled += 1
            raise ProviderError("throttled")
        self._tokens = tokens - 1.0
        self.accepted += 1
        network.accept(self.name, message, t)
        return f"{self.name}-{self.accepted}"


class PushService:
    """The notification service (APNs/FCM): best effort, no capacity limit modelled."""

    __slots__ = ("_network", "accepted", "name")

    def __init__(self, network: DeliveryNetwork) -> None:
        self.name = "push"
        self._network = network
        self.accepted = 0

    def submit(self, message: Message) -> str:
        network = self._network
        t = network.now()
        network.note_submit(message)
        self.accepted += 1
        network.accept(self.name, message, t)
        return f"push-{self.accepted}"


class ChannelGateway:
    """The engine's ``DeliveryGateway``: each channel's message goes to its provider chain."""

    def __init__(self, chains: Mapping[str, ProviderChain], network: DeliveryNetwork) -> None:
        self.chains = dict(chains)
        self._network = network

    def send(self, message: Message) -> Receipt:
        chain = self.chains.get(message.channel)  # a StrEnum: looks up as its value
        if chain is None:
            self._network.refuse(message)
            raise DeliveryError(f"no provider carries {message.channel.value}")
        try:
            return chain.send(message)
        except DeliveryError:
            self._network.refuse(message)
            raise


class DeliveryNetwork:
    """Providers, sender queues, carriers and the push service, on one clock and one stream.

    ``now`` returns model seconds (simulated seconds, or seconds since the real-time gateway
    started); ``on_delivery`` receives every message's fate (a ``Delivery``'s fields) as
    soon as it is known.
    """

    def __init__(
        self,
        scenario: Scenario,
        *,
        now: Callable[[], float],
        stream: RandomStream,
        recipients: RecipientDirectory,
        on_delivery: DeliverySink,
    ) -> None:
        self.now = now
        self.stream = stream
        self.recipients = recipients
        self.on_delivery = on_delivery
        routing = scenario.routing
        self.max_queue_wait = routing.max_queue_wait_s
        self.senders: dict[str, SenderLine] = {}
        self._add_line(routing.long_code, "long_code", routing.long_code_throughput_per_s)
        for country, pool in routing.pools.items():
            self.add_pool(country, pool)
        for change in routing.changes:
            self.add_pool(change.country, change.pool)
        self.providers = [SimulatedProvider(spec, self) for spec in scenario.providers]
        self.push_service = PushService(self)
        self._failover = scenario.failover
        push = scenario.push
        self._push_latency = Lognormal.from_median_p95(push.latency.median_s, push.latency.p95_s)
        self._push_loss = push.loss_probability
        effect = scenario.signal_effect
        self._poor_latency = effect.poor_latency_factor
        self._current: Message | None = None
        self._tries = 0

    # -------------------------------------------------------------- construction

    def _add_line(self, address: str, kind: str, throughput: float) -> SenderLine:
        line = self.senders.get(address)
        if line is None:
            line = SenderLine(address, kind, throughput, FifoQueue(address, 1))
            self.senders[address] = line
        return line

    def add_pool(self, country: str, pool: SenderPool) -> None:
        for address in pool.senders:
            self._add_line(address, pool.kind, _throughput(pool, country))

    def gateway(self, clock: Clock) -> ChannelGateway:
        """Provider chains per channel, in the scenario's order, failing over if enabled."""
        chains: dict[str, ProviderChain] = {}
        for channel in ("sms", "voice"):
            carriers: Sequence[SimulatedProvider] = [
                p for p in self.providers if channel in p.channels
            ]
            if not carriers:
                continue
            if not self._failover.enabled:
                carriers = carriers[:1]
            chains[channel] = ProviderChain(carriers, clock, cooldown=self._failover.cooldown_s)
        chains["push"] = ProviderChain([self.push_service], clock, cooldown=0.0)
        return ChannelGateway(chains, self)

    # -------------------------------------------------------------- the model

    def note_submit(self, message: Message) -> None:
        """Count the providers tried for one message (failovers = tries - 1)."""
        if message is self._current:
            self._tries += 1
        else:
            self._current = message
            self._tries = 1

    def _failovers(self, message: Message) -> int:
        return self._tries - 1 if message is self._current else 0

    def refuse(self, message: Message) -> None:
        """No provider took the message."""
        recipient = self.recipients.recipient(message)
        line = self.senders.get(message.sender or "")
        self.on_delivery(
            message,
            "",  # provider
            message.sender or "",  # sender
            line.kind if line else "",  # sender_kind
            recipient.carrier.name if recipient.carrier else "",  # carrier
            self.now(),  # requested_at
            NAN,  # sent_at
            NAN,  # delivered_at
            _PROVIDER_ERROR,  # loss_cause
            self._failovers(message),
        )

    def accept(self, provider: str, message: Message, t: float) -> None:
        """A provider took the message: decide its whole fate now."""
        recipient = self.recipients.recipient(message)
        stream = self.stream
        channel = message.channel  # a StrEnum: compares equal to its value
        sender = message.sender or ""
        kind = ""
        sent = t
        carrier = recipient.carrier
        if channel == "push":
            outcome: float | str
            if recipient.connectivity == _NONE:
                outcome = _NO_SIGNAL
            elif stream.uniform() < self._push_loss:
                outcome = _PUSH_LOST
            else:
                outcome = self._push_latency.sample(stream)
                if recipient.connectivity == _CELLULAR_ONLY and (recipient.signal == "poor"):
                    outcome *= self._poor_latency
        else:
            line = self.senders.get(sender)
            if line is None:
                line = self._add_line(sender, "long_code", LONG_CODE_THROUGHPUT)
            kind = line.kind
            if channel == "sms":
                queue = line.queue
                start = queue.next_start(t)
                if start - t > self.max_queue_wait:
                    sent = NAN
                    outcome = _QUEUE_EXPIRED
                else:
                    sent = queue.admit(t, 1.0 / line.throughput)
                    outcome = _carrier(carrier).text(recipient, stream)
            else:
                outcome = _carrier(carrier).call(recipient, stream)
        if isinstance(outcome, str):
            delivered, cause = NAN, outcome
        else:
            delivered, cause = sent + outcome, ""
        self.on_delivery(
            message,
            provider,
            sender,
            kind,  # sender_kind
            carrier.name if carrier and channel != "push" else "",  # carrier
            t,  # requested_at
            sent,  # sent_at
            delivered,  # delivered_at
            cause,  # loss_cause
            self._failovers(message),
        )
