"""Worker messaging: the login statistics travel from the workers to the master beside
Locust's own, through Locust's report events, under their own key."""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace
from typing import Any


def namespaced(real: Any, key: str) -> SimpleNamespace:
    """Locust's distributed-statistics listeners, with their payload under ``data[key]`` so
    the login statistics travel beside Locust's own without colliding."""

    def report(listener: Callable[..., None]) -> None:
        real.report_to_master.add_listener(
            lambda client_id, data: listener(client_id=client_id, data=data.setdefault(key, {}))
        )

    def receive(listener: Callable[..., None]) -> None:
        def on_worker_report(client_id: str, data: dict[str, Any]) -> None:
            if key in data:
                listener(client_id=client_id, data=data[key])

        real.worker_report.add_listener(on_worker_report)

    return SimpleNamespace(
        report_to_master=SimpleNamespace(add_listener=report),
        worker_report=SimpleNamespace(add_listener=receive),
    )
