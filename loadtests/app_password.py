"""App-password sign-ins (non-browser apps): each user creates an app password on start
and signs in with it; the server checks it against an argon2 hash, so this flow shows the
cost of hashing under load.

    locust -f loadtests/app_password.py --host http://127.0.0.1:8001
    python loadtests/app_password.py --host http://127.0.0.1:8001
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar
from urllib.parse import quote

from locust import run_single_user, task

from loadtests.names import N_APP_PASSWORD, N_SETUP_APP_PASSWORD
from loadtests.shapes import MfaLoadShape
from loadtests.user import Flow, MfaUser, think_time

__all__ = ["AppPasswordFlow", "AppPasswordUser", "MfaLoadShape"]


class AppPasswordFlow(Flow):
    """Creates an app password on start (shown once) and signs in with it."""

    name = "app_password"

    def __init__(self, user: MfaUser) -> None:
        super().__init__(user)
        self.user_id: str | None = None
        self.password: str | None = None

    def enrol(self) -> str | None:
        if self.password is not None:
            return None
        if self.user.shared.app_passwords:  # enrolled before the clock
            self.user_id, self.password = self.user.shared.app_passwords.popleft()
            return None
        user_id, reason = self.create_user()
        if reason:
            return reason
        reply = self.user.call(
            "POST",
            f"/v1/users/{quote(user_id)}/app-passwords",
            N_SETUP_APP_PASSWORD,
            expected=201,
        )
        if not reply.ok:
            return reply.reason
        self.user_id, self.password = user_id, str(reply.get("app_password"))
        return None

    def login(self) -> str | None:
        failed = self.enrol()
        if failed or self.password is None:
            return failed or "not_enrolled"
        return self.user.call(
            "POST",
            "/v1/auth/app-password",
            N_APP_PASSWORD,
            {"user_id": self.user_id, "password": self.password},
        ).reason


class AppPasswordUser(MfaUser):
    """A non-browser app signing in with the app password created on start."""

    flow_types: ClassVar[Mapping[str, type[Flow]]] = {"app_password": AppPasswordFlow}
    wait_time = think_time

    def on_start(self) -> None:
        """Enrol before the first login (or take what was enrolled before the clock)."""
        self.enrol(self.flows["app_password"])

    @task
    def sign_in_with_app_password(self) -> None:
        self.sign_in(self.flows["app_password"])


if __name__ == "__main__":
    run_single_user(AppPasswordUser)
