"""How a person signs in: wait for the code, type it, ask again, switch methods, give up.

One ``Session`` is one authentication by one user (every resend, retry and fallback
included). ``People.sign_in`` is its process (a light one, ``sim.waits``: it yields the
seconds it waits). The person only ever talks to the servers the load balancer picks and
reads what reached their phone; every verdict comes from the engine — this module never
decides that a code is expired, from the wrong server or over a limit, it only reacts to
what the engine answered:

- sms, voice, push: ask for a code (begin); wait up to ``resend_after_s`` for something to
  arrive; read and type it (a typo now and then, retyped once noticed) — for push, approve
  in the app, typing the number the sign-in page shows (with the same typo rate; the app
  signs the answer with its key); on a denial other than a wrong code, or when nothing
  came, ask again — at most ``max_attempts`` times within
  ``window_s``, each time with ``retry_probability`` of bothering;
- totp and hardware tokens: open the app or token, type the code; a code already used in
  this time step is refused by the engine, so the person waits for the next one;
- then the next registered method in ``fallback_order``, with ``fallback_probability``.

A code that arrives late, after a resend, is typed into the newest authentication — the
engine calls it a wrong code, as a real server would.
"""

from __future__ import annotations

import itertools
import zlib
from collections.abc import Callable, Generator
from typing import TYPE_CHECKING, Any

import simpy

from mfa.delivery.message import Channel, Message, extract_code
from mfa.engine import parse_auth_id
from mfa.errors import DeliveryError
from mfa.methods import MethodType
from mfa.otp import TOTP_PERIOD_SECONDS, match_totp, totp_at
from mfa.outcomes import Challenge, Denial, Verdict
from mfa.push_proof import sign_answer
from mfa.reasons import DenialReason
from outputs.records import AuthRow, DeliveryRow
from sim.distributions import Lognormal, RandomStream
from sim.network import CarrierModel
from sim.population import Population
from sim.scenario import UserBehaviour
from sim.summary import Tally

if TYPE_CHECKING:
    from mfa.engine import Engine
    from sim.model import Server

__all__ = ["LoadBalancer", "People", "Session"]

SUCCESS, NEXT, STOP = 0, 1, 2
_DELIVERED = frozenset({"sms", "voice", "push"})
_METHOD = {m.value: m for m in MethodType}
# enum values by dict (an enum's ``.value`` is a Python-level property, on the hot path)
_CHANNEL = {c: c.value for c in Channel}
_REASON = {r: r.value for r in DenialReason}
_FRAUD = frozenset({DenialReason.FRAUD_SUSPECTED.value, DenialReason.COUNTRY_BLOCKED.value})
NAN = float("nan")


class Session:
    """One authentication in progress; also the network's view of the recipient."""

    __slots__ = (
        "arrived",
        "begins",
        "billable",
        "carrier",
        "connectivity",
        "country",
        "deliveries",
        "expired",
        "first_provider",
        "first_sender",
        "first_sender_kind",
        "fraud_hits",
        "home",
        "inbox",
        "index",
        "initial_security_app",
        "lag",
        "last_kind",
        "last_reason",
        "methods_used",
        "rate_limited",
        "security_app",
        "seq",
        "server",
        "server_wait",
        "servers",
        "signal",
        "user_id",
        "verifies",
        "wrong_server",
    )

    def __init__(
        self,
        *,
        seq: int,
        index: int,
        user_id: str,
        country: str,
        carrier: CarrierModel,
        security_app: bool,
        connectivity: str,
        signal: str,
        arrived: float,
        home: int,
    ) -> None:
        self.seq = seq
        self.index = index
        self.user_id = user_id
        self.country = country
        self.carrier = carrier
        self.security_app = security_app
        self.initial_security_app = security_app
        self.connectivity = connectivity
        self.signal = signal
        self.arrived = arrived
        self.home = home
        self.methods_used: list[str] = []
        self.servers: list[str] = []
        self.inbox: list[tuple[float, str, str]] = []  # (arrives at, code, auth id)
        self.begins = self.verifies = self.deliveries = self.billable = 0
        self.wrong_server = self.expired = self.rate_limited = 0
        self.fraud_hits = 0  # begins a fraud defence refused
        self.first_sender = self.first_sender_kind = self.first_provider = ""
        self.server = ""
        self.server_wait = 0.0
        self.lag = 0.0  # seconds until the last answer reaches the person
        self.last_kind = "abandoned"
        self.last_reason = "no_method"

    def next_message(self, deadline: float) -> tuple[float, str, str] | None:
        """The earliest message arriving by ``deadline``, taken out of the inbox."""
        inbox = self.inbox
        if not inbox:
            return None
        if len(inbox) == 1:  # the usual case: one message per begin
            return inbox.pop() if inbox[0][0] <= deadline else None
        best = min(range(len(inbox)), key=lambda i: inbox[i][0])
        if inbox[best][0] > deadline:
            return None
        return inbox.pop(best)


