"""Reliability: how many users got in, how fast, how many tries it took, and where it failed.

Every function takes the DataFrames of ``reports.loaders`` and returns a DataFrame (or a
number), so a notebook can chain, filter and plot them. The unit is the *authentication*: one
user's sign-in with every resend, retry and method fallback it took (``sim.records.AuthRow``);
deliveries are individual messages (``DeliveryRow``); resources are queue samples.

Every figure's name, unit and one-sentence definition is in the metric catalogue
(``sim.metrics.CATALOGUE``), the same one ``mfalab run`` prints from; in short:

- success rate = authentications whose outcome is ``success`` / all authentications; the
  headline pools every replication and its 95 % interval is ``sim.metrics.POOLED_RULE``
  (t across replications, Wilson with one), exactly as in ``summary.json``; per segment,
  a Wilson interval over the pooled counts;
- time to authenticate = ``finished_at - arrived_at`` of the successes; the CDF gives the share
  of *all* authentications that succeeded within t, so it levels off at the success rate;
  ``signed_in_within_30s``/``60s`` are two points of it;
- attempts per success = every begin (send) made / successes — for independent attempts that
  each get through with probability p this is 1/p, whatever the retry cap;
- delivered within the code lifetime = sms/voice messages delivered within the engine's code
  lifetime of being requested / sms/voice messages sent;
- segments (``SEGMENTS``): the first method, sender, sender kind, provider and server of the
  authentication, the user's country and carrier, and the number of begins it took.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from mfa.policy import Mode, Policy
from reports.loaders import SimRun, parameter_value
from reports.stats import mean_interval, pooled_share, wilson_bounds
from sim.metrics import SIGNED_IN_WITHIN_S

__all__ = [
    "SEGMENTS",
    "abandonment",
    "abandonment_causes",
    "attempts_distribution",
    "attempts_per_success",
    "busiest_resources",
    "code_lifetime",
    "compare",
    "delivered_within_code_lifetime",
    "delivery_rate",
    "denial_events",
    "denials_by_reason",
    "fallback_flows",
    "headline",
    "loss_causes",
    "replication_ci",
    "replication_metrics",
    "resource_timeseries",
    "segment",
    "success_rate",
    "time_to_auth_cdf",
    "time_to_auth_percentiles",
]

#: Segment name → column of the auths frame (``server`` is derived from ``servers``).
SEGMENTS: Mapping[str, str] = {
    "country": "country",
    "carrier": "carrier",
    "method": "method_first",
    "sender_kind": "first_sender_kind",
    "sender": "first_sender",
    "provider": "first_provider",
    "server": "first_server",
    "attempts": "begins",
    "licensed": "licensed",
    # recorded by the simulator when it models them
    "connectivity": "connectivity",
    "signal": "signal",
    "security_app": "security_app",
}

#: Counters of engine denials met along the way (even by authentications that then succeeded).
DENIAL_COUNTERS = ("wrong_server", "expired", "rate_limited")

QUANTILES = (0.5, 0.95, 0.99)

_RATES = frozenset(
    {"success_rate", "denied_share", "abandoned_share"}
    | {f"signed_in_within_{t}s" for t in SIGNED_IN_WITHIN_S}
)
#: Channels whose messages carry a code (or a call) the code lifetime applies to.
CODE_CHANNELS = ("sms", "voice")

By = str | Sequence[str] | None


def segment(auths: pd.DataFrame, name: str) -> pd.Series:
    """The column a segment name stands for (any column name, or a ``SEGMENTS`` key)."""
    if name in auths.columns:
        return auths[name]
    column = SEGMENTS.get(name, name)
    if column == "first_server" and column not in auths.columns:
        first = auths["servers"].astype(str).str.partition(">")[0]
        return first.astype("category").rename("server")
    if column not in auths.columns:
        known = sorted(set(SEGMENTS) | set(auths.columns))
        raise KeyError(f"unknown segment {name!r}; choose one of {known}")
    return auths[column].rename(name)


def _keys(frame: pd.DataFrame, by: By) -> list[pd.Series]:
    if by is None:
        return []
    names = [by] if isinstance(by, str) else list(by)
    return [segment(frame, n) for n in names]


def _grouped(frame: pd.DataFrame, values: pd.DataFrame | pd.Series, by: By):
    keys = _keys(frame, by)
    if not keys:
        return values.groupby(np.zeros(len(values), dtype=int))
    return values.groupby(keys, observed=True, sort=True)


def _finish(table: pd.DataFrame, by: By) -> pd.DataFrame:
    if by is None:
        return table.reset_index(drop=True)
    return table.reset_index()


# ---------------------------------------------------------------------- success


def success_rate(auths: pd.DataFrame, by: By = None) -> pd.DataFrame:
    """Authentications, successes, success rate and its 95 % Wilson interval, per group."""
    ok = auths["outcome"].astype(str).eq("success").astype("int64")
    counts = _grouped(auths, ok, by).agg(["size", "sum"])
    counts.columns = ["authentications", "successes"]
    if by is None and counts.empty:
        counts = pd.DataFrame({"authentications": [0], "successes": [0]})
    n = counts["authentications"].to_numpy()
    k = counts["successes"].to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        counts["success_rate"] = np.where(n > 0, k / n, np.nan)
    counts["ci_low"], counts["ci_high"] = wilson_bounds(k, n)
    return _finish(counts, by)


def attempts_per_success(auths: pd.DataFrame) -> float:
    """Every begin made / authentications that succeeded (1/p for independent attempts)."""
    successes = int(auths["outcome"].astype(str).eq("success").sum())
    return float(auths["begins"].sum()) / successes if successes else float("nan")


def attempts_distribution(auths: pd.DataFrame) -> pd.DataFrame:
    """By number of begins: authentications, successes, and the cumulative share of *all*
    authentications that succeeded within that many begins (compare with 1-(1-p)^n)."""
    ok = auths["outcome"].astype(str).eq("success")
    table = pd.DataFrame(
        {
            "authentications": auths.groupby("begins").size(),
            "successes": ok.groupby(auths["begins"]).sum(),
        }
    ).fillna(0)
    table = table.astype("int64").sort_index()
    total = len(auths)
    table["success_within"] = table["successes"].cumsum() / total if total else np.nan
    table.index.name = "begins"
    return table.reset_index()


# ---------------------------------------------------------------------- time to authenticate


def time_to_auth_percentiles(
    auths: pd.DataFrame, by: By = None, quantiles: Sequence[float] = QUANTILES
) -> pd.DataFrame:
    """p50/p95/p99 (seconds) of the time to authenticate of the successes, per group."""
    success = auths[auths["outcome"].astype(str).eq("success")]
    times = success["time_to_auth"]
    names = [f"p{round(q * 100, 1):g}".replace(".", "_") for q in quantiles]
    if by is None:
        values = times.quantile(list(quantiles)).to_numpy() if len(times) else [np.nan] * len(names)
        return pd.DataFrame([dict(zip(names, values, strict=True), successes=len(times))])
    grouped = _grouped(success, times, by)
    table = grouped.quantile(list(quantiles)).unstack()
    table.columns = names
    table["successes"] = grouped.size()
    return table.reset_index()


def time_to_auth_cdf(auths: pd.DataFrame, by: By = None, points: int = 301) -> pd.DataFrame:
    """Share of all authentications (per group) that succeeded within ``seconds``.

    Long format (``[group…], seconds, share``) on a common grid from 0 to the slowest success,
    ready for ``seaborn``/``matplotlib`` step plots.
    """
    ok = auths["outcome"].astype(str).eq("success")
    finite = auths.loc[ok, "time_to_auth"]
    top = float(finite.max()) if len(finite) else 1.0
    grid = np.linspace(0.0, max(top, 1e-9), points)
    keys = _keys(auths, by)
    pieces = []
    groups = auths.groupby(keys, observed=True, sort=True) if keys else [((), auths)]
    for key, frame in groups:
        mask = frame["outcome"].astype(str).eq("success")
        times = np.sort(frame.loc[mask, "time_to_auth"].to_numpy(dtype=float))
        share = np.searchsorted(times, grid, side="right") / max(len(frame), 1)
        piece = pd.DataFrame({"seconds": grid, "share": share})
        labels = key if isinstance(key, tuple) else (key,)
        for series, value in zip(keys, labels, strict=True):
            piece.insert(0, str(series.name), value)
        pieces.append(piece)
    return pd.concat(pieces, ignore_index=True)


# ---------------------------------------------------------------------- failures


def denials_by_reason(auths: pd.DataFrame) -> pd.DataFrame:
    """Authentications that ended denied, by the engine's last denial reason."""
    denied = auths[auths["outcome"].astype(str).eq("denied")]
    table = denied["reason"].astype(str).value_counts().rename_axis("reason")
    table = table.rename("authentications").reset_index()
    table["share_of_all"] = table["authentications"] / len(auths) if len(auths) else np.nan
    return table


