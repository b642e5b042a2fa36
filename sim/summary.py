"""What a run tells a planner at a glance, and how sure we are of it.

Each replication keeps a ``Tally`` while it runs (counts, the time to authenticate of every
success, the sms/voice messages delivered within the code lifetime). ``summarize`` pools
them: every share is the pooled share with one 95 % interval (``outputs.metrics.POOLED_RULE``,
computed by ``outputs.estimates.pooled_share``), the p50/p95/p99 time to authenticate, the
shares signed in within 30 s and 60 s, attempts per success, denials by reason, message
losses by cause and the busiest sender, provider and server. Names, units and definitions
are those of ``outputs.metrics.CATALOGUE``; ``render_summary`` prints it as a rich table.
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

from outputs.estimates import Interval, pooled_share, student_t975, wilson_interval
from outputs.metrics import CATALOGUE, SIGNED_IN_WITHIN_S
from outputs.records import AUTH_COLUMNS, DELIVERY_COLUMNS
from sim.attack_summary import AttackCounts, fraud_rows, summarize_attacks

__all__ = ["Tally", "render_summary", "student_t975", "summarize", "wilson_interval"]

_OUTCOME = AUTH_COLUMNS.index("outcome")
_REASON = AUTH_COLUMNS.index("reason")
_BEGINS = AUTH_COLUMNS.index("begins")
_VERIFIES = AUTH_COLUMNS.index("verifies")
_TIME_TO_AUTH = AUTH_COLUMNS.index("time_to_auth")
_METHOD_FIRST = AUTH_COLUMNS.index("method_first")
_CHANNEL = DELIVERY_COLUMNS.index("channel")
_LOSS_CAUSE = DELIVERY_COLUMNS.index("loss_cause")
_REQUESTED_AT = DELIVERY_COLUMNS.index("requested_at")
_DELIVERED_AT = DELIVERY_COLUMNS.index("delivered_at")
#: Channels that carry a code (or a call) the code lifetime applies to.
CODE_CHANNELS = ("sms", "voice")


class Tally:
    """Counters of one replication; plain data so a dask worker can send it back."""

    def __init__(self, replication: int, code_lifetime: float = math.inf) -> None:
        self.replication = replication
        self.code_lifetime = code_lifetime
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
        self.code_messages = 0  # sms and voice messages sent
        self.code_in_time = 0  # … delivered within the code lifetime of being requested
        self.resources: dict[str, dict[str, dict[str, Any]]] = {}
        self.end_time = 0.0
        #: each attack's counters (``sim.attack_summary``), by attack
        self.attacks: dict[str, AttackCounts] = {}
        #: real sign-ins a fraud defence refused at least once, those of them that
        #: succeeded, and the sum of their times to authenticate
        self.fraud_hit_auths = 0
        self.fraud_hit_successes = 0
        self.fraud_hit_time = 0.0

    def note_fraud_hit(self, time_to_auth: float | None) -> None:
        """A real sign-in that a fraud defence refused along the way (``None``: it failed)."""
        self.fraud_hit_auths += 1
        if time_to_auth is not None:
            self.fraud_hit_successes += 1
            self.fraud_hit_time += time_to_auth

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
        carries_code = [c in CODE_CHANNELS for c in channel]
        self.code_messages += sum(carries_code)
        lifetime = self.code_lifetime
        latency = np.asarray(columns[_DELIVERED_AT], dtype=np.float64) - np.asarray(
            columns[_REQUESTED_AT], dtype=np.float64
        )
        # NaN (lost) compares false: only delivered messages count
        self.code_in_time += int(np.count_nonzero((latency <= lifetime) & np.array(carries_code)))

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


def _share(interval: Interval) -> dict[str, Any]:
    """A pooled share in ``summary.json``: the estimate is the pooled share itself."""

    def clean(value: float) -> float | None:
        return None if math.isnan(value) else round(value, 6)

    low, high = clean(interval.low), clean(interval.high)
    return {
        "estimate": clean(interval.estimate),
        "low": low,
        "high": high,
        "ci95": [low, high],
        "interval": interval.method,
    }


def summarize(tallies: Sequence[Tally], *, context: Mapping[str, Any]) -> dict[str, Any]:
    """The run's summary (``summary.json``): JSON-ready, no NaN; names as in the catalogue."""
    auths = sum(t.auths for t in tallies)
    successes = sum(t.outcomes["success"] for t in tallies)
    per_auths = [t.auths for t in tallies]
    rates = [t.outcomes["success"] / t.auths if t.auths else 0.0 for t in tallies]
    success_rate = pooled_share([t.outcomes["success"] for t in tallies], per_auths)
    per_times = [np.frombuffer(t.times, dtype=np.float64) for t in tallies]
    times = np.concatenate(per_times or [np.zeros(0)])
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
    within = {
        f"signed_in_within_{limit}s": _share(
            pooled_share([int((x <= limit).sum()) for x in per_times], per_auths)
        )
        for limit in SIGNED_IN_WITHIN_S
    }
    lifetimes = sorted({t.code_lifetime for t in tallies})
    in_time = {
        **_share(
            pooled_share([t.code_in_time for t in tallies], [t.code_messages for t in tallies])
        ),
        "messages": sum(t.code_messages for t in tallies),
        "code_lifetime_s": lifetimes[0]
        if len(lifetimes) == 1 and lifetimes[0] < math.inf
        else None,
    }
    fraud = summarize_attacks(tallies)
    return {
        **context,
        "authentications": auths,
        "outcomes": {k: outcomes[k] for k in ("success", "denied", "abandoned")},
        "success_rate": {
            **_share(success_rate),
            "per_replication": [round(r, 6) for r in rates],
        },
        "time_to_auth_s": _quantiles(times),
        **within,
        "delivered_within_code_lifetime": in_time,
        "attempts_per_success": round(begins / successes, 4) if successes else None,
        "begins_per_successful_signin": round(sum(t.success_begins for t in tallies) / successes, 4)
        if successes
        else None,
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
        **({"fraud": fraud} if fraud is not None else {}),
    }


