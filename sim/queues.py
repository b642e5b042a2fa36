"""First-come-first-served queues in front of a fixed number of identical slots.

Two things in the model queue this way: a sender number that may only release so many
messages per second (one slot, service time 1/throughput), and an MFA server that handles
so many requests at once (``concurrency`` slots, random service time). Because the queue is
FIFO and requests arrive in time order, the moment a request starts is known when it
arrives (the Kiefer–Wolfowitz recursion: start = max(arrival, earliest free slot)), so the
simulator needs no SimPy events to queue — one timeout to the completion, or none at all
when the caller only needs the times. The same object measures what a planner asks about:
how many waited, how long, the longest queue.
"""

from __future__ import annotations

import heapq
from collections import deque

__all__ = ["FifoQueue"]


class FifoQueue:
    """``slots`` servers, one FIFO line; times are the caller's (simulated or real seconds)."""

    __slots__ = (
        "_free",
        "_waiting",
        "admitted",
        "busy_time",
        "max_wait",
        "name",
        "peak_queue",
        "slots",
        "total_wait",
        "waited",
    )

    def __init__(self, name: str, slots: int = 1) -> None:
        if slots < 1:
            raise ValueError("a queue needs at least one slot")
        self.name = name
        self.slots = slots
        self._free = [0.0] * slots  # heap of the times each slot becomes free
        self._waiting: deque[float] = deque()  # start times of requests still waiting
        self.admitted = 0
        self.waited = 0
        self.total_wait = 0.0
        self.max_wait = 0.0
        self.peak_queue = 0
        self.busy_time = 0.0

    def next_start(self, now: float) -> float:
        """When a request arriving now would start, without admitting it."""
        earliest = self._free[0]
        return earliest if earliest > now else now

    def admit(self, now: float, service: float) -> float:
        """Queue a request that arrives at ``now`` and holds a slot ``service`` seconds;
        returns its start time (its completion is start + service)."""
        free = self._free
        earliest = free[0]
        start = earliest if earliest > now else now
        heapq.heapreplace(free, start + service)
        self.admitted += 1
        self.busy_time += service
        if start > now:
            wait = start - now
            self.waited += 1
            self.total_wait += wait
            if wait > self.max_wait:
                self.max_wait = wait
            waiting = self._waiting
            while waiting and waiting[0] <= now:
                waiting.popleft()
            waiting.append(start)
            if len(waiting) > self.peak_queue:
                self.peak_queue = len(waiting)
        return start

    def queue_length(self, t: float) -> int:
        """Requests admitted by ``t`` that have not started by ``t``."""
        waiting = self._waiting
        while waiting and waiting[0] <= t:
            waiting.popleft()
        return len(waiting)

    def busy(self, t: float) -> int:
        """Slots in use at ``t`` (all of them while anyone waits)."""
        if self.queue_length(t):
            return self.slots
        return sum(1 for f in self._free if f > t)

    def started(self, t: float) -> int:
        """Requests that have left the line by ``t`` (admitted minus still waiting)."""
        return self.admitted - self.queue_length(t)

    def busy_time_until(self, t: float) -> float:
        """Slot-seconds of service inside [0, t], for a ``t`` no earlier than the last
        arrival (the sampler's and the end of the run's). Past the last arrival a slot that
        is still busy stays busy, back to back, until it frees (a request only starts late
        by waiting for the slot), so the service beyond ``t`` is each slot's overhang: the
        rest is inside the horizon. Messages still queued at the end count only the part
        of their service done by then — utilisation can no longer pass 100 %."""
        overhang = sum(f - t for f in self._free if f > t)
        # kept inside [0, slots × t] against float rounding of the running sums
        return min(max(self.busy_time - overhang, 0.0), self.slots * t)

    @property
    def mean_wait(self) -> float:
        return self.total_wait / self.admitted if self.admitted else 0.0

    @property
    def wait_probability(self) -> float:
        return self.waited / self.admitted if self.admitted else 0.0
