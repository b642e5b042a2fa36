"""The attackers of a replication, as light SimPy processes against the real engines.

Each attack (``sim.attack_spec``) is a process on SimPy's clock that calls the same
``mfa.Engine``s the real users call, with a ``client_ip``; the engines' fraud defences,
send limits, number matching and lockout decide every outcome — nothing here decides that
a send is refused or an approval fails, it only counts what the engine answered:

- **SMS pumping**: requests evenly spaced at ``rate_per_s`` (bots are machines), each for
  the code of one number of a target range, from one of the attack's IPs; the bots never
  verify. A number is enrolled (as a sign-up would) the first time a bot uses it. What
  is sent travels the simulated network like any text (it takes sender and provider
  capacity from the real users), and its fate is counted, not written as a delivery row.
- **Push bombing**: pushes begun at ``rate_per_s`` in turn over the victims not yet taken
  over. Each notification that reaches the victim's phone is approved blindly with
  ``approve_probability``, after the victim's response time; with number matching on,
  the victim's app asks for the number the attacker's page showed, which the victim never
  saw, so they type a guess drawn uniformly from the engine's range (``PUSH_NUMBERS``).
  The app signs the answer with the victim's key; it goes to the server that issued the
  push (the app answers the push it got). An approval the engine accepts is a takeover;
  the attacker then leaves that victim alone.

Attackers call the engines directly, not through the servers' queues or the load balancer,
and the engines (codes, auth ids, senders) and the network (their messages' fates) draw
from streams of the attack's own for its begins, so the real users' randomness (their
balancer turns, service times, senders, carriers' draws) is what it is without the
attack: a sweep over defences compares like with like. What the attackers do share with
the real users is physical: sender queues, provider capacity and failover, and the
engines' counters. Their own randomness is the streams ``attacks``, ``attack_network`` and
``attack_entropy``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import simpy

from mfa.begin import PUSH_NUMBERS
from mfa.delivery.message import Message
from mfa.enrolment import Enrolment
from mfa.entropy import Entropy
from mfa.errors import DeliveryError
from mfa.methods import MethodType
from mfa.outcomes import Denial
from mfa.push_proof import sign_answer
from sim.attack_spec import (
    PUSH_GUESS_ODDS,
    Attacks,
    PumpingSpec,
    PushBombingSpec,
    bot_ips,
    target_numbers,
)
from sim.attack_summary import AttackCounts
from sim.distributions import Lognormal, RandomStream
from sim.network import CarrierModel, CarrierTable, DeliveryNetwork
from sim.population import Population
from sim.waits import Sleep, start

if TYPE_CHECKING:
    from sim.model import Server

__all__ = ["AttackRecipient", "Attackers"]

_PHONE = "wifi_and_cellular"
_PUSH_BIT = 1 << 2  # sim.scenario_types.METHODS.index("push")


class AttackRecipient:
    """The phone an attack's message goes to (the network's ``Recipient``): a bot's number
    (always reachable, no security app) or a victim's phone."""

    __slots__ = ("carrier", "connectivity", "security_app", "signal", "victim")

    def __init__(self, carrier: CarrierModel | None, victim: int = -1) -> None:
        self.carrier = carrier
        self.connectivity = _PHONE
        self.security_app = False
        self.signal = "good"
        self.victim = victim


