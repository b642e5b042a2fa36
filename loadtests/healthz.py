"""The load generator's own ceiling: ``GET /healthz`` as fast as one user can ask, no MFA.

Run it before trusting a figure from the other scenarios: if Locust cannot generate much
more than the scenario needs, the load generator, not the server, is being measured.

    locust -f loadtests/healthz.py --headless -u 20 -t 20s --host http://127.0.0.1:8001
"""

from __future__ import annotations

from locust import FastHttpUser, constant, run_single_user, task

from loadtests import context, summary  # noqa: F401  (the run's setup and end, as in every scenario)
from loadtests.shapes import MfaLoadShape

__all__ = ["HealthzUser", "MfaLoadShape"]


class HealthzUser(FastHttpUser):
    """No think time: the user asks again as soon as an answer comes."""

    wait_time = constant(0)

    @task
    def healthz(self) -> None:
        self.client.get("/healthz", name="/healthz")


if __name__ == "__main__":
    run_single_user(HealthzUser)
