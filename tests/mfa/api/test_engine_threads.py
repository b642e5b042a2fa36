"""Where the sign-in steps run (issue 15): on a bounded pool of threads when a store is
across the network, so one sign-in waiting on PostgreSQL or Redis does not hold every other
request of the worker; on the event loop when every store is in the process.

Before, ``engine.begin`` and ``engine.verify`` ran on the event loop whatever the stores,
and a worker on PostgreSQL served one sign-in at a time (about 160/s).
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import anyio
import httpx
import pytest

from mfa.api.app import create_app
from mfa.settings import ENGINE_THREADS_NETWORKED, Settings
from tests.mfa.api.support import API_KEY

HEADERS = {"Authorization": f"Bearer {API_KEY}"}


@pytest.mark.parametrize(
    ("stores", "threads"),
    [
        ({}, 0),
        ({"db_url": "postgresql://db.example/mfa"}, ENGINE_THREADS_NETWORKED),
        ({"pending": "redis://127.0.0.1:6379/0"}, ENGINE_THREADS_NETWORKED),
        ({"fraud_counters": "redis://127.0.0.1:6379/0"}, ENGINE_THREADS_NETWORKED),
        ({"db_url": "postgresql://db.example/mfa", "engine_threads": 3}, 3),
        ({"engine_threads": 0, "pending": "redis://127.0.0.1:6379/0"}, 0),
    ],
)
def test_the_default_follows_where_the_stores_are(stores: dict[str, Any], threads: int) -> None:
    assert Settings(**stores).engine_thread_count == threads


def test_a_negative_thread_count_is_refused_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MFALAB_ENGINE_THREADS", "-1")
    with pytest.raises(ValueError, match="engine_threads"):
        Settings()


class _Watched:
    """Wraps ``engine.begin``: notes the thread each call ran on and how many overlapped."""

    def __init__(self, begin: Any, hold: float) -> None:
        self._begin = begin
        self._hold = hold
        self._lock = threading.Lock()
        self.running = 0
        self.most = 0
        self.threads: set[str] = set()

    def __call__(self, *args: Any) -> Any:
        with self._lock:
            self.running += 1
            self.most = max(self.most, self.running)
            self.threads.add(threading.current_thread().name)
        try:
            time.sleep(self._hold)  # a round trip's wait, holding whatever thread runs it
            return self._begin(*args)
        finally:
            with self._lock:
                self.running -= 1


async def _begins(app: Any, count: int) -> list[httpx.Response]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://mfa", headers=HEADERS, timeout=30
    ) as client:
        return list(
            await asyncio.gather(
                *(client.post("/v1/auth", json={"user_id": f"u{i}"}) for i in range(count))
            )
        )


def _app(make_engine: Any, threads: int, hold: float) -> tuple[Any, _Watched]:
    engine = make_engine()
    for i in range(8):
        engine.create_user(f"u{i}", phone=f"+1425555010{i}")
        engine.register_method(f"u{i}", "sms")
    watched = _Watched(engine.begin, hold)
    engine.begin = watched
    settings = Settings(api_key=API_KEY, server_name="mfa1", engine_threads=threads)
    return create_app(settings, engine=engine), watched


def test_with_threads_begins_overlap_up_to_the_bound_off_the_loop(make_engine: Any) -> None:
    app, watched = _app(make_engine, threads=3, hold=0.2)
    answers = anyio.run(_begins, app, 8)
    assert [a.status_code for a in answers] == [201] * 8, answers[0].text
    assert watched.most == 3  # eight waiting sign-ins, three threads
    assert len(watched.threads) == 3  # off the loop, on the server's engine threads
    assert all(name.startswith("mfalab-engine") for name in watched.threads)


def test_without_threads_begins_run_one_by_one_on_the_loop(make_engine: Any) -> None:
    app, watched = _app(make_engine, threads=0, hold=0.02)
    answers = anyio.run(_begins, app, 4)
    assert [a.status_code for a in answers] == [201] * 4, answers[0].text
    assert watched.most == 1
    assert watched.threads == {threading.main_thread().name}
