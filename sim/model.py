"""One replication of a scenario: real engines on SimPy's clock, people, and the network.

Each simulated MFA server is a real ``mfa.Engine`` whose clock reads ``epoch + env.now``,
with its own ``MemoryPendingStore`` (or one ``SharedPendingStore`` for all), all sharing one
``InMemoryRepository`` the way a real cluster shares its database. Their delivery gateway is
the simulated network; their randomness a ``SeededEntropy`` drawn from this replication's
seed. A load balancer routes each begin and verify; a FIFO queue in front of each server
holds requests when its ``concurrency`` slots are busy.

Randomness: the replication's ``SeedSequence`` is split into independent streams (people,
arrivals, behaviour, network, engine entropy, server service times), so changing, say,
the number of servers leaves the arrivals and the population exactly as they were — a
sweep compares like with like.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from functools import partial
from typing import Any

import numpy as np
import simpy

from mfa.engine import Engine, ServerIdentity
from mfa.entropy import SeededEntropy
from mfa.fraud_counters import MemoryFraudCounters
from mfa.pending import MemoryPendingStore, PendingStore, SharedPendingStore
from mfa.policy import Mode, Policy, security_defaults
from mfa.repository import InMemoryRepository
from outputs.records import AuthRow, DeliveryRow, ResourceSample
from sim.attacks import Attackers
from sim.distributions import Lognormal, RandomStream, poisson_arrivals
from sim.network import CarrierTable, Conditions, DeliveryNetwork, sender_directory
from sim.people import LoadBalancer, People, Session
from sim.population import Population
from sim.queues import FifoQueue
from sim.scenario import Scenario, ServiceTime
from sim.summary import Tally
from sim.waits import start

__all__ = ["STREAMS", "Replication", "Server", "SimClock", "engine_policy"]

#: The independent random streams of a replication, in ``SeedSequence.spawn`` order.
#: (A stream added at the end leaves the earlier ones, and so every existing run, unchanged.)
STREAMS = (
    "population",
    "arrivals",
    "behaviour",
    "network",
    "entropy",
    "service",
    "balancer",
    "attacks",
    "attack_network",
    "attack_entropy",
)
#: Not a secret: the simulator's engines need a key for code digests, nothing more.
_SIM_KEY = b"mfalab-simulation-key-not-secret"


class SimClock:
    """The engine's ``Clock`` in a simulation: the epoch plus SimPy's ``env.now``."""

    __slots__ = ("_env", "epoch")

    def __init__(self, env: simpy.Environment, epoch: float) -> None:
        self._env = env
        self.epoch = epoch

    def now(self) -> float:
        return self.epoch + self._env.now


class Server:
    """One simulated MFA server: an engine, and the queue in front of it."""

    __slots__ = ("calls", "concurrency", "engine", "name", "queue", "service")

    def __init__(
        self, engine: Engine, concurrency: int, service: Callable[[], float] | None
    ) -> None:
        self.engine = engine
        self.name = engine.server.name
        self.concurrency = concurrency
        self.queue = FifoQueue(self.name, concurrency) if service is not None else None
        self.service = service or (lambda: 0.0)
        self.calls = 0


def _service_sampler(spec: ServiceTime, stream: RandomStream) -> Callable[[], float] | None:
    if spec.distribution == "lognormal":
        assert spec.median_s is not None and spec.p95_s is not None
        dist = Lognormal.from_median_p95(spec.median_s, spec.p95_s)
        return lambda: dist.sample(stream)
    mean = spec.mean_s
    if mean <= 0:
        return None
    if spec.distribution == "constant":
        return lambda: mean
    return partial(stream.exponential, mean)


def _store(shared: PendingStore | None) -> PendingStore:
    # not ``shared or …``: an empty store has len() 0 and would read as false
    return shared if shared is not None else MemoryPendingStore()


def engine_policy(scenario: Scenario) -> Policy:
    """The engines' rules for a scenario (mode, code lifetime, limits, allowed methods)."""
    servers = scenario.servers
    spec = scenario.policy
    policy = Policy(
        mode=Mode(servers.mode),
        pending_timeout_seconds=servers.timeout_s or Policy().pending_timeout_seconds,
        max_verify_attempts=spec.max_verify_attempts,
        lockout_threshold=spec.lockout_threshold,
        lockout_seconds=spec.lockout_s,
        max_sends=spec.max_sends,
        send_window_seconds=spec.send_window_s,
        push_number_matching=spec.push_number_matching,
        fraud=spec.fraud_in_force.policy(),
    )
    return security_defaults(policy) if spec.security_defaults else policy