class LoadBalancer:
    """Which server gets a request: round robin, random, sticky by user, or by the auth id.

    ``round_robin`` is nginx's: one strict rotation that every request advances, so with
    few clients a sign-in's begin and verify fall on fixed turns (with one client and two
    servers, always on different servers). ``random`` is nginx's ``random``: each request
    lands on a server independently of the last, so a verify reaches the issuer 1 time in k.
    """

    __slots__ = ("_by_name", "_count", "_rng", "_turns", "policy")

    def __init__(self, policy: str, names: list[str], rng: RandomStream | None = None) -> None:
        self.policy = policy
        self._count = len(names)
        self._by_name = {name: i for i, name in enumerate(names)}
        self._turns = itertools.cycle(range(self._count))  # round robin: 0, 1, …, 0, 1, …
        self._rng = rng

    def _next(self) -> int:
        if self.policy == "random" and self._rng is not None:
            return min(int(self._rng.uniform() * self._count), self._count - 1)
        return next(self._turns)

    def home(self, user_id: str) -> int:
        """A stable per-user server (CRC32, unlike Python's salted hash)."""
        return zlib.crc32(user_id.encode()) % self._count

    def begin(self, session: Session) -> int:
        if self.policy == "sticky":
            return session.home
        return self._next()

    def verify(self, session: Session, auth_id: str) -> int:
        if self.policy == "sticky":
            return session.home
        if self.policy == "auth_id":
            parsed = parse_auth_id(auth_id)
            if parsed is not None and parsed[0] in self._by_name:
                return self._by_name[parsed[0]]
        return self._next()


