"""Real traffic: reliability and billing from an engine's authentication log.

The simulator's reports read its own rows; a real server (``mfalab serve``) leaves the
engine's log (``mfalab logs export`` → Parquet, loaded by ``reports.loaders.load_engine_logs``).
This module answers the same questions from that log: how many sign-ins succeeded, how fast,
why the others did not, and what each month costs.

Definitions (one log record = one authentication begun):

- ``authentications``: records that began in the period; ``billable``: those the engine
  bills per authentication (the log's ``billable``, false when begin was refused before
  reaching the service);
- ``successes``: records whose status is ``success``; ``success_share``: successes over the
  records that finished (success, denied or expired); ``unfinished``: the others (pending: not
  answered, or not yet — the log marks a code expired only when someone asks about it);
- ``p50``/``p95``: seconds from begin to success, over successes.

Names, units and definitions are those of the catalogue ``outputs.metrics.TRAFFIC``.

Billing per month counts authentications as ``Engine.usage`` does (``usage_from_logs``). The
log has no user table, so the users enabled for MFA are given by the caller or, if not, taken
as the distinct users seen in the month — a lower bound, since the seed bills every enabled
user whether or not they signed in (``mfalab billing --db`` reads the real count).
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from mfa.billing import BillingModel, BillingUsage
from reports.billing_usage import usage_from_logs

__all__ = ["MonthFromLogs", "by_column", "headline", "months", "refusals", "usage_by_month"]

_FINISHED = ("success", "denied", "expired")


def headline(logs: pd.DataFrame) -> dict[str, float]:
    """The figures of the module doc over the whole log."""
    return _figures(logs)


def by_column(logs: pd.DataFrame, column: str) -> pd.DataFrame:
    """The headline figures per value of ``column`` (``mode``, ``server_name``, …)."""
    rows = []
    for value, group in logs.groupby(logs[column].astype(str), sort=True, observed=True):
        rows.append({column: value, **_figures(group)})
    return pd.DataFrame(rows)


def refusals(logs: pd.DataFrame) -> pd.DataFrame:
    """Records that did not succeed, by status and reason, most frequent first."""
    failed = logs[logs["status"].astype(str) != "success"]
    if failed.empty:
        return pd.DataFrame({"status": [], "reason": [], "count": []})
    table = (
        failed.assign(status=failed["status"].astype(str), reason=failed["reason"].astype(str))
        .groupby(["status", "reason"], observed=True)
        .size()
        .rename("count")
        .reset_index()
        .sort_values("count", ascending=False, kind="stable")
    )
    table["reason"] = table["reason"].replace({"nan": "(none)", "None": "(none)"})
    return table.reset_index(drop=True)


def months(logs: pd.DataFrame) -> list[str]:
    """Months (``YYYY-MM``, UTC) in which records began, oldest first."""
    if logs.empty:
        return []
    began = logs["began_at"].dt.tz_convert("UTC")
    return sorted({f"{t.year:04d}-{t.month:02d}" for t in began})


@dataclass(frozen=True, slots=True)
class MonthFromLogs:
    usage: BillingUsage
    users_rule: str


def usage_by_month(
    logs: pd.DataFrame,
    *,
    enabled_users: int | None = None,
    licensed_users: int = 0,
    model: BillingModel | str | None = None,
) -> list[MonthFromLogs]:
    """One ``BillingUsage`` per month of the log (rule for users in the module doc)."""
    out = []
    began = logs["began_at"].dt.tz_convert("UTC") if not logs.empty else logs["began_at"]
    for month in months(logs):
        in_month = logs[began.dt.strftime("%Y-%m") == month]
        if enabled_users is None:
            enabled = int(in_month["unique_id"].nunique())
            rule = "those seen in the month's log, a lower bound: idle enabled users are billed too"
        else:
            enabled, rule = int(enabled_users), "given"
        usage = usage_from_logs(
            logs,
            month,
            enabled_users=enabled,
            licensed_users=min(int(licensed_users), enabled),
            model=model,
        )
        out.append(MonthFromLogs(usage, rule))
    return out


def _figures(frame: pd.DataFrame) -> dict[str, float]:
    status = frame["status"].astype(str)
    success = status == "success"
    finished = int(status.isin(_FINISHED).sum())
    seconds = (
        frame.loc[success, "completed_at"] - frame.loc[success, "began_at"]
    ).dt.total_seconds()
    return {
        "authentications": len(frame),
        "billable": int(frame["billable"].astype(bool).sum()),
        "successes": int(success.sum()),
        "unfinished": int(len(frame) - finished),
        "success_share": float(success.sum() / finished) if finished else float("nan"),
        "p50": float(seconds.quantile(0.50)) if len(seconds) else float("nan"),
        "p95": float(seconds.quantile(0.95)) if len(seconds) else float("nan"),
    }
