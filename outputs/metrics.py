"""The metric catalogue: every figure an output shows, named once, with its unit and meaning.

The console summary (``mfalab run``), ``summary.json``, the sweep table, the HTML/Markdown
report tables and the notebooks take a figure's name, unit, definition and formatting from
here, so one name never means two things and nothing is formatted by guessing from a column
name. A name not in the catalogue is formatted by its type only (whole numbers as counts).

How a figure aggregates over replications is one of ``Aggregation``; the rule for shares is
stated once (``POOLED_RULE``): the pooled share (every replication's numerator over every
replication's denominator) with a 95 % interval from ``outputs.estimates.pooled_share`` —
Student's t on the ratio estimator across replications, or Wilson over the counts with one
replication. The console, ``summary.json`` and the report headline all print that one.

Load-test tables read latencies in milliseconds under the same column names as the
simulator's seconds (``p95``), so they have their own small catalogue (``LOADTEST``).
A real server's traffic, read from the engine's authentication log (``reports.traffic``), has
its own small catalogue too (``TRAFFIC``): one record is one authentication begun.
This module imports nothing from the simulator, so ``reports`` may depend on it freely.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from enum import Enum
from types import MappingProxyType

__all__ = [
    "CATALOGUE",
    "LOADTEST",
    "POOLED_RULE",
    "SIGNED_IN_WITHIN_S",
    "TRAFFIC",
    "Aggregation",
    "Catalogue",
    "Metric",
    "Unit",
    "format_parameter",
    "format_value",
]

#: Thresholds of the "signed in within t seconds" shares every summary carries.
SIGNED_IN_WITHIN_S = (30, 60)

POOLED_RULE = (
    "pooled over replications (sum of numerators / sum of denominators); 95 % interval: "
    "Student t on the ratio estimator across replications, or Wilson over the counts when "
    "there is one replication"
)


class Unit(Enum):
    COUNT = "count"
    SHARE = "share"  # a fraction 0..1, shown as a percentage
    SECONDS = "seconds"
    MILLISECONDS = "milliseconds"
    CURRENCY = "currency"  # a month's money in the pricing's currency
    RATIO = "ratio"  # one count per another (per success, per authentication, per second)
    FLAG = "flag"


class Aggregation(Enum):
    POOLED = "pooled share over replications, with its 95 % interval (POOLED_RULE)"
    TOTAL = "summed over replications"
    POOLED_RATIO = "sum of the numerators over the sum of the denominators of all replications"
    POOLED_QUANTILE = "quantile of the values of all replications together"
    MEAN = "mean over replications"
    PEAK = "largest over replications"
    PER_MONTH = "one month, scaled from the simulated window (the rule is printed with it)"
    NONE = "one value, not aggregated (a load test, a table cell)"


@dataclass(frozen=True, slots=True)
class Metric:
    name: str
    label: str
    unit: Unit
    definition: str
    aggregation: Aggregation
    digits: int = 2

    def format(self, value: object, *, currency: str = "") -> str:
        return format_value(value, self.unit, self.digits, currency=currency)


def _is_missing(value: object) -> bool:
    if value is None:
        return True
    try:
        return math.isnan(float(value))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False


def format_value(value: object, unit: Unit, digits: int = 2, *, currency: str = "") -> str:
    """A value as display text in its unit: shares as "93.68 %", seconds as "12.3 s", counts
    with thousands separators, money with two decimals; missing values as "–"."""
    if _is_missing(value):
        return "–"
    if unit is Unit.FLAG:
        return "yes" if value else "no"
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return str(value)
    if unit is Unit.SHARE:
        return f"{100 * number:.{digits}f} %"
    if unit is Unit.SECONDS:
        return f"{number:,.{digits}f} s"
    if unit is Unit.MILLISECONDS:
        return f"{number:,.{digits}f} ms"
    if unit is Unit.CURRENCY:
        text = f"{number:,.2f}"
        return f"{text} {currency}" if currency else text
    if unit is Unit.COUNT:
        return f"{number:,.0f}" if number.is_integer() or digits == 0 else f"{number:,.{digits}f}"
    return f"{number:,.{digits}f}"


def format_parameter(value: object) -> str | None:
    """A swept parameter's value as the user typed it on ``--set``: whole numbers without
    ``.0`` (a column that also holds missing values turns 3 into 3.0), booleans as
    ``true``/``false``; ``None`` for a missing value (a run without that parameter)."""
    item = getattr(value, "item", None)
    if callable(item) and not isinstance(value, str):
        value = item()  # a numpy scalar → the Python value
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return None
        return str(int(value)) if value.is_integer() else f"{value:g}"
    return str(value)


class Catalogue(Mapping[str, Metric]):
    """Metrics by name; ``format`` formats a value of a named figure (or by type, unnamed)."""

    def __init__(self, *metrics: Metric) -> None:
        by_name: dict[str, Metric] = {}
        for metric in metrics:
            if metric.name in by_name:
                raise ValueError(f"metric {metric.name!r} defined twice")
            by_name[metric.name] = metric
        self._metrics = MappingProxyType(by_name)

    def __getitem__(self, name: str) -> Metric:
        return self._metrics[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._metrics)

    def __len__(self) -> int:
        return len(self._metrics)

    def format(self, name: str, value: object, *, currency: str = "") -> str:
        metric = self._metrics.get(name)
        if metric is not None:
            return metric.format(value, currency=currency)
        if isinstance(value, bool):
            return "yes" if value else "no"
        if isinstance(value, int):
            return f"{value:,}"
        if isinstance(value, float):
            if math.isnan(value):
                return "–"
            return f"{value:,.0f}" if value.is_integer() else f"{value:,.3f}"
        return "–" if value is None else str(value)


_P, _T, _R, _Q = (
    Aggregation.POOLED,
    Aggregation.TOTAL,
    Aggregation.POOLED_RATIO,
    Aggregation.POOLED_QUANTILE,
)
_NONE, _MEAN, _PEAK = Aggregation.NONE, Aggregation.MEAN, Aggregation.PEAK
C, S, SEC, R = Unit.COUNT, Unit.SHARE, Unit.SECONDS, Unit.RATIO

_SIM = [
    # --- authentications (the unit of a sign-in: every resend, retry and fallback)
    Metric("authentications", "authentications", C, "Sign-ins started (one per arrival).", _T),
    Metric("successes", "successes", C, "Authentications whose outcome is success.", _T),
    Metric("success", "success", C, "Authentications whose outcome is success.", _T),
    Metric("denied", "denied", C, "Authentications the engine finally denied.", _T),
    Metric("abandoned", "abandoned", C, "Authentications the user gave up on.", _T),
    Metric(
        "success_rate",
        "success rate",
        S,
        "Authentications that succeeded / all authentications.",
        _P,
    ),
    Metric("ci_low", "95 % low", S, "Low end of the 95 % interval of the share beside it.", _P),
    Metric("ci_high", "95 % high", S, "High end of the 95 % interval of the share beside it.", _P),
    Metric(
        "denied_share", "denied", S, "Authentications finally denied / all authentications.", _P
    ),
    Metric(
        "abandoned_share", "abandoned", S, "Authentications abandoned / all authentications.", _P
    ),
    *(
        Metric(
            f"signed_in_within_{t}s",
            f"signed in within {t} s",
            S,
            f"Authentications that succeeded within {t} s of arriving / all authentications.",
            _P,
        )
        for t in SIGNED_IN_WITHIN_S
    ),
    Metric(
        "delivered_within_code_lifetime",
        "codes delivered in time",
        S,
        "SMS and voice messages delivered within the code lifetime (timeout_s; 180 s in cloud "
        "mode) of being requested / all SMS and voice messages sent.",
        _P,
    ),
    Metric(
        "attempts_per_success",
        "attempts per success",
        R,
        "Every begin (send) made by all authentications / authentications that succeeded "
        "(1/p for independent attempts that each succeed with probability p).",
        _R,
        3,
    ),
    Metric(
        "begins_per_successful_signin",
        "begins per successful sign-in",
        R,
        "Begins made by the authentications that succeeded / those authentications.",
        _R,
        3,
    ),
    Metric(
        "begins",
        "begins",
        C,
        "Begin calls (sends for sms/voice): of all authentications, or of each in a "
        "by-begins table.",
        _T,
    ),
    Metric("verifies", "verifies", C, "Verify/respond calls of all authentications.", _T),
    Metric("begins_per_auth", "begins per authentication", R, "Begins / authentications.", _R, 3),
    # --- time to authenticate
    Metric("p50", "p50", SEC, "Median time to authenticate of the successes.", _Q, 1),
    Metric("p95", "p95", SEC, "95th percentile time to authenticate of the successes.", _Q, 1),
    Metric("p99", "p99", SEC, "99th percentile time to authenticate of the successes.", _Q, 1),
    Metric("mean", "mean", SEC, "Mean time to authenticate of the successes.", _Q, 1),
    Metric(
        "success_within",
        "success within n begins",
        S,
        "Authentications that succeeded within this many begins / all authentications.",
        _P,
    ),
    Metric("attempts", "begins", C, "Begins an authentication took (the row's group).", _NONE),
    # --- denials along the way
    Metric("events", "events", C, "Engine denials of this reason met along the way.", _T),
    Metric("per_authentication", "per authentication", R, "Events / authentications.", _R, 3),
    Metric(
        "authentications_hit",
        "authentications hit",
        C,
        "Authentications that met this denial at least once.",
        _T,
    ),
    *(
        Metric(
            f"{reason}_per_auth",
            f"{reason.replace('_', ' ')} per authentication",
            R,
            f"Engine {reason} denials met along the way / authentications.",
            _R,
            3,
        )
        for reason in ("wrong_server", "expired", "rate_limited")
    ),
    Metric("share_of_all", "share of all", S, "Authentications in this row / all of them.", _P),
    Metric(
        "abandonment_rate", "abandonment rate", S, "Abandoned / authentications in the row.", _P
    ),
    Metric("share", "share", S, "Items in this row / all items of the table.", _P),
    Metric("fell_back", "fell back", Unit.FLAG, "The flow changed method at least once.", _NONE),
    # --- deliveries
    Metric("sent", "sent", C, "Messages handed to the gateway.", _T),
    Metric("delivered", "delivered", C, "Messages that reached the phone or app.", _T),
    Metric("delivery_rate", "delivery rate", S, "Messages delivered / messages sent.", _P),
    Metric("messages", "messages", C, "Messages (lost ones by cause, or a sender's).", _T),
    Metric("share_of_sent", "share of sent", S, "Messages lost this way / messages sent.", _P),
    Metric("wait_p95", "queue wait p95", SEC, "95th percentile of sent_at - requested_at.", _Q, 1),
    Metric(
        "latency_p50",
        "latency p50",
        SEC,
        "Median delivered_at - requested_at of delivered messages.",
        _Q,
        1,
    ),
    Metric(
        "latency_p95",
        "latency p95",
        SEC,
        "95th percentile delivered_at - requested_at of delivered messages.",
        _Q,
        1,
    ),
    # --- resources
    Metric(
        "utilisation",
        "utilisation",
        S,
        "Busy time inside the horizon / (slots × horizon) for senders and servers (never "
        "above 100 %); accepted messages / (capacity × horizon) for providers.",
        _MEAN,
    ),
    Metric(
        "peak_utilisation",
        "peak utilisation",
        S,
        "Largest utilisation of one sample interval (providers: capped at 100 %, as the "
        "one-second burst can let an interval pass its rate).",
        _PEAK,
    ),
    Metric(
        "throughput_per_s",
        "throughput",
        R,
        "Message parts a sender may release per second.",
        _NONE,
        1,
    ),
    Metric("samples", "samples", C, "Resource samples taken.", _T),
    # resources.parquet, one row per sample
    Metric("queue_length", "queue", C, "Requests waiting at the sample time.", _NONE),
    Metric(
        "busy",
        "busy",
        C,
        "Senders/providers: messages handled in the preceding interval; servers: busy slots.",
        _NONE,
    ),
    Metric(
        "capacity", "capacity", R, "Messages per second (senders, providers) or slots.", _NONE, 1
    ),
    Metric("queue_mean", "mean queue", R, "Mean queue length over the samples.", _MEAN, 1),
    Metric("queue_max", "max queue", C, "Longest queue at a sample.", _PEAK),
    Metric("util_mean", "mean utilisation", S, "Mean sample utilisation.", _MEAN),
    Metric("util_p95", "p95 utilisation", S, "95th percentile of sample utilisation.", _Q),
    Metric("accepted", "accepted", C, "Messages a provider accepted.", _T),
    Metric("errors", "errors", C, "Messages a provider refused with an error.", _T),
    Metric("throttled", "throttled", C, "Messages a provider refused above its capacity.", _T),
    Metric("calls", "calls", C, "Requests a server handled.", _T),
    Metric("peak_queue", "peak queue", C, "Longest queue of the run.", _PEAK),
    Metric("max_wait_s", "max wait", SEC, "Longest queue wait of the run.", _PEAK, 1),
    Metric("mean_wait_s", "mean wait", SEC, "Mean queue wait per request.", _MEAN, 3),
    Metric("wait_probability", "waited", S, "Requests that had to queue / all requests.", _MEAN),
    Metric("replications", "replications", C, "Independent replications.", _NONE),
    # --- billing (a month, in the pricing's currency)
    Metric(
        "monthly_cost",
        "cost a month",
        Unit.CURRENCY,
        "A month's bill under one billing model (consumption + message fees + licences).",
        Aggregation.PER_MONTH,
    ),
    Metric("consumption", "consumption", Unit.CURRENCY, "The provider's usage charge.", _NONE),
    Metric("message_fees", "message fees", Unit.CURRENCY, "Per-message fees, if priced.", _NONE),
    Metric("licences", "licences", Unit.CURRENCY, "Licences held, a month.", _NONE),
    Metric("total", "total", Unit.CURRENCY, "Consumption + message fees + licences.", _NONE),
    Metric("current_cost", "current cost", Unit.CURRENCY, "A month under the model now.", _NONE),
    Metric("target_cost", "target cost", Unit.CURRENCY, "A month under the other model.", _NONE),
    Metric("monthly_saving", "saving", Unit.CURRENCY, "Current cost - target cost.", _NONE),
    Metric("billed", "billed", C, "Units billed under the model.", Aggregation.PER_MONTH),
    Metric("current", "current", Unit.FLAG, "The model the scenario bills now.", _NONE),
    Metric("enabled_users", "enabled users", C, "Users enabled for MFA.", _NONE),
    Metric("licensed_users", "licensed users", C, "Enabled users holding a licence.", _NONE),
    Metric("billable_users", "billable users", C, "Enabled users without a licence.", _NONE),
    Metric("window_signins", "sign-ins in the window", R, "Per replication.", _MEAN, 1),
    Metric("window_billable", "billable in the window", R, "Per replication.", _MEAN, 1),
    Metric("sms_month", "texts a month", C, "SMS messages scaled to a month.", _NONE),
    Metric("voice_month", "calls a month", C, "Voice calls scaled to a month.", _NONE),
    # --- attacks (scenario key attacks; sim.attack_summary) and the defences' collateral
    Metric("attack_begins", "attack requests", C, "Begins the attacker asked for.", _T),
    Metric(
        "attack_sent",
        "attack messages sent",
        C,
        "Attack begins the engine let through (a message handed to a provider, billed by it).",
        _T,
    ),
    Metric(
        "attack_refused",
        "attack requests refused",
        C,
        "Attack begins the engine refused (fraud_suspected, country_blocked, rate_limited, "
        "locked_out).",
        _T,
    ),
    Metric(
        "attack_unsent", "attack requests unsent", C, "Let through, but no provider took it.", _T
    ),
    Metric("attack_delivered", "attack messages delivered", C, "Reached the phone.", _T),
    Metric("attack_lost", "attack messages lost", C, "Sent, lost on the way.", _T),
    Metric(
        "attack_refused_share",
        "attack refused",
        S,
        "Attack begins the engine refused / attack begins.",
        _P,
    ),
    Metric(
        "attack_sent_per_hour",
        "attack messages an hour",
        R,
        "Attack messages sent per hour of the attack, per replication (mean over "
        "replications, t interval).",
        _MEAN,
        0,
    ),
    Metric(
        "attack_refused_per_hour",
        "attack refusals an hour",
        R,
        "Attack begins refused per hour of the attack, per replication (mean, t interval).",
        _MEAN,
        0,
    ),
    Metric(
        "attack_passed_per_s",
        "attack let through per second",
        R,
        "Attack messages sent per second of the attack (a velocity limit of L per window "
        "lets a steady bot through at min(rate, L / window)).",
        _MEAN,
        3,
    ),
    Metric(
        "attack_cost",
        "attack cost",
        Unit.CURRENCY,
        "Attack messages sent × the provider's per-message price of their country "
        "(reports/pricing.yaml provider_sms_per_message), per replication-hour.",
        _MEAN,
    ),
    Metric(
        "attack_cost_avoided",
        "cost avoided",
        Unit.CURRENCY,
        "Attack begins the defences refused × the per-message price of their country, per "
        "replication-hour.",
        _MEAN,
    ),
    Metric("victims", "victims", C, "Users whose passwords the push bomber holds.", _T),
    Metric("blind_approvals", "blind approvals", C, "Unexpected pushes a victim approved.", _T),
    Metric("takeovers", "accounts taken over", C, "Victims whose push the attacker got.", _T),
    Metric("takeover_share", "taken over", S, "Victims taken over / victims.", _P),
    Metric(
        "takeovers_per_replication",
        "takeovers per replication",
        R,
        "Victims taken over in one replication (mean, t interval).",
        _MEAN,
        1,
    ),
    Metric(
        "takeover_per_push",
        "takeover per push",
        S,
        "Takeovers / attack pushes delivered (blind approval p; with number matching p/90).",
        _P,
        4,
    ),
    Metric(
        "takeover_per_approval",
        "takeover per blind approval",
        S,
        "Takeovers / blind approvals (1 without number matching, 1/90 with it).",
        _P,
    ),
    Metric(
        "fraud_refusals",
        "defence refusals of real users",
        C,
        "Begins of real users refused fraud_suspected or country_blocked.",
        _T,
    ),
    Metric(
        "signins_refused_by_defences",
        "sign-ins refused by a defence",
        C,
        "Real sign-ins a fraud defence refused at least once.",
        _T,
    ),
    Metric(
        "signins_refused_by_defences_share",
        "sign-ins refused by a defence",
        S,
        "Real sign-ins a fraud defence refused at least once / all sign-ins.",
        _P,
    ),
    Metric(
        "signins_failed_after_defence_refusal",
        "sign-ins lost to a defence",
        C,
        "Real sign-ins a defence refused that then did not succeed.",
        _T,
    ),
    Metric(
        "signins_failed_after_defence_refusal_share",
        "sign-ins lost to a defence",
        S,
        "Real sign-ins a defence refused that did not succeed / all sign-ins.",
        _P,
    ),
    Metric(
        "defence_extra_time_s",
        "extra time after a refusal",
        SEC,
        "Mean time to authenticate of the successes a defence refused along the way minus "
        "that of all successes.",
        _Q,
        1,
    ),
]

#: The simulator's figures (console, summary.json, sweep table, report tables).
CATALOGUE = Catalogue(*_SIM)

_MS = Unit.MILLISECONDS
#: Load-test tables: Locust's latencies are milliseconds.
LOADTEST = Catalogue(
    Metric("requests", "requests", C, "Requests made.", _NONE),
    Metric("failures", "failures", C, "Requests that failed.", _NONE),
    Metric("fail_ratio", "failure ratio", S, "Failures / requests.", _NONE),
    Metric("rps", "requests/s", R, "Requests per second over the test.", _NONE, 1),
    Metric("median_ms", "median", _MS, "Median response time.", _NONE, 0),
    Metric("p50", "p50", _MS, "Median response time.", _NONE, 0),
    Metric("p95", "p95", _MS, "95th percentile response time.", _NONE, 0),
    Metric("p99", "p99", _MS, "99th percentile response time.", _NONE, 0),
    Metric("max_ms", "max", _MS, "Slowest response.", _NONE, 0),
    Metric("occurrences", "occurrences", C, "Failures of this reason.", _NONE),
    Metric("share", "share", S, "Occurrences / all failures.", _NONE),
)

_MONEY = Unit.CURRENCY
#: Real traffic from an engine's authentication log (``reports.traffic``, ``mfalab report
#: --logs``, ``mfalab billing``): one log record = one authentication begun.
TRAFFIC = Catalogue(
    Metric("authentications", "authentications", C, "Log records that began.", _NONE),
    Metric(
        "billable",
        "billable",
        C,
        "Records the engine bills per authentication (begin reached the service).",
        _NONE,
    ),
    Metric("successes", "successes", C, "Records whose status is success.", _NONE),
    Metric(
        "unfinished",
        "never finished",
        C,
        "Records still pending: not answered, or not yet (expiry is marked when asked).",
        _NONE,
    ),
    Metric(
        "success_share",
        "success share",
        S,
        "Successes / records that finished (success, denied or expired).",
        _NONE,
    ),
    Metric("p50", "p50", SEC, "Median seconds from begin to success, over successes.", _NONE, 1),
    Metric("p95", "p95", SEC, "95th percentile seconds from begin to success.", _NONE, 1),
    Metric("count", "records", C, "Records of this status and reason.", _NONE),
    Metric("billed", "billed", C, "Units billed: users (per user) or authentications.", _NONE),
    Metric("consumption", "consumption", _MONEY, "The provider's usage charge.", _NONE),
    Metric("message_fees", "message fees", _MONEY, "Per-message fees, if priced.", _NONE),
    Metric("licences", "licences", _MONEY, "Licences held, a month.", _NONE),
    Metric("total", "total", _MONEY, "Consumption + message fees + licences.", _NONE),
    Metric("charge", "charge", _MONEY, "What a provider bills for its part of the month.", _NONE),
)
