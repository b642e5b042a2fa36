"""In-process begin+verify pairs per second of the reference engine.

Run on demand (``make bench`` or ``.venv/bin/python bench/engine_bench.py``); not a test.
Each row times complete authentications — ``begin`` then ``verify`` with the right code —
on one engine: the in-memory repository (with its authentication log, and without it as
the simulator runs it), and SQLite through ``mfa.storage.SqlRepository`` as a single HTTP
server would. sms pairs send through a
gateway that only keeps the last message (so the figure is the engine's own cost, not an
outbox's); totp pairs type the authenticator's current value. The clock is a manual one,
moved so that no user hits the send limit or TOTP replay refusal.

``--count`` prints instead the back-end round trips (``mfa.storage.roundtrips``: SQL
statements, commits, pool pings, Redis calls) of one begin and one verify of a returning
user (signed in once before), sms and totp, on SQLite with pending codes in memory and on
PostgreSQL with pending codes in Redis (``MFALAB_BENCH_REDIS``) — a cluster's set-up.

The machine is shared in CI and development, so each row is the best of ``--repeat`` runs
and also shows CPU time per pair, which other processes disturb less than wall time.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from benchkit import PG_URL, REDIS_URL, create_postgres_database, drop_postgres_database

from mfa import (
    Challenge,
    Engine,
    InMemoryRepository,
    ManualClock,
    MemoryPendingStore,
    Repository,
    SeededEntropy,
    ServerIdentity,
)
from mfa.delivery import Message, Receipt
from mfa.otp import totp_at
from mfa.pending import PendingStore

if TYPE_CHECKING:
    from mfa.storage.roundtrips import RoundTrips

SECRET_KEY = b"bench-secret-key-bench-secret-key"
PHONE = "+14255550100"
START = 1_700_000_000.0


class LastMessage:
    """A gateway that keeps only the last message: the cheapest possible delivery."""

    name = "bench"

    def __init__(self) -> None:
        self.last: Message | None = None
        self._receipt = Receipt("bench", "bench-1")

    def send(self, message: Message) -> Receipt:
        self.last = message
        return self._receipt


@dataclass(frozen=True, slots=True)
class Result:
    backend: str
    method: str
    pairs: int
    wall: float
    cpu: float

    @property
    def per_second(self) -> float:
        return self.pairs / self.wall

    @property
    def cpu_us(self) -> float:
        return self.cpu / self.pairs * 1e6


def _engine(
    repository: Repository,
    clock: ManualClock,
    gateway: LastMessage,
    pending: PendingStore | None = None,
) -> Engine:
    return Engine(
        server=ServerIdentity("mfa1"),
        clock=clock,
        repository=repository,
        pending=pending if pending is not None else MemoryPendingStore(),
        gateway=gateway,
        secret_key=SECRET_KEY,
        entropy=SeededEntropy(np.random.default_rng(1)),
    )


def _sms_loop(
    engine: Engine, clock: ManualClock, gateway: LastMessage, users: list[str], pairs: int
) -> Callable[[], None]:
    return lambda: _run_sms(engine, clock, gateway, users, pairs)


def _run_sms(
    engine: Engine, clock: ManualClock, gateway: LastMessage, users: list[str], pairs: int
) -> None:
    begin, verify = engine.begin, engine.verify
    step = 300.0 / len(users) * 1.01  # each user sends at most once per 300 s
    for i in range(pairs):
        challenge = begin(users[i % len(users)])
        assert isinstance(challenge, Challenge), challenge
        text = gateway.last.text  # type: ignore[union-attr]
        if not verify(challenge.auth_id, text[-6:]).ok:
            raise RuntimeError("an sms verify failed")
        clock.advance(step)


def _run_totp(
    engine: Engine, clock: ManualClock, secrets: dict[str, str], users: list[str], pairs: int
) -> Callable[[], None]:
    """Prepare the typed values outside the timing; returns the timed loop."""
    plan: list[tuple[str, str, float]] = []
    for i in range(pairs):
        when = START + 30.0 * (i // len(users))  # each user once per 30 s step
        user = users[i % len(users)]
        plan.append((user, totp_at(secrets[user], when), when))

    def loop() -> None:
        begin, verify = engine.begin, engine.verify
        for user, code, when in plan:
            clock.set(when)
            challenge = begin(user)
            assert isinstance(challenge, Challenge), challenge
            if not verify(challenge.auth_id, code).ok:
                raise RuntimeError("a totp verify failed")

    return loop


def bench(backend: str, method: str, pairs: int, n_users: int, repeat: int) -> Result:
    best: Result | None = None
    for _ in range(repeat):
        with tempfile.TemporaryDirectory() as tmp:
            repository, close = _repository(backend, Path(tmp))
            clock = ManualClock(START)
            gateway = LastMessage()
            engine = _engine(repository, clock, gateway)
            users = [f"user{i:06d}" for i in range(n_users)]
            secrets: dict[str, str] = {}
            for user in users:
                engine.create_user(user, phone=PHONE, first_name="Bench", email="b@example.org")
                if method == "sms":
                    engine.register_method(user, "sms")
                else:
                    secrets[user] = engine.register_method(user, "totp").secret or ""
            loop = (
                _sms_loop(engine, clock, gateway, users, pairs)
                if method == "sms"
                else _run_totp(engine, clock, secrets, users, pairs)
            )
            gc.collect()
            wall0, cpu0 = time.perf_counter(), time.process_time()
            loop()
            result = Result(
                backend, method, pairs, time.perf_counter() - wall0, time.process_time() - cpu0
            )
            close()
        if best is None or result.wall < best.wall:
            best = result
    assert best is not None
    return best


def _repository(backend: str, tmp: Path) -> tuple[Repository, Callable[[], None]]:
    if backend == "memory":
        return InMemoryRepository(), lambda: None
    if backend == "memory-nolog":  # the simulator's setting: it keeps its own rows
        return InMemoryRepository(keep_logs=False), lambda: None
    from mfa.storage.sql import SqlRepository

    if backend == "sqlite":
        repository = SqlRepository(f"sqlite:///{tmp / 'bench.db'}", secret_key=SECRET_KEY)
        return repository, repository.close
    if backend != "postgres":
        raise SystemExit(f"--backends: unknown repository {backend!r}")
    database_url = create_postgres_database(PG_URL)
    repository = SqlRepository(database_url, secret_key=SECRET_KEY)

    def close() -> None:
        repository.close()
        drop_postgres_database(PG_URL, database_url)

    return repository, close


def count_round_trips(backend: str, method: str) -> tuple[RoundTrips, RoundTrips]:
    """The round trips of the second begin and verify of one user (the first pair made
    the user a returning one: their security state exists)."""
    from mfa.storage.roundtrips import counting

    with tempfile.TemporaryDirectory() as tmp:
        repository, close = _repository(backend, Path(tmp))
        pending: PendingStore = MemoryPendingStore()
        if backend == "postgres":
            from mfa.storage.redis_pending import RedisPendingStore

            pending = RedisPendingStore(REDIS_URL, namespace=f"mfalab-bench-{os.getpid()}")
        clock, gateway = ManualClock(START), LastMessage()
        engine = _engine(repository, clock, gateway, pending)
        engine.create_user("u1", phone=PHONE, first_name="Bench", email="b@example.org")
        secret = engine.register_method("u1", method).secret or ""
        client = getattr(pending, "client", None)
        with counting(repository.engine, client) as counter:  # type: ignore[attr-defined]
            for _ in range(2):
                clock.advance(400.0)  # past the send limit's window and the last TOTP step
                counter.take()
                challenge = engine.begin("u1")
                assert isinstance(challenge, Challenge), challenge
                begun = counter.take()
                code = totp_at(secret, clock.now()) if method == "totp" else _last_code(gateway)
                if not engine.verify(challenge.auth_id, code).ok:
                    raise RuntimeError(f"a {method} verify failed")
                verified = counter.take()
        getattr(pending, "close", lambda: None)()
        close()
    return begun, verified


def _last_code(gateway: LastMessage) -> str:
    assert gateway.last is not None
    return gateway.last.text[-6:]


def _print_round_trips(backends: list[str], methods: list[str]) -> None:
    print("back-end round trips of a returning user (statements + commits + pings + Redis)")
    print(f"{'repository':<18}{'method':<8}{'begin':<60}verify")
    for backend in backends:
        shown = "postgres + redis" if backend == "postgres" else f"{backend} + memory"
        for method in methods:
            begun, verified = count_round_trips(backend, method)
            print(f"{shown:<18}{method:<8}{begun!s:<60}{verified}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pairs", type=int, default=50_000, help="pairs per in-memory run")
    parser.add_argument(
        "--sqlite-pairs", type=int, default=2_000, help="pairs per SQLite or PostgreSQL run"
    )
    parser.add_argument("--users", type=int, default=2_000)
    parser.add_argument("--repeat", type=int, default=3, help="runs per row; the best is shown")
    parser.add_argument(
        "--backends", default="memory,memory-nolog,sqlite", help="also: postgres ($MFALAB_BENCH_PG)"
    )
    parser.add_argument("--methods", default="sms,totp")
    parser.add_argument(
        "--count",
        action="store_true",
        help="print round trips per begin and verify (--backends among sqlite,postgres)",
    )
    args = parser.parse_args(argv)
    if args.count:
        _print_round_trips(args.backends.split(","), args.methods.split(","))
        return 0

    rows: list[Result] = []
    for backend in args.backends.split(","):
        pairs = args.sqlite_pairs if backend in ("sqlite", "postgres") else args.pairs
        users = min(args.users, pairs)
        for method in args.methods.split(","):
            rows.append(bench(backend, method, pairs, users, args.repeat))

    print(f"mfalab engine: begin+verify pairs, one thread, Python {sys.version.split()[0]}")
    print(f"{'repository':<14}{'method':<8}{'pairs':>8}{'pairs/s':>12}{'CPU µs/pair':>14}")
    for r in rows:
        print(f"{r.backend:<14}{r.method:<8}{r.pairs:>8}{r.per_second:>12,.0f}{r.cpu_us:>14.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
