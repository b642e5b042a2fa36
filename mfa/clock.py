"""Time enters the engine only through a ``Clock``.

The HTTP server reads the wall clock, the simulator reads SimPy's ``env.now`` and tests
move a manual clock by hand; the engine cannot tell them apart. Times are POSIX seconds
as floats so that the three clocks share one unit.
"""

from __future__ import annotations

import time
from typing import Protocol, runtime_checkable

__all__ = ["Clock", "ManualClock", "SystemClock"]


@runtime_checkable
class Clock(Protocol):
    """Anything that can say what time it is, in POSIX seconds."""

    def now(self) -> float: ...


class SystemClock:
    """The wall clock; the only place in ``mfa`` that reads ``time.time``."""

    __slots__ = ()

    def now(self) -> float:
        return time.time()


class ManualClock:
    """A clock that only moves when told to, for tests that probe boundaries to the second."""

    __slots__ = ("_now",)

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self._now = float(start)

    def now(self) -> float:
        return self._now

    def advance(self, seconds: float) -> float:
        if seconds < 0:
            raise ValueError("a clock cannot move backwards")
        self._now += seconds
        return self._now

    def set(self, when: float) -> None:
        self._now = float(when)