def denial_events(auths: pd.DataFrame) -> pd.DataFrame:
    """Engine denials met along the way (``wrong_server``, ``expired``, ``rate_limited``):
    how many in total, per authentication, and how many authentications met at least one."""
    rows = []
    for reason in DENIAL_COUNTERS:
        counts = auths[reason]
        rows.append(
            {
                "reason": reason,
                "events": int(counts.sum()),
                "per_authentication": float(counts.mean()) if len(auths) else np.nan,
                "authentications_hit": int((counts > 0).sum()),
            }
        )
    return pd.DataFrame(rows)


def abandonment(auths: pd.DataFrame, by: By = None) -> pd.DataFrame:
    """Share of authentications the user gave up on, per group, with the causes' counts."""
    gave_up = auths["outcome"].astype(str).eq("abandoned").astype("int64")
    table = _grouped(auths, gave_up, by).agg(["size", "sum"])
    table.columns = ["authentications", "abandoned"]
    table["abandonment_rate"] = table["abandoned"] / table["authentications"]
    return _finish(table, by)


def abandonment_causes(auths: pd.DataFrame) -> pd.DataFrame:
    abandoned = auths[auths["outcome"].astype(str).eq("abandoned")]
    table = abandoned["reason"].astype(str).value_counts().rename_axis("cause")
    return table.rename("authentications").reset_index()


