"""``mfalab billing --db URL [--month YYYY-MM] [--pricing FILE]``: a real server's monthly bill.

Reads the database a server (``mfalab serve`` / ``mfalab cluster``) writes — users with the
dated history of their licences and enablement, the providers with their dates, the
authentication log — and prints the month's bill: each provider active in the month with
what it bills, then the month priced under each model. The engine counts
(``Engine.usage``); ``reports.billing`` only puts prices on it.

The month defaults to the last complete month (UTC): its bill can no longer change, as every
fact is dated and a month reads only facts dated before it ends. The current month may be
asked for explicitly; it is marked as still open.
"""

from __future__ import annotations

import argparse
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from mfa.errors import InvalidInput
from mfalab.cli import UsageError

if TYPE_CHECKING:
    from mfa.billing import BillingUsage
    from reports.pricing import Pricing

__all__ = ["register"]

_MONTH = re.compile(r"\d{4}-\d{2}")


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "billing",
        help="print a month's bill for a real server, from its database",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--db", required=True, metavar="URL", help="sqlite:///PATH or postgresql+psycopg://…"
    )
    parser.add_argument(
        "--month",
        metavar="YYYY-MM",
        help="the month to bill, UTC (default: the last complete month)",
    )
    parser.add_argument(
        "--pricing",
        type=Path,
        metavar="FILE",
        help="YAML prices merged key by key over reports/pricing.yaml (historical list prices)",
    )
    parser.set_defaults(handler=_run)


def _month(text: str | None) -> str:
    from mfa.billing import month_bounds
    from reports.billing_usage import last_complete_month

    if text is None:
        return last_complete_month()
    if not _MONTH.fullmatch(text.strip()):
        raise UsageError(f"--month: {text!r} is not of the form YYYY-MM, e.g. 2026-11")
    try:
        month_bounds(text.strip())
    except ValueError:
        raise UsageError(f"--month: {text!r} is not a month (YYYY-MM, month 01 to 12)") from None
    return text.strip()


def _database(text: str) -> str:
    from mfa.storage.locations import database_url

    try:
        url = database_url(text, setting="--db")
    except InvalidInput as exc:
        raise UsageError(str(exc)) from None
    if url.get_backend_name() == "sqlite" and not Path(url.database or "").is_file():
        raise UsageError(f"--db: there is no database file at {url.database!r}")
    return text


def _run(args: argparse.Namespace) -> int:
    from mfa.storage.locations import StorageUnavailable
    from reports import billing
    from reports.loaders import ReportInputError

    month = _month(args.month)
    db = _database(args.db)
    try:
        pricing = billing.load_pricing(args.pricing)
    except ReportInputError as exc:
        raise UsageError(f"--pricing: {exc}") from None
    try:
        usage = billing.usage_from_database(db, month)
    except StorageUnavailable as exc:
        raise UsageError(f"--db: {exc}") from None
    print(render_bill(usage, pricing, database=db))
    return 0


def render_bill(usage: BillingUsage, pricing: Pricing, *, database: str) -> str:
    """The bill as text (the command's output)."""
    from mfa.billing import month_bounds
    from mfa.storage.locations import database_url, shown
    from reports import billing

    start, end = month_bounds(usage.month)
    now = datetime.now(UTC).timestamp()
    state = "open: the bill may still grow" if now < end else "closed: this bill will not change"
    money = pricing.currency
    lines = [
        f"Bill for {usage.month} (UTC, {_day(start)} to {_day(end)}; {state})",
        f"database: {shown(database_url(database))}",
        "",
        f"users enabled for MFA in the month: {usage.enabled_users:,}; licensed (at the last "
        f"moment each was enabled): {usage.licensed_users:,}; billable per user: "
        f"{usage.billable_users:,}",
        f"authentications (every billable begin, any method, licensed or not): "
        f"{usage.authentications:,}",
        "",
        "Providers active in the month (the bill):",
    ]
    charges = billing.provider_charges(usage, pricing)
    if charges.empty:
        lines.append("  none: no provider was active, nothing is billed for consumption")
    for row in charges.itertuples(index=False):
        lines.append(
            f"  {row.provider} ({row.model}), {row.active_from:%Y-%m-%d %H:%M} to "
            f"{row.active_until:%Y-%m-%d %H:%M}: {row.billed:,} {row.unit} = "
            f"{row.charge:,.2f} {money}"
        )
    if not charges.empty:
        lines.append(f"  total consumption: {charges['charge'].sum():,.2f} {money}")
    lines += ["", f"The month under each model ({money} a month, licences held included):"]
    costs = billing.monthly_costs(usage, pricing)
    lines.append(f"  {'model':<10}{'billed':>10}  {'consumption':>12}{'licences':>10}{'total':>10}")
    for row in costs.itertuples(index=False):
        mark = "  <- current provider" if row.current else ""
        lines.append(
            f"  {row.model:<10}{row.billed:>10,.0f}  {row.consumption:>12,.2f}"
            f"{row.licences:>10,.2f}{row.total:>10,.2f}{mark}"
        )
    note = " (historical list prices)" if pricing.historical else ""
    dated = f", as of {pricing.as_of}" if pricing.as_of else ""
    lines += [
        "",
        f"prices: {pricing.source}{note}{dated}: per user {pricing.per_user_month:g}/month, "
        f"{pricing.per_auth_price:g} per {pricing.per_auth_block} authentication(s), licence "
        f"{pricing.licence_user_year:g}/user/year",
    ]
    return "\n".join(lines)


def _day(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d")
