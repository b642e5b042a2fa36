"""Concurrent requests for one user inside one server process never break a rule.

A repository that pauses inside every read widens the race window: without the engine's
atomic steps (``PendingStore.transition``, ``Repository.update_state``), two verifies of the
same code would both read "not used yet" and both succeed.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from mfa import Challenge, Engine, InMemoryRepository, ManualClock
from mfa.otp import totp_at
from mfa.security_state import SecurityState


class SlowRepository(InMemoryRepository):
    def get_state(self, user_id: str) -> SecurityState:
        state = super().get_state(user_id)
        time.sleep(0.002)
        return state


def run_together(calls: list[Callable[[], Any]]) -> list[Any]:
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def worker(i: int) -> None:
        barrier.wait()
        results[i] = calls[i]()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    return results


def test_one_totp_value_succeeds_once_under_concurrent_verifies(
    make_engine: Callable[..., Engine], clock: ManualClock
) -> None:
    engine = make_engine(repository=SlowRepository())
    engine.create_user("u")
    secret = engine.register_method("u", "totp").secret or ""
    code = totp_at(secret, clock.now())
    auths = [engine.begin("u") for _ in range(6)]
    assert all(isinstance(a, Challenge) for a in auths)
    verdicts = run_together([lambda a=a: engine.verify(a.auth_id, code) for a in auths])
    assert sum(v.ok for v in verdicts) == 1


def test_one_sms_code_succeeds_once_under_concurrent_verifies(
    make_engine: Callable[..., Engine], code_to: Callable[[str], str]
) -> None:
    engine = make_engine(repository=SlowRepository())
    engine.create_user("u", phone="+14255550100")
    engine.register_method("u", "sms")
    c = engine.begin("u")
    assert isinstance(c, Challenge)
    code = code_to("+14255550100")
    verdicts = run_together([lambda: engine.verify(c.auth_id, code) for _ in range(6)])
    assert sum(v.ok for v in verdicts) == 1


def test_send_limit_holds_under_concurrent_begins(make_engine: Callable[..., Engine]) -> None:
    engine = make_engine(repository=SlowRepository())
    engine.create_user("u", phone="+14255550100")
    engine.register_method("u", "sms")
    outcomes = run_together([lambda: engine.begin("u") for _ in range(12)])
    assert sum(isinstance(o, Challenge) for o in outcomes) == 5
