"""Billing: what a month costs under each model, where they break even, and what switching takes.

The engine is the single source of truth for *what is counted*: a month's usage is an
``mfa.billing.BillingUsage`` — ``enabled_users`` (every user enabled for MFA in the month,
whether or not they authenticated), ``licensed_users``, ``authentications`` (every billable
two-step verification, whatever the method, licensed or not) and ``billable_users`` (enabled
minus licensed) — produced by ``Engine.usage`` for a live deployment and built from the same
definitions for a simulated window (both in ``reports.billing_usage``). This module only puts
prices (``reports.pricing``: ``reports/pricing.yaml``, historical list prices, overridable)
on it:

- per-user provider: ``billable_users × per_user_month`` — licensed users are not counted;
- per-authentication provider: ``authentications × per_auth_price / per_auth_block`` — licensed
  users' authentications still count, and the method (sms, voice, push, totp…) does not change
  the price: calls and texts are not billed per message;
- licences: ``licence_user_year / 12`` per licensed user per month, paid under either provider;
  the ``licences`` row prices licensing every enabled user and deleting the provider.

A real deployment's bill of record is ``BillingUsage.providers`` — each provider active in the
month, billing the part of it in which it was active — priced by ``provider_charges``
(``mfalab billing --db URL``); ``monthly_costs`` prices the whole month under each model as a
what-if.

A provider's model can never change (``Engine.change_billing_model`` raises
``BillingModelLocked``): switching means a new provider, re-activating the servers with its
credentials, and every push user re-activating the app (``switch_what_if``).

The names of ``reports.pricing`` and ``reports.billing_usage`` are importable from here too,
so ``from reports import billing`` gives a notebook the whole chain.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime

import pandas as pd

from mfa.billing import BillingModel, BillingUsage
from mfa.errors import BillingModelLocked
from reports.billing_usage import (
    DEFAULT_SIGNINS_PER_USER_MONTH,
    MONTH_SECONDS,
    MonthEstimate,
    last_complete_month,
    push_users,
    question_engine,
    usage_from_database,
    usage_from_logs,
    usage_from_run,
)
from reports.pricing import Pricing, load_pricing

__all__ = [
    "DEFAULT_SIGNINS_PER_USER_MONTH",
    "MONTH_SECONDS",
    "MonthEstimate",
    "Pricing",
    "SwitchWhatIf",
    "break_even_auths_per_user",
    "check_model_lock",
    "last_complete_month",
    "load_pricing",
    "monthly_costs",
    "provider_charges",
    "push_users",
    "switch_what_if",
    "usage_from_database",
    "usage_from_logs",
    "usage_from_run",
]


# ---------------------------------------------------------------------- prices on usage


def monthly_costs(
    usage: BillingUsage, pricing: Pricing, *, messages: Mapping[str, float] | None = None
) -> pd.DataFrame:
    """One row per billing model: what is billed, consumption, licences and total a month.

    ``per_user`` and ``per_auth`` keep the licences the organisation already holds
    (``usage.licensed_users``); ``licences`` licenses every enabled user and has no provider.
    ``messages`` (``{"sms": n, "voice": n}`` a month) is priced only if the pricing sets a
    per-message fee — zero by default, as the seed says calls and texts are not billed.
    """
    held = usage.licensed_users * pricing.licence_user_month
    sent = messages or {}
    per_message = (
        sent.get("sms", 0.0) * pricing.sms_per_message
        + sent.get("voice", 0.0) * pricing.voice_per_call
    )
    rows = [
        {
            "model": BillingModel.PER_USER.value,
            "billed": float(usage.billable_users),
            "unit": "enabled users without a licence",
            "consumption": usage.billable_users * pricing.per_user_month,
        },
        {
            "model": BillingModel.PER_AUTH.value,
            "billed": float(usage.authentications),
            "unit": "authentications (any method, licensed or not)",
            "consumption": usage.authentications * pricing.per_auth,
        },
    ]
    for row in rows:
        row.update(message_fees=per_message, licences=held)
    rows.append(
        {
            "model": "licences",
            "billed": float(usage.enabled_users),
            "unit": "licences (every enabled user)",
            "consumption": 0.0,
            "message_fees": per_message,
            "licences": usage.enabled_users * pricing.licence_user_month,
        }
    )
    table = pd.DataFrame(rows)
    table["total"] = table["consumption"] + table["message_fees"] + table["licences"]
    table["current"] = table["model"].eq(usage.model.value if usage.model else "")
    return table


def break_even_auths_per_user(usage: BillingUsage, pricing: Pricing) -> float:
    """Authentications per enabled user per month at which per-user and per-auth cost the same.

    Licences held cost the same under both and cancel; per-auth bills every enabled user's
    authentications, per-user only the unlicensed users: below this rate per-auth is cheaper.
    """
    if usage.enabled_users == 0 or pricing.per_auth == 0:
        return math.nan
    return usage.billable_users * pricing.per_user_month / (usage.enabled_users * pricing.per_auth)


# ---------------------------------------------------------------------- the model lock


def check_model_lock(current: BillingModel | str, target: BillingModel | str) -> str | None:
    """Ask the engine whether a provider billing ``current`` may move to ``target``.

    Returns ``None`` when nothing would change, else the engine's ``BillingModelLocked``
    message — the seed's rule comes from ``Engine.change_billing_model``, not from here.
    """
    from mfa.clock import ManualClock
    from mfa.repository import InMemoryRepository

    engine = question_engine(ManualClock(), InMemoryRepository(), b"what-if-never-stores-a-secret")
    engine.create_provider("existing", current)
    try:
        engine.change_billing_model(target)
    except BillingModelLocked as exc:
        return str(exc)
    return None


@dataclass(frozen=True, slots=True)
class SwitchWhatIf:
    current: str
    target: str
    current_cost: float
    target_cost: float
    monthly_saving: float
    push_users_to_reactivate: int
    engine_says: str | None
    steps: tuple[str, ...]


def switch_what_if(
    usage: BillingUsage,
    pricing: Pricing,
    *,
    push_users: int,
    target: BillingModel | str | None = None,
) -> SwitchWhatIf:
    """Price moving to ``target`` (default: the other consumption model) and list its cost in
    people: every user of mobile-app notifications must re-activate the app."""
    current = BillingModel(usage.model) if usage.model else BillingModel.PER_USER
    if target is None:
        goal = BillingModel.PER_AUTH if current is BillingModel.PER_USER else BillingModel.PER_USER
    else:
        goal = BillingModel(target)
    costs = monthly_costs(replace(usage, model=current), pricing).set_index("model")["total"]
    message = check_model_lock(current, goal)
    steps: tuple[str, ...] = ()
    if message is not None:
        steps = (
            f"create a new {goal.value} provider (the {current.value} one cannot change model)",
            "re-activate every MFA Server with activation credentials from the new provider",
            "re-create user settings and configuration if the new provider is not linked to the "
            "same tenant (they are not transferred)",
            f"{push_users} push user(s) re-activate the mobile app: notifications stop for them "
            "until they do (calls and texts keep working)",
        )
    return SwitchWhatIf(
        current=current.value,
        target=goal.value,
        current_cost=float(costs[current.value]),
        target_cost=float(costs[goal.value]),
        monthly_saving=float(costs[current.value] - costs[goal.value]),
        push_users_to_reactivate=push_users if message is not None else 0,
        engine_says=message,
        steps=steps,
    )


def provider_charges(usage: BillingUsage, pricing: Pricing) -> pd.DataFrame:
    """The month's bill: one row per provider active in it, with what it billed for the part
    of the month it was active (``BillingUsage.providers``) and the charge. Licences are
    billed apart (annually), so they are not in this table."""
    rows = []
    for provider in usage.providers:
        per_user = provider.model is BillingModel.PER_USER
        rows.append(
            {
                "provider": provider.name,
                "model": provider.model.value,
                "active_from": datetime.fromtimestamp(provider.active_from, UTC),
                "active_until": datetime.fromtimestamp(provider.active_until, UTC),
                "billed": provider.billed,
                "unit": "enabled users without a licence" if per_user else "authentications",
                "charge": provider.billed
                * (pricing.per_user_month if per_user else pricing.per_auth),
            }
        )
    columns = ["provider", "model", "active_from", "active_until", "billed", "unit", "charge"]
    return pd.DataFrame(rows, columns=columns)
