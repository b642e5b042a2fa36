"""What the attacks did and what the defences cost the real users, with intervals.

Each replication keeps one ``AttackCounts`` per attack (in ``Tally.attacks``) and, in the
tally, the real sign-ins a fraud defence refused at least once. ``summarize_attacks``
pools them into the ``fraud`` block of ``summary.json``; every figure's name, unit and
definition is in ``outputs.metrics.CATALOGUE``. Shares are pooled over replications with
their 95 % interval (``outputs.metrics.POOLED_RULE``); per-hour volumes are the mean over
replications with a t interval (``outputs.estimates.mean_interval``). The attack's cost in
money is priced by the report (``reports.fraud``), which holds the prices.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from outputs.estimates import Interval, mean_interval, pooled_share
from outputs.metrics import CATALOGUE

__all__ = ["BIN_S", "FRAUD_REASONS", "AttackCounts", "fraud_rows", "summarize_attacks"]

#: Width of the bins of the attack's traffic over time (the report's refused-share chart).
BIN_S = 60.0
#: The engine's refusals that are a fraud defence's (``mfa.reasons``).
FRAUD_REASONS = ("fraud_suspected", "country_blocked")
#: What a begin that no provider took is counted as (not a defence's refusal).
UNSENT = "provider_error"


class AttackCounts:
    """Counters of one attack in one replication; plain data (a dask worker sends it)."""

    def __init__(self) -> None:
        self.attempts = 0
        self.sent = 0  # begins the engine let through
        self.unsent = 0  # let through, but no provider took the message
        self.delivered = 0
        self.lost = 0
        self.refused: dict[str, int] = {}  # engine refusals by reason
        self.rules: dict[str, int] = {}  # fraud_suspected by the rule that fired (the log's)
        self.bins: dict[int, list[int]] = {}  # BIN_S bin -> [attempts, refused]
        self.by_country: dict[str, list[int]] = {}  # country -> [sent, refused]
        self.span = 0.0  # seconds the attack lasted
        self.victims = 0
        self.approvals = 0
        self.takeovers = 0
        self.answers: dict[str, int] = {}  # blind approvals the engine refused, by reason

    def note(self, now: float, reason: str, rule: str | None) -> None:
        """One begin: ``reason`` empty when the engine let it through."""
        self.attempts += 1
        counts = self.bins.get(int(now // BIN_S))
        if counts is None:
            counts = self.bins[int(now // BIN_S)] = [0, 0]
        counts[0] += 1
        if not reason:
            self.sent += 1
        elif reason == UNSENT:
            self.unsent += 1
        else:
            counts[1] += 1
            self.refused[reason] = self.refused.get(reason, 0) + 1
            if rule is not None:
                self.rules[rule] = self.rules.get(rule, 0) + 1

    def note_country(self, country: str, result: object, refused: bool) -> None:
        """A pumping begin to ``country``: sent (a message the provider bills) or refused."""
        pair = self.by_country.get(country)
        if pair is None:
            pair = self.by_country[country] = [0, 0]
        if refused:
            pair[1] += 1
        elif result is not None:
            pair[0] += 1

    @property
    def refused_total(self) -> int:
        return sum(self.refused.values())


def _clean(value: float) -> float | None:
    return None if math.isnan(value) else round(value, 6)


def _share(interval: Interval) -> dict[str, Any]:
    low, high = _clean(interval.low), _clean(interval.high)
    return {
        "estimate": _clean(interval.estimate),
        "low": low,
        "high": high,
        "ci95": [low, high],
        "interval": interval.method,
    }


def _add(target: dict[str, int], source: dict[str, int]) -> None:
    for key, value in source.items():
        target[key] = target.get(key, 0) + value


def _series(counts: Sequence[AttackCounts]) -> dict[str, Any]:
    """Attempts and refusals per BIN_S bin, summed over replications."""
    bins: dict[int, list[int]] = {}
    for c in counts:
        for b, (attempts, refused) in c.bins.items():
            pair = bins.setdefault(int(b), [0, 0])
            pair[0] += attempts
            pair[1] += refused
    order = sorted(bins)
    return {
        "bin_s": BIN_S,
        "start_s": [b * BIN_S for b in order],
        "attempts": [bins[b][0] for b in order],
        "refused": [bins[b][1] for b in order],
    }


def _attack(counts: Sequence[AttackCounts]) -> dict[str, Any]:
    by_reason: dict[str, int] = {}
    by_rule: dict[str, int] = {}
    countries: dict[str, list[int]] = {}
    for c in counts:
        _add(by_reason, c.refused)
        _add(by_rule, c.rules)
        for country, (sent, refused) in c.by_country.items():
            pair = countries.setdefault(country, [0, 0])
            pair[0] += sent
            pair[1] += refused
    hours = [c.span / 3600.0 if c.span > 0 else math.nan for c in counts]
    per_hour = mean_interval([c.sent / h for c, h in zip(counts, hours, strict=True)])
    refused_per_hour = mean_interval(
        [c.refused_total / h for c, h in zip(counts, hours, strict=True)]
    )
    return {
        "replications": len(counts),
        "attack_begins": sum(c.attempts for c in counts),
        "attack_sent": sum(c.sent for c in counts),
        "attack_refused": sum(c.refused_total for c in counts),
        "attack_unsent": sum(c.unsent for c in counts),
        "attack_delivered": sum(c.delivered for c in counts),
        "attack_lost": sum(c.lost for c in counts),
        "attack_refused_share": _share(
            pooled_share([c.refused_total for c in counts], [c.attempts for c in counts])
        ),
        "attack_sent_per_hour": _share(per_hour),
        "attack_refused_per_hour": _share(refused_per_hour),
        "attack_passed_per_s": round(per_hour.estimate / 3600.0, 6)
        if not math.isnan(per_hour.estimate)
        else None,
        "refused_by_reason": dict(sorted(by_reason.items())),
        "refused_by_rule": dict(sorted(by_rule.items())),
        "by_country": {k: {"sent": v[0], "refused": v[1]} for k, v in sorted(countries.items())},
        "span_s": round(sum(c.span for c in counts) / len(counts), 3),
        "series": _series(counts),
    }


def _push_bombing(counts: Sequence[AttackCounts]) -> dict[str, Any]:
    answers: dict[str, int] = {}
    for c in counts:
        _add(answers, c.answers)
    return {
        "victims": sum(c.victims for c in counts),
        "blind_approvals": sum(c.approvals for c in counts),
        "takeovers": sum(c.takeovers for c in counts),
        "takeover_share": _share(
            pooled_share([c.takeovers for c in counts], [c.victims for c in counts])
        ),
        "takeovers_per_replication": _share(mean_interval([c.takeovers for c in counts])),
        "takeover_per_push": _share(
            pooled_share([c.takeovers for c in counts], [c.delivered for c in counts])
        ),
        "takeover_per_approval": _share(
            pooled_share([c.takeovers for c in counts], [c.approvals for c in counts])
        ),
        "approvals_refused_by_reason": dict(sorted(answers.items())),
    }


def _collateral(tallies: Sequence[Any]) -> dict[str, Any]:
    """The defences' cost to the real users: their sign-ins a defence refused."""
    auths = [t.auths for t in tallies]
    hit = [t.fraud_hit_auths for t in tallies]
    refusals = {r: sum(t.engine_denials.get(r, 0) for t in tallies) for r in FRAUD_REASONS}
    failed = [t.fraud_hit_auths - t.fraud_hit_successes for t in tallies]
    successes = sum(t.outcomes.get("success", 0) for t in tallies)
    hit_successes = sum(t.fraud_hit_successes for t in tallies)
    extra: float | None = None
    if successes and hit_successes:
        all_time = sum(float(sum(t.times)) for t in tallies) / successes
        hit_time = sum(t.fraud_hit_time for t in tallies) / hit_successes
        extra = round(hit_time - all_time, 3)
    return {
        "authentications": sum(auths),
        "fraud_refusals": refusals,
        "signins_refused_by_defences": sum(hit),
        "signins_refused_by_defences_share": _share(pooled_share(hit, auths)),
        "signins_failed_after_defence_refusal": sum(failed),
        "signins_failed_after_defence_refusal_share": _share(pooled_share(failed, auths)),
        "defence_extra_time_s": extra,
    }


