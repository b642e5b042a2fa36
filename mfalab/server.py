"""The HTTP server as the lab runs it: the engine's app with the simulator's gateway plugged in.

``mfa.api`` knows no simulator, so ``MFALAB_GATEWAY=simulated:<scenario>`` is resolved here,
where the layers meet: ``create_app`` hands ``mfa.api.app.create_app`` a factory that builds
the simulator's real-time gateway. ``mfalab serve`` and its uvicorn workers
(``uvicorn --factory mfalab.server:create_app``) build their apps through it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fastapi import FastAPI

    from mfa.clock import Clock
    from mfa.delivery.sink import SinkGateway
    from mfa.engine import Engine
    from mfa.settings import Settings
    from sim.realtime_gateway import RealtimeGateway

__all__ = ["create_app", "simulated_gateway"]


def simulated_gateway(scenario: str, sink: SinkGateway, clock: Clock) -> RealtimeGateway:
    """The simulator's carriers and providers in real time, in front of ``sink``."""
    from sim.realtime_gateway import RealtimeGateway

    return RealtimeGateway.from_scenario_file(scenario, sink=sink, clock=clock)


def create_app(settings: Settings | None = None, *, engine: Engine | None = None) -> FastAPI:
    """One server, as ``mfa.api.app.create_app``, able to serve a ``simulated:`` gateway."""
    from mfa.api.app import create_app as create_engine_app

    return create_engine_app(settings, engine=engine, simulated_gateway=simulated_gateway)
