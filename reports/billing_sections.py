"""Billing in a report: which prices a run is costed at, and the billing section of a
simulator run (usage, cost per model, break-even, the switch what-if, the prices used)."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from reports import billing, charts
from reports.loaders import ReportInputError, SimRun
from reports.render import Page, Section

__all__ = [
    "prices_note",
    "run_prices",
    "sim_billing_section",
]


def run_prices(run: SimRun, pricing_file: str | Path | None = None) -> billing.Pricing:
    """Shipped defaults < the scenario's billing.prices < --pricing FILE."""
    scenario_prices = run.scenario.get("billing", {})
    scenario_prices = scenario_prices.get("prices") if isinstance(scenario_prices, dict) else None
    if scenario_prices is not None and not isinstance(scenario_prices, dict):
        raise ReportInputError(run.path / "scenario.yaml", "billing.prices: expected a mapping")
    return billing.load_pricing(pricing_file, scenario_prices=scenario_prices)


def sim_billing_section(
    page: Page,
    run: SimRun,
    tag: str,
    prefix: str,
    prices: billing.Pricing,
    signins_per_user_month: float | None,
) -> None:
    section = page.section(prefix + "billing", f"billing-{tag}")
    estimate = billing.usage_from_run(run, signins_per_user_month=signins_per_user_month)
    usage = estimate.usage
    costs = billing.monthly_costs(usage, prices, messages=estimate.messages)
    section.text(f"Month scaled from the simulated window: {estimate.rule}.")
    section.table(
        "Usage (mfa.billing.BillingUsage)",
        pd.DataFrame(
            [
                {
                    "model": usage.model.value if usage.model else "(not set)",
                    "enabled_users": usage.enabled_users,
                    "licensed_users": usage.licensed_users,
                    "billable_users": usage.billable_users,
                    "authentications": usage.authentications,
                    "window_signins": estimate.window_signins,
                    "window_billable": estimate.window_billable,
                    "sms_month": round(estimate.messages.get("sms", 0.0)),
                    "voice_month": round(estimate.messages.get("voice", 0.0)),
                }
            ]
        ),
        markdown=True,
    )
    section.chart(
        "cost-by-model",
        f"chart-cost-by-model-{tag}",
        charts.cost_chart(costs, prices.currency),
        f"Monthly cost by billing model ({prices.currency})",
    )
    section.table(f"Cost per month ({prices.currency})", costs, markdown=True)
    even = billing.break_even_auths_per_user(usage, prices)
    per_user_rate = usage.authentications / usage.enabled_users if usage.enabled_users else 0.0
    if not math.isnan(even):
        cheaper = "per-authentication" if per_user_rate < even else "per-user"
        section.text(
            f"Break-even: {even:.2f} authentications per enabled user per month; this run makes "
            f"{per_user_rate:.2f}, so the {cheaper} model is cheaper."
        )
    what_if = billing.switch_what_if(usage, prices, push_users=estimate.push_users)
    section.text(
        f"Switching {what_if.current} → {what_if.target}: {what_if.current_cost:,.2f} → "
        f"{what_if.target_cost:,.2f} {prices.currency} a month (saving "
        f"{what_if.monthly_saving:,.2f}). The engine says: {what_if.engine_says or 'no change'}"
    )
    for step in what_if.steps:
        section.text(f"• {step}")
    prices_note(section, prices, per_message=True)


def prices_note(section: Section, prices: billing.Pricing, *, per_message: bool = False) -> None:
    """Which prices the costs above use, and where they come from (``per_message``: the
    simulator counts texts and calls, so their prices matter; an engine log does not)."""
    note = " (historical list prices)" if prices.historical else ""
    dated = f", as of {prices.as_of}" if prices.as_of else ""
    messages = (
        f", per SMS {prices.sms_per_message:g}, per call {prices.voice_per_call:g}"
        if per_message
        else ""
    )
    section.text(
        f"Prices: {prices.source}{note}{dated}; per user {prices.per_user_month:g}/month, "
        f"{prices.per_auth_price:g} per {prices.per_auth_block} authentication(s), licence "
        f"{prices.licence_user_year:g}/user/year{messages}. Override with --pricing FILE."
    )
