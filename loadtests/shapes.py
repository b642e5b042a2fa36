"""The load over time (closed users, an arrival rate, a storm, steps) and the open
workload's arrival schedule."""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import gevent
from locust import LoadTestShape

from loadtests.options import optional_number, parse_shape_params


@dataclass(frozen=True, slots=True)
class Profile:
    """The load over time as a fraction of the peak (of ``--users`` or ``--rate``)."""

    shape: str = "constant"
    ramp: float = 0.0
    hold: float = 0.0
    decay: float = 0.0
    base: float = 0.1
    step: float = 10.0
    steps: int = 5

    @classmethod
    def resolve(cls, shape: str, params: Mapping[str, float], duration: float | None) -> Profile:
        """Fill what ``--shape-params`` left out from the run time (60 s when none)."""
        total = duration or 60.0
        if shape == "storm":
            return cls(
                "storm",
                ramp=params.get("ramp", 0.25 * total),
                hold=params.get("hold", 0.15 * total),
                decay=params.get("decay", 0.60 * total),
                base=min(1.0, params.get("base", 0.1)),
            )
        if shape == "step":
            steps = int(params.get("steps", 5))
            return cls("step", step=params.get("step", total / steps), steps=steps)
        return cls("constant")

    def level(self, t: float) -> float:
        if self.shape == "storm":
            if t < self.ramp:
                return self.base + (1.0 - self.base) * t / self.ramp
            t -= self.ramp
            if t < self.hold:
                return 1.0
            t -= self.hold
            if t < self.decay:
                return 1.0 - (1.0 - self.base) * t / self.decay
            return self.base
        if self.shape == "step":
            return min(self.steps, int(t // self.step) + 1) / self.steps
        return 1.0

    @property
    def length(self) -> float | None:
        """When the shape is over (``None``: it runs until the run time or Ctrl-C)."""
        if self.shape == "storm":
            return self.ramp + self.hold + self.decay
        if self.shape == "step":
            return self.step * self.steps
        return None

    def as_dict(self) -> dict[str, Any]:
        return {f: getattr(self, f) for f in self.__slots__}  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class LoadPlan:
    """How many users run and, in the open workload, how many logins start per second.

    Closed (``rate is None``): ``users × level(t)`` users, each logging in, thinking and
    logging in again. Open: ``users`` users take their turns from an arrival schedule of
    ``rate × level(t)`` starts per second, so the start rate does not slow down when the
    servers do (the difference between a login storm and a polite benchmark).
    """

    profile: Profile
    users: int
    spawn_rate: float
    rate: float | None = None
    duration: float | None = None

    @classmethod
    def of(cls, options: Any) -> LoadPlan:
        """From Locust's ``-u``/``-r``/``-t`` and ours (``--rate``, ``--shape``, ...)."""
        rate = optional_number(getattr(options, "rate", None), float)
        duration = getattr(options, "run_time", None) or None
        params = getattr(options, "shape_params", "") or ""
        profile = Profile.resolve(
            getattr(options, "shape", "constant"), parse_shape_params(params), duration
        )
        users = None if getattr(options, "mfalab_auto_users", False) else options.num_users
        if rate is not None:
            users = users or max(10, math.ceil(rate * 2))
        users = max(1, int(users or 1))
        spawn_rate = None if getattr(options, "mfalab_auto_spawn", False) else options.spawn_rate
        spawn_rate = spawn_rate or min(float(users), 100.0)
        return cls(profile, users, float(spawn_rate), rate, duration)

    def tick(self, t: float) -> tuple[int, float] | None:
        ends = [x for x in (self.duration, self.profile.length) if x]
        if ends and t >= min(ends):
            return None
        if self.rate is not None:
            return self.users, self.spawn_rate
        if self.profile.shape == "constant":
            return self.users, self.spawn_rate
        # the shape moves every second: spawn fast enough to follow it
        return math.ceil(self.users * self.profile.level(t)), max(self.spawn_rate, self.users)

    def rate_at(self, t: float) -> float:
        return (self.rate or 0.0) * self.profile.level(t)

    def as_dict(self) -> dict[str, Any]:
        return {
            "profile": self.profile.as_dict(),
            "users": self.users,
            "spawn_rate": self.spawn_rate,
            "rate": self.rate,
            "duration": self.duration,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LoadPlan:
        return cls(
            Profile(**data["profile"]),
            int(data["users"]),
            float(data["spawn_rate"]),
            data.get("rate"),
            data.get("duration"),
        )


class MfaLoadShape(LoadTestShape):
    """The one load shape of every scenario: closed users, an arrival rate (``--rate``), a
    9:00 storm or steps (``--shape``); it reads ``-u``, ``-r`` and ``-t`` itself."""

    use_common_options = True

    def tick(self) -> tuple[int, float] | None:
        assert self.runner is not None
        return LoadPlan.of(self.runner.environment.parsed_options).tick(self.get_run_time())


# --------------------------------------------------------------------------- open workload


class ArrivalLimiter:
    """An arrival schedule shared by the users of one process.

    ``wait()`` claims the next start time and sleeps until it; the caller then begins a
    login. Start times follow ``rate(t)`` (× this process's share of the users), evenly spaced
    or as a Poisson process, whether or not earlier logins have finished. When every user is
    busy a start runs late (the lag is reported); one more than ``max_lag`` late is dropped,
    as k6 drops iterations it has no virtual user for.
    """

    def __init__(
        self,
        rate: Callable[[float], float],
        *,
        share: Callable[[], float] = lambda: 1.0,
        poisson: bool = False,
        rng: random.Random | None = None,
        max_lag: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Any] = gevent.sleep,
    ) -> None:
        self._rate = rate
        self._share = share
        self._poisson = poisson
        self._rng = rng or random.Random()
        self._max_lag = max_lag
        self._clock = clock
        self._sleep = sleep
        self._start = clock()
        self._next = self._start
        self.dropped = 0

    def wait(self) -> tuple[float, float]:
        """Sleep until the next start; returns (scheduled start, lag in seconds)."""
        while True:
            now = self._clock()
            slot = self._next
            rate = self._rate(slot - self._start) * self._share()
            if rate <= 0:  # nothing to start now: look again shortly
                self._next = max(slot, now) + 0.1
                self._sleep(0.1)
                continue
            gap = self._rng.expovariate(rate) if self._poisson else 1.0 / rate
            lag = now - slot
            if lag > self._max_lag:
                missed = max(1, int((lag - self._max_lag) * rate))
                self.dropped += missed
                self._next = slot + missed / rate
                continue
            self._next = slot + gap
            if slot > now:
                self._sleep(slot - now)
                return slot, 0.0
            return slot, lag
