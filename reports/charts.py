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
from matplotlib.ticker import MultipleLocator

from reports import reliability
from reports.loaders import point_label
from reports.stats import t_quantile_975

__all__ = [
    "attempts_chart",
    "comparison_chart",
    "cost_chart",
    "denials_chart",
    "fallback_chart",
    "fraud_refused_chart",
    "loadtest_failures_chart",
    "loadtest_latency_chart",
    "loadtest_throughput_chart",
    "rate_axis",
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


#: Resolution of the report's PNGs: a 10-inch chart is 1,000 px, the width of a report's card
#: at 1280 px, so text is drawn at its size, not scaled down.
DPI = 100
#: Colours of the report's PNGs: the charts use a handful of flat colours plus anti-aliasing,
#: which a 64-colour palette keeps (PNG-8 is a quarter of the size of RGBA).
PALETTE = 64


def to_png(figure: Figure, *, dpi: int = DPI, palette: int | None = PALETTE) -> bytes:
    """The figure as PNG bytes; with ``palette`` colours (PNG-8, optimised) unless None."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi)  # constrained layout: no second draw
    if palette is None:
        return buffer.getvalue()
    from PIL import Image

    buffer.seek(0)
    with Image.open(buffer) as image:
        quantised = image.convert("RGB").quantize(colors=palette, method=Image.Quantize.MEDIANCUT)
        out = io.BytesIO()
        quantised.save(out, format="PNG", optimize=True)
    return out.getvalue()


def to_data_uri(figure: Figure) -> str:
    return "data:image/png;base64," + base64.b64encode(to_png(figure)).decode("ascii")


def _empty(figure: Figure, message: str) -> Figure:
    axes = figure.subplots()
    axes.text(0.5, 0.5, message, ha="center", va="center", color="grey")
    axes.set_axis_off()
    return figure


#: A rate axis starts above 0 only when every bar and interval is at least this high: then
#: 0–100 would squeeze 94.9 % and 99.2 % into the same bar length.
ZOOM_FROM = 50.0


def rate_axis(lows: Sequence[float] | np.ndarray) -> tuple[float, float]:
    """The range (percent) of a success-rate axis: 0–100, or zoomed to a multiple of 5 below
    the lowest interval bound when every value is above ``ZOOM_FROM``."""
    finite = [float(v) for v in np.asarray(lows, dtype=float).ravel() if np.isfinite(v)]
    if not finite or min(finite) < ZOOM_FROM:
        return 0.0, 100.0
    low = max(0.0, np.floor((min(finite) - 1.0) / 5.0) * 5.0)
    return float(low), 100.0


def _rate_ticks(ax, low: float) -> None:
    if low > 0:
        ax.xaxis.set_major_locator(MultipleLocator(5))


def _rate_label(what: str, low: float) -> str:
    return f"{what} (%)" if low <= 0 else f"{what} (%) — axis from {low:.0f} %, not 0"


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
    tables = {}
    for name in segments:
        table = reliability.success_rate(auths, by=name)
        table = table.sort_values("authentications", ascending=False).head(MAX_BARS)
        tables[name] = table.iloc[::-1]
    # one range for every panel, so bar lengths compare across panels too
    low, high = rate_axis(
        np.concatenate([t[["success_rate", "ci_low"]].to_numpy().ravel() for t in tables.values()])
        * 100
    )
    for ax, (name, table) in zip(axes, tables.items(), strict=False):
        labels = [str(v) if str(v) else "(none)" for v in table[name]]
        rate = table["success_rate"].to_numpy() * 100
        error = np.clip(
            np.vstack(
                [rate - table["ci_low"].to_numpy() * 100, table["ci_high"].to_numpy() * 100 - rate]
            ),
            0,
            None,
        )
        ax.barh(labels, rate - low, left=low, xerr=error, color=SUCCESS, ecolor=ACCENT, capsize=2)
        ax.set_xlim(low, high)
        _rate_ticks(ax, low)
        ax.set_title(f"by {name.replace('_', ' ')}", fontsize=10)
        ax.set_xlabel(_rate_label("success rate", low), fontsize=8)
        ax.tick_params(labelsize=8)
        offset = low + (high - low) * 0.01
        for y, (value, n) in enumerate(zip(rate, table["authentications"], strict=True)):
            ax.text(offset, y, f"{value:.1f}% of {n:,}", va="center", fontsize=7, color="white")
    for ax in axes[len(segments) :]:
        ax.remove()
    figure.suptitle("Success rate by segment (95 % Wilson intervals)", fontsize=11)
    return figure


def time_to_auth_cdf_chart(auths_by_label: Mapping[str, pd.DataFrame]) -> Figure:
    """Share of all authentications done within t seconds, one line per run/point."""
    figure = Figure(figsize=(8, 4), layout="constrained")
    ax = figure.subplots()
    banded = False
    for label, auths in auths_by_label.items():
        if auths.empty:
            continue
        cdf = reliability.time_to_auth_cdf(auths)
        (line,) = ax.step(cdf["seconds"], cdf["share"] * 100, where="post", label=str(label))
        band = _cdf_band(auths, cdf["seconds"].to_numpy())
        if band is not None:
            ax.fill_between(
                cdf["seconds"], *band, step="post", color=line.get_color(), alpha=0.2, linewidth=0
            )
            banded = True
    for q, style in ((0.5, ":"), (0.95, "--")):
        ax.axhline(q * 100, color="grey", linestyle=style, linewidth=0.8)
    ax.set_xlabel("seconds since the sign-in started")
    ax.set_ylabel("authenticated (% of all)")
    ax.set_ylim(0, 100)
    ax.set_xlim(left=0)
    ax.set_title(
        "Time to authenticate (CDF; levels off at the success rate)"
        + ("\nshaded: 95 % t interval over replications (runs with 3 or more)" if banded else ""),
        fontsize=11,
    )
    if auths_by_label:
        ax.legend(fontsize=8, loc="lower right")
    ax.grid(alpha=0.3)
    return figure


#: Replications a CDF needs for its shaded interval.
BAND_REPLICATIONS = 3


def _cdf_band(auths: pd.DataFrame, grid: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Pointwise 95 % Student-t interval (percent) of the CDF's mean over replications, or
    None with fewer than ``BAND_REPLICATIONS`` (with two, t = 12.7 makes a band that hides the
    lines rather than showing their uncertainty; the tables still give the interval)."""
    groups = list(auths.groupby("replication", sort=True))
    if len(groups) < BAND_REPLICATIONS:
        return None
    shares = []
    for _, frame in groups:
        ok = frame["outcome"].astype(str).eq("success")
        times = np.sort(frame.loc[ok, "time_to_auth"].to_numpy(dtype=float))
        shares.append(np.searchsorted(times, grid, side="right") / max(len(frame), 1) * 100)
    values = np.vstack(shares)
    n = values.shape[0]
    half = t_quantile_975(n - 1) * values.std(axis=0, ddof=1) / np.sqrt(n)
    centre = values.mean(axis=0)
    return np.clip(centre - half, 0, 100), np.clip(centre + half, 0, 100)


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
    ax.legend(fontsize=8, loc="center right")
    ax.set_title("Attempts per authentication", fontsize=11)
    return figure


def denials_chart(auths: pd.DataFrame) -> Figure:
    """Final denials by reason, and denials met along the way (wrong server, expired …)."""
    final = reliability.denials_by_reason(auths)
    events = reliability.denial_events(auths)
    events = events[events["events"] > 0]  # a reason never met is not a bar of zero
    panels = int(not final.empty) + int(not events.empty)
    figure = Figure(figsize=(5 * max(panels, 1), 3.5), layout="constrained")
    if not panels:
        return _empty(figure, "no denials")
    axes = list(np.atleast_1d(figure.subplots(1, panels)))
    if not final.empty:
        ax = axes.pop(0)
        final = final.head(MAX_BARS).iloc[::-1]
        ax.barh(final["reason"], final["authentications"], color=DENIED)
        ax.set_xlabel("authentications ending denied")
        ax.set_title("Denials by reason", fontsize=10)
    if not events.empty:
        ax = axes.pop(0)
        ax.barh(events["reason"], events["events"], color=ABANDONED)
        ax.set_xlabel("engine denials along the way (incl. later successes)")
        ax.set_title("Denials met during authentications", fontsize=10)
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
    panels: list[tuple[str, str]] = []  # (kind, "queue" | "utilisation"), empty ones left out
    quiet: list[str] = []
    for kind in kinds:
        frame = series[series["kind"] == kind]
        if frame["queue_length"].fillna(0).max() > 0:
            panels.append((kind, "queue"))
        else:
            quiet.append(kind)
        if frame["utilisation"].fillna(0).max() > 0:
            panels.append((kind, "utilisation"))
    rows = -(-len(panels) // 2)
    figure = Figure(figsize=(11, 2.6 * max(rows, 1)), layout="constrained")
    if not panels:
        return _empty(figure, "no resource samples" if not kinds else "no queue and no load")
    axes = np.atleast_1d(figure.subplots(rows, 2, squeeze=False)).ravel()
    for ax, (kind, what) in zip(axes, panels, strict=False):
        frame = series[series["kind"] == kind]
        names = frame.groupby("name", observed=True)["queue_length"].mean()
        top = names.sort_values(ascending=False).index[:8]
        for name in top:
            one = frame[frame["name"] == name]
            values = one["queue_length"] if what == "queue" else one["utilisation"] * 100
            ax.plot(one["time"], values, label=str(name), linewidth=1)
        ax.set_title(
            f"{kind}: queue length" if what == "queue" else f"{kind}: utilisation (%)", fontsize=10
        )
        ax.set_ylim(bottom=0)
        ax.set_xlabel("simulated seconds", fontsize=8)
        ax.tick_params(labelsize=8)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="upper right")
    for ax in axes[len(panels) :]:
        ax.remove()
    replication = int(series["replication"].min())
    note = f"; no queue formed at any {', '.join(quiet)}" if quiet else ""
    figure.suptitle(f"Queues over time (replication {replication}){note}", fontsize=11)
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
    top = float(costs["total"].max()) if len(costs) else 0.0
    ax.set_ylim(0, top * 1.18 if top > 0 else 1.0)  # room for the labels under the title
    for x, total in enumerate(costs["total"]):
        ax.text(x, total, f"{total:,.0f}", ha="center", va="bottom", fontsize=9)
    if "current" in costs:
        for x, current in enumerate(costs["current"]):
            if current:
                ax.get_xticklabels()[x].set_fontweight("bold")
    ax.set_ylabel(f"{currency} per month")
    ax.set_title("Cost by billing model", fontsize=11)
    ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.0, 0.5))
    return figure


