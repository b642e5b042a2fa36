"""Per sender (short code or long code): the table a planner reads to size the senders.

A short code sends tens of texts a second and a long code about one, so a login storm queues
at the long codes first; this table shows, per sender, how many texts it sent, how many
arrived, how long they took, and how busy the sender was. Utilisation is the run's own
figure (``resources.parquet``'s ``utilisation`` column, else busy over capacity), averaged
over the samples — shown as written, never clipped, so a figure above 100 % is visible.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["SENDER_COLUMNS", "sender_table"]

SENDER_COLUMNS = (
    "sender",
    "sender_kind",
    "sent",
    "delivered",
    "delivery_rate",
    "latency_p50",
    "latency_p95",
    "utilisation",
    "peak_utilisation",
)


def sender_table(deliveries: pd.DataFrame, resources: pd.DataFrame) -> pd.DataFrame:
    """One row per sender of texts and calls (push has no sender), pooled over replications;
    the busiest (most sent) first: messages sent and delivered, the delivery rate, latency
    p50/p95, and mean and peak utilisation of the sender's samples. Latency =
    ``delivered_at - requested_at`` (seconds) of the delivered messages."""
    sent = deliveries[deliveries["sender"].astype(str) != ""]
    if sent.empty:
        return pd.DataFrame(columns=list(SENDER_COLUMNS))
    frame = pd.DataFrame(
        {
            "sender": sent["sender"].astype(str),
            "sender_kind": sent["sender_kind"].astype(str),
            "delivered": sent["delivered_at"].notna().astype("int64"),
            "latency": sent["delivered_at"] - sent["requested_at"],
        }
    )
    table = frame.groupby(["sender", "sender_kind"], sort=False).agg(
        sent=("delivered", "size"),
        delivered=("delivered", "sum"),
        latency_p50=("latency", lambda s: s.quantile(0.5)),
        latency_p95=("latency", lambda s: s.quantile(0.95)),
    )
    table = table.reset_index()
    table.insert(4, "delivery_rate", table["delivered"] / table["sent"])
    busy = _utilisation(resources)
    table["utilisation"] = table["sender"].map(busy["mean"]).astype(float)
    table["peak_utilisation"] = table["sender"].map(busy["max"]).astype(float)
    return table.sort_values("sent", ascending=False, ignore_index=True)[list(SENDER_COLUMNS)]


def _utilisation(resources: pd.DataFrame) -> pd.DataFrame:
    """Mean and peak utilisation of each sender over its samples (all replications)."""
    if resources.empty or "kind" not in resources:
        return pd.DataFrame(columns=["mean", "max"], dtype=float)
    senders = resources[resources["kind"].astype(str) == "sender"]
    if "utilisation" in senders.columns:
        values = senders["utilisation"].astype(float)
    else:
        capacity = senders["capacity"].where(senders["capacity"] > 0)
        values = senders["busy"] / capacity
    grouped = pd.DataFrame({"name": senders["name"].astype(str), "u": values.to_numpy()})
    out = grouped.groupby("name")["u"].agg(["mean", "max"])
    return out.replace([np.inf, -np.inf], np.nan)