RESOURCE_KINDS = ("sender", "provider", "server")


def _fmt(name: str, value: Any) -> str:
    return CATALOGUE.format(name, value)


def _pct(x: float | None) -> str:
    return _fmt("success_rate", x)


def _interval_text(share: Mapping[str, Any]) -> str:
    return (
        f"{_pct(share['estimate'])}  (95 % CI {_pct(share['low'])} – {_pct(share['high'])}; "
        f"{share['interval']})"
    )


def render_summary(summary: Mapping[str, Any], console: Any) -> None:
    """Print the summary tables on a ``rich.console.Console``; every figure is formatted by
    its catalogue entry (``outputs.metrics``)."""
    from rich.table import Table

    rate = summary["success_rate"]
    times = summary["time_to_auth_s"]
    title = f"{summary.get('scenario', '')} — {summary['authentications']:,} authentications"
    table = Table(title=title, show_header=False, title_justify="left")
    table.add_column("metric", style="bold")
    table.add_column("value")
    table.add_row(CATALOGUE["success_rate"].label, _interval_text(rate))
    for limit in SIGNED_IN_WITHIN_S:
        name = f"signed_in_within_{limit}s"
        if name in summary:
            table.add_row(CATALOGUE[name].label, _interval_text(summary[name]))
    in_time = summary.get("delivered_within_code_lifetime")
    if in_time and in_time["messages"]:
        lifetime = in_time.get("code_lifetime_s")
        within = f"within {lifetime:g} s" if lifetime else "within the code lifetime"
        table.add_row(
            CATALOGUE["delivered_within_code_lifetime"].label,
            f"{_interval_text(in_time)}; of {in_time['messages']:,} sms/voice messages, "
            f"delivered {within} of being requested (a lost message is not in time)",
        )
    outcomes = summary["outcomes"]
    table.add_row("outcomes", ", ".join(f"{k} {_fmt(k, v)}" for k, v in outcomes.items()))
    table.add_row(
        "time to authenticate",
        f"p50 {_fmt('p50', times['p50'])}, p95 {_fmt('p95', times['p95'])}, "
        f"p99 {_fmt('p99', times['p99'])}",
    )
    aps = summary["attempts_per_success"]
    took = _fmt("begins_per_successful_signin", summary["begins_per_successful_signin"])
    table.add_row(
        CATALOGUE["attempts_per_success"].label,
        "—"
        if aps is None
        else f"{_fmt('attempts_per_success', aps)} (every begin / successes; a successful "
        f"sign-in took {took} begins)",
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
    for label, text in fraud_rows(summary.get("fraud")):
        table.add_row(label, text)
    cost = summary.get("monthly_cost")
    if cost:
        models = ", ".join(
            f"{model} {CATALOGUE.format('monthly_cost', value, currency=cost['currency'])}"
            for model, value in cost["models"].items()
        )
        current = (
            f" (the scenario bills {cost['current_model']})" if cost.get("current_model") else ""
        )
        table.add_row(CATALOGUE["monthly_cost"].label + ", by billing model", models + current)
        table.add_row("month scaled as", cost["rule"])
    console.print(table)


def _by_count(item: tuple[str, int]) -> tuple[int, str]:
    return (-item[1], item[0])


def _describe(kind: str, figures: Mapping[str, Any]) -> str:
    parts = [str(figures["name"])]
    parts.append(f"peak {_fmt('peak_utilisation', figures.get('peak_utilisation'))}")
    parts.append(f"mean {_fmt('utilisation', figures.get('utilisation'))}")
    if kind == "sender":
        parts.append(f"{_fmt('messages', figures.get('messages', 0))} messages")
        parts.append(f"max wait {_fmt('max_wait_s', figures.get('max_wait_s', 0))}")
        parts.append(f"peak queue {_fmt('peak_queue', figures.get('peak_queue', 0))}")
    elif kind == "provider":
        parts.append(f"{_fmt('accepted', figures.get('accepted', 0))} accepted")
        parts.append(
            f"{_fmt('errors', figures.get('errors', 0))} errors, "
            f"{_fmt('throttled', figures.get('throttled', 0))} throttled"
        )
    else:
        parts.append(f"{_fmt('calls', figures.get('calls', 0))} calls")
        parts.append(f"waited {_fmt('wait_probability', figures.get('wait_probability'))}")
        parts.append(f"mean wait {_fmt('mean_wait_s', figures.get('mean_wait_s', 0))}")
    return ", ".join(parts)