def comparison_chart(
    table: pd.DataFrame, auths_by_row: Mapping[str, pd.DataFrame] | None = None
) -> Figure:
    """Success rate with its interval and p95 time to authenticate, one bar per row of
    ``reliability.compare`` (run or sweep point). ``auths_by_row`` — the rows' authentications,
    in the table's order — adds the p95's 95 % t interval over replications where a row has
    several (or give it as ``p95_ci_low``/``p95_ci_high`` columns). A ``label`` column, when
    present, names the bars."""
    figure = Figure(figsize=(10, 1.2 + 0.45 * max(len(table), 2)), layout="constrained")
    left, right = figure.subplots(1, 2, sharey=True)
    if "label" in table:
        labels = [str(v) for v in table["label"]]
    else:
        params = [c for c in table.columns if c not in _HEADLINE and c != "run"]
        labels = [
            " ".join(filter(None, [str(r["run"]), point_label({p: r[p] for p in params})]))
            for _, r in table.iterrows()
        ]
    rate = table["success_rate"].to_numpy() * 100
    low, high = rate_axis(np.concatenate([rate, table["ci_low"].to_numpy() * 100]))
    below = np.clip(np.nan_to_num(rate - table["ci_low"].to_numpy() * 100), 0, None)
    above = np.clip(np.nan_to_num(table["ci_high"].to_numpy() * 100 - rate), 0, None)
    y = np.arange(len(table))
    left.barh(y, rate - low, left=low, xerr=[below, above], color=SUCCESS, ecolor=ACCENT, capsize=3)
    left.set_yticks(y, labels, fontsize=8)
    left.set_xlim(low, high)
    _rate_ticks(left, low)
    left.set_xlabel(_rate_label("success rate", low) + "\n95 % interval")
    left.invert_yaxis()  # the first run on top, as in the tables
    p95 = table["p95"].to_numpy(dtype=float)
    if {"p95_ci_low", "p95_ci_high"} <= set(table.columns):  # computed by the caller
        bounds = table[["p95_ci_low", "p95_ci_high"]].to_numpy(dtype=float)
        spread = np.clip(
            np.nan_to_num(np.vstack([p95 - bounds[:, 0], bounds[:, 1] - p95])), 0, None
        )
        spread = spread if spread.any() else None
    else:
        spread = _p95_intervals(p95, list(auths_by_row.values()) if auths_by_row else [])
    right.barh(y, p95, xerr=spread, color=ACCENT, ecolor=DENIED, capsize=3)
    right.set_xlim(left=0)
    right.set_xlabel(
        "p95 time to authenticate (s)"
        + ("\n95 % t interval over replications" if spread is not None else "")
    )
    right.tick_params(labelleft=False)
    figure.suptitle("Runs side by side", fontsize=11)
    return figure