def fallback_flows(auths: pd.DataFrame) -> pd.DataFrame:
    """Method sequences (``sms>push``…) with how each ended; ``fell_back`` marks flows that
    changed method, the seed's last advice when codes do not arrive."""
    flows = pd.crosstab(auths["methods_used"].astype(str), auths["outcome"].astype(str))
    for outcome in ("success", "denied", "abandoned"):
        if outcome not in flows.columns:
            flows[outcome] = 0
    flows = flows[["success", "denied", "abandoned"]]
    flows["authentications"] = flows.sum(axis=1)
    flows["success_rate"] = flows["success"] / flows["authentications"]
    flows["share"] = flows["authentications"] / max(len(auths), 1)
    flows.index.name = "methods_used"
    flows.columns.name = None
    flows = flows.reset_index()
    flows["fell_back"] = [len(set(m.split(">"))) > 1 for m in flows["methods_used"]]
    return flows.sort_values("authentications", ascending=False, ignore_index=True)


# ---------------------------------------------------------------------- deliveries


def delivery_rate(deliveries: pd.DataFrame, by: By = None) -> pd.DataFrame:
    """Messages sent, delivered, delivery rate (Wilson 95 %), queue wait and latency p50/p95.

    Queue wait = ``sent_at - requested_at`` (the sender's throughput queue); latency =
    ``delivered_at - requested_at`` of delivered messages.
    """
    frame = pd.DataFrame(
        {
            "delivered": deliveries["delivered_at"].notna().astype("int64"),
            "wait": deliveries["sent_at"] - deliveries["requested_at"],
            "latency": deliveries["delivered_at"] - deliveries["requested_at"],
        }
    )
    grouped = _grouped(deliveries, frame, by)
    table = grouped.agg(
        sent=("delivered", "size"),
        delivered=("delivered", "sum"),
        wait_p95=("wait", lambda s: s.quantile(0.95)),
        latency_p50=("latency", lambda s: s.quantile(0.5)),
        latency_p95=("latency", lambda s: s.quantile(0.95)),
    )
    n = table["sent"].to_numpy()
    k = table["delivered"].to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        table.insert(2, "delivery_rate", np.where(n > 0, k / n, np.nan))
    table.insert(3, "ci_low", wilson_bounds(k, n)[0])
    table.insert(4, "ci_high", wilson_bounds(k, n)[1])
    return _finish(table, by)


