"""A month's usage, from where it was counted: a deployment's database, an exported engine
log, or a simulated window scaled to a month.

The engine is the single source of truth for *what is counted* (``mfa.billing.BillingUsage``,
``Engine.usage``); this module only finds the month's figures and, for a simulation, says how
a window became a month. ``reports.billing`` puts prices on the result.

Scaling a simulated window to a month (``usage_from_run``): enabled users are the scenario's
``population.users`` (enabled all month), licensed users its ``billing.licences``; the window's
billable authentications per replication are the engine's — the run's ``billable`` column,
the begins the engine accepted (each left a billable log record), so resends and fallbacks
each count; a run without that column is refused rather than re-derived. A month then holds
either
``users × signins_per_user_month × (billable authentications per sign-in in the window)``, the
sign-in rate coming from the caller (``--signins-per-user-month``), the scenario
(``billing.signins_per_user_month``) or ``DEFAULT_SIGNINS_PER_USER_MONTH`` (one per working
day, assumed); or, with ``linear=True``, the window's count scaled by ``MONTH_SECONDS /
arrivals.duration_s`` (only meaningful for a window that is a typical slice of the month — a
9:00 storm scaled this way overstates it many times). Messages are scaled by the same factor.
The rule used is returned with the estimate.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from mfa.billing import BillingModel, BillingUsage, month_bounds
from reports.loaders import ReportInputError, SimRun

__all__ = [
    "DEFAULT_SIGNINS_PER_USER_MONTH",
    "MONTH_SECONDS",
    "MonthEstimate",
    "last_complete_month",
    "push_users",
    "question_engine",
    "usage_from_database",
    "usage_from_logs",
    "usage_from_run",
]

#: An average month (365.25 days / 12), for scaling a simulated window.
MONTH_SECONDS = 365.25 / 12 * 86400
#: Sign-ins per user per month when neither the caller nor the scenario says: one MFA sign-in
#: per working day (assumed; no published figure).
DEFAULT_SIGNINS_PER_USER_MONTH = 21.0


def question_engine(clock: Any, repository: Any, key: bytes) -> Any:
    """An engine that only answers questions (usage, the model lock): it never sends."""
    from mfa.delivery.sink import SinkGateway
    from mfa.engine import Engine, ServerIdentity
    from mfa.pending import MemoryPendingStore

    return Engine(
        server=ServerIdentity("reports"),
        clock=clock,
        repository=repository,
        pending=MemoryPendingStore(),
        gateway=SinkGateway(),
        secret_key=key,
    )


def usage_from_database(db_url: str, month: str, *, secret_key: str | bytes = "") -> BillingUsage:
    """``Engine.usage(month)`` on a deployment's database: the engine counts, nothing else.

    Only users, their dated history, the providers and the log are read — none is sealed, so
    no secret key is needed (``secret_key`` is accepted for earlier callers and unused)."""
    del secret_key
    from mfa.clock import SystemClock
    from mfa.storage.sql import SqlRepository

    repository = SqlRepository(db_url, secret_key=None)
    try:
        engine = question_engine(SystemClock(), repository, b"reports-read-only-never-digests")
        return engine.usage(month)
    finally:
        repository.close()


def last_complete_month(now: datetime | None = None) -> str:
    """The month before ``now`` (UTC): the latest month whose bill can no longer change."""
    when = (now or datetime.now(UTC)).astimezone(UTC)
    year, month = (when.year, when.month - 1) if when.month > 1 else (when.year - 1, 12)
    return f"{year:04d}-{month:02d}"


def usage_from_logs(
    logs: pd.DataFrame,
    month: str,
    *,
    enabled_users: int,
    licensed_users: int,
    model: BillingModel | str | None = None,
) -> BillingUsage:
    """A month's usage from an exported engine log (``reports.loaders.load_engine_logs``).

    Authentications are counted as ``Engine.usage`` counts them — billable records that began
    in the month (``mfa.billing.month_bounds``); the log has no user table, so the enabled and
    licensed user counts are given (``usage_from_database`` reads them for you).
    """
    start, end = month_bounds(month)
    began = logs["began_at"]
    seconds = (began - pd.Timestamp(0, tz="UTC")).dt.total_seconds()
    counted = logs["billable"].astype(bool) & (seconds >= start) & (seconds < end)
    return BillingUsage(
        month=month,
        model=BillingModel(model) if model else None,
        enabled_users=int(enabled_users),
        licensed_users=int(licensed_users),
        authentications=int(counted.sum()),
    )


@dataclass(frozen=True, slots=True)
class MonthEstimate:
    """A simulated window scaled to a month, and how."""

    usage: BillingUsage
    rule: str
    scale: float  # window → month factor applied to authentications and messages
    window_seconds: float
    window_signins: float  # authentications (sign-ins) per replication in the window
    window_billable: float  # engine-billable authentications per replication in the window
    messages: Mapping[str, float]  # sms and voice messages a month
    push_users: int


def usage_from_run(
    run: SimRun,
    *,
    signins_per_user_month: float | None = None,
    linear: bool = False,
    model: BillingModel | str | None = None,
) -> MonthEstimate:
    """A month of ``BillingUsage`` from a simulated window (the rule is in the module doc)."""
    scenario = run.scenario
    auths = run.auths
    replications = max(int(auths["replication"].nunique()), 1) if len(auths) else 1
    users = _scenario_number(scenario, "population.users")
    enabled = int(users) if users is not None else int(auths["user_id"].nunique())
    licensed = _licensed_users(scenario, auths, enabled)
    billable = float(auths["billable"].sum()) / replications
    signins = len(auths) / replications
    window = _window_seconds(scenario, auths)
    rate = signins_per_user_month
    source = "given"
    if rate is None:
        rate = _scenario_number(scenario, "billing.signins_per_user_month")
        source = "scenario billing.signins_per_user_month"
    if rate is None:
        rate, source = DEFAULT_SIGNINS_PER_USER_MONTH, "assumed: one sign-in per working day"
    if linear:
        scale = MONTH_SECONDS / window if window > 0 else 0.0
        rule = f"window of {window:g} s scaled linearly to a month (× {scale:.1f})"
    else:
        scale = enabled * float(rate) / signins if signins > 0 else 0.0
        per_signin = billable / signins if signins > 0 else 0.0
        rule = (
            f"{enabled:,} users × {float(rate):g} sign-ins per user per month ({source}) × "
            f"{per_signin:.3f} billable authentications per sign-in (from the window)"
        )
    if users is None:
        rule += "; users = distinct users seen in the window"
    chosen = model if model is not None else _scenario_get(scenario, "billing.model")
    try:
        billing_model = BillingModel(chosen) if chosen else None
    except ValueError:
        raise ReportInputError(
            run.path / "scenario.yaml", f"billing.model: {chosen!r} is not per_user or per_auth"
        ) from None
    channels = run.deliveries["channel"].astype(str).value_counts()
    messages = {c: float(channels.get(c, 0)) / replications * scale for c in ("sms", "voice")}
    usage = BillingUsage(
        month=_month_label(scenario),
        model=billing_model,
        enabled_users=enabled,
        licensed_users=licensed,
        authentications=round(billable * scale),
    )
    return MonthEstimate(
        usage=usage,
        rule=rule,
        scale=scale,
        window_seconds=window,
        window_signins=signins,
        window_billable=billable,
        messages=messages,
        push_users=push_users(run, enabled),
    )


def _month_label(scenario: Mapping[str, Any]) -> str:
    """The month of the scenario's epoch (billing months follow it), else ``simulated``."""
    epoch = _scenario_get(scenario, "epoch")
    if epoch is None:
        return "simulated"
    try:
        return pd.Timestamp(epoch).strftime("%Y-%m")
    except (ValueError, TypeError):
        return "simulated"