def summarize_attacks(tallies: Sequence[Any]) -> dict[str, Any] | None:
    """The ``fraud`` block of a summary: per attack, and the collateral on real users;
    ``None`` when the run had no attack and no defence refused anyone."""
    out: dict[str, Any] = {}
    for kind in ("pumping", "push_bombing"):
        counts = [t.attacks[kind] for t in tallies if kind in getattr(t, "attacks", {})]
        if not counts:
            continue
        block = _attack(counts)
        if kind == "push_bombing":
            block.update(_push_bombing(counts))
        out[kind] = block
    refused = sum(t.engine_denials.get(r, 0) for t in tallies for r in FRAUD_REASONS)
    if not out and not refused:
        return None
    out["collateral"] = _collateral(tallies)
    return out


def _pct(share: dict[str, Any], name: str) -> str:
    fmt = CATALOGUE[name].format
    return f"{fmt(share['estimate'])} (95 % CI {fmt(share['low'])} – {fmt(share['high'])})"


def fraud_rows(fraud: dict[str, Any] | None) -> list[tuple[str, str]]:
    """The console summary's rows of a ``fraud`` block (label, text), formatted by the
    catalogue."""
    if not fraud:
        return []
    fmt = CATALOGUE.format
    rows: list[tuple[str, str]] = []
    for kind in ("pumping", "push_bombing"):
        block = fraud.get(kind)
        if not block:
            continue
        per_hour = block["attack_sent_per_hour"]
        reasons = ", ".join(f"{k} {v:,}" for k, v in block["refused_by_reason"].items())
        rules = ", ".join(f"{k} {v:,}" for k, v in block["refused_by_rule"].items())
        priced = block.get("attack_cost")
        if priced:
            money = CATALOGUE["attack_cost"].format
            rows.append(
                (
                    f"{kind.replace('_', ' ')}: cost",
                    f"{money(priced['per_replication_hour'], currency=priced['currency'])} per "
                    "hour of attack (provider per-message prices), avoided "
                    f"{money(priced['avoided_per_replication_hour'], currency=priced['currency'])}",
                )
            )
        rows.append(
            (
                f"{kind.replace('_', ' ')}: attack",
                f"{fmt('attack_begins', block['attack_begins'])} requests, "
                f"{fmt('attack_sent', block['attack_sent'])} sent "
                f"({fmt('attack_sent_per_hour', per_hour['estimate'])} an hour), refused "
                f"{_pct(block['attack_refused_share'], 'attack_refused_share')}"
                + (f"; {reasons}" if reasons else "")
                + (f" (rules: {rules})" if rules else ""),
            )
        )
        if kind == "push_bombing":
            rows.append(
                (
                    "push bombing: accounts taken over",
                    f"{fmt('takeovers', block['takeovers'])} of "
                    f"{fmt('victims', block['victims'])} victims, "
                    f"{_pct(block['takeover_share'], 'takeover_share')}; "
                    f"{fmt('blind_approvals', block['blind_approvals'])} blind approvals",
                )
            )
    collateral = fraud.get("collateral")
    if collateral:
        c = collateral
        extra = c["defence_extra_time_s"]
        share = _pct(c["signins_refused_by_defences_share"], "signins_refused_by_defences_share")
        refused = fmt("signins_refused_by_defences", c["signins_refused_by_defences"])
        lost = fmt(
            "signins_failed_after_defence_refusal", c["signins_failed_after_defence_refusal"]
        )
        text = f"{refused} ({share}), of which lost {lost}"
        if extra is not None:
            text += f"; extra time {fmt('defence_extra_time_s', extra)}"
        rows.append(("defences: real sign-ins refused", text))
    return rows
