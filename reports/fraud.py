"""The attacks of a run, as tables: traffic, refusals over time, cost, collateral.

A run with attackers (scenario key ``attacks``) carries a ``fraud`` block in its
``summary.json`` (``sim.attack_summary``; a sweep, one per point). These functions turn it
into DataFrames whose columns are named in the metric catalogue (``outputs.metrics``): the
report's fraud section (``reports.fraud_sections``) and ``notebooks/fraud.ipynb`` use them
alike.

The attack's cost is what a hosted SMS provider bills per message sent, whatever the MFA
billing model: the messages sent to each country × its price in the pricing's
``provider_sms_per_message`` (``reports/pricing.yaml``; ``default`` for the others). The
cost avoided is the same price on the requests the defences refused. Both are given per
replication-hour (the attack's own duration), so runs of different lengths compare.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import pandas as pd

from reports.loaders import SimRun, point_label
from reports.pricing import Pricing

__all__ = [
    "attack_cost",
    "attack_table",
    "collateral_table",
    "fraud_points",
    "has_attacks",
    "message_price",
    "refused_over_time",
]

ATTACKS = ("pumping", "push_bombing")


def fraud_points(run: SimRun) -> list[tuple[str, Mapping[str, Any]]]:
    """Each point's ``fraud`` block with its label (the run's, or the sweep point's
    parameters); points without one are left out."""
    summary = run.summary or {}
    points = summary.get("points")
    if isinstance(points, list):
        out = []
        for point in points:
            fraud = (point.get("summary") or {}).get("fraud")
            if fraud:
                label = point_label(point.get("parameters") or {}) or run.label
                out.append((label, fraud))
        return out
    fraud = summary.get("fraud")
    return [(run.label, fraud)] if fraud else []


def attack_blocks(run: SimRun) -> Iterator[tuple[str, str, Mapping[str, Any]]]:
    """``(point label, attack, its block)`` for every attack of every point that had one."""
    for label, fraud in fraud_points(run):
        for kind in ATTACKS:
            block = fraud.get(kind)
            if block:
                yield label, kind, block


def has_attacks(run: SimRun) -> bool:
    """Whether the run had an attacker (its report gets a fraud section)."""
    return any(any(kind in fraud for kind in ATTACKS) for _, fraud in fraud_points(run))


def message_price(prices: Pricing, country: str) -> float:
    """The provider's price of one message to ``country`` (``default`` if not listed)."""
    table = prices.provider_sms_per_message
    return float(table.get(country, table.get("default", 0.0)))


def attack_cost(block: Mapping[str, Any], prices: Pricing) -> tuple[float, float]:
    """(cost, cost avoided) of one attack per replication-hour: messages sent (refused) to
    each country × its provider price, over replications × the attack's hours."""
    hours = float(block.get("span_s") or 0.0) / 3600.0
    replications = int(block.get("replications") or 1)
    if hours <= 0:
        return 0.0, 0.0
    sent = refused = 0.0
    for country, counts in (block.get("by_country") or {}).items():
        price = message_price(prices, country)
        sent += counts["sent"] * price
        refused += counts["refused"] * price
    scale = replications * hours
    return sent / scale, refused / scale


def attack_table(run: SimRun, prices: Pricing) -> pd.DataFrame:
    """One row per point and attack: requests, messages sent and refused, the refused share
    with its 95 % interval, messages an hour, cost and cost avoided, and for push bombing
    the accounts taken over."""
    rows = []
    for label, kind, block in attack_blocks(run):
        share = block["attack_refused_share"]
        cost, avoided = attack_cost(block, prices) if kind == "pumping" else (None, None)
        row: dict[str, Any] = {
            "point": label,
            "attack": kind,
            "attack_begins": block["attack_begins"],
            "attack_sent": block["attack_sent"],
            "attack_refused": block["attack_refused"],
            "attack_refused_share": share["estimate"],
            "ci_low": share["low"],
            "ci_high": share["high"],
            "attack_sent_per_hour": block["attack_sent_per_hour"]["estimate"],
            "attack_cost": cost,
            "attack_cost_avoided": avoided,
        }
        if kind == "push_bombing":
            row |= {
                "victims": block["victims"],
                "takeovers": block["takeovers"],
                "takeover_share": block["takeover_share"]["estimate"],
            }
        rows.append(row)
    return pd.DataFrame(rows)


def refused_over_time(run: SimRun) -> pd.DataFrame:
    """The attack's requests and the share refused per minute (summed over replications),
    one row per point, attack and minute."""
    frames = []
    for label, kind, block in attack_blocks(run):
        series = block["series"]
        frame = pd.DataFrame(
            {
                "start_s": series["start_s"],
                "attack_begins": series["attempts"],
                "attack_refused": series["refused"],
            }
        )
        frame["attack_refused_share"] = frame["attack_refused"] / frame["attack_begins"].where(
            frame["attack_begins"] > 0
        )
        frames.append(frame.assign(point=label, attack=kind))
    columns = [
        "point",
        "attack",
        "start_s",
        "attack_begins",
        "attack_refused",
        "attack_refused_share",
    ]
    if not frames:
        return pd.DataFrame(columns=columns)
    return pd.concat(frames, ignore_index=True)[columns]


def collateral_table(run: SimRun) -> pd.DataFrame:
    """The defences' cost to real users, one row per point: their sign-ins refused
    ``fraud_suspected``/``country_blocked``, the share with its interval, those lost, and
    the extra time of the refused ones that still got in."""
    rows = []
    for label, fraud in fraud_points(run):
        c = fraud.get("collateral")
        if not c:
            continue
        share = c["signins_refused_by_defences_share"]
        rows.append(
            {
                "point": label,
                "authentications": c["authentications"],
                "fraud_refusals": sum(c["fraud_refusals"].values()),
                "signins_refused_by_defences": c["signins_refused_by_defences"],
                "signins_refused_by_defences_share": share["estimate"],
                "ci_low": share["low"],
                "ci_high": share["high"],
                "signins_failed_after_defence_refusal": c["signins_failed_after_defence_refusal"],
                "defence_extra_time_s": c["defence_extra_time_s"],
            }
        )
    return pd.DataFrame(rows)