class _Routed:
    """The network's recipient directory and delivery sink when attackers run: a message
    belongs to the real user whose begin is in progress, else to the attacker's."""

    __slots__ = ("attackers", "people")

    def __init__(self, people: People, attackers: Attackers) -> None:
        self.people = people
        self.attackers = attackers

    def recipient(self, message: Any) -> Any:
        if self.people.current is not None:
            return self.people.current
        return self.attackers.recipient(message)

    def delivered(self, message: Any, *fate: Any) -> None:
        if self.people.current is not None:
            self.people.delivered(message, *fate)
        else:
            self.attackers.delivered(message, *fate)


class Replication:
    """Build and run one replication; rows go to the sinks, counts to ``tally``."""

    def __init__(
        self,
        scenario: Scenario,
        seed: np.random.SeedSequence,
        index: int,
        *,
        on_auth: Callable[[AuthRow], None],
        on_delivery: Callable[[DeliveryRow], None],
        on_sample: Callable[[ResourceSample], None],
    ) -> None:
        self.scenario = scenario
        self.index = index
        self.on_sample = on_sample
        streams = dict(zip(STREAMS, seed.spawn(len(STREAMS)), strict=True))
        generators = {name: np.random.default_rng(s) for name, s in streams.items()}
        self.env = env = simpy.Environment()
        self.tally = Tally(index, code_lifetime=engine_policy(scenario).timeout_seconds)
        self.epoch = scenario.epoch_seconds
        clock = SimClock(env, self.epoch)
        self._arrival_rng = generators["arrivals"]
        self._behaviour = RandomStream(generators["behaviour"])

        carriers = CarrierTable(scenario)
        self.population = Population(scenario, generators["population"], carriers)
        self.conditions = Conditions(scenario.population)

        servers_spec = scenario.servers
        names = [f"mfa{i + 1}" for i in range(servers_spec.count)]
        self.balancer = LoadBalancer(
            servers_spec.lb_policy, names, RandomStream(generators["balancer"])
        )
        # the people object is the network's recipient directory and delivery sink
        self.people: People
        self.network = DeliveryNetwork(
            scenario,
            now=lambda: env.now,
            stream=RandomStream(generators["network"]),
            recipients=self,
            on_delivery=self._delivered,
        )
        gateway = self.network.gateway(clock)
        repository = InMemoryRepository(keep_logs=False)
        shared = SharedPendingStore() if servers_spec.pending_store == "shared" else None
        policy = engine_policy(scenario)
        self._pools = dict(scenario.routing.pools)
        directory = sender_directory(self._pools, scenario.routing)
        entropy = SeededEntropy(generators["entropy"])
        # one set of fraud counters for the cluster, as Redis would be (mfa.fraud_counters)
        fraud_counters = MemoryFraudCounters()
        service = _service_sampler(servers_spec.service_time, RandomStream(generators["service"]))
        self.servers = [
            Server(
                Engine(
                    server=ServerIdentity(name, ip=f"10.0.0.{i + 1}"),
                    clock=clock,
                    repository=repository,
                    pending=_store(shared),
                    gateway=gateway,
                    secret_key=_SIM_KEY,
                    policy=policy,
                    senders=directory,
                    entropy=entropy,
                    fraud_counters=fraud_counters,
                ),
                servers_spec.concurrency,
                service,
            )
            for i, name in enumerate(names)
        ]
        self.people = People(
            env=env,
            behaviour=scenario.user,
            stream=self._behaviour,
            population=self.population,
            servers=self.servers,
            balancer=self.balancer,
            tally=self.tally,
            on_auth=on_auth,
            on_delivery_row=on_delivery,
            replication=index,
            epoch=self.epoch,
        )
        # the people answer the network directly from now on (one call less per message)
        self.network.recipients = self.people
        self.network.on_delivery = self.people.delivered
        self.attackers: Attackers | None = None
        if scenario.attacks.any:
            self.attackers = Attackers(
                env,
                scenario.attacks,
                horizon=scenario.arrivals.duration_s,
                servers=self.servers,
                population=self.population,
                carriers=carriers,
                stream=RandomStream(generators["attacks"]),
                counts=self.tally.attacks,
                network=self.network,
                network_stream=RandomStream(generators["attack_network"]),
                entropy=SeededEntropy(generators["attack_entropy"]),
            )
            routed = _Routed(self.people, self.attackers)
            self.network.recipients = routed
            self.network.on_delivery = routed.delivered
            self.attackers.start()
        self.arrivals_done = False
        #: True once every authentication has finished and the last sample is taken
        self.done = False
        self.started = 0
        self._cycle: np.ndarray = np.zeros(0, dtype=np.int64)
        self._cycle_pos = 0
        self._last_counts: dict[tuple[str, str], int] = {}
        self._peaks: dict[tuple[str, str], float] = {}
        self._last_busy: dict[tuple[str, str], float] = {}
        start(env, self._arrivals())
        env.process(self._sampler())
        for change in scenario.routing.changes:
            env.process(self._route_change(change.at_s, change.country, change.pool))

    # -------------------------------------------------------------- network hooks

    def recipient(self, message: Any) -> Session:
        return self.people.recipient(message)

    def _delivered(self, *delivery: Any) -> None:
        self.people.delivered(*delivery)

    # -------------------------------------------------------------- processes

    def _user_indices(self, count: int) -> list[int]:
        """Who the next ``count`` arrivals are: uniform, or cycling through a permutation."""
        n = self.population.size
        rng = self._arrival_rng
        if self.scenario.arrivals.user_choice == "random":
            return rng.integers(0, n, size=count).tolist()
        out: list[int] = []
        while len(out) < count:
            if self._cycle_pos >= len(self._cycle):
                self._cycle = rng.permutation(n)
                self._cycle_pos = 0
            take = min(count - len(out), len(self._cycle) - self._cycle_pos)
            out.extend(self._cycle[self._cycle_pos : self._cycle_pos + take].tolist())
            self._cycle_pos += take
        return out

    def _arrivals(self) -> Generator[float, None, None]:
        env = self.env
        arrivals = self.scenario.arrivals
        population = self.population
        people = self.people
        conditions = self.conditions
        behaviour = self._behaviour
        registrar = self.servers[0].engine
        balancer = self.balancer
        # each user's country and carrier, as indices into the population's lists
        countries, country = population.countries, population.country
        carriers, carrier = population.carriers, population.carrier
        security_app = population.security_app  # bools, which a blocked user turns off
        starts = [p.start_s for p in arrivals.profile]
        rates = [p.rate_per_s for p in arrivals.profile]
        for times in poisson_arrivals(starts, rates, arrivals.duration_s, self._arrival_rng):
            users = self._user_indices(len(times))
            # the chunk's newcomers are enrolled now, ahead of their sign-ins
            ids = population.enrol(users, registrar)
            # connectivity and signal at each sign-in of the chunk, drawn at once
            drawn = conditions.draw_many(len(times), behaviour.generator)
            chunk = zip(times.tolist(), users, ids, *drawn, strict=True)
            for t, index, user_id, connectivity, signal in chunk:
                now = env.now
                if t > now:
                    yield t - now
                session = Session(
                    seq=self.started,
                    index=index,
                    user_id=user_id,
                    country=countries[country[index]],
                    carrier=carriers[carrier[index]],
                    security_app=security_app[index],
                    connectivity=connectivity,
                    signal=signal,
                    arrived=env.now,
                    home=balancer.home(user_id) if balancer.policy == "sticky" else 0,
                )
                self.started += 1
                start(env, people.sign_in(session))
        self.arrivals_done = True

    def _route_change(self, at: float, country: str, pool: Any) -> Any:
        yield self.env.timeout(at)
        self._pools[country] = pool
        directory = sender_directory(self._pools, self.scenario.routing)
        for server in self.servers:
            server.engine.senders = directory

    @property
    def finished(self) -> bool:
        return (
            self.arrivals_done
            and self.people.active == 0
            and (self.attackers is None or self.attackers.active == 0)
        )

    def _sampler(self) -> Any:
        env = self.env
        interval = self.scenario.output.sample_interval_s
        while True:
            yield env.timeout(interval)
            self._sample(env.now, interval)
            if self.finished:
                self.done = True
                return

    def _count(self, kind: str, name: str, total: int) -> int:
        key = (kind, name)
        before = self._last_counts.get(key, 0)
        self._last_counts[key] = total
        return total - before

    def _emit(self, t: float, kind: str, name: str, queued: int, busy: int, cap: float, u: float):
        key = (kind, name)
        if u > self._peaks.get(key, 0.0):
            self._peaks[key] = u
        self.on_sample(
            ResourceSample(
                replication=self.index,
                time=t,
                kind=kind,
                name=name,
                queue_length=queued,
                busy=busy,
                capacity=cap,
                utilisation=u,
            )
        )

    def _sample(self, t: float, interval: float) -> None:
        for line in self.network.senders.values():
            q = line.queue
            started = self._count("sender", line.address, q.started(t))
            busy = q.busy_time_until(t)
            key = ("sender", line.address)
            busy_before = self._last_busy.get(key, 0.0)
            self._last_busy[key] = busy
            self._emit(
                t,
                "sender",
                line.address,
                q.queue_length(t),
                started,
                line.throughput,
                min(1.0, (busy - busy_before) / (q.slots * interval)),  # 1.0000000001
            )
        for provider in self.network.providers:
            accepted = self._count("provider", provider.name, provider.accepted)
            self._emit(
                t,
                "provider",
                provider.name,
                0,
                accepted,
                provider.capacity,
                # the one-second burst can let an interval pass the rate: at most 100 %
                min(1.0, accepted / (provider.capacity * interval)),
            )
        for server in self.servers:
            q = server.queue
            busy = q.busy(t) if q else 0
            self._emit(
                t,
                "server",
                server.name,
                q.queue_length(t) if q else 0,
                busy,
                float(server.concurrency),
                busy / server.concurrency,
            )

    # -------------------------------------------------------------- running

    def run(self, until: float | None = None) -> None:
        """Advance to ``until`` (simulated seconds) or, without it, to the end."""
        if until is None:
            self.env.run()
        elif until > self.env.now:
            self.env.run(until=until)

    def close(self) -> Tally:
        """Fill in the per-resource figures of the tally once the run has ended, and let go
        of the engines (the replication cannot run on after this)."""
        span = max(self.env.now, 1e-9)
        tally = self.tally
        tally.end_time = self.env.now
        senders: dict[str, dict[str, Any]] = {}
        for line in self.network.senders.values():
            q = line.queue
            if not q.admitted:
                continue
            senders[line.address] = {
                "kind": line.kind,
                "throughput_per_s": line.throughput,
                "messages": q.admitted,
                "mean_wait_s": q.mean_wait,
                "max_wait_s": q.max_wait,
                "peak_queue": q.peak_queue,
                "utilisation": q.busy_time_until(span) / (q.slots * span),
                "peak_utilisation": self._peaks.get(("sender", line.address), 0.0),
            }
        providers = {
            p.name: {
                "accepted": p.accepted,
                "errors": p.errors,
                "throttled": p.throttled,
                "utilisation": min(1.0, p.accepted / (p.capacity * span)),
                "peak_utilisation": self._peaks.get(("provider", p.name), 0.0),
            }
            for p in self.network.providers
        }
        servers = {}
        for server in self.servers:
            q = server.queue
            servers[server.name] = {
                "calls": server.calls,
                "wait_probability": q.wait_probability if q else 0.0,
                "mean_wait_s": q.mean_wait if q else 0.0,
                "max_wait_s": q.max_wait if q else 0.0,
                "peak_queue": q.peak_queue if q else 0,
                "utilisation": q.busy_time_until(span) / (server.concurrency * span) if q else 0.0,
                "peak_utilisation": self._peaks.get(("server", server.name), 0.0),
            }
        tally.resources = {"sender": senders, "provider": providers, "server": servers}
        # The engines hold every user, method and authentication of the run, the bulk of a
        # replication's memory: dropping them here frees it at once by reference counting,
        # rather than with the rest of this (cyclic) object graph in a collector's full pass.
        self.servers = self.people.servers = []
        if self.attackers is not None:
            self.attackers.servers = []
        self.population.device_keys.clear()  # the apps' keys, likewise (one per push user)
        return tally
