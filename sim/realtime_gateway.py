"""The simulator's delivery network on the wall clock, for the HTTP server and load tests.

``MFALAB_GATEWAY=simulated:scenarios/x.yaml`` makes the server send through this gateway:
the scenario's providers (outages, error rate, capacity, failover), sender queues
(throughput limits), carriers (losses, lognormal latencies, signal, security apps) and the
push service — the same ``sim.network`` code the SimPy model runs, not a second model. A
message's fate is decided when ``send`` is called; a scheduler thread then hands delivered
messages to the ``SinkGateway`` at their arrival time, so ``GET /v1/sink/messages`` shows a
code only once it has "reached the phone", and lost codes never show: Locust users see late
and lost codes and exercise the retry path.

Model time is seconds since the gateway started, so outage windows count from then. Route
changes (``routing.changes``) need control of the engine's sender choice and are ignored
here. Who a phone number belongs to is unknown, so its carrier and security app are drawn
once per recipient from the scenario's shares; connectivity and signal per message; a
blocked recipient disables the app before a later send with the scenario's
``user.security_app_disable_probability``, as a person following the seed's advice would.
"""

from __future__ import annotations

import heapq
import itertools
import threading
from collections import Counter, OrderedDict
from pathlib import Path
from typing import Any

import numpy as np

from mfa.clock import Clock
from mfa.delivery.message import Channel, Message, Receipt
from mfa.delivery.sink import SinkGateway
from sim.distributions import RandomStream
from sim.network import (
    CarrierModel,
    CarrierTable,
    Conditions,
    Delivery,
    DeliveryNetwork,
    RecipientProfile,
)
from sim.scenario import Carrier, Scenario
from sim.scenario_file import load_scenario

__all__ = ["DrawnRecipients", "RealtimeGateway"]

_REMEMBERED = 100_000  # recipients whose carrier and security app are remembered


class DrawnRecipients:
    """``RecipientDirectory`` for phones the model knows nothing about: draw, then remember."""

    def __init__(self, scenario: Scenario, stream: RandomStream) -> None:
        self._stream = stream
        self._carriers = CarrierTable(scenario)
        effect = scenario.signal_effect
        self._fallback = CarrierModel(
            Carrier(name="carrier", share=1.0),
            poor_delivery_factor=effect.poor_delivery_factor,
            poor_latency_factor=effect.poor_latency_factor,
        )
        self._conditions = Conditions(scenario.population)
        self._app_share = scenario.population.security_app_share
        self._disable = scenario.user.security_app_disable_probability
        self._known: OrderedDict[str, RecipientProfile] = OrderedDict()

    def _carrier(self, message: Message) -> CarrierModel | None:
        if message.channel is Channel.PUSH:
            return None
        try:
            return self._carriers.draw(message.country, self._stream)
        except KeyError:
            return self._fallback

    def recipient(self, message: Message) -> RecipientProfile:
        stream = self._stream
        profile = self._known.get(message.to)
        if profile is None:
            profile = RecipientProfile(
                carrier=self._carrier(message),
                security_app=stream.uniform() < self._app_share,
                connectivity="",
                signal="",
            )
            self._known[message.to] = profile
            if len(self._known) > _REMEMBERED:
                self._known.popitem(last=False)
        elif profile.security_app and stream.uniform() < self._disable:
            profile.security_app = False  # asked again: the person disabled the protection
        profile.connectivity, profile.signal = self._conditions.draw(stream)
        return profile


class RealtimeGateway:
    """A ``DeliveryGateway``: ``send`` returns at once; delivery happens later, or never."""

    def __init__(
        self, scenario: Scenario, *, sink: SinkGateway, clock: Clock, seed: int | None = None
    ) -> None:
        self.scenario = scenario
        self._sink = sink
        self._clock = clock
        self._origin = clock.now()
        network_seed, recipient_seed = np.random.SeedSequence(seed).spawn(2)
        self._lock = threading.Lock()  # the model: queues, streams, provider state
        self._due = threading.Condition()  # the schedule of deliveries
        self._heap: list[tuple[float, int, Message]] = []
        self._order = itertools.count()
        self._closed = False
        #: messages by outcome: "delivered" or the loss cause
        self.outcomes: Counter[str] = Counter()
        recipients = DrawnRecipients(scenario, RandomStream(np.random.default_rng(recipient_seed)))
        self.network = DeliveryNetwork(
            scenario,
            now=self._model_now,
            stream=RandomStream(np.random.default_rng(network_seed)),
            recipients=recipients,
            on_delivery=self._schedule,
        )
        self._gateway = self.network.gateway(clock)
        self._thread = threading.Thread(
            target=self._deliver, name="mfalab-simulated-gateway", daemon=True
        )
        self._thread.start()

    @classmethod
    def from_scenario_file(
        cls, path: str | Path, *, sink: SinkGateway, clock: Clock, seed: int | None = None
    ) -> RealtimeGateway:
        """Raises ``sim.scenario_file.ScenarioError`` (one line per problem) for a bad file."""
        return cls(load_scenario(path), sink=sink, clock=clock, seed=seed)

    def _model_now(self) -> float:
        return self._clock.now() - self._origin

    def send(self, message: Message) -> Receipt:
        """Raises ``mfa.errors.DeliveryError`` when every provider refuses, like a real one."""
        with self._lock:
            return self._gateway.send(message)

    def _schedule(self, message: Message, *fate: Any) -> None:
        """The network's ``DeliverySink``: a message that will arrive waits for its time."""
        delivery = Delivery(message, *fate)
        if delivery.loss_cause:
            self.outcomes[delivery.loss_cause] += 1
            return
        self.outcomes["delivered"] += 1
        due = self._origin + delivery.delivered_at
        with self._due:
            heapq.heappush(self._heap, (due, next(self._order), message))
            self._due.notify()

    def pending(self) -> int:
        """Messages on their way (accepted, not yet delivered)."""
        with self._due:
            return len(self._heap)

    def _deliver(self) -> None:
        heap = self._heap
        while True:
            with self._due:
                while not self._closed:
                    if heap:
                        wait = heap[0][0] - self._clock.now()
                        if wait <= 0:
                            break
                        self._due.wait(min(wait, 1.0))
                    else:
                        self._due.wait()
                if self._closed:
                    return
                _, _, message = heapq.heappop(heap)
            self._sink.submit(message)

    def close(self) -> None:
        """Stop the scheduler; messages still on their way are dropped."""
        with self._due:
            self._closed = True
            self._due.notify_all()
        self._thread.join(timeout=5)
