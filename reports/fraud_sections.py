"""The report's fraud section, for a run (or sweep) with attackers: attack traffic, the
share refused over time, the cost and the cost avoided, and the collateral on real users.
Every figure comes from ``reports.fraud``; ``notebooks/fraud.ipynb`` shows the same."""

from __future__ import annotations

from reports import charts, fraud
from reports.loaders import SimRun
from reports.pricing import Pricing
from reports.render import Page

__all__ = ["FRAUD_CHARTS", "fraud_sections"]

#: The charts of the fraud section (``data-chart`` kinds).
FRAUD_CHARTS = ("fraud-refused-over-time",)


def fraud_sections(page: Page, run: SimRun, index: int, prices: Pricing) -> None:
    """Add the fraud section of ``run`` (nothing if it had no attacker)."""
    if not fraud.has_attacks(run):
        return
    section = page.section(f"{run.label}: attacks and defences", f"fraud-{index}")
    attacks = fraud.attack_table(run, prices)
    section.text(
        "Attackers ran beside the real users against the same engines (scenario key "
        "`attacks`); the engines' defences, send limit and number matching decided every "
        "request. Refused share: pooled over replications with its 95 % interval; messages "
        "an hour, cost and cost avoided: per replication-hour of the attack. The cost is what "
        f"a hosted SMS provider bills per message sent ({prices.currency}, "
        "`provider_sms_per_message`), whatever the MFA billing model."
    )
    section.table("Attack traffic, cost and takeovers", attacks, markdown=True)
    timeline = fraud.refused_over_time(run)
    section.chart(
        FRAUD_CHARTS[0],
        f"fraud-refused-over-time-{index}",
        charts.fraud_refused_chart(timeline),
        "Share of the attack's requests the defences refused, minute by minute (all "
        "replications together)",
    )
    collateral = fraud.collateral_table(run)
    if not collateral.empty:
        section.table(
            "Collateral: real sign-ins a defence refused (fraud_suspected, country_blocked)",
            collateral,
            markdown=True,
        )
        section.text(
            "A real sign-in refused by a defence falls back to another method or gives up; "
            "the extra time compares those that still got in with all successes."
        )
    listed = ", ".join(f"{k} {v:g}" for k, v in prices.provider_sms_per_message.items())
    section.text(
        f"Provider prices per message ({prices.currency}): {listed or 'none given'} "
        "(reports/pricing.yaml `provider_sms_per_message`: assumed, of the order of list "
        "prices; `--pricing FILE` replaces them)."
    )
