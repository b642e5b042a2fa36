"""Prometheus metrics of the HTTP server: what the engine decided and how long requests took.

Counters are keyed by the engine's own vocabularies (method, result, denial reason; provider
and channel) so a dashboard reads the same words as the authentication log. Each app owns
its ``CollectorRegistry`` (no module-level metric objects), so tests can build many apps in
one process.

With ``--workers N`` each worker is a separate process. ``mfalab serve`` then sets
``PROMETHEUS_MULTIPROC_DIR`` before the workers start; prometheus-client writes every
sample to files there and ``GET /metrics`` aggregates all workers' files
(``MultiProcessCollector``), whichever worker answers the scrape.
"""

from __future__ import annotations

import os
import time
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mfa.outcomes import Challenge, Denial, Verdict
from mfa.reasons import DenialReason

__all__ = ["LatencyMiddleware", "Metrics"]

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
_MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
#: The refusals of the fraud defences, counted apart as well.
FRAUD_REASONS = frozenset({DenialReason.COUNTRY_BLOCKED, DenialReason.FRAUD_SUSPECTED})


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.begun = Counter(
            "mfalab_auth_begun",
            "Authentications begun: result 'started' (a challenge) or 'denied' (refused).",
            ["method", "result", "reason"],
            registry=self.registry,
        )
        self.verified = Counter(
            "mfalab_auth_verified",
            "Answers checked (code verify, push response, app password) by result and reason.",
            ["method", "result", "reason"],
            registry=self.registry,
        )
        self.sends = Counter(
            "mfalab_sends",
            "Messages handed to the delivery gateway, by provider and channel.",
            ["provider", "channel"],
            registry=self.registry,
        )
        self.fraud_refusals = Counter(
            "mfalab_fraud_refusals",
            "Sends the fraud defences refused (country_blocked, fraud_suspected), by method; "
            "which rule fired is only in the log (this endpoint is unauthenticated).",
            ["method", "reason"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "mfalab_http_request_duration_seconds",
            "Time to answer an HTTP request, by method, route template and status code.",
            ["method", "route", "status"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )

        # labelled children by label values: ``labels()`` costs more than the increment
        self._children: dict[tuple[object, ...], Any] = {}

    def child(self, metric: Counter | Histogram, *values: str) -> Any:
        key = (id(metric), *values)
        found = self._children.get(key)
        if found is None:
            found = self._children[key] = metric.labels(*values)
        return found

    def record_begin(self, outcome: Challenge | Denial) -> None:
        if isinstance(outcome, Challenge):
            method = str(outcome.method)
            self.child(self.begun, method, "started", "").inc()
            if outcome.provider is not None:
                self.child(self.sends, outcome.provider, method).inc()
        else:
            method = str(outcome.method) if outcome.method is not None else "unknown"
            self.child(self.begun, method, "denied", str(outcome.reason)).inc()
            if outcome.reason in FRAUD_REASONS:
                self.child(self.fraud_refusals, method, str(outcome.reason)).inc()

    def record_verdict(self, method: str, verdict: Verdict) -> None:
        reason = "" if verdict.reason is None else str(verdict.reason)
        self.child(self.verified, method, str(verdict.result), reason).inc()

    def exposition(self) -> bytes:
        """The text format; across all workers when running multi-process."""
        directory = os.environ.get(_MULTIPROC_ENV)
        if directory:
            registry = CollectorRegistry()
            MultiProcessCollector(registry, path=directory)
            return generate_latest(registry)
        return generate_latest(self.registry)


class LatencyMiddleware:
    """Pure ASGI (no per-request task) so timing every request costs microseconds.

    The route label is the path template (``/v1/auth/{auth_id}/verify``), never the raw
    path, so auth ids do not explode the label set.
    """

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def record_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, record_status)
        finally:
            route: Any = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            metrics = self.metrics
            metrics.child(metrics.latency, scope["method"], template, str(status)).observe(
                time.perf_counter() - start
            )
