"""Push logins: begin → the device approves → the login page polls the status.

locust -f loadtests/push.py --host http://127.0.0.1:8001
python loadtests/push.py --host http://127.0.0.1:8001
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any, ClassVar

import gevent
from locust import run_single_user, task

from loadtests.names import N_RESPOND, N_STATUS
from loadtests.shapes import MfaLoadShape
from loadtests.user import Flow, MfaUser, think_time
from mfa.reasons import AuthStatus

__all__ = ["MfaLoadShape", "PushFlow", "PushUser"]


class PushFlow(Flow):
    """begin → the device approves (``POST /v1/push/{auth_id}/respond``, signed with the
    account's key, with the number the login page shows) → the login page polls
    ``GET /v1/auth/{auth_id}`` until it is no longer pending."""

    name = "push"

    def login(self) -> str | None:
        context = self.user.shared
        account = context.push_pool.lease()
        if account is None:
            return "pool_exhausted"
        try:
            reply = self.begin(account.user_id)
            if not reply.ok:
                return reply.reason
            context.push_pool.sent(account)  # a notification counts toward the send limit
            auth_id = str(reply.get("auth_id"))
            # the person types the number the login page shows into the app (number
            # matching; absent when the servers run without it), the app signs its approval
            number = reply.get("number")
            typed = number if isinstance(number, int) else None
            body: dict[str, Any] = {
                "approve": True,
                "signature": account.device.answer(auth_id, True, typed),
            }
            if typed is not None:
                body["number"] = typed
            answer = self.user.call(
                "POST", f"/v1/push/{auth_id}/respond", N_RESPOND, body, auth_id=auth_id
            )
            if not answer.ok:
                return answer.reason
            return self._wait_for_status(auth_id, context.options.push_timeout)
        finally:
            context.push_pool.release(account)

    def _wait_for_status(self, auth_id: str, timeout: float) -> str | None:
        deadline = time.monotonic() + timeout
        delay = 0.05
        while True:
            status = self.user.call("GET", f"/v1/auth/{auth_id}", N_STATUS, auth_id=auth_id)
            if not status.ok or status.get("status") != AuthStatus.PENDING:
                return status.reason
            if time.monotonic() >= deadline:
                return "push_timeout"
            gevent.sleep(delay)
            delay = min(0.5, delay * 2)


class PushUser(MfaUser):
    """A person approving a push notification on the phone enrolled in the pool."""

    flow_types: ClassVar[Mapping[str, type[Flow]]] = {"push": PushFlow}
    wait_time = think_time

    @task
    def sign_in_by_push(self) -> None:
        self.sign_in(self.flows["push"])


if __name__ == "__main__":
    run_single_user(PushUser)
