"""SMS logins: begin → the phone reads the text → verify; a late or lost text is asked for
again (``--code-wait``, ``--max-sends``).

    locust -f loadtests/sms.py --host http://127.0.0.1:8001          # web UI on :8089
    locust -f loadtests/sms.py --headless -u 20 -t 30s \\
        --servers http://127.0.0.1:8001,http://127.0.0.1:8002 --lb auth_id
    python loadtests/sms.py --host http://127.0.0.1:8001             # one user, for debugging
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, ClassVar
from urllib.parse import quote

import gevent
from locust import run_single_user, task

from loadtests.accounts import Account
from loadtests.names import N_SINK
from loadtests.shapes import MfaLoadShape
from loadtests.user import Flow, MfaUser, think_time
from mfa.delivery.message import extract_code
from mfa.engine import parse_auth_id

__all__ = ["MfaLoadShape", "SmsFlow", "SmsUser"]


class SmsFlow(Flow):
    """begin → the phone reads the text from the issuing server's sink → verify; when no
    text comes within ``--code-wait`` the user asks again, up to ``--max-sends`` sends."""

    name = "sms"

    def login(self) -> str | None:
        context = self.user.shared
        account = context.pool.lease()
        if account is None:
            return "pool_exhausted"
        try:
            return self._login(account)
        finally:
            context.pool.release(account)

    def _login(self, account: Account) -> str | None:
        options = self.user.shared.options
        since = time.time()
        issued: list[tuple[str, str]] = []  # (auth id, where its text can be read)
        for _send in range(max(1, options.max_sends)):
            reply = self.begin(account.user_id)
            if not reply.ok:
                return reply.reason
            self.user.shared.pool.sent(account)
            auth_id = str(reply.get("auth_id"))
            issued.append((auth_id, self._sink_of(reply.get("server"), auth_id)))
            found = self._read_code(account, issued, since, options.code_wait)
            if found is not None:
                auth_id, code = found
                return self.verify(auth_id, code).reason
        return "code_not_received"

    def _sink_of(self, server: Any, auth_id: str) -> str:
        names = self.user.shared.router.names
        parsed = parse_auth_id(auth_id)
        for name in (server, parsed[0] if parsed else None):
            if name in names:
                return names[name]
        return self.user.shared.router.urls[0]

    def _read_code(
        self,
        account: Account,
        issued: Sequence[tuple[str, str]],
        since: float,
        wait: float,
    ) -> tuple[str, str] | None:
        """Poll the sink(s) until a new text for this phone arrives; (auth id, code)."""
        pool = self.user.shared.pool
        deadline = time.monotonic() + wait
        delay = 0.0
        while True:
            for sink in dict.fromkeys(url for _id, url in reversed(issued)):
                found = self._newest(account, sink, issued, since, pool.read_up_to)
                if found is not None:
                    return found
            if time.monotonic() >= deadline:
                return None
            delay = min(1.0, max(0.05, delay * 2))
            gevent.sleep(min(delay, max(0.0, deadline - time.monotonic())))

    def _newest(
        self,
        account: Account,
        sink: str,
        issued: Sequence[tuple[str, str]],
        since: float,
        read_up_to: dict[str, float],
    ) -> tuple[str, str] | None:
        reply = self.user.call(
            "GET", f"/v1/sink/messages?to={quote(account.phone)}", N_SINK, base=sink
        )
        if not reply.ok or not isinstance(reply.body, list):
            return None
        ours = {auth_id for auth_id, _url in issued}
        floor = max(since - 1.0, read_up_to.get(account.user_id, 0.0))
        for message in reply.body:  # newest first
            if not isinstance(message, dict):
                continue
            sent = _timestamp(message.get("sent_at"))
            auth_id = message.get("auth_id")
            if auth_id is not None and auth_id not in ours:
                continue
            if auth_id is None and (sent is None or sent <= floor):
                continue
            code = message.get("code") or extract_code(str(message.get("text", "")))
            if not code:
                continue
            read_up_to[account.user_id] = max(sent or 0.0, read_up_to.get(account.user_id, 0.0))
            if auth_id is None:  # a text names no auth id: it answers the latest send here
                auth_id = next(a for a, url in reversed(issued) if url == sink)
            return str(auth_id), str(code)
        return None


def _timestamp(value: Any) -> float | None:
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value).timestamp()
        except ValueError:
            return None
    return None


class SmsUser(MfaUser):
    """A person signing in with a text message: begin, read the code, verify."""

    flow_types: ClassVar[Mapping[str, type[Flow]]] = {"sms": SmsFlow}
    wait_time = think_time

    @task
    def sign_in_by_sms(self) -> None:
        self.sign_in(self.flows["sms"])


if __name__ == "__main__":
    run_single_user(SmsUser)
