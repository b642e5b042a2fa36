"""mfalab's delivery-reliability simulator: real engines on SimPy's clock.

A scenario (``sim.scenario``, read by ``sim.scenario_file``) describes people, phones,
carriers, sender numbers, providers and MFA servers. ``sim.model.Replication`` builds one
replication of it — real ``mfa.Engine`` instances whose clock reads ``epoch + env.now``,
the delivery network (``sim.network``, shared with the real-time gateway in
``sim.realtime_gateway``), the people (``sim.people``) — and ``sim.runner`` runs the
replications into a run directory whose rows are ``outputs.records``. ``sim.sweep`` runs a grid
of scenarios on dask; ``mfalab.cli.simulate`` (the composition root) is ``mfalab run``,
``mfalab sweep`` and ``mfalab schema``.

Nothing here decides whether an authentication succeeds: the engine does.

Submodules are imported where they are used (``mfalab --help`` must not load simpy or
pyarrow), so this package exports nothing itself.
"""

__all__: list[str] = []