def loss_causes(deliveries: pd.DataFrame, by: By = None) -> pd.DataFrame:
    """Lost messages by cause (``carrier_loss``, ``security_app``, ``no_signal`` …)."""
    lost = deliveries[deliveries["delivered_at"].isna()]
    keys = [*_keys(lost, by), lost["loss_cause"].astype(str).rename("loss_cause")]
    table = lost.groupby(keys, observed=True).size().rename("messages").reset_index()
    table["share_of_sent"] = table["messages"] / max(len(deliveries), 1)
    return table.sort_values("messages", ascending=False, ignore_index=True)


# ---------------------------------------------------------------------- resources


def resource_timeseries(resources: pd.DataFrame, replication: int | None = None) -> pd.DataFrame:
    """Queue length and utilisation over time per sender/provider/server, for one replication
    (the first by default). Utilisation is the simulator's column when recorded (busy time in
    the interval for senders, accepted messages over capacity for providers, busy slots for
    servers: at most 1), else ``busy / capacity``."""
    if resources.empty:
        return resources.assign(utilisation=pd.Series(dtype=float))
    chosen = int(resources["replication"].min()) if replication is None else replication
    frame = resources[resources["replication"] == chosen].copy()
    frame["utilisation"] = _utilisation(frame)
    return frame.sort_values(["kind", "name", "time"], ignore_index=True)


def _utilisation(resources: pd.DataFrame) -> pd.Series:
    if "utilisation" in resources.columns:
        return resources["utilisation"].astype(float)
    return resources["busy"] / resources["capacity"].where(resources["capacity"] > 0)


def busiest_resources(resources: pd.DataFrame) -> pd.DataFrame:
    """Per resource over all samples: mean and peak queue, mean and p95 utilisation; the
    busiest first — where the bottleneck of a login storm is."""
    columns = ["kind", "name", "samples", "queue_mean", "queue_max", "util_mean", "util_p95"]
    if resources.empty:
        return pd.DataFrame(columns=columns)
    frame = resources.assign(utilisation=_utilisation(resources))
    table = frame.groupby(["kind", "name"], observed=True).agg(
        samples=("time", "size"),
        queue_mean=("queue_length", "mean"),
        queue_max=("queue_length", "max"),
        util_mean=("utilisation", "mean"),
        util_p95=("utilisation", lambda s: s.quantile(0.95)),
    )
    table = table.reset_index()
    return table.sort_values(["util_mean", "queue_mean"], ascending=False, ignore_index=True)[
        columns
    ]


# ---------------------------------------------------------------------- replications, runs


def replication_metrics(auths: pd.DataFrame) -> pd.DataFrame:
    """One row per replication: the headline metrics, each an independent sample."""
    rows = []
    for replication, frame in auths.groupby("replication", sort=True):
        rows.append({"replication": replication, **headline(frame)})
    return pd.DataFrame(rows)


def replication_ci(
    auths: pd.DataFrame,
    metrics: Iterable[str] = ("success_rate", "p50", "p95", "p99", "attempts_per_success"),
) -> pd.DataFrame:
    """Mean of each metric over replications with its 95 % Student-t interval."""
    per_replication = replication_metrics(auths)
    rows = []
    for metric in metrics:
        values = per_replication.get(metric, [])
        interval = mean_interval(np.asarray(values, dtype=float))
        # every metric is non-negative, and rates cannot pass 1
        high = min(interval.high, 1.0) if metric in _RATES else interval.high
        rows.append(
            {
                "metric": metric,
                "mean": interval.estimate,
                "ci_low": max(interval.low, 0.0),
                "ci_high": high,
                "replications": interval.n,
            }
        )
    return pd.DataFrame(rows)


