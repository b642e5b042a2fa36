"""Small run directories written from ``outputs.records`` rows, for the report tests.

Rows are generated with a fixed seed by a deliberately simple process (each send gets through
with a per-country probability, a user tries up to five times, then falls back or gives up),
so the tests can recount every number from the rows themselves. The layout is the contract of
``outputs/records.py``: ``auths/part-*.parquet``, ``deliveries/part-*.parquet``,
``resources.parquet``, ``scenario.yaml``, ``meta.json``, ``summary.json``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from outputs.records import (
    AUTH_COLUMNS,
    DELIVERY_COLUMNS,
    RESOURCE_COLUMNS,
    AuthRow,
    DeliveryRow,
    ResourceSample,
)

COUNTRIES = {  # country: (share, carriers, sender kind, delivery probability)
    "US": (0.6, ("att", "verizon"), "short_code", 0.8),
    "CA": (0.2, ("rogers",), "short_code", 0.7),
    "GB": (0.2, ("vodafone", "ee"), "long_code", 0.3),
}
SENDERS = {"short_code": ("97671", "69829"), "long_code": ("+447700900001",)}
METHODS = ("sms", "voice", "push", "totp")
METHOD_SHARES = (0.5, 0.1, 0.3, 0.1)


def generate(
    *, users: int = 60, auths: int = 240, replications: int = 2, servers: int = 2, seed: int = 7
) -> tuple[list[AuthRow], list[DeliveryRow], list[ResourceSample]]:
    rng = np.random.default_rng(seed)
    countries = list(COUNTRIES)
    shares = [COUNTRIES[c][0] for c in countries]
    people = []
    for index in range(users):
        country = countries[rng.choice(len(countries), p=shares)]
        carriers = COUNTRIES[country][1]
        people.append(
            (
                f"u{index:04d}",
                country,
                carriers[rng.integers(len(carriers))],
                bool(rng.random() < 0.25),
                METHODS[rng.choice(len(METHODS), p=METHOD_SHARES)],
            )
        )
    auth_rows: list[AuthRow] = []
    deliveries: list[DeliveryRow] = []
    resources: list[ResourceSample] = []
    for replication in range(replications):
        arrivals = np.sort(rng.uniform(0, 600, size=auths))
        for seq, arrived in enumerate(arrivals):
            user_id, country, carrier, licensed, method = people[rng.integers(users)]
            _, _, kind, p = COUNTRIES[country]
            server_names = [f"mfa{1 + rng.integers(servers)}"]
            now = float(arrived)
            begins = verifies = wrong = expired = rate_limited = 0
            methods = [method]
            outcome, reason = "denied", "expired"
            first_sender = first_kind = first_provider = ""
            success_at = math.nan
            for attempt in range(1, 6):
                begins += 1
                if method in ("totp",):
                    verifies += 1
                    now += float(rng.uniform(5, 15))
                    outcome, reason, success_at = "success", "", now
                    break
                channel = "push" if method == "push" else method
                sender = (
                    SENDERS[kind][rng.integers(len(SENDERS[kind]))] if channel != "push" else ""
                )
                provider = "apns" if channel == "push" else ("prov-a" if attempt % 2 else "prov-b")
                if attempt == 1:
                    first_sender = sender
                    first_kind = kind if channel != "push" else ""
                    first_provider = provider
                sent = now + float(rng.exponential(0.5))
                got_through = rng.random() < (0.95 if channel == "push" else p)
                delivered = sent + float(rng.lognormal(1.0, 0.6)) if got_through else math.nan
                deliveries.append(
                    DeliveryRow(
                        replication=replication,
                        auth_seq=seq,
                        attempt=attempt,
                        auth_id=f"{server_names[-1]}.{seq:022d}",
                        channel=channel,
                        country=country,
                        carrier=carrier,
                        provider=provider,
                        sender=sender,
                        sender_kind=kind if channel != "push" else "",
                        server=server_names[-1],
                        requested_at=now,
                        sent_at=sent,
                        delivered_at=delivered,
                        loss_cause="" if got_through else "carrier_loss",
                    )
                )
                if got_through:
                    verifies += 1
                    now = delivered + float(rng.uniform(4, 20))
                    if servers > 1 and rng.random() < 0.2:
                        wrong += 1
                        server_names.append(f"mfa{1 + (int(server_names[-1][3:]) % servers)}")
                        now += 5
                    outcome, reason, success_at = "success", "", now
                    break
                now += 30.0
                if attempt == 3 and method == "sms" and rng.random() < 0.5:
                    method = "push"
                    methods.append("push")
                if rng.random() < 0.05:
                    outcome, reason = "abandoned", "gave_up"
                    break
            else:
                if rng.random() < 0.5:  # a sixth send is refused: "five times in 5 minutes"
                    begins += 1
                    rate_limited = 1
                    reason = "rate_limited"
                else:
                    expired += 1
            auth_rows.append(
                AuthRow(
                    replication=replication,
                    auth_seq=seq,
                    user_id=user_id,
                    country=country,
                    carrier=carrier,
                    licensed=licensed,
                    method_first=methods[0],
                    methods_used=">".join(methods),
                    arrived_at=float(arrived),
                    finished_at=now,
                    outcome=outcome,
                    reason=reason,
                    begins=begins,
                    verifies=verifies,
                    time_to_auth=success_at - float(arrived) if outcome == "success" else math.nan,
                    servers=">".join(server_names),
                    wrong_server=wrong,
                    expired=expired,
                    rate_limited=rate_limited,
                    first_sender=first_sender,
                    first_sender_kind=first_kind,
                    first_provider=first_provider,
                    billable=begins - rate_limited,
                )
            )
        for t in range(0, 600, 30):
            for kind, name, capacity in (
                ("sender", "97671", 100.0),
                ("provider", "prov-a", 50.0),
                ("server", "mfa1", 4.0),
            ):
                busy = int(rng.integers(0, int(capacity) + 1))
                resources.append(
                    ResourceSample(
                        replication=replication,
                        time=float(t),
                        kind=kind,
                        name=name,
                        queue_length=int(rng.integers(0, 5)),
                        busy=busy,
                        capacity=capacity,
                        utilisation=busy / capacity,
                    )
                )
    return auth_rows, deliveries, resources


def write_run(
    root: Path,
    auths: Sequence[AuthRow],
    deliveries: Sequence[DeliveryRow],
    resources: Sequence[ResourceSample],
    *,
    scenario: dict | None = None,
    parts: int = 2,
) -> Path:
    """Write rows in the simulator's layout (auths and deliveries split into ``parts`` files)."""
    root.mkdir(parents=True, exist_ok=True)
    _write_parts(root / "auths", auths, AUTH_COLUMNS, parts)
    _write_parts(root / "deliveries", deliveries, DELIVERY_COLUMNS, parts)
    pq.write_table(_table(resources, RESOURCE_COLUMNS), root / "resources.parquet")
    (root / "scenario.yaml").write_text(yaml.safe_dump(scenario or {}), encoding="utf-8")
    (root / "meta.json").write_text(json.dumps({"seed": 7}), encoding="utf-8")
    (root / "summary.json").write_text(json.dumps({}), encoding="utf-8")
    return root


def _write_parts(folder: Path, rows: Sequence[object], columns: Sequence[str], parts: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    size = max(1, -(-len(rows) // parts))
    for index in range(parts):
        chunk = rows[index * size : (index + 1) * size]
        pq.write_table(_table(chunk, columns), folder / f"part-{index:05d}.parquet")


def _table(rows: Sequence[object], columns: Sequence[str]) -> pa.Table:
    values = list(zip(*rows, strict=True)) if rows else [()] * len(columns)
    return pa.table({c: list(v) for c, v in zip(columns, values, strict=True)})
