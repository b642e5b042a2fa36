"""The fraud defences' counters: a port, and its implementation in one process's memory.

Each counter is a sliding window of the sends admitted under one key (a client IP, a
number range, a country) and, for the conversion guard, which of them were verified.
``admit`` checks every limit of a send and counts it in all of them, or in none, as one
atomic step: two servers sharing the counters cannot both take the last free send. For a
cluster the counters live in Redis (``mfa.storage.redis_fraud``); the simulator's servers
share one ``MemoryFraudCounters``.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Protocol

from mfa.fraud import Limit, refuses

__all__ = ["FraudCounters", "MemoryFraudCounters"]

#: Admitted sends between two sweeps of the idle keys.
_SWEEP_EVERY = 4096


class FraudCounters(Protocol):
    """Where the fraud defences count sends and verifications."""

    def admit(self, send_id: str, now: float, limits: Sequence[Limit]) -> Limit | None:
        """Atomically: the first of ``limits`` that ``mfa.fraud.refuses`` the send (nothing
        is counted then), or ``None`` with the send counted under every limit's key."""
        ...

    def converted(self, send_id: str, keys: Sequence[str]) -> None:
        """The code of ``send_id`` was verified: count it as converted under each of the
        conversion ``keys`` that still counts the send (a send out of the window or never
        admitted there is ignored)."""
        ...


class _Window:
    """Sends admitted under one key, oldest first, and which of them were verified."""

    __slots__ = ("sent", "verified", "width")

    def __init__(self, width: float) -> None:
        self.width = width  # seconds of the sliding window
        self.sent: dict[str, float] = {}  # send id -> when, in insertion (time) order
        self.verified: set[str] = set()

    def counts(self, mature: float) -> tuple[int, int]:
        """Sends at or before ``mature`` and how many of them were verified: the younger
        ones (few, the newest) are walked from the end and left out."""
        sent, verified = len(self.sent), len(self.verified)
        for send_id in reversed(self.sent):
            if self.sent[send_id] <= mature:
                break
            sent -= 1
            verified -= send_id in self.verified
        return sent, verified

    def prune(self, horizon: float) -> None:
        """Forget the sends at or before ``horizon`` (out of the sliding window)."""
        sent = self.sent
        while sent:
            oldest = next(iter(sent))
            if sent[oldest] > horizon:
                return
            del sent[oldest]
            self.verified.discard(oldest)


class MemoryFraudCounters:
    """``FraudCounters`` in this process's memory: one server, or the simulator's servers
    sharing one instance. Thread-safe (one lock around each step)."""

    def __init__(self) -> None:
        self._windows: dict[str, _Window] = {}
        self._admitted = 0
        self._lock = threading.Lock()

    def admit(self, send_id: str, now: float, limits: Sequence[Limit]) -> Limit | None:
        with self._lock:
            windows = []
            for limit in limits:
                window = self._windows.get(limit.key)
                if window is None:
                    window = self._windows[limit.key] = _Window(limit.window)
                window.prune(now - limit.window)
                if refuses(limit, *window.counts(now - limit.grace)):
                    return limit
                windows.append(window)
            for window in windows:
                window.sent[send_id] = now
            self._admitted += 1
            if self._admitted % _SWEEP_EVERY == 0:
                self._sweep(now)
            return None

    def converted(self, send_id: str, keys: Sequence[str]) -> None:
        with self._lock:
            for key in keys:
                window = self._windows.get(key)
                if window is not None and send_id in window.sent:
                    window.verified.add(send_id)

    def _sweep(self, now: float) -> None:
        """Bound the memory: now and then, forget the keys no send in its window uses (a
        bot rotating through IPs or ranges leaves a trail of them)."""
        for key, window in list(self._windows.items()):
            window.prune(now - window.width)
            if not window.sent:
                del self._windows[key]