def push_users(run: SimRun, enabled_users: int | None = None) -> int:
    """Users with the mobile app registered for notifications — the ones a provider switch
    makes re-activate it: the scenario's default-method share of push plus the others' backup
    share (``population.methods`` / ``backup_methods``), else the distinct users seen using push
    in the window (a lower bound)."""
    enabled = enabled_users
    if enabled is None:
        users = _scenario_number(run.scenario, "population.users")
        enabled = int(users) if users is not None else int(run.auths["user_id"].nunique())
    default = _method_share(run.scenario, "push")
    if default is not None:
        backup = _scenario_number(run.scenario, "population.backup_methods.push") or 0.0
        return round(enabled * (default + (1 - default) * min(max(backup, 0.0), 1.0)))
    used = run.auths["methods_used"].astype(str).str.contains("push", regex=False)
    return int(run.auths.loc[used, "user_id"].nunique())


def _scenario_get(scenario: Mapping[str, Any], dotted: str) -> Any:
    node: Any = scenario
    for part in dotted.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


def _scenario_number(scenario: Mapping[str, Any], dotted: str) -> float | None:
    value = _scenario_get(scenario, dotted)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _licensed_users(scenario: Mapping[str, Any], auths: pd.DataFrame, enabled: int) -> int:
    for key in ("billing.licences", "billing.licensed_users"):
        count = _scenario_number(scenario, key)
        if count is not None:
            return min(int(count), enabled)
    if not len(auths):
        return 0
    per_user = auths.groupby("user_id", sort=False)["licensed"].first()
    return min(round(enabled * float(per_user.mean())), enabled)


def _method_share(scenario: Mapping[str, Any], method: str) -> float | None:
    for key in ("population.methods",):
        mix = _scenario_get(scenario, key)
        if isinstance(mix, Mapping) and mix:
            values = {str(k): v for k, v in mix.items() if isinstance(v, int | float)}
            total = sum(values.values())
            if total > 0:
                return values.get(method, 0.0) / total
    return None


def _window_seconds(scenario: Mapping[str, Any], auths: pd.DataFrame) -> float:
    for key in ("arrivals.duration_s",):
        value = _scenario_number(scenario, key)
        if value is not None and value > 0:
            return value
    if not len(auths):
        return 0.0
    return float(auths["arrived_at"].max())
