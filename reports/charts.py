"""Charts: matplotlib figures of the reliability, resource, billing and load-test tables.

Each function takes the DataFrames the other ``reports`` modules return and gives back a
``matplotlib.figure.Figure`` built without pyplot, so nothing here touches global backend state:
a notebook shows the figure inline, the HTML report embeds it as a base64 PNG (``to_png``)
rendered by the Agg canvas on a headless machine.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from reports import reliability
from reports.loaders import point_label

__all__ = [
    "attempts_chart",
    "comparison_chart",
    "cost_chart",
    "denials_chart",
    "fallback_chart",
    "loadtest_failures_chart",
    "loadtest_latency_chart",
    "loadtest_throughput_chart",
    "resources_chart",
    "success_by_segment_chart",
    "time_to_auth_cdf_chart",
    "to_data_uri",
    "to_png",
]

SUCCESS = "#2a9d8f"
DENIED = "#e76f51"
ABANDONED = "#e9c46a"
ACCENT = "#264653"
MAX_BARS = 12


def to_png(figure: Figure, *, dpi: int = 96) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi)  # constrained layout: no second draw
    return buffer.getvalue()


def to_data_uri(figure: Figure) -> str:
    return "data:image/png;base64," + base64.b64encode(to_png(figure)).decode("ascii")


def _empty(figure: Figure, message: str) -> Figure:
    axes = figure.subplots()
    axes.text(0.5, 0.5, message, ha="center", va="center", color="grey")
    axes.set_axis_off()
    return figure


def success_by_segment_chart(
    auths: pd.DataFrame,
    segments: Sequence[str] = ("country", "carrier", "method", "sender_kind", "provider", "server"),
) -> Figure:
    """Success rate with its 95 % interval for each value of each segment."""
    columns = 3
    rows = -(-len(segments) // columns)
    figure = Figure(figsize=(4.2 * columns, 2.8 * rows), layout="constrained")
    if auths.empty:
        return _empty(figure, "no authentications")
    axes = np.atleast_1d(figure.subplots(rows, columns)).ravel()
    for ax, name in zip(axes, segments, strict=False):
        table = reliability.success_rate(auths, by=name)
        table = table.sort_values("authentications", ascending=False).head(MAX_BARS)
        table = table.iloc[::-1]
        labels = [str(v) if str(v) else "(none)" for v in table[name]]
        rate = table["success_rate"].to_numpy() * 100
        error = np.clip(
            np.vstack(
                [rate - table["ci_low"].to_numpy() * 100, table["ci_high"].to_numpy() * 100 - rate]
            ),
            0,
            None,
        )
        ax.barh(labels, rate, xerr=error, color=SUCCESS, ecolor=ACCENT, capsize=2)
        ax.set_xlim(0, 100)
        ax.set_title(f"by {name.replace('_', ' ')}", fontsize=10)
        ax.set_xlabel("success rate (%)", fontsize=8)
        ax.tick_params(labelsize=8)
        for y, (value, n) in enumerate(zip(rate, table["authentications"], strict=True)):
            ax.text(1, y, f"{value:.1f}% of {n:,}", va="center", fontsize=7, color="white")
    for ax in axes[len(segments) :]:
        ax.set_axis_off()
    figure.suptitle("Success rate by segment (95 % Wilson intervals)", fontsize=11)
    return figure


def time_to_auth_cdf_chart(auths_by_label: Mapping[str, pd.DataFrame]) -> Figure:
    """Share of all authentications done within t seconds, one line per run/point."""
    figure = Figure(figsize=(8, 4), layout="constrained")
    ax = figure.subplots()
    for label, auths in auths_by_label.items():
        if auths.empty:
            continue
        cdf = reliability.time_to_auth_cdf(auths)
        ax.step(cdf["seconds"], cdf["share"] * 100, where="post", label=str(label))
    for q, style in ((0.5, ":"), (0.95, "--")):
        ax.axhline(q * 100, color="grey", linestyle=style, linewidth=0.8)
    ax.set_xlabel("seconds since the sign-in started")
    ax.set_ylabel("authenticated (% of all)")
    ax.set_ylim(0, 100)
    ax.set_xlim(left=0)
    ax.set_title("Time to authenticate (CDF; levels off at the success rate)", fontsize=11)
    if auths_by_label:
        ax.legend(fontsize=8, loc="lower right")
    ax.grid(alpha=0.3)
    return figure


def attempts_chart(auths: pd.DataFrame) -> Figure:
    """Authentications by number of begins, split by outcome, with cumulative success."""
    figure = Figure(figsize=(8, 3.5), layout="constrained")
    if auths.empty:
        return _empty(figure, "no authentications")
    ax = figure.subplots()
    table = pd.crosstab(auths["begins"], auths["outcome"].astype(str))
    bottom = np.zeros(len(table))
    for outcome, colour in (("success", SUCCESS), ("denied", DENIED), ("abandoned", ABANDONED)):
        if outcome in table:
            ax.bar(table.index, table[outcome], bottom=bottom, color=colour, label=outcome)
            bottom += table[outcome].to_numpy()
    ax.set_xlabel("begins (sends) in the authentication")
    ax.set_ylabel("authentications")
    twin = ax.twinx()
    dist = reliability.attempts_distribution(auths)
    twin.plot(dist["begins"], dist["success_within"] * 100, color=ACCENT, marker="o")
    twin.set_ylabel("succeeded within n begins (% of all)")
    twin.set_ylim(0, 100)
    ax.legend(fontsize=8, loc="upper right")
    ax.set_title("Attempts per authentication", fontsize=11)
    return figure


def denials_chart(auths: pd.DataFrame) -> Figure:
    """Final denials by reason, and denials met along the way (wrong server, expired …)."""
    figure = Figure(figsize=(10, 3.5), layout="constrained")
    left, right = figure.subplots(1, 2)
    final = reliability.denials_by_reason(auths)
    if final.empty:
        left.text(0.5, 0.5, "no authentication was denied", ha="center", va="center")
        left.set_axis_off()
    else:
        final = final.head(MAX_BARS).iloc[::-1]
        left.barh(final["reason"], final["authentications"], color=DENIED)
        left.set_xlabel("authentications ending denied")
    left.set_title("Denials by reason", fontsize=10)
    events = reliability.denial_events(auths)
    right.barh(events["reason"], events["events"], color=ABANDONED)
    right.set_xlabel("engine denials along the way (incl. later successes)")
    right.set_title("Denials met during authentications", fontsize=10)
    return figure


def fallback_chart(auths: pd.DataFrame) -> Figure:
    """The most common method sequences and how they ended."""
    figure = Figure(figsize=(8, 3.5), layout="constrained")
    flows = reliability.fallback_flows(auths).head(MAX_BARS).iloc[::-1]
    if flows.empty:
        return _empty(figure, "no authentications")
    ax = figure.subplots()
    left = np.zeros(len(flows))
    for outcome, colour in (("success", SUCCESS), ("denied", DENIED), ("abandoned", ABANDONED)):
        ax.barh(flows["methods_used"], flows[outcome], left=left, color=colour, label=outcome)
        left += flows[outcome].to_numpy()
    ax.set_xlabel("authentications")
    ax.set_title("Method flows (fallbacks shown as a>b)", fontsize=11)
    ax.legend(fontsize=8)
    return figure


def resources_chart(resources: pd.DataFrame) -> Figure:
    """Queue length and utilisation over time of each sender, provider and server."""
    series = reliability.resource_timeseries(resources)
    kinds = [k for k in ("sender", "provider", "server") if k in set(series.get("kind", []))]
    kinds += sorted(set(series.get("kind", [])) - set(kinds))
    figure = Figure(figsize=(11, 2.6 * max(len(kinds), 1)), layout="constrained")
    if not kinds:
        return _empty(figure, "no resource samples")
    axes = np.atleast_2d(figure.subplots(len(kinds), 2, squeeze=False))
    for row, kind in zip(axes, kinds, strict=True):
        frame = series[series["kind"] == kind]
        names = frame.groupby("name", observed=True)["queue_length"].mean()
        top = names.sort_values(ascending=False).index[:8]
        for name in top:
            one = frame[frame["name"] == name]
            row[0].plot(one["time"], one["queue_length"], label=str(name), linewidth=1)
            row[1].plot(one["time"], one["utilisation"] * 100, label=str(name), linewidth=1)
        row[0].set_title(f"{kind}: queue length", fontsize=10)
        row[1].set_title(f"{kind}: utilisation (%)", fontsize=10)
        row[0].set_ylim(bottom=0)
        row[1].set_ylim(bottom=0)
        for ax in row:
            ax.set_xlabel("simulated seconds", fontsize=8)
            ax.tick_params(labelsize=8)
            ax.grid(alpha=0.3)
        row[1].legend(fontsize=7, loc="upper right")
    replication = int(series["replication"].min())
    figure.suptitle(f"Queues over time (replication {replication})", fontsize=11)
    return figure


def cost_chart(costs: pd.DataFrame, currency: str = "USD") -> Figure:
    """Monthly cost under each billing model: consumption, per-message fees (if any priced)
    and licences stacked."""
    figure = Figure(figsize=(7, 3.5), layout="constrained")
    ax = figure.subplots()
    models = costs["model"].tolist()
    bottom = np.zeros(len(costs))
    for column, colour in (
        ("consumption", ACCENT),
        ("message_fees", ABANDONED),
        ("licences", SUCCESS),
    ):
        if column in costs and (column != "message_fees" or costs[column].any()):
            ax.bar(models, costs[column], bottom=bottom, color=colour, label=column)
            bottom += costs[column].to_numpy()
    for x, total in enumerate(costs["total"]):
        ax.text(x, total, f"{total:,.0f}", ha="center", va="bottom", fontsize=9)
    if "current" in costs:
        for x, current in enumerate(costs["current"]):
            if current:
                ax.get_xticklabels()[x].set_fontweight("bold")
    ax.set_ylabel(f"{currency} per month")
    ax.set_title("Cost by billing model", fontsize=11)
    ax.legend(fontsize=8)
    return figure


def comparison_chart(table: pd.DataFrame) -> Figure:
    """Success rate with interval and p95 time to authenticate, one bar per run/point."""
    figure = Figure(figsize=(10, 3.5), layout="constrained")
    left, right = figure.subplots(1, 2)
    params = [c for c in table.columns if c not in _HEADLINE and c != "run"]
    labels = [
        " ".join(filter(None, [str(r["run"]), point_label({p: r[p] for p in params})]))
        for _, r in table.iterrows()
    ]
    rate = table["success_rate"].to_numpy() * 100
    low = np.clip(np.nan_to_num(rate - table["ci_low"].to_numpy() * 100), 0, None)
    high = np.clip(np.nan_to_num(table["ci_high"].to_numpy() * 100 - rate), 0, None)
    left.barh(labels, rate, xerr=[low, high], color=SUCCESS, ecolor=ACCENT, capsize=3)
    left.set_xlim(0, 100)
    left.set_xlabel("success rate (%)")
    right.barh(labels, table["p95"], color=ACCENT)
    right.set_xlabel("p95 time to authenticate (s)")
    right.set_yticklabels([])
    figure.suptitle("Runs side by side", fontsize=11)
    return figure


_HEADLINE = {
    "authentications",
    "success_rate",
    "ci_low",
    "ci_high",
    "p50",
    "p95",
    "p99",
    "attempts_per_success",
    "denied_share",
    "abandoned_share",
    "signed_in_within_30s",
    "signed_in_within_60s",
    "wrong_server_per_auth",
    "expired_per_auth",
    "rate_limited_per_auth",
    "replications",
}


def loadtest_throughput_chart(timeline: pd.DataFrame) -> Figure:
    """Requests/s and failures/s over the test, with the user count."""
    figure = Figure(figsize=(9, 3.2), layout="constrained")
    if timeline.empty:
        return _empty(figure, "no stats history")
    ax = figure.subplots()
    ax.plot(timeline["elapsed_s"], timeline["rps"], color=ACCENT, label="requests/s")
    ax.plot(timeline["elapsed_s"], timeline["failures_per_s"], color=DENIED, label="failures/s")
    ax.set_xlabel("seconds into the test")
    ax.set_ylabel("per second")
    if "users" in timeline:
        twin = ax.twinx()
        twin.plot(timeline["elapsed_s"], timeline["users"], color="grey", linestyle=":")
        twin.set_ylabel("users", color="grey")
    ax.legend(fontsize=8, loc="upper left")
    ax.set_title("Throughput over time", fontsize=11)
    ax.grid(alpha=0.3)
    return figure


def loadtest_latency_chart(timeline: pd.DataFrame) -> Figure:
    figure = Figure(figsize=(9, 3.2), layout="constrained")
    if timeline.empty:
        return _empty(figure, "no stats history")
    ax = figure.subplots()
    for column, style in (("p50", "-"), ("p95", "--"), ("p99", ":")):
        if column in timeline:
            ax.plot(timeline["elapsed_s"], timeline[column], linestyle=style, label=column)
    ax.set_xlabel("seconds into the test")
    ax.set_ylabel("response time (ms)")
    ax.set_title("Latency percentiles over time", fontsize=11)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return figure


def loadtest_failures_chart(failures: pd.DataFrame) -> Figure:
    figure = Figure(figsize=(8, 3), layout="constrained")
    if failures.empty:
        return _empty(figure, "no failures")
    ax = figure.subplots()
    by_reason = failures.groupby("reason")["occurrences"].sum().sort_values().tail(MAX_BARS)
    ax.barh(by_reason.index, by_reason.to_numpy(), color=DENIED)
    ax.set_xlabel("occurrences")
    ax.set_title("Load-test failures by reason", fontsize=11)
    return figure