class Attackers:
    """Every attack of one replication; the network's recipient directory and delivery
    sink while an attack's begin is in progress."""

    def __init__(
        self,
        env: simpy.Environment,
        attacks: Attacks,
        *,
        horizon: float,
        servers: list[Server],
        population: Population,
        carriers: CarrierTable,
        stream: RandomStream,
        counts: dict[str, AttackCounts],
        network: DeliveryNetwork,
        network_stream: RandomStream,
        entropy: Entropy,
    ) -> None:
        self.env = env
        self.servers = servers
        self.population = population
        self.carriers = carriers
        self.stream = stream
        self.counts = counts
        self.network = network
        self.network_stream = network_stream
        self.entropy = entropy
        self.current: AttackRecipient | None = None
        self._kind = ""
        self._turn = 0
        self._taken: set[int] = set()
        self._matching = False
        self._respond: Lognormal | None = None
        self._approve = 0.0
        self._issuer: dict[str, Server] = {}
        self._attacks = attacks
        self._horizon = horizon
        #: attack processes still running (the replication ends once none is)
        self.active = 0

    def start(self) -> None:
        """Start every attack (once the network routes their messages here)."""
        attacks, horizon = self._attacks, self._horizon
        if attacks.pumping is not None:
            self.counts["pumping"] = AttackCounts()
            self._start(self._pumping(attacks.pumping, horizon))
        if attacks.push_bombing is not None:
            self.counts["push_bombing"] = AttackCounts()
            self._start(self._push_bombing(attacks.push_bombing, horizon))

    def _start(self, steps: Sleep) -> None:
        start(self.env, self._counted(steps))

    def _counted(self, steps: Sleep) -> Sleep:
        """``steps``, counted in ``active`` while it runs."""
        self.active += 1
        try:
            yield from steps
        finally:
            self.active -= 1

    # ------------------------------------------------------------------ the network's view

    def recipient(self, message: Message) -> AttackRecipient:
        assert self.current is not None
        return self.current

    def delivered(
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
    ) -> None:
        """A message of an attack's begin: counted; a push that reached a victim may be
        approved blindly."""
        counts = self.counts[self._kind]
        if loss_cause:
            counts.lost += 1
            return
        counts.delivered += 1
        victim = self.current.victim if self.current is not None else -1
        if victim >= 0 and self.stream.uniform() < self._approve:
            assert self._respond is not None
            wait = delivered_at - self.env.now + self._respond.sample(self.stream)
            self._start(self._approve_blindly(victim, message.auth_id, wait))

    # ------------------------------------------------------------------ calls to servers

    def _server(self) -> Server:
        server = self.servers[self._turn % len(self.servers)]
        self._turn += 1
        return server

    def _begin(
        self, kind: str, recipient: AttackRecipient, user_id: str, method: MethodType, ip: str
    ) -> tuple[Server, Any]:
        """One begin by an attacker: the engine's answer (``None`` if no provider took the
        message), counted."""
        server = self._server()
        self._kind, self.current = kind, recipient
        # the attack's codes, auth ids and senders, and its messages' fates, are drawn from
        # the attack's own streams (the engine's and the network's ports, swapped for the call)
        network, engine = self.network, server.engine
        users_stream, network.stream = network.stream, self.network_stream
        users_entropy, engine.entropy = engine.entropy, self.entropy
        try:
            result: Any = engine.begin(user_id, method, client_ip=ip)
        except DeliveryError:
            result = None
        finally:
            self.current = None
            network.stream = users_stream
            engine.entropy = users_entropy
        counts = self.counts[kind]
        if result is None:
            counts.note(self.env.now, "provider_error", None)
        elif isinstance(result, Denial):
            rule = result.fraud_rule.value if result.fraud_rule is not None else None
            counts.note(self.env.now, result.reason.value, rule)
        else:
            counts.note(self.env.now, "", None)
        return server, result

    # ------------------------------------------------------------------ SMS pumping

    def _pumping(self, spec: PumpingSpec, horizon: float) -> Sleep:
        counts = self.counts["pumping"]
        stream = self.stream
        numbers = [target_numbers(t) for t in spec.targets]
        weights = [t.numbers for t in spec.targets]
        cumulative = [sum(weights[: i + 1]) / sum(weights) for i in range(len(weights))]
        ips = bot_ips(spec.ips, spec.ip_count)
        registrar = self.servers[0].engine
        enrolled: dict[tuple[int, int], str] = {}
        recipients: dict[int, AttackRecipient] = {}
        method = MethodType(spec.channel)
        end = spec.start_s + (spec.duration_s or horizon)
        counts.span = end - spec.start_s
        target = ip = 0
        gap = 1.0 / spec.rate_per_s
        if spec.start_s:
            yield spec.start_s
        t = spec.start_s
        while t < end:
            if spec.rotate_on_refusal:
                which, where = target, ip
            else:
                which = stream.pick(cumulative) if len(cumulative) > 1 else 0
                where = min(int(stream.uniform() * len(ips)), len(ips) - 1)
            index = min(int(stream.uniform() * len(numbers[which])), len(numbers[which]) - 1)
            key = (which, index)
            user_id = enrolled.get(key)
            if user_id is None:
                user_id = enrolled[key] = f"bot-{which}-{index}"
                registrar.enrol_many(
                    [Enrolment(user_id=user_id, method=method, phone=numbers[which][index])]
                )
            recipient = recipients.get(which)
            if recipient is None:
                country = spec.targets[which].country
                recipient = recipients[which] = AttackRecipient(self.carriers.draw(country, stream))
            _, result = self._begin("pumping", recipient, user_id, method, ips[where])
            counts.note_country(
                spec.targets[which].country, result, refused=isinstance(result, Denial)
            )
            if spec.rotate_on_refusal and isinstance(result, Denial):
                target = (target + 1) % len(numbers)
                ip = (ip + 1) % len(ips)
            t += gap
            if t < end:
                yield t - self.env.now

    # ------------------------------------------------------------------ push bombing

    def _victims(self, spec: PushBombingSpec) -> list[int]:
        """The users whose passwords the attacker holds: drawn among those with push
        registered, enrolled (with push) ahead of the attack."""
        population = self.population
        candidates = [i for i, mask in enumerate(population.registered) if mask & _PUSH_BIT]
        count = min(spec.victims, len(candidates))
        picks = self.stream.generator.choice(len(candidates), size=count, replace=False)
        victims = sorted(candidates[int(i)] for i in picks)
        registrar = self.servers[0].engine
        population.enrol(victims, registrar)
        for index in victims:
            population.register_backup(index, "push", registrar)
        return victims

    def _push_bombing(self, spec: PushBombingSpec, horizon: float) -> Sleep:
        counts = self.counts["push_bombing"]
        victims = self._victims(spec)
        counts.victims = len(victims)
        ips = bot_ips(spec.ips, spec.ip_count)
        self._matching = self.servers[0].engine.policy.push_number_matching
        self._respond = Lognormal.from_median_p95(spec.response.median_s, spec.response.p95_s)
        self._approve = spec.approve_probability
        phones = {v: AttackRecipient(None, v) for v in victims}
        end = spec.start_s + (spec.duration_s or horizon)
        counts.span = end - spec.start_s
        gap = 1.0 / spec.rate_per_s
        if spec.start_s:
            yield spec.start_s
        t, turn, sends = spec.start_s, 0, 0
        while t < end and len(self._taken) < len(victims):
            victim = victims[turn % len(victims)]
            turn += 1
            if victim in self._taken:
                continue
            user_id = self.population.user_id(victim)
            server, result = self._begin(
                "push_bombing", phones[victim], user_id, MethodType.PUSH, ips[sends % len(ips)]
            )
            sends += 1
            if result is not None and not isinstance(result, Denial):
                self._issuer[result.auth_id] = server
            t += gap
            if t < end:
                yield t - self.env.now

    def _approve_blindly(self, victim: int, auth_id: str, wait: float) -> Sleep:
        """The victim approves a push they did not ask for; with number matching, typing a
        guess at the number they were never shown."""
        yield max(wait, 0.0)
        server = self._issuer.pop(auth_id, None)
        if victim in self._taken or server is None:
            return
        counts = self.counts["push_bombing"]
        counts.approvals += 1
        typed = None
        if self._matching:
            guess = int(self.stream.uniform() * PUSH_GUESS_ODDS)
            typed = PUSH_NUMBERS[0] + min(guess, PUSH_GUESS_ODDS - 1)
        key = self.population.device_key(victim)
        signature = sign_answer(key, auth_id, True, typed)
        verdict = server.engine.respond_push(auth_id, True, signature=signature, number=typed)
        if verdict.ok:
            self._taken.add(victim)
            counts.takeovers += 1
        else:
            reason = verdict.reason.value if verdict.reason is not None else "unknown"
            counts.answers[reason] = counts.answers.get(reason, 0) + 1
