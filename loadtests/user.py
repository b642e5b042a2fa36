"""The base of every MFA user: a flow (one way to sign in) and the user that runs flows.

A locustfile holds its own flow and User class; what they share is here: calling the API
(routed, named, failed with the server's denial reason), timing a login from its start or
from its scheduled arrival, and the enrolment on start. What the client decides on its own
is only what a person would: how long to wait for a text before asking for a new one, which
code the phone shows, and when to give up."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any, ClassVar

import gevent
from locust import FastHttpUser
from locust.contrib.fasthttp import FastHttpSession
from locust.env import Environment
from locust.event import EventHook

from loadtests import summary  # noqa: F401  (the end of a run: login summary, CSV, thresholds)
from loadtests.context import custom_stats, shared_context
from loadtests.names import ARRIVAL, LOGIN, N_BEGIN, N_SETUP_USER, N_VERIFY, SETUP
from loadtests.options import LoadOptions
from loadtests.replies import Denied, Reply, failure_reason, json_body
from loadtests.shapes import ArrivalLimiter


class Flow:
    """One way to log in; ``login`` returns ``None`` on success or the failure's reason."""

    name: ClassVar[str] = ""

    def __init__(self, user: MfaUser) -> None:
        self.user = user

    def enrol(self) -> str | None:
        """Per-user enrolment (on start); returns a failure reason or ``None``."""
        return None

    def ready(self) -> None:
        """Wait until a login can start (before taking an arrival)."""

    def login(self) -> str | None:
        raise NotImplementedError

    def begin(self, user_id: str) -> Reply:
        return self.user.call(
            "POST",
            "/v1/auth",
            N_BEGIN.format(flow=self.name),
            {"user_id": user_id, "method": self.name},
            expected=201,
        )

    def verify(self, auth_id: str, code: str) -> Reply:
        return self.user.call(
            "POST",
            f"/v1/auth/{auth_id}/verify",
            N_VERIFY.format(flow=self.name),
            {"code": code},
            auth_id=auth_id,
        )

    def create_user(self) -> tuple[str, str | None]:
        user_id = self.user.shared.new_user_id(self.name)
        reply = self.user.call(
            "POST", "/v1/users", N_SETUP_USER, {"user_id": user_id}, expected=201
        )
        return user_id, reply.reason


def think_time(user: MfaUser) -> float:
    """A user's ``wait_time``: ``--think`` seconds between logins in the closed workload;
    none in the open one (``--rate``), where the arrival schedule paces the logins."""
    if user.shared.arrivals is not None:
        return 0.0
    low, high = user.shared.options.think
    return user.shared.rng.uniform(low, high)


class MfaUser(FastHttpUser):
    """A person logging in again and again with the flows of ``flow_weights`` (the mixed user
    takes ``--mix``). Closed workload: think ``--think`` seconds between logins; open
    workload (``--rate``): take the next start from the process's arrival schedule."""

    abstract = True
    #: the flows this user can sign in with, by name (a locustfile names its own)
    flow_types: ClassVar[Mapping[str, type[Flow]]] = {}

    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        self.shared = shared_context(environment)
        self.pinned = self.shared.router.pin()
        # one simulated client: nginx's sticky policy keys on this header, as all users
        # share the load generator's address
        self.headers = {**self.shared.headers, "X-Client-Id": self.shared.new_user_id("client")}
        self.mix = dict(self.flow_weights(self.shared.options))
        self.flows = {name: self.flow_types[name](self) for name, w in self.mix.items() if w > 0}
        self._setup: FastHttpSession | None = None

    @classmethod
    def flow_weights(cls, options: LoadOptions) -> Mapping[str, float]:
        """The flows this user runs and their weights (the mixed user reads ``--mix``)."""
        return dict.fromkeys(cls.flow_types, 1.0)

    def on_start(self) -> None:
        for flow in self.flows.values():
            self.enrol(flow)

    def enrol(self, flow: Flow) -> None:
        """Enrol for ``flow`` before the first login; a refusal is recorded as a failed
        login of that flow (the person could not sign in)."""
        if not self.shared.ready:  # the setup failed: the run is quitting
            return
        failed = flow.enrol()
        if failed:
            self._record(flow.name, time.perf_counter(), failed)

    def pick_flow(self) -> Flow:
        """A flow drawn by weight from the run's seeded random numbers (``--seed``)."""
        names = list(self.flows)
        weights = [self.mix[n] for n in names]
        return self.flows[self.shared.rng.choices(names, weights)[0]]

    def sign_in(self, flow: Flow | None = None) -> None:
        """One login with ``flow`` (default: one drawn by weight), timed from its start, or,
        in the open workload, from the arrival it takes; recorded in the ``LOGIN`` rows."""
        if not self.shared.ready:  # the setup failed: wait for the quit, log in never
            gevent.sleep(1.0)
            return
        flow = flow or self.pick_flow()
        flow.ready()
        started = time.perf_counter()
        arrivals = self.shared.arrivals
        if arrivals is not None:
            _scheduled, lag = arrivals.wait()
            # a login is timed from its scheduled start: a late start is part of its time
            started = time.perf_counter() - lag
            custom_stats(self.environment).log_request(ARRIVAL, "started", lag * 1000.0, 0)
            self._report_dropped(arrivals)
        try:
            reason = flow.login()
        except Exception:
            self._record(flow.name, started, "client_exception")
            raise
        self._record(flow.name, started, reason)

    def _report_dropped(self, arrivals: ArrivalLimiter) -> None:
        stats = custom_stats(self.environment)
        while arrivals.dropped:
            arrivals.dropped -= 1
            stats.log_request(ARRIVAL, "dropped", 0, 0)

    def _record(self, flow: str, started: float, reason: str | None) -> None:
        stats = custom_stats(self.environment)
        stats.log_request(LOGIN, flow, (time.perf_counter() - started) * 1000.0, 0)
        if reason is not None:
            stats.log_error(LOGIN, flow, reason)

    def call(
        self,
        method: str,
        path: str,
        name: str,
        payload: Mapping[str, Any] | None = None,
        *,
        expected: int = 200,
        auth_id: str | None = None,
        base: str | None = None,
    ) -> Reply:
        """One API request, routed, recorded under ``name`` and failed with the engine's
        denial reason when the server gives one."""
        url = (base or self.shared.router.base(self.pinned, auth_id)) + path
        client = self._setup_client() if name.endswith(" (setup)") else self.client
        with client.request(
            method,
            url,
            name=name,
            json=None if payload is None else dict(payload),
            headers=self.headers,
            catch_response=True,
        ) as response:
            body = json_body(response) if response.status_code else None
            error = getattr(response, "error", None)
            reason = failure_reason(response.status_code, expected, body, error)
            if reason is None:
                response.success()
            else:
                response.failure(Denied(reason))
        return Reply(response.status_code, body, reason)

    def _setup_client(self) -> FastHttpSession:
        """A session for this user's enrolment: its requests go to the ``SETUP`` rows of the
        login statistics, not to Locust's request table (whose totals and thresholds
        measure the sign-ins)."""
        if self._setup is None:
            hook = EventHook()
            stats = custom_stats(self.environment)

            def record(name: str, response_time: float, exception: Any = None, **_: Any) -> None:
                stats.log_request(SETUP, name, response_time, 0)
                if exception is not None:
                    stats.log_error(SETUP, name, exception)

            hook.add_listener(record)
            self._setup = FastHttpSession(self.host, request_event=hook, user=None)
        return self._setup
