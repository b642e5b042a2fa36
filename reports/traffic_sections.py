"""The report of a real server's traffic, from its engine log (``mfalab logs export``):
reliability by method, server and refusal, and the bill under each model per month."""

from __future__ import annotations

import pandas as pd

from outputs.metrics import TRAFFIC
from reports import billing, traffic
from reports.billing_sections import prices_note
from reports.render import Page

__all__ = [
    "traffic_sections",
]


def traffic_sections(
    page: Page,
    label: str,
    logs: pd.DataFrame,
    index: int,
    prices: billing.Pricing,
    enabled_users: int | None,
    licensed_users: int,
) -> None:
    """Reliability and billing of a real server's traffic, from its engine log."""
    section = page.section(f"{label}: real traffic (engine log)", f"traffic-{index}")
    head = traffic.headline(logs)
    if not head["authentications"]:
        section.text("The log holds no authentication.")
        return
    first, last = logs["began_at"].min(), logs["began_at"].max()
    section.text(
        f"{head['authentications']:,} authentications began from {first:%Y-%m-%d %H:%M} to "
        f"{last:%Y-%m-%d %H:%M} UTC; {head['successes']:,} succeeded "
        f"({TRAFFIC.format('success_share', head['success_share'])} of those that finished); "
        f"time from begin to success p50 {TRAFFIC.format('p50', head['p50'])}, "
        f"p95 {TRAFFIC.format('p95', head['p95'])}; {head['unfinished']:,} never "
        f"finished (pending: not answered, or not yet); {head['billable']:,} billable."
    )
    section.table("By method", traffic.by_column(logs, "mode"), markdown=True, catalogue=TRAFFIC)
    section.table(
        "By server", traffic.by_column(logs, "server_name"), markdown=True, catalogue=TRAFFIC
    )
    section.table(
        "Not successful, by status and reason",
        traffic.refusals(logs),
        markdown=True,
        catalogue=TRAFFIC,
    )
    section = page.section(f"{label}: billing of real traffic", f"traffic-billing-{index}")
    tables = []
    for month in traffic.usage_by_month(
        logs, enabled_users=enabled_users, licensed_users=licensed_users
    ):
        usage = month.usage
        section.text(
            f"{usage.month}: {usage.authentications:,} billable authentications; "
            f"{usage.enabled_users:,} enabled users, {usage.licensed_users:,} licensed "
            f"(users: {month.users_rule})."
        )
        costs = billing.monthly_costs(usage, prices).drop(columns=["current"])
        tables.append(costs.assign(month=usage.month).set_index("month").reset_index())
    section.table(
        f"Cost per month under each model ({prices.currency})",
        pd.concat(tables, ignore_index=True),
        markdown=True,
        catalogue=TRAFFIC,
    )
    section.text(
        "The log has no user table: for the bill of record, with the users enabled and "
        "licensed in each month and the providers active in it, run "
        "`mfalab billing --db URL --month YYYY-MM` on the server's database."
    )
    prices_note(section, prices)