class People:
    """The behaviour of every user in one replication."""

    def __init__(
        self,
        *,
        env: simpy.Environment,
        behaviour: UserBehaviour,
        stream: RandomStream,
        population: Population,
        servers: list[Server],
        balancer: LoadBalancer,
        tally: Tally,
        on_auth: Callable[[AuthRow], None],
        on_delivery_row: Callable[[DeliveryRow], None],
        replication: int,
        epoch: float,
    ) -> None:
        self.env = env
        self.stream = stream
        self.population = population
        self.servers = servers
        self.balancer = balancer
        self.tally = tally
        self.on_auth = on_auth
        self.on_delivery_row = on_delivery_row
        self.replication = replication
        self.epoch = epoch
        self.current: Session | None = None  # the session whose begin is in progress
        self.active = 0
        b = behaviour
        self.read = Lognormal.from_median_p95(b.read_and_type.median_s, b.read_and_type.p95_s)
        self.respond = Lognormal.from_median_p95(b.push_response.median_s, b.push_response.p95_s)
        self.resend_after = b.resend_after_s
        self.max_attempts = b.max_attempts
        self.window = b.window_s
        self.retry = tuple(b.retry_probability)
        self.fallback = b.fallback_probability
        self.typo = b.typo_probability
        self.deny = b.push_deny_probability
        self.disable_app = b.security_app_disable_probability

    # ------------------------------------------------------------------ the network's view

    def recipient(self, message: Any) -> Session:
        """``RecipientDirectory``: a message is for the session whose begin sent it."""
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
        """Every message's fate, as soon as it is known (the network's ``DeliverySink``): a
        row, and the phone's inbox."""
        s = self.current
        assert s is not None
        s.deliveries += 1
        channel = _CHANNEL[message.channel]
        if channel != "push" and not s.first_sender:
            s.first_sender, s.first_sender_kind, s.first_provider = sender, sender_kind, provider
        self.on_delivery_row(
            DeliveryRow(
                replication=self.replication,
                auth_seq=s.seq,
                attempt=s.deliveries,
                auth_id=message.auth_id,
                channel=channel,
                country=s.country,
                carrier=carrier,
                provider=provider,
                sender=sender,
                sender_kind=sender_kind,
                server=s.server,
                requested_at=requested_at,
                sent_at=sent_at,
                delivered_at=delivered_at,
                loss_cause=loss_cause,
                failovers=failovers,
            )
        )
        if not loss_cause:
            code = "" if channel == "push" else extract_code(message.text) or ""
            s.inbox.append((delivered_at, code, message.auth_id))

    # ------------------------------------------------------------------ calls to servers

    def _queue(self, s: Session, server: Server) -> float:
        """Queue a request arriving now at ``server``: returns the wait for a free slot and
        leaves the service time in ``s.lag`` (the answer reaches the person that much
        later; the engine handles the request when its slot frees up). Callers let an
        answer still on its way (``s.lag``) reach the person first, so requests reach the
        queues in time order, which the FIFO recursion relies on."""
        server.calls += 1
        queue = server.queue
        if queue is None:
            return 0.0
        now = self.env.now
        service = server.service()
        start = queue.admit(now, service)
        s.lag = service
        if start > now:
            s.server_wait += start - now
            return start - now
        return 0.0

    def _pause(self, s: Session, seconds: float) -> float:
        """A wait of ``seconds`` after the last answer has reached the person."""
        lag, s.lag = s.lag, 0.0
        return seconds + lag

    def _begin(self, s: Session, method: str) -> Generator[float, None, Challenge | Denial | None]:
        server = self.servers[self.balancer.begin(s)]
        if s.lag:
            yield self._pause(s, 0.0)  # the last answer reaches the person first
        wait = self._queue(s, server)
        if wait:
            yield wait
        s.servers.append(server.name)
        s.begins += 1
        s.server = server.name
        self.current = s
        try:
            result = server.engine.begin(s.user_id, _METHOD[method])
        except DeliveryError:
            return None
        finally:
            self.current = None
        if isinstance(result, Denial):
            reason = _REASON[result.reason]
            self._denied(s, reason)
            if reason == "rate_limited":
                s.rate_limited += 1
            elif reason in _FRAUD:
                s.fraud_hits += 1
        else:
            s.billable += 1
        return result

    def _verify(
        self, s: Session, auth_id: str, code: str | None, shown: int | None = None
    ) -> Generator[float, None, Verdict]:
        """Check a code (``code``) or answer a push (``code is None``; ``shown`` is the
        number the sign-in page shows, with number matching)."""
        server = self.servers[self.balancer.verify(s, auth_id)]
        if s.lag:
            yield self._pause(s, 0.0)  # the last answer reaches the person first
        wait = self._queue(s, server)
        if wait:
            yield wait
        s.servers.append(server.name)
        s.verifies += 1
        engine = server.engine
        if code is None:
            verdict = self._answer_push(s, engine, auth_id, shown)
        else:
            verdict = engine.verify(auth_id, code)
        if not verdict.ok:
            assert verdict.reason is not None
            reason = _REASON[verdict.reason]
            self._denied(s, reason)
            if reason == "wrong_server":
                s.wrong_server += 1
            elif reason == "expired":
                s.expired += 1
        return verdict

    def _answer_push(self, s: Session, engine: Engine, auth_id: str, shown: int | None) -> Verdict:
        """The person approves (typing the page's number into the app, a typo now and then)
        or denies; the app signs the answer with its key, and the engine checks it."""
        key = self.population.device_key(s.index)
        if self.deny and self.stream.uniform() < self.deny:
            signature = sign_answer(key, auth_id, False)
            return engine.respond_push(auth_id, False, signature=signature)
        typed = shown
        if shown is not None and self.typo and self.stream.uniform() < self.typo:
            typed = int(_mistyped(str(shown)))  # still two digits: 19 → 10
        signature = sign_answer(key, auth_id, True, typed)
        return engine.respond_push(auth_id, True, signature=signature, number=typed)

    def _denied(self, s: Session, reason: str) -> None:
        self.tally.engine_denials[reason] += 1
        s.last_kind = "denied"
        s.last_reason = reason

    def _typed(self, code: str) -> tuple[str, bool]:
        """What the person types for ``code``, and whether it is a typo."""
        if self.typo and self.stream.uniform() < self.typo:
            return _mistyped(code), True
        return code, False

    # ------------------------------------------------------------------ the sign-in

    def sign_in(self, s: Session) -> Generator[float, None, None]:
        self.active += 1
        stream = self.stream
        plan = self.population.plan(s.index)
        result = NEXT
        for k, method in enumerate(plan):
            if k:
                if self.fallback < 1.0 and stream.uniform() >= self.fallback:
                    break
                self.population.register_backup(s.index, method, self.servers[0].engine)
            s.methods_used.append(method)
            if method in _DELIVERED:
                result = yield from self._delivered_method(s, method)
            else:
                result = yield from self._token_method(s, method)
            if result != NEXT:
                break
        self._finish(s, result == SUCCESS)

    def _retries(self, attempts: int) -> bool:
        """Does the person ask again after ``attempts`` failed attempts?"""
        retry = self.retry
        chance = retry[min(attempts, len(retry)) - 1]
        return chance >= 1.0 or self.stream.uniform() < chance

    def _delivered_method(self, s: Session, method: str) -> Generator[float, None, int]:
        env = self.env
        started = env.now
        attempts = 0
        push = method == "push"
        while attempts < self.max_attempts and env.now - started < self.window:
            if attempts and not self._retries(attempts):
                s.last_kind, s.last_reason = "abandoned", "gave_up"
                return STOP
            attempts += 1
            begun = yield from self._begin(s, method)
            if begun is None:  # no provider took it: the page says so at once
                s.last_kind, s.last_reason = "abandoned", "no_code"
                yield self._pause(s, self.read.sample(self.stream))
                continue
            if isinstance(begun, Denial):
                return STOP if begun.reason is DenialReason.LOCKED_OUT else NEXT
            got_any = False
            deadline = env.now + s.lag + self.resend_after  # from when the page shows
            while True:
                item = s.next_message(deadline)
                if item is None:
                    if deadline - env.now > s.lag:
                        s.lag = 0.0
                        yield deadline - env.now
                    break
                got_any = True
                arrives, code, auth_id = item
                ready = env.now + s.lag
                s.lag = 0.0
                wait = (arrives if arrives > ready else ready) - env.now
                if push:
                    yield wait + self.respond.sample(self.stream)
                    verdict = yield from self._verify(s, auth_id, None, begun.number)
                else:
                    yield wait + self.read.sample(self.stream)
                    verdict = yield from self._type(s, begun.auth_id, code)
                if verdict.ok:
                    return SUCCESS
                reason = _REASON[verdict.reason] if verdict.reason else ""
                if reason == "locked_out":
                    return STOP
                if reason != "wrong_code":
                    break
            if not got_any:
                s.last_kind, s.last_reason = "abandoned", "no_code"
                if s.security_app and self.stream.uniform() < self.disable_app:
                    s.security_app = False  # the seed: disable the protection, ask again
                    self.population.security_app[s.index] = False
        return NEXT

    def _type(self, s: Session, auth_id: str, code: str) -> Generator[float, None, Verdict]:
        """Type a code; a noticed typo is retyped (the engine counts every check)."""
        typed, typo = self._typed(code)
        verdict = yield from self._verify(s, auth_id, typed)
        while typo and not verdict.ok and verdict.reason is not None:
            if verdict.reason is not DenialReason.WRONG_CODE:
                break
            yield self._pause(s, self.read.sample(self.stream))
            typed, typo = self._typed(code)
            verdict = yield from self._verify(s, auth_id, typed)
        return verdict

    def _secret(self, s: Session, method: str) -> str:
        """The base32 secret behind the person's authenticator app or hardware token."""
        population = self.population
        secrets = population.totp_secret if method == "totp" else population.token_secret
        return secrets[s.index]

    def _period(self, s: Session, method: str) -> int:
        """The time step of the person's app (the engine's totp step) or hardware token."""
        if method == "totp":
            return TOTP_PERIOD_SECONDS
        return self.population.token_period[s.index]

    def _token_code(self, s: Session, method: str) -> str:
        now = self.epoch + self.env.now
        return totp_at(self._secret(s, method), now, period=self._period(s, method))

    def _token_method(self, s: Session, method: str) -> Generator[float, None, int]:
        env = self.env
        started = env.now
        attempts = 0
        while attempts < self.max_attempts and env.now - started < self.window:
            if attempts and not self._retries(attempts):
                s.last_kind, s.last_reason = "abandoned", "gave_up"
                return STOP
            attempts += 1
            begun = yield from self._begin(s, method)
            if begun is None:
                return NEXT
            if isinstance(begun, Denial):
                return STOP if begun.reason is DenialReason.LOCKED_OUT else NEXT
            yield self._pause(s, self.read.sample(self.stream))
            while True:
                code = self._token_code(s, method)
                typed, typo = self._typed(code)
                if typo:
                    typed = self._not_in_window(s, method, typed)
                verdict = yield from self._verify(s, begun.auth_id, typed)
                if verdict.ok:
                    return SUCCESS
                reason = _REASON[verdict.reason] if verdict.reason else ""
                if reason == "locked_out":
                    return STOP
                if reason == "replayed":  # this step's code was used: wait for the next
                    period = self._period(s, method)
                    step_left = period - (self.epoch + env.now) % period
                    if step_left > s.lag:
                        s.lag = 0.0
                        yield step_left + self.read.sample(self.stream)
                    else:
                        yield self._pause(s, self.read.sample(self.stream))
                    continue
                if reason == "wrong_code" and typo:
                    yield self._pause(s, self.read.sample(self.stream))
                    continue
                break
        return NEXT

    def _not_in_window(self, s: Session, method: str, typed: str) -> str:
        """A typo that the engine's TOTP window (its policy's steps either side) happens to
        accept is mistyped further: a mistyped code is one the engine refuses, whatever the
        secret."""
        secret = self._secret(s, method)
        now = self.epoch + self.env.now
        window = self.servers[0].engine.policy.totp_window_steps
        period = self._period(s, method)
        while match_totp(secret, typed, now, period=period, window=window) is not None:
            typed = _mistyped(typed)
        return typed

    def _finish(self, s: Session, success: bool) -> None:
        self.active -= 1
        now = self.env.now + s.lag  # when the last answer reached the person
        if success:
            outcome, reason, tta = "success", "", now - s.arrived
        else:
            outcome, reason, tta = s.last_kind, s.last_reason, NAN
        methods = s.methods_used
        if s.fraud_hits:
            self.tally.note_fraud_hit(tta if success else None)
        self.on_auth(
            AuthRow(
                replication=self.replication,
                auth_seq=s.seq,
                user_id=s.user_id,
                country=s.country,
                carrier=s.carrier.name,
                licensed=self.population.licensed(s.index),
                method_first=methods[0] if methods else "",
                methods_used=">".join(methods),
                arrived_at=s.arrived,
                finished_at=now,
                outcome=outcome,
                reason=reason,
                begins=s.begins,
                verifies=s.verifies,
                time_to_auth=tta,
                servers=">".join(s.servers),
                wrong_server=s.wrong_server,
                expired=s.expired,
                rate_limited=s.rate_limited,
                first_sender=s.first_sender,
                first_sender_kind=s.first_sender_kind,
                first_provider=s.first_provider,
                server_wait=s.server_wait,
                connectivity=s.connectivity,
                signal=s.signal,
                security_app=s.initial_security_app,
                billable=s.billable,
            )
        )


def _mistyped(code: str) -> str:
    """``code`` with its last digit one off, as a slip of the finger types it."""
    return code[:-1] + str((int(code[-1]) + 1) % 10)