def _p95_intervals(p95: np.ndarray, frames: Sequence[pd.DataFrame]) -> np.ndarray | None:
    """Error-bar lengths (below, above) of each row's p95 from its replications; None when
    no row has two replications or the frames do not match the rows."""
    if len(frames) != len(p95):
        return None
    below, above, any_interval = np.zeros(len(p95)), np.zeros(len(p95)), False
    for index, frame in enumerate(frames):
        if frame.empty or frame["replication"].nunique() < 2:
            continue
        interval = reliability.replication_ci(frame, ["p95"]).iloc[0]
        if np.isfinite(interval["ci_low"]) and np.isfinite(interval["ci_high"]):
            below[index] = max(p95[index] - interval["ci_low"], 0.0)
            above[index] = max(interval["ci_high"] - p95[index], 0.0)
            any_interval = True
    return np.vstack([below, above]) if any_interval else None


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
    by_reason = failures.groupby("reason")["occurrences"].sum().sort_values().tail(MAX_BARS)
    figure = Figure(figsize=(8, 1.2 + 0.4 * max(len(by_reason), 2)), layout="constrained")
    if failures.empty:
        return _empty(figure, "no failures")
    ax = figure.subplots()
    ax.barh(by_reason.index, by_reason.to_numpy(), color=DENIED)
    ax.set_xlabel("occurrences")
    ax.set_title("Load-test failures by reason", fontsize=11)
    return figure


def fraud_refused_chart(timeline: pd.DataFrame) -> Figure:
    """The attack's requests per minute (bars) and the share the defences refused (line),
    one panel per attack, one line per point (``reports.fraud.refused_over_time``)."""
    figure = Figure(figsize=(10, 3.5), layout="constrained")
    if timeline.empty:
        return _empty(figure, "no attack traffic")
    attacks = list(dict.fromkeys(timeline["attack"]))
    axes = figure.subplots(1, len(attacks), squeeze=False)[0]
    for ax, attack in zip(axes, attacks, strict=True):
        rows = timeline[timeline["attack"] == attack]
        for point, frame in rows.groupby("point", sort=False):
            minutes = frame["start_s"].to_numpy() / 60.0
            ax.plot(minutes, 100 * frame["attack_refused_share"].to_numpy(), label=str(point))
        ax.set_ylim(-2, 102)
        ax.set_xlabel("minute of the run")
        ax.set_ylabel("attack requests refused (%)")
        ax.set_title(attack.replace("_", " "), fontsize=11)
        ax.legend(fontsize=7, loc="best")
    return figure
