"""What a run tells a planner at a glance, and how sure we are of it.

Each replication keeps a ``Tally`` while it runs (counts, and the time to authenticate of
every success). ``summarize`` pools them: the success rate with a 95 % confidence interval
over replications (Student t; with one replication, a Wilson interval over the
authentications, which ignores correlation and is labelled so), the p50/p95/p99 time to
authenticate, attempts per success, denials by reason, message losses by cause and the
busiest sender, provider and server. ``render_summary`` prints it as a rich table.
"""

from __future__ import annotations

import math
from array import array
from collections import Counter
from collections.abc import Mapping, Sequence
from itertools import compress, repeat
from operator import eq, not_
from typing import Any

import numpy as np

from sim.records import AUTH_COLUMNS, DELIVERY_COLUMNS

__all__ = ["Tally", "render_summary", "student_t975", "summarize", "wilson_interval"]

# Student t 97.5 % quantiles by degrees of freedom (two-sided 95 % intervals)
_T975 = (
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
    2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
    2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
)  # fmt: skip


_OUTCOME = AUTH_COLUMNS.index("outcome")
_REASON = AUTH_COLUMNS.index("reason")
_BEGINS = AUTH_COLUMNS.index("begins")
_VERIFIES = AUTH_COLUMNS.index("verifies")
_TIME_TO_AUTH = AUTH_COLUMNS.index("time_to_auth")
_METHOD_FIRST = AUTH_COLUMNS.index("method_first")
_CHANNEL = DELIVERY_COLUMNS.index("channel")
_LOSS_CAUSE = DELIVERY_COLUMNS.index("loss_cause")


def student_t975(df: int) -> float:
    if df < 1:
        raise ValueError("at least one degree of freedom")
    if df <= len(_T975):
        return _T975[df - 1]
    if df <= 40:
        return 2.021
    if df <= 60:
        return 2.000
    if df <= 120:
        return 1.980
    return 1.960


