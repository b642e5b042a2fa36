"""Billing: what a month costs under each model, where they break even, and what switching takes.

The engine is the single source of truth for *what is counted*: a month's usage is an
``mfa.billing.BillingUsage`` — ``enabled_users`` (every user enabled for MFA in the month,
whether or not they authenticated), ``licensed_users``, ``authentications`` (every billable
two-step verification, whatever the method, licensed or not) and ``billable_users`` (enabled
minus licensed) — produced by ``Engine.usage`` for a live deployment (``usage_from_database``)
and built from the same definitions for a simulated window (``usage_from_run``). This module only
puts prices on it (``reports/pricing.yaml``, historical list prices, overridable):

- per-user provider: ``billable_users × per_user_month`` — licensed users are not counted;
- per-authentication provider: ``authentications × per_auth_price / per_auth_block`` — licensed
  users' authentications still count, and the method (sms, voice, push, totp…) does not change
  the price: calls and texts are not billed per message;
- licences: ``licence_user_year / 12`` per licensed user per month, paid under either provider;
  the ``licences`` row prices licensing every enabled user and deleting the provider.

A real deployment's bill of record is ``BillingUsage.providers`` — each provider active in the
month, billing the part of it in which it was active — priced by ``provider_charges``
(``mfalab billing --db URL``); ``monthly_costs`` prices the whole month under each model as a
what-if. Partial price files merge key by key (``load_pricing``).

A provider's model can never change (``Engine.change_billing_model`` raises
``BillingModelLocked``): switching means a new provider, re-activating the servers with its
credentials, and every push user re-activating the app (``switch_what_if``).

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

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from mfa.billing import BillingModel, BillingUsage, month_bounds
from mfa.errors import BillingModelLocked
from reports.loaders import ReportInputError, SimRun

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

#: An average month (365.25 days / 12), for scaling a simulated window.
MONTH_SECONDS = 365.25 / 12 * 86400
#: Sign-ins per user per month when neither the caller nor the scenario says: one MFA sign-in
#: per working day (assumed; no published figure).
DEFAULT_SIGNINS_PER_USER_MONTH = 21.0


@dataclass(frozen=True, slots=True)
class Pricing:
    """List prices; ``reports/pricing.yaml`` documents the defaults and their source."""

    currency: str
    per_user_month: float
    per_auth_price: float
    per_auth_block: int
    licence_user_year: float
    #: The seed: calls and texts are not billed per message; kept for other providers' what-ifs.
    sms_per_message: float = 0.0
    voice_per_call: float = 0.0
    #: What a hosted SMS provider charges per message sent to a country (ISO region, or
    #: ``default``) whatever the billing model: the attack cost of SMS pumping.
    provider_sms_per_message: Mapping[str, float] = field(default_factory=dict)
    source: str = ""
    as_of: str = ""
    historical: bool = False

    @property
    def per_auth(self) -> float:
        """Price of one authentication (blocks are billed pro rata)."""
        return self.per_auth_price / self.per_auth_block

    @property
    def licence_user_month(self) -> float:
        return self.licence_user_year / 12


#: Keys of a scenario's ``billing.prices`` (sim.scenario.Prices), accepted as aliases.
_ALIASES = {"per_auth": ("per_auth_price", "per_auth_block"), "licence_month": "licence_user_year"}


def load_pricing(
    path: str | Path | None = None, *, scenario_prices: Mapping[str, Any] | None = None
) -> Pricing:
    """Prices in force, lowest precedence first: the shipped ``pricing.yaml``, a scenario's
    ``billing.prices``, then the YAML file at ``path`` (``--pricing``), key by key.

    A file may also use the scenario's spelling: ``per_auth`` (one authentication) and
    ``licence_month`` (one licence a month). ``per_auth_price`` and ``per_auth_block`` merge
    as one price (see ``_with_whole_block``): a layer giving one of them takes the other from
    the documented defaults, never from a lower layer.
    """
    default = yaml.safe_load(
        resources.files("reports").joinpath("pricing.yaml").read_text(encoding="utf-8")
    )
    merged = dict(default)
    if scenario_prices:
        layer = _normalised(scenario_prices, Path("scenario.yaml: billing.prices"))
        merged.update(_with_whole_block(layer, default))
        merged.update(source="the scenario's billing.prices", as_of="", historical=False)
    where = Path(path) if path is not None else Path("reports/pricing.yaml")
    if path is not None:
        try:
            override = yaml.safe_load(where.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ReportInputError(where, f"cannot be read ({exc.strerror or exc})") from None
        except yaml.YAMLError as exc:
            raise ReportInputError(where, f"not valid YAML ({exc})") from None
        if override is None:
            override = {}
        if not isinstance(override, dict):
            raise ReportInputError(where, "expected a mapping of price keys")
        normalised = _normalised(override, where)
        merged.update(_with_whole_block(normalised, default))
        if "source" not in normalised:
            merged.update(source=str(where), as_of="", historical=False)
    return _validated(merged, where)


def _normalised(values: Mapping[str, Any], where: Path) -> dict[str, Any]:
    known = {f.name for f in fields(Pricing)}
    unknown = sorted(set(values) - known - set(_ALIASES))
    if unknown:
        choices = sorted(known | set(_ALIASES))
        raise ReportInputError(where, f"unknown keys {unknown}; known: {choices}")
    out = {k: v for k, v in values.items() if k in known}
    if "per_auth" in values:
        out.update(per_auth_price=values["per_auth"], per_auth_block=1)
    if "licence_month" in values:
        value = values["licence_month"]
        out["licence_user_year"] = value * 12 if _is_number(value) else value
    return out


def _with_whole_block(layer: dict[str, Any], default: Mapping[str, Any]) -> dict[str, Any]:
    """``per_auth_price`` is the price of ``per_auth_block`` authentications: the two keys are
    one price and merge as one. A layer that sets either sets both, the one it omits taken
    from the documented defaults — so a file giving only ``per_auth_price: 1.40`` prices 10
    authentications, as ``pricing.yaml`` documents, even over a scenario's ``per_auth`` (which
    is a block of 1)."""
    if "per_auth_price" not in layer and "per_auth_block" not in layer:
        return layer
    return {
        "per_auth_price": default["per_auth_price"],
        "per_auth_block": default["per_auth_block"],
        **layer,
    }


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _per_country(table: object, where: Path) -> dict[str, float]:
    """``provider_sms_per_message``: ISO regions (or ``default``) to non-negative prices."""
    if not isinstance(table, Mapping):
        raise ReportInputError(
            where,
            f"provider_sms_per_message: expected a mapping of country to price, got {table!r}",
        )
    out: dict[str, float] = {}
    for country, price in table.items():
        known = country == "default" or (
            isinstance(country, str) and len(country) == 2 and country.isupper()
        )
        if not known:
            raise ReportInputError(
                where, f"provider_sms_per_message: {country!r} is not an ISO region or 'default'"
            )
        if not _is_number(price) or price < 0:
            raise ReportInputError(
                where,
                f"provider_sms_per_message.{country}: must be a non-negative number, got {price!r}",
            )
        out[country] = float(price)
    return out


def _validated(values: Mapping[str, Any], where: Path) -> Pricing:
    numbers = (
        "per_user_month",
        "per_auth_price",
        "licence_user_year",
        "sms_per_message",
        "voice_per_call",
    )
    for key in numbers:
        value = values.get(key, 0.0)
        if not _is_number(value) or value < 0:
            raise ReportInputError(where, f"{key}: must be a non-negative number, got {value!r}")
    block = values.get("per_auth_block")
    if isinstance(block, bool) or not isinstance(block, int) or block < 1:
        raise ReportInputError(where, f"per_auth_block: must be a positive integer, got {block!r}")
    return Pricing(
        currency=str(values.get("currency", "USD")),
        per_user_month=float(values["per_user_month"]),
        per_auth_price=float(values["per_auth_price"]),
        per_auth_block=block,
        licence_user_year=float(values["licence_user_year"]),
        sms_per_message=float(values.get("sms_per_message", 0.0)),
        voice_per_call=float(values.get("voice_per_call", 0.0)),
        provider_sms_per_message=_per_country(values.get("provider_sms_per_message", {}), where),
        source=" ".join(str(values.get("source", "")).split()),
        as_of=str(values.get("as_of", "")),
        historical=bool(values.get("historical", False)),
    )


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

    engine = _engine(ManualClock(), InMemoryRepository(), b"what-if-never-stores-a-secret")
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


# ---------------------------------------------------------------------- usage


def _engine(clock: Any, repository: Any, key: bytes) -> Any:
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
        return _engine(SystemClock(), repository, b"reports-read-only-never-digests").usage(month)
    finally:
        repository.close()


def last_complete_month(now: datetime | None = None) -> str:
    """The month before ``now`` (UTC): the latest month whose bill can no longer change."""
    when = (now or datetime.now(UTC)).astimezone(UTC)
    year, month = (when.year, when.month - 1) if when.month > 1 else (when.year - 1, 12)
    return f"{year:04d}-{month:02d}"


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
