"""Regenerate the shipped real-server sample (notebooks/data/engine/) with the engine itself.

A small deployment on SQLite, driven through ``mfa.engine.Engine`` on a manual clock over
October and November 2026: 60 users enrolled on 1 October (sms, voice or totp), a per-user
provider, licences assigned to 15 users on 20 October and 10 more on 1 November, 4 users
disabled on 12 November, and on 16 November the per-user provider replaced by a
per-authentication one (the seed's way to change model). Every working day most users sign
in once; a few type a wrong code first, a few never answer. The database is
``sample.db``; its authentication log, as ``mfalab logs export`` writes it, is
``sample_logs.parquet``. Deterministic (seeded), so the files change only with the engine.

    .venv/bin/python notebooks/data/make_engine_sample.py
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pyotp

from mfa import Engine, ManualClock, MemoryPendingStore, SeededEntropy, ServerIdentity
from mfa.cli.logs import export_logs
from mfa.delivery import SinkGateway
from mfa.storage.crypto import derive_key
from mfa.storage.sql import SqlRepository

HERE = Path(__file__).resolve().parent / "engine"
SECRET = "notebook-sample-secret-not-for-production"
USERS = 60


def main() -> int:
    HERE.mkdir(parents=True, exist_ok=True)
    db = HERE / "sample.db"
    for stale in (db, db.with_name("sample.db-wal"), db.with_name("sample.db-shm")):
        stale.unlink(missing_ok=True)
    rng = random.Random(20261001)
    clock = ManualClock(datetime(2026, 10, 1, 8, tzinfo=UTC).timestamp())
    sink = SinkGateway()
    repository = SqlRepository(f"sqlite:///{db}", secret_key=derive_key(SECRET))
    engine = Engine(
        server=ServerIdentity("mfa1", "10.0.0.1"),
        clock=clock,
        repository=repository,
        pending=MemoryPendingStore(),
        gateway=sink,
        secret_key=derive_key(SECRET),
        entropy=SeededEntropy(np.random.default_rng(7)),
    )
    engine.create_provider("contoso-per-user", "per_user", tenant="contoso")
    secrets: dict[str, str] = {}
    phones: dict[str, str] = {}
    for n in range(USERS):
        user_id = f"user{n:03d}"
        phones[user_id] = f"+1425300{n:04d}"
        engine.create_user(user_id, phone=phones[user_id])
        method = rng.choices(["sms", "voice", "totp"], weights=[6, 1, 3])[0]
        registered = engine.register_method(user_id, method)
        if registered.secret:
            secrets[user_id] = registered.secret
    day = datetime(2026, 10, 1, tzinfo=UTC)
    while day < datetime(2026, 12, 1, tzinfo=UTC):
        _admin(engine, clock, day)
        if day.weekday() < 5:
            for n in range(USERS):
                user_id = f"user{n:03d}"
                if rng.random() < 0.85:
                    when = day + timedelta(hours=8, seconds=rng.uniform(0, 3 * 3600))
                    _sign_in(engine, clock, sink, rng, user_id, when, phones, secrets)
        day += timedelta(days=1)
    export_logs(repository.logs(), HERE / "sample_logs.parquet")
    repository.close()
    print(f"wrote {db} and {HERE / 'sample_logs.parquet'}")
    return 0


def _admin(engine: Engine, clock: ManualClock, day: datetime) -> None:
    clock.set((day + timedelta(hours=7)).timestamp())
    if (day.month, day.day) == (10, 20):
        for n in range(15):
            engine.set_licensed(f"user{n:03d}", True)
    if (day.month, day.day) == (11, 1):
        for n in range(15, 25):
            engine.set_licensed(f"user{n:03d}", True)
    if (day.month, day.day) == (11, 12):
        for n in range(56, 60):
            engine.disable_user(f"user{n:03d}")
    if (day.month, day.day) == (11, 16):
        engine.replace_provider("contoso-per-auth", "per_auth", tenant="contoso")


def _sign_in(
    engine: Engine,
    clock: ManualClock,
    sink: SinkGateway,
    rng: random.Random,
    user_id: str,
    when: datetime,
    phones: dict[str, str],
    secrets: dict[str, str],
) -> None:
    clock.set(when.timestamp())
    challenge = engine.begin(user_id, client_ip="192.0.2.10")
    auth_id = getattr(challenge, "auth_id", None)
    if auth_id is None:
        return  # refused (e.g. disabled): logged by the engine
    if rng.random() < 0.03:
        return  # never answered: stays pending, then expires
    clock.advance(rng.uniform(8, 40))
    if rng.random() < 0.06:
        engine.verify(auth_id, "000000")  # a typo first
        clock.advance(rng.uniform(4, 12))
    if user_id in secrets:
        code = pyotp.TOTP(secrets[user_id]).at(clock.now())
    else:
        code = sink.messages_to(phones[user_id])[0].code or ""
    engine.verify(auth_id, code)


if __name__ == "__main__":
    raise SystemExit(main())