def wilson_interval(successes: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    if n == 0:
        return (0.0, 1.0)
    p = successes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return (max(0.0, centre - half), min(1.0, centre + half))


class Tally:
    """Counters of one replication; plain data so a dask worker can send it back."""

    def __init__(self, replication: int) -> None:
        self.replication = replication
        self.auths = 0
        self.outcomes: Counter[str] = Counter()
        self.final_reasons: dict[str, Counter[str]] = {"denied": Counter(), "abandoned": Counter()}
        self.engine_denials: Counter[str] = Counter()
        self.begins = 0
        self.verifies = 0
        self.success_begins = 0
        self.times = array("d")
        self.methods: dict[str, list[int]] = {}
        self.deliveries: Counter[str] = Counter()
        self.delivered: Counter[str] = Counter()
        self.losses: Counter[str] = Counter()
        self.resources: dict[str, dict[str, dict[str, Any]]] = {}
        self.end_time = 0.0

    def add_auths(self, columns: Sequence[Sequence[Any]]) -> None:
        """Count a block of authentications, given as the columns of ``AuthRow`` (what the
        run writes): counted per block with C-level counters and selectors rather than per
        row in Python, as the authentications stream to Parquet."""
        outcome = columns[_OUTCOME]
        method_first = columns[_METHOD_FIRST]
        begins = columns[_BEGINS]
        self.auths += len(outcome)
        self.outcomes.update(outcome)
        self.begins += sum(begins)
        self.verifies += sum(columns[_VERIFIES])
        success = list(map(eq, outcome, repeat("success")))
        self.times.extend(compress(columns[_TIME_TO_AUTH], success))
        self.success_begins += sum(compress(begins, success))
        wins = Counter(compress(method_first, success))
        for method, count in Counter(method_first).items():
            per_method = self.methods.get(method)
            if per_method is None:
                per_method = self.methods[method] = [0, 0]
            per_method[0] += count
            per_method[1] += wins[method]
        for result, reasons in self.final_reasons.items():
            reasons.update(compress(columns[_REASON], map(eq, outcome, repeat(result))))

    def add_deliveries(self, columns: Sequence[Sequence[Any]]) -> None:
        """Count a block of messages, given as the columns of ``DeliveryRow``."""
        channel = columns[_CHANNEL]
        loss_cause = columns[_LOSS_CAUSE]
        self.deliveries.update(channel)
        self.losses.update(filter(None, loss_cause))
        self.delivered.update(compress(channel, map(not_, loss_cause)))

    def as_dict(self) -> dict[str, Any]:
        out = dict(self.__dict__)
        out["times"] = np.frombuffer(self.times, dtype=np.float64).copy()
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Tally:
        tally = cls(int(data["replication"]))
        for key, value in data.items():
            setattr(tally, key, value)
        tally.times = array("d", np.asarray(data["times"], dtype=np.float64).tobytes())
        return tally


def _quantiles(times: np.ndarray) -> dict[str, float | None]:
    if times.size == 0:
        return {"p50": None, "p95": None, "p99": None, "mean": None}
    p50, p95, p99 = np.quantile(times, [0.5, 0.95, 0.99])
    return {
        "p50": round(float(p50), 3),
        "p95": round(float(p95), 3),
        "p99": round(float(p99), 3),
        "mean": round(float(times.mean()), 3),
    }


#: Resource figures that add up over replications; the others are averaged or maxed.
_COUNTS = frozenset({"messages", "accepted", "errors", "throttled", "calls"})


def _merge_resources(tallies: Sequence[Tally]) -> dict[str, dict[str, dict[str, Any]]]:
    """Resources summed (counts), maxed (peaks) or averaged (rates) over replications."""
    merged: dict[str, dict[str, dict[str, Any]]] = {}
    for tally in tallies:
        for kind, by_name in tally.resources.items():
            for name, figures in by_name.items():
                target = merged.setdefault(kind, {}).setdefault(name, {"replications": 0})
                target["replications"] += 1
                for key, value in figures.items():
                    if isinstance(value, str) or key not in target:
                        target[key] = value
                    elif key.startswith(("peak", "max")):
                        target[key] = max(target[key], value)
                    else:
                        target[key] = target[key] + value
    for by_name in merged.values():
        for figures in by_name.values():
            count = figures.pop("replications")
            for key, value in list(figures.items()):
                if isinstance(value, str) or key.startswith(("peak", "max")):
                    continue
                if key not in _COUNTS:
                    value = value / count  # rates and means: averaged over replications
                figures[key] = round(value, 6) if isinstance(value, float) else value
    return merged


def _busiest(by_name: Mapping[str, Mapping[str, Any]]) -> dict[str, Any] | None:
    if not by_name:
        return None
    name = max(
        sorted(by_name),
        key=lambda n: (by_name[n].get("peak_utilisation", 0), by_name[n].get("utilisation", 0)),
    )
    return {"name": name, **by_name[name]}


def summarize(tallies: Sequence[Tally], *, context: Mapping[str, Any]) -> dict[str, Any]:
    """The run's summary (``summary.json``): JSON-ready, no NaN."""
    auths = sum(t.auths for t in tallies)
    successes = sum(t.outcomes["success"] for t in tallies)
    rates = [t.outcomes["success"] / t.auths if t.auths else 0.0 for t in tallies]
    mean_rate = successes / auths if auths else 0.0
    if len(tallies) >= 2:
        centre = float(np.mean(rates))
        half = student_t975(len(rates) - 1) * float(np.std(rates, ddof=1)) / math.sqrt(len(rates))
        interval = (max(0.0, centre - half), min(1.0, centre + half))
        interval_kind = f"t over {len(rates)} replications"
    else:
        interval = wilson_interval(successes, auths)
        interval_kind = "Wilson over authentications (1 replication: correlation ignored)"
    times = np.concatenate(
        [np.frombuffer(t.times, dtype=np.float64) for t in tallies] or [np.zeros(0)]
    )
    outcomes: Counter[str] = Counter()
    engine_denials: Counter[str] = Counter()
    losses: Counter[str] = Counter()
    deliveries: Counter[str] = Counter()
    delivered: Counter[str] = Counter()
    final: dict[str, Counter[str]] = {"denied": Counter(), "abandoned": Counter()}
    methods: dict[str, list[int]] = {}
    for t in tallies:
        outcomes.update(t.outcomes)
        engine_denials.update(t.engine_denials)
        losses.update(t.losses)
        deliveries.update(t.deliveries)
        delivered.update(t.delivered)
        for outcome, reasons in t.final_reasons.items():
            final[outcome].update(reasons)
        for method, (n, ok) in t.methods.items():
            pair = methods.setdefault(method, [0, 0])
            pair[0] += n
            pair[1] += ok
    begins = sum(t.begins for t in tallies)
    resources = _merge_resources(tallies)
    return {
        **context,
        "authentications": auths,
        "outcomes": {k: outcomes[k] for k in ("success", "denied", "abandoned")},
        "success_rate": {
            "mean": round(mean_rate, 6),
            "ci95": [round(interval[0], 6), round(interval[1], 6)],
            "interval": interval_kind,
            "per_replication": [round(r, 6) for r in rates],
        },
        "time_to_auth_s": _quantiles(times),
        "attempts_per_success": round(sum(t.success_begins for t in tallies) / successes, 4)
        if successes
        else None,
        "begins_per_success": round(begins / successes, 4) if successes else None,
        "begins": begins,
        "begins_per_auth": round(begins / auths, 4) if auths else None,
        "verifies": sum(t.verifies for t in tallies),
        "denials_by_reason": {k: dict(sorted(v.items())) for k, v in final.items()},
        "engine_denials": dict(sorted(engine_denials.items())),
        "deliveries": {
            ch: {"sent": deliveries[ch], "delivered": delivered[ch]} for ch in sorted(deliveries)
        },
        "losses_by_cause": dict(sorted(losses.items())),
        "by_first_method": {
            m: {"authentications": n, "success_rate": round(ok / n, 6) if n else None}
            for m, (n, ok) in sorted(methods.items())
        },
        "busiest": {kind: _busiest(resources.get(kind, {})) for kind in RESOURCE_KINDS},
        "resources": resources,
    }


RESOURCE_KINDS = ("sender", "provider", "server")


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{100 * x:.2f} %"


def _secs(x: float | None) -> str:
    return "—" if x is None else f"{x:.1f} s"


def render_summary(summary: Mapping[str, Any], console: Any) -> None:
    """Print the summary tables on a ``rich.console.Console``."""
    from rich.table import Table

    rate = summary["success_rate"]
    times = summary["time_to_auth_s"]
    title = f"{summary.get('scenario', '')} — {summary['authentications']:,} authentications"
    table = Table(title=title, show_header=False, title_justify="left")
    table.add_column("metric", style="bold")
    table.add_column("value")
    table.add_row(
        "success rate",
        f"{_pct(rate['mean'])}  (95 % CI {_pct(rate['ci95'][0])} – {_pct(rate['ci95'][1])}; "
        f"{rate['interval']})",
    )
    outcomes = summary["outcomes"]
    table.add_row("outcomes", ", ".join(f"{k} {v:,}" for k, v in outcomes.items()))
    table.add_row(
        "time to authenticate",
        f"p50 {_secs(times['p50'])}, p95 {_secs(times['p95'])}, p99 {_secs(times['p99'])}",
    )
    aps = summary["attempts_per_success"]
    bps = summary["begins_per_success"]
    table.add_row(
        "attempts per success",
        "—" if aps is None else f"{aps:.3f} (all begins per success {bps:.3f})",
    )
    for outcome, reasons in summary["denials_by_reason"].items():
        if reasons:
            listing = ", ".join(f"{k} {v:,}" for k, v in sorted(reasons.items(), key=_by_count))
            table.add_row(f"{outcome}, by reason", listing)
    if summary["engine_denials"]:
        listing = ", ".join(
            f"{k} {v:,}" for k, v in sorted(summary["engine_denials"].items(), key=_by_count)
        )
        table.add_row("engine denials (calls)", listing)
    if summary["losses_by_cause"]:
        listing = ", ".join(
            f"{k} {v:,}" for k, v in sorted(summary["losses_by_cause"].items(), key=_by_count)
        )
        table.add_row("messages lost, by cause", listing)
    for kind, busiest in summary["busiest"].items():
        if busiest:
            table.add_row(f"busiest {kind}", _describe(kind, busiest))
    console.print(table)


def _by_count(item: tuple[str, int]) -> tuple[int, str]:
    return (-item[1], item[0])


def _describe(kind: str, figures: Mapping[str, Any]) -> str:
    parts = [str(figures["name"])]
    parts.append(f"peak {_pct(figures.get('peak_utilisation'))}")
    parts.append(f"mean {_pct(figures.get('utilisation'))}")
    if kind == "sender":
        parts.append(f"{figures.get('messages', 0):,} messages")
        parts.append(f"max wait {figures.get('max_wait_s', 0):.1f} s")
        parts.append(f"peak queue {figures.get('peak_queue', 0):,}")
    elif kind == "provider":
        parts.append(f"{figures.get('accepted', 0):,} accepted")
        parts.append(
            f"{figures.get('errors', 0):,} errors, {figures.get('throttled', 0):,} throttled"
        )
    else:
        parts.append(f"{figures.get('calls', 0):,} calls")
        parts.append(f"waited {_pct(figures.get('wait_probability'))}")
        parts.append(f"mean wait {figures.get('mean_wait_s', 0):.3f} s")
    return ", ".join(parts)
