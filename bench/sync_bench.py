"""A directory sync of many users: seconds per batch and in all, on any database URL.

Run on demand (``.venv/bin/python bench/sync_bench.py --db postgresql://...``); not a test.
The users arrive as the HTTP API takes them — batches of at most 10,000
(``POST /v1/users/sync``), each one transaction — into a fresh database, so a cost that
grows with the table (a lookup that scans it) shows as batches getting slower.
"""

from __future__ import annotations

import argparse
import os
import secrets
import time

from mfa import Engine, ManualClock, MemoryPendingStore, ServerIdentity
from mfa.delivery import SinkGateway
from mfa.enrolment import Enrolment
from mfa.storage.sql import SqlRepository

BATCH = 10_000  # the API's largest directory sync (docs/api.md)


def enrolments(kind: str, count: int) -> list[Enrolment]:
    prefix = secrets.token_hex(3)  # a database given twice still gets new users
    return [
        Enrolment(
            user_id=f"{prefix}-{i}",
            method=kind,
            phone=f"+1425555{i % 10_000:04d}" if kind in ("sms", "voice") else None,
        )
        for i in range(count)
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default="sqlite:///:memory:", help="database URL")
    parser.add_argument("--users", type=int, default=60_000)
    parser.add_argument("--kind", default="sms", choices=["sms", "voice", "totp"])
    args = parser.parse_args()
    key = secrets.token_bytes(32)
    with SqlRepository(args.db, secret_key=key) as repository:
        engine = Engine(
            server=ServerIdentity("bench"),
            clock=ManualClock(),
            repository=repository,
            pending=MemoryPendingStore(),
            gateway=SinkGateway(),
            secret_key=key,
        )
        batch = enrolments(args.kind, args.users)
        print(f"load average {os.getloadavg()[0]:.2f}; {args.users:,} {args.kind} users")
        started = time.perf_counter()
        for first in range(0, len(batch), BATCH):
            began = time.perf_counter()
            engine.enrol_many(batch[first : first + BATCH])
            print(f"  users {first:>7,}+: {time.perf_counter() - began:6.2f} s")
        print(f"total {time.perf_counter() - started:.2f} s")


if __name__ == "__main__":
    main()