def headline(auths: pd.DataFrame) -> dict[str, float]:
    """The numbers a planner reads first, for one set of authentications. The success rate
    is pooled over the replications in ``auths`` with ``sim.estimates.pooled_share``'s
    interval — the same number and interval as ``summary.json`` and ``mfalab run``."""
    n = len(auths)
    outcome = auths["outcome"].astype(str)
    ok = outcome.eq("success")
    times = time_to_auth_percentiles(auths).iloc[0]
    share = (lambda count: count / n) if n else (lambda count: np.nan)
    if n:
        by_replication = ok.groupby(auths["replication"].to_numpy(), sort=True)
        rate = pooled_share(by_replication.sum().to_numpy(), by_replication.size().to_numpy())
    else:
        rate = pooled_share([], [])
    within = {
        f"signed_in_within_{t}s": float(share(int((ok & (auths["time_to_auth"] <= t)).sum())))
        for t in SIGNED_IN_WITHIN_S
    }
    return {
        "authentications": n,
        "success_rate": rate.estimate,
        "ci_low": rate.low,
        "ci_high": rate.high,
        "p50": float(times["p50"]),
        "p95": float(times["p95"]),
        "p99": float(times["p99"]),
        **within,
        "attempts_per_success": attempts_per_success(auths),
        "denied_share": float(share(int(outcome.eq("denied").sum()))),
        "abandoned_share": float(share(int(outcome.eq("abandoned").sum()))),
        "wrong_server_per_auth": float(share(int(auths["wrong_server"].sum()))),
        "expired_per_auth": float(share(int(auths["expired"].sum()))),
        "rate_limited_per_auth": float(share(int(auths["rate_limited"].sum()))),
    }


def code_lifetime(scenario: Mapping[str, object]) -> float:
    """How long a sent code stays valid in a run's resolved scenario — the engine's rule
    (``mfa.policy.Policy.timeout_seconds``: the cloud keeps codes 180 s)."""
    servers = scenario.get("servers")
    servers = servers if isinstance(servers, Mapping) else {}
    mode = Mode(str(servers.get("mode") or "server"))
    timeout = servers.get("timeout_s")
    policy = (
        Policy(mode=mode)
        if not timeout
        else Policy(
            mode=mode,
            pending_timeout_seconds=float(timeout),  # type: ignore[arg-type]
        )
    )
    return policy.timeout_seconds


def delivered_within_code_lifetime(deliveries: pd.DataFrame, lifetime: float) -> float:
    """SMS/voice messages delivered within ``lifetime`` seconds of being requested / all
    sms/voice messages sent (NaN without any)."""
    codes = deliveries[deliveries["channel"].astype(str).isin(CODE_CHANNELS)]
    if codes.empty:
        return float("nan")
    latency = codes["delivered_at"] - codes["requested_at"]
    return float((latency <= lifetime).mean())


def compare(runs: Sequence[SimRun] | SimRun, by: By = None) -> pd.DataFrame:
    """Side by side: one row per run — or per sweep point when the run has swept parameters
    (or ``by`` names columns); the headline of each, its success rate pooled with the
    interval of ``sim.metrics.POOLED_RULE``."""
    items = [runs] if isinstance(runs, SimRun) else list(runs)
    rows = []
    for run in items:
        keys = ([by] if isinstance(by, str) else list(by)) if by is not None else run.parameters
        groups = run.auths.groupby(keys, observed=True, sort=True) if keys else [((), run.auths)]
        for key, frame in groups:
            labels = key if isinstance(key, tuple) else (key,)
            row: dict[str, object] = {"run": run.label, **dict(zip(keys, labels, strict=True))}
            row.update(headline(frame))
            replications = frame["replication"].nunique()
            row["replications"] = replications
            rows.append(row)
    table = pd.DataFrame(rows)
    # swept values as typed (3, not 3.0), and None where a run has no such parameter
    for column in {c for run in items for c in run.parameters} & set(table.columns):
        values = [parameter_value(row.get(column)) for row in rows]
        table[column] = pd.Series(values, index=table.index, dtype=object)
    return table
