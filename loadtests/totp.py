"""TOTP logins: each user enrols an authenticator on start and logs in with its current
code; a second login within one 30 s step waits for the next code (codes are never reused).

    locust -f loadtests/totp.py --host http://127.0.0.1:8001
    python loadtests/totp.py --host http://127.0.0.1:8001
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import ClassVar
from urllib.parse import quote

import gevent
import pyotp
from locust import run_single_user, task

from loadtests.accounts import Authenticator
from loadtests.names import N_SETUP_METHOD
from loadtests.shapes import MfaLoadShape
from loadtests.user import Flow, MfaUser, think_time

__all__ = ["MfaLoadShape", "TotpFlow", "TotpUser"]


class TotpFlow(Flow):
    """Enrols ``--totp-accounts`` authenticators on start and logs in with one whose
    current code has not been used; when every one has logged in during this time step,
    the user waits for the next step: a code is never used twice."""

    name = "totp"

    def __init__(self, user: MfaUser) -> None:
        super().__init__(user)
        self.apps: list[Authenticator] = []

    def enrol(self) -> str | None:
        enrolled = self.user.shared.totp_apps
        while len(self.apps) < self.user.shared.options.totp_accounts:
            if enrolled:  # enrolled before the clock
                self.apps.append(enrolled.popleft())
                continue
            failed = self._enrol_one()
            if failed:
                return failed
        return None

    def _enrol_one(self) -> str | None:
        user_id, reason = self.create_user()
        if reason:
            return reason
        reply = self.user.call(
            "POST",
            f"/v1/users/{quote(user_id)}/methods",
            N_SETUP_METHOD,
            {"type": "totp", "default": True},
            expected=201,
        )
        if not reply.ok:
            return reply.reason
        uri, secret = reply.get("otpauth_uri"), reply.get("secret")
        app = pyotp.parse_uri(uri) if uri else pyotp.TOTP(str(secret))
        assert isinstance(app, pyotp.TOTP)
        self.apps.append(Authenticator(user_id, app))
        return None

    def ready(self) -> None:
        now = time.time()
        if self.apps and not any(app.fresh(now) for app in self.apps):
            oldest = min(self.apps, key=lambda app: app.last_step or 0)
            wake = ((oldest.last_step or 0) + 1) * oldest.totp.interval
            gevent.sleep(max(0.0, wake - now) + 0.01)

    def login(self) -> str | None:
        failed = self.enrol()
        if failed:
            return failed
        now = time.time()
        app = next((a for a in self.apps if a.fresh(now)), None)
        if app is None:
            self.ready()
            now = time.time()
            app = next(a for a in self.apps if a.fresh(now))
        reply = self.begin(app.user_id)
        if not reply.ok:
            return reply.reason
        now = time.time()
        app.last_step = app.step(now)
        return self.verify(str(reply.get("auth_id")), app.totp.at(now)).reason


class TotpUser(MfaUser):
    """A person signing in with the code of an authenticator app enrolled on start."""

    flow_types: ClassVar[Mapping[str, type[Flow]]] = {"totp": TotpFlow}
    wait_time = think_time

    def on_start(self) -> None:
        """Enrol before the first login (or take what was enrolled before the clock)."""
        self.enrol(self.flows["totp"])

    @task
    def sign_in_by_totp(self) -> None:
        self.sign_in(self.flows["totp"])


if __name__ == "__main__":
    run_single_user(TotpUser)
