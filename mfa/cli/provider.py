"""``mfalab provider``: a real deployment's billing provider, as the seed describes it.

``list`` shows every provider with its dates; ``create`` makes the provider (its billing model
is fixed for life); ``replace`` makes a new provider (e.g. for the other model) in place of the
active one, which stays in the history; ``delete`` ends the provider once every enabled user
holds a licence; ``relink`` links it to another tenant (user settings are not carried over:
every method is removed and users register again). Each change is dated now, and each month
is billed by the providers active in it (``mfalab billing``).

``replace`` and ``relink`` read users' methods, whose secrets are sealed: they need
``MFALAB_SECRET_KEY`` (the server's). A refused change (the model lock, unlicensed users)
exits 1 with the engine's message.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from mfa.cli import UsageError

if TYPE_CHECKING:
    from mfa.billing import ProviderMove
    from mfa.engine import Engine

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "provider",
        help="the billing provider of a real deployment: list, create, replace, delete, relink",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = parser.add_subparsers(dest="provider_command", metavar="ACTION", required=True)

    def action(name: str, text: str) -> argparse.ArgumentParser:
        sub = actions.add_parser(name, help=text, description=text)
        sub.add_argument(
            "--db", required=True, metavar="URL", help="sqlite:///PATH or postgresql+psycopg://…"
        )
        return sub

    action("list", "every provider with its dates, the active one last").set_defaults(handler=_list)
    for name, text in (
        ("create", "create the provider; its billing model can never change"),
        ("replace", "a new provider in place of the active one (kept in the history)"),
    ):
        sub = action(name, text)
        sub.add_argument("name", metavar="NAME")
        sub.add_argument("--model", required=True, choices=("per_user", "per_auth"))
        sub.add_argument("--tenant", metavar="TENANT", help="the directory tenant it is linked to")
        sub.set_defaults(handler=_create if name == "create" else _replace)
    action("delete", "end the provider (every enabled user must hold a licence)").set_defaults(
        handler=_delete
    )
    relink = action("relink", "link the provider to another tenant (user settings not carried)")
    relink.add_argument("tenant", metavar="TENANT")
    relink.set_defaults(handler=_relink)


def _engine(db: str, *, needs_key: bool) -> tuple[Engine, Callable[[], None]]:
    from mfa import Engine, MemoryPendingStore, ServerIdentity, SystemClock
    from mfa.delivery import SinkGateway
    from mfa.errors import InvalidInput
    from mfa.storage.crypto import derive_key
    from mfa.storage.locations import StorageUnavailable, database_url
    from mfa.storage.sql import SqlRepository

    try:
        url = database_url(db, setting="--db")
    except InvalidInput as exc:
        raise UsageError(str(exc)) from None
    if url.get_backend_name() == "sqlite" and not Path(url.database or "").is_file():
        raise UsageError(f"--db: there is no database file at {url.database!r}")
    key = None
    if needs_key:
        secret = os.environ.get("MFALAB_SECRET_KEY")
        if not secret:
            raise UsageError(
                "MFALAB_SECRET_KEY is not set: this change reads users' methods, whose secrets "
                "are sealed with it (use the server's value)"
            )
        try:
            key = derive_key(secret)
        except InvalidInput as exc:
            raise UsageError(str(exc)) from None
    try:
        repository = SqlRepository(db, secret_key=key)
    except StorageUnavailable as exc:
        raise UsageError(f"--db: {exc}") from None
    engine = Engine(
        server=ServerIdentity("admin"),
        clock=SystemClock(),
        repository=repository,
        pending=MemoryPendingStore(),
        gateway=SinkGateway(),
        secret_key=key or b"provider-admin-never-digests-a-code",
    )
    return engine, repository.close


def _when(seconds: float | None) -> str:
    if seconds is None:
        return "active"
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _list(args: argparse.Namespace) -> int:
    engine, close = _engine(args.db, needs_key=False)
    try:
        accounts = engine.repository.accounts()
    finally:
        close()
    if not accounts:
        print("no provider")
    for a in accounts:
        tenant = a.tenant or "(no tenant)"
        print(
            f"{a.name}  {a.model.value}  {tenant}  "
            f"from {_when(a.created_at)}  to {_when(a.ended_at)}"
        )
    return 0


def _create(args: argparse.Namespace) -> int:
    engine, close = _engine(args.db, needs_key=False)
    try:
        account = engine.create_provider(args.name, args.model, tenant=args.tenant)
    finally:
        close()
    print(f"created provider {account.name} ({account.model.value}) at {_when(account.created_at)}")
    return 0


def _replace(args: argparse.Namespace) -> int:
    engine, close = _engine(args.db, needs_key=True)
    try:
        move = engine.replace_provider(args.name, args.model, tenant=args.tenant)
    finally:
        close()
    _moved(f"replaced by provider {move.provider.name} ({move.provider.model.value})", move)
    return 0


def _delete(args: argparse.Namespace) -> int:
    engine, close = _engine(args.db, needs_key=False)
    try:
        ended = engine.delete_provider()
    finally:
        close()
    print(f"deleted provider {ended.name} at {_when(ended.ended_at)} (kept in the history)")
    return 0


def _relink(args: argparse.Namespace) -> int:
    engine, close = _engine(args.db, needs_key=True)
    try:
        move = engine.relink_provider(args.tenant)
    finally:
        close()
    _moved(f"provider {move.provider.name} linked to tenant {args.tenant}", move)
    return 0


def _moved(what: str, move: ProviderMove) -> None:
    print(what)
    if move.settings_carried:
        print("user settings carried over (same tenant)")
    else:
        print(
            f"user settings not carried over: {move.methods_removed} method(s) removed, "
            f"{move.users_to_register} user(s) must register again"
        )
    print(f"{move.push_deactivated} push activation(s) stopped until the app is re-activated")
