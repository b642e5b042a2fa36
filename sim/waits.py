"""Light processes: generators that only ever wait for simulated time to pass.

A sign-in never waits for a resource or for another process — queues are resolved by
recursion when a request arrives (``sim.queues``) and a message's fate is known when a
provider accepts it (``sim.network``) — it only waits for some seconds. A full
``simpy.Process`` would cost a Process object, an Initialize event, a ``Timeout`` per wait
and SimPy's general resume logic. Here the generator yields the seconds it waits, and one
``Sleeper`` per process is put back on SimPy's own event queue (the entry
``env.schedule`` makes) for each wait: SimPy's ``step`` calls its callbacks as it would an
event's, so the clock, the order of events and ``run(until=...)`` are SimPy's, at about half
the cost per wait.

A sleeper starts at once (``start`` runs the generator to its first wait), which is what a
process created at this moment would do before any later event.
"""

from __future__ import annotations

from collections.abc import Generator
from heapq import heappush
from typing import Any

import simpy
from simpy.events import NORMAL

__all__ = ["Sleeper", "start"]

Sleep = Generator[float, None, Any]


class Sleeper:
    """One light process: the generator, and what SimPy's ``step`` reads off an event."""

    __slots__ = ("callbacks", "env", "steps")

    #: SimPy checks ``_ok`` after the callbacks: a sleeper never fails as an event (an
    #: exception inside its generator propagates out of ``env.run`` directly).
    _ok = True

    def __init__(self, env: simpy.Environment, steps: Sleep) -> None:
        self.env = env
        self.steps = steps
        self.callbacks: tuple[Any, ...] | None = None


def _resume(sleeper: Sleeper) -> None:
    """Run the generator to its next wait and schedule the wake-up (SimPy's callback)."""
    try:
        delay = sleeper.steps.send(None)
    except StopIteration:
        return
    if delay < 0:
        raise ValueError(f"a negative wait ({delay}) in a simulated process")
    sleeper.callbacks = _CALLBACKS
    env = sleeper.env
    # ``env.schedule(sleeper, NORMAL, delay)``, inlined: the same entry on SimPy's heap
    # (time, priority, event id, event), without a Python call per wait
    heappush(env._queue, (env._now + delay, NORMAL, next(env._eid), sleeper))


_CALLBACKS = (_resume,)


def start(env: simpy.Environment, steps: Sleep) -> Sleeper:
    """Run ``steps`` now, up to its first wait; it resumes after each yielded delay."""
    sleeper = Sleeper(env, steps)
    _resume(sleeper)
    return sleeper
