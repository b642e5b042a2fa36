"""The provider account and what it bills: its lifecycle (create, replace, relink, delete)
and the month's usage, as the seed describes them.

The billing model is fixed for a provider's lifetime; a deployment moves to the other
model by replacing the provider, and each month is billed by the providers active in it.
These are steps of ``mfa.engine.Engine``, written as functions of it.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from mfa.billing import (
    BillingModel,
    BillingUsage,
    ProviderAccount,
    ProviderMove,
    ProviderUsage,
    count_users,
    month_bounds,
)
from mfa.errors import BillingModelLocked, ConflictError, InvalidInput, NotFound
from mfa.methods import MethodType

if TYPE_CHECKING:
    from mfa.engine import Engine

__all__ = [
    "billing_model",
    "change_billing_model",
    "create_provider",
    "delete_provider",
    "move_users",
    "new_provider",
    "relink_provider",
    "replace_provider",
    "usage",
]


def create_provider(
    engine: Engine, name: str, model: BillingModel | str, *, tenant: str | None = None
) -> ProviderAccount:
    """The deployment's provider, with a model fixed for its lifetime. Refused while
    another is active: moving to a new provider is ``replace_provider``."""
    chosen = billing_model(model)
    existing = engine.repository.get_account()
    if existing is not None:
        if existing.model is not chosen:
            raise BillingModelLocked(
                f"provider {existing.name!r} bills {existing.model.value}; the billing "
                "model can't be changed after a provider is created — create a new "
                "provider with replace_provider"
            )
        raise ConflictError(f"provider {existing.name!r} exists")
    return new_provider(engine, name, chosen, tenant)


def new_provider(
    engine: Engine, name: str, model: BillingModel, tenant: str | None
) -> ProviderAccount:
    """A stored provider; a name is never reused, since past months are billed under it."""
    if not isinstance(name, str) or not name.strip() or len(name) > 128:
        raise InvalidInput("name", "a provider name of 1 to 128 characters is required")
    if any(a.name == name for a in engine.repository.accounts()):
        raise ConflictError(
            f"provider {name!r} existed already: a provider's name is never reused, "
            "its past months are billed under it"
        )
    account = ProviderAccount(name=name, model=model, created_at=engine.clock.now(), tenant=tenant)
    engine.repository.save_account(account)
    return account


def change_billing_model(engine: Engine, model: BillingModel | str) -> None:
    """Always refused when it would change anything: the seed's rule."""
    account = engine.repository.get_account()
    if account is None:
        raise NotFound("provider", "(none)")
    if billing_model(model) is not account.model:
        raise BillingModelLocked(
            f"provider {account.name!r} bills {account.model.value}; the billing model "
            "can't be changed after a provider is created — create a new provider"
        )


def replace_provider(
    engine: Engine, name: str, model: BillingModel | str, *, tenant: str | None = None
) -> ProviderMove:
    """A new provider (e.g. for the other billing model) in place of the active one,
    which ends now and stays in the history: each month is billed by the providers
    active in it. The servers are re-activated with the new provider, so every push
    activation stops until the app is re-activated; user settings carry over only when
    both providers are linked to the same tenant (the seed)."""
    chosen = billing_model(model)
    old = engine.repository.get_account()
    if old is None:
        raise NotFound("provider", "(none)")
    new = new_provider(engine, name, chosen, tenant)
    engine.repository.save_account(replace(old, ended_at=new.created_at))
    same_tenant = old.tenant is not None and old.tenant == tenant
    return move_users(engine, new, carry_settings=same_tenant)


def delete_provider(engine: Engine) -> ProviderAccount:
    """The seed: once every user enabled for MFA holds a licence the provider may be
    deleted (it ends now and stays in the history). Refused otherwise."""
    account = engine.repository.get_account()
    if account is None:
        raise NotFound("provider", "(none)")
    unlicensed = sum(
        1
        for user in engine.repository.iter_users()
        if user.disabled_at is None and not user.licensed
    )
    if unlicensed:
        raise ConflictError(
            f"provider {account.name!r} can't be deleted: {unlicensed} enabled user(s) "
            "have no licence — assign them licences (or disable them) first"
        )
    ended = replace(account, ended_at=engine.clock.now())
    engine.repository.save_account(ended)
    return ended


def relink_provider(engine: Engine, tenant: str) -> ProviderMove:
    """Link the provider to another tenant. The seed: user settings are not transferred
    (every method is removed; users register again), and the servers are re-activated
    (here they share the repository, so the new link is theirs at once). Linking to the
    tenant it has already changes nothing."""
    account = engine.repository.get_account()
    if account is None:
        raise NotFound("provider", "(none)")
    if account.tenant == tenant:
        return ProviderMove(account, True, 0, 0, 0)
    relinked = replace(account, tenant=tenant)
    engine.repository.save_account(relinked)
    return move_users(engine, relinked, carry_settings=False)


def move_users(engine: Engine, provider: ProviderAccount, *, carry_settings: bool) -> ProviderMove:
    removed = to_register = push = 0
    for user in engine.repository.iter_users():
        methods = engine.repository.list_methods(user.user_id)
        active_push = [m for m in methods if m.type is MethodType.PUSH and m.activated]
        push += len(active_push)
        if carry_settings:
            for method in active_push:
                engine.repository.save_method(replace(method, activated=False))
        elif methods:
            removed += engine.repository.delete_methods(user.user_id)
            to_register += 1
    return ProviderMove(provider, carry_settings, removed, to_register, push)


def usage(engine: Engine, month: str) -> BillingUsage:
    """The month's usage from dated facts only: nothing done after the month ends
    changes it (the rule is in ``mfa.billing``)."""
    start, end = month_bounds(month)
    users = list(engine.repository.iter_users())
    changes = engine.repository.user_changes()
    enabled, licensed = count_users(users, changes, start, end)
    records = [r for r in engine.repository.logs(since=start) if r.billable and r.began_at < end]
    providers: list[ProviderUsage] = []
    for account in engine.repository.accounts():
        window = account.active_in(start, end)
        if window is None:
            continue
        if account.model is BillingModel.PER_USER:
            on, off = count_users(users, changes, *window)
            billed = on - off
        else:
            billed = sum(1 for r in records if window[0] <= r.began_at < window[1])
        providers.append(ProviderUsage(account.name, account.model, *window, billed))
    return BillingUsage(
        month=month,
        model=providers[-1].model if providers else None,
        enabled_users=enabled,
        licensed_users=licensed,
        authentications=len(records),
        providers=tuple(providers),
    )


def billing_model(model: BillingModel | str) -> BillingModel:
    try:
        return BillingModel(model)
    except ValueError:
        raise InvalidInput("model", f"{model!r} is not per_user or per_auth") from None
