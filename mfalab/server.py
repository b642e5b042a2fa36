"""The HTTP server as the lab runs it: the engine's app with the simulator's gateway plugged in.

``mfa.api`` knows no simulator, so ``MFALAB_GATEWAY=simulated:<scenario>`` is resolved here,
where the layers meet: ``create_app`` hands ``mfa.api.app.create_app`` a factory that builds
the simulator's real-time gateway. ``mfalab serve`` and its uvicorn workers
(``uvicorn --factory mfalab.server:create_app``) build their apps through it, and
``SERVER_ENTRY`` is how a ``mfa.api.cluster.Cluster`` starts each of its servers: this
package's ``serve`` command, declared here rather than named inside ``mfa``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mfa.api.cluster import ServerEntry

if TYPE_CHECKING:
    from fastapi import FastAPI

    from mfa.clock import Clock
    from mfa.delivery.sink import SinkGateway
    from mfa.engine import Engine
    from mfa.settings import Settings
    from sim.realtime_gateway import RealtimeGateway

__all__ = ["SERVER_ENTRY", "create_app", "simulated_gateway"]

#: One server of a cluster: ``python -m mfalab serve --host … --port … --workers …``.
SERVER_ENTRY = ServerEntry(module=__name__.partition(".")[0], arguments=("serve",))


def simulated_gateway(scenario: str, sink: SinkGateway, clock: Clock) -> RealtimeGateway:
    """The simulator's carriers and providers in real time, in front of ``sink``."""
    from sim.realtime_gateway import RealtimeGateway

    return RealtimeGateway.from_scenario_file(scenario, sink=sink, clock=clock)


def create_app(settings: Settings | None = None, *, engine: Engine | None = None) -> FastAPI:
    """One server, as ``mfa.api.app.create_app``, able to serve a ``simulated:`` gateway."""
    from mfa.api.app import create_app as create_engine_app

    return create_engine_app(settings, engine=engine, simulated_gateway=simulated_gateway)
