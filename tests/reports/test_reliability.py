"""Reliability tables recounted from the rows themselves (plain Python over ``AuthRow``s)."""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from reports import reliability
from reports.loaders import SimRun, load_run
from reports.stats import mean_interval, t_quantile_975, wilson_interval
from tests.reports import fakeruns
from tests.reports.conftest import FakeRun


@pytest.fixture(scope="module")
def run(fake_run: FakeRun) -> SimRun:
    return load_run(fake_run.path)


def test_success_rate_is_successes_over_authentications(fake_run: FakeRun, run: SimRun) -> None:
    rows = fake_run.auths
    successes = sum(r.outcome == "success" for r in rows)
    table = reliability.success_rate(run.auths)
    assert table.loc[0, "authentications"] == len(rows)
    assert table.loc[0, "successes"] == successes
    assert table.loc[0, "success_rate"] == pytest.approx(successes / len(rows))
    assert table.loc[0, "ci_low"] < successes / len(rows) < table.loc[0, "ci_high"]


@pytest.mark.parametrize(
    ("segment", "key"),
    [
        ("country", lambda r: r.country),
        ("carrier", lambda r: r.carrier),
        ("method", lambda r: r.method_first),
        ("sender_kind", lambda r: r.first_sender_kind),
        ("provider", lambda r: r.first_provider),
        ("server", lambda r: r.servers.split(">")[0]),
        ("attempts", lambda r: r.begins),
    ],
)
def test_success_by_segment_matches_the_rows(
    fake_run: FakeRun, run: SimRun, segment: str, key: object
) -> None:
    total: Counter = Counter()
    ok: Counter = Counter()
    for row in fake_run.auths:
        total[key(row)] += 1  # type: ignore[operator]
        ok[key(row)] += row.outcome == "success"  # type: ignore[operator]
    table = reliability.success_rate(run.auths, segment).set_index(segment)
    assert len(table) == len(total) > 1
    for value, n in total.items():
        got = table.loc[value if segment != "attempts" else int(value)]
        assert got["authentications"] == n
        assert got["success_rate"] == pytest.approx(ok[value] / n)


def test_time_to_auth_percentiles_and_cdf(fake_run: FakeRun, run: SimRun) -> None:
    times = np.array([r.time_to_auth for r in fake_run.auths if r.outcome == "success"])
    table = reliability.time_to_auth_percentiles(run.auths)
    assert table.loc[0, "p50"] == pytest.approx(np.quantile(times, 0.5))
    assert table.loc[0, "p95"] == pytest.approx(np.quantile(times, 0.95))
    assert table.loc[0, "p99"] == pytest.approx(np.quantile(times, 0.99))
    cdf = reliability.time_to_auth_cdf(run.auths)
    assert cdf["share"].is_monotonic_increasing
    # it levels off at the success rate (the CDF counts every authentication)
    assert cdf["share"].iloc[-1] == pytest.approx(len(times) / len(fake_run.auths))
    within_30 = np.interp(30.0, cdf["seconds"], cdf["share"])
    assert within_30 == pytest.approx((times <= 30).sum() / len(fake_run.auths), abs=0.01)


def test_attempts_per_success_is_every_begin_over_successes(fake_run: FakeRun, run: SimRun) -> None:
    begins = sum(r.begins for r in fake_run.auths)
    successes = sum(r.outcome == "success" for r in fake_run.auths)
    assert reliability.attempts_per_success(run.auths) == pytest.approx(begins / successes)
    dist = reliability.attempts_distribution(run.auths)
    assert dist["authentications"].sum() == len(fake_run.auths)
    within_2 = sum(r.outcome == "success" and r.begins <= 2 for r in fake_run.auths)
    got = dist.set_index("begins").loc[2, "success_within"]
    assert got == pytest.approx(within_2 / len(fake_run.auths))


def test_attempts_per_success_is_one_over_p_for_independent_attempts(tmp_path: Path) -> None:
    """The closed form: with per-send success p and a cap of n sends, sends/successes = 1/p."""
    rng = np.random.default_rng(3)
    p, cap, rows = 0.6, 5, []
    for seq in range(20_000):
        sends = 0
        while sends < cap:
            sends += 1
            if rng.random() < p:
                break
        else:
            sends = -sends
        rows.append((seq, abs(sends), sends > 0))
    frame = pd.DataFrame(
        {
            "outcome": ["success" if ok else "denied" for _, _, ok in rows],
            "begins": [b for _, b, _ in rows],
        }
    )
    assert reliability.attempts_per_success(frame) == pytest.approx(1 / p, rel=0.02)
    share = (frame["outcome"] == "success").mean()
    assert share == pytest.approx(1 - (1 - p) ** cap, abs=0.005)


def test_denials_abandonment_and_flows_match_the_rows(fake_run: FakeRun, run: SimRun) -> None:
    rows = fake_run.auths
    denied = Counter(r.reason for r in rows if r.outcome == "denied")
    table = reliability.denials_by_reason(run.auths).set_index("reason")
    assert dict(table["authentications"]) == dict(denied)
    events = reliability.denial_events(run.auths).set_index("reason")
    assert events.loc["wrong_server", "events"] == sum(r.wrong_server for r in rows)
    assert events.loc["rate_limited", "authentications_hit"] == sum(
        r.rate_limited > 0 for r in rows
    )
    abandoned = sum(r.outcome == "abandoned" for r in rows)
    gave_up = reliability.abandonment(run.auths)
    assert gave_up.loc[0, "abandonment_rate"] == pytest.approx(abandoned / len(rows))
    flows = reliability.fallback_flows(run.auths).set_index("methods_used")
    assert dict(flows["authentications"]) == dict(Counter(r.methods_used for r in rows))
    assert flows.loc["sms>push", "fell_back"] and not flows.loc["sms", "fell_back"]


def test_delivery_rate_and_loss_causes(fake_run: FakeRun, run: SimRun) -> None:
    rows = fake_run.deliveries
    table = reliability.delivery_rate(run.deliveries, "channel").set_index("channel")
    for channel in {d.channel for d in rows}:
        mine = [d for d in rows if d.channel == channel]
        delivered = sum(not math.isnan(d.delivered_at) for d in mine)
        assert table.loc[channel, "sent"] == len(mine)
        assert table.loc[channel, "delivery_rate"] == pytest.approx(delivered / len(mine))
    lost = reliability.loss_causes(run.deliveries)
    assert lost["messages"].sum() == sum(math.isnan(d.delivered_at) for d in rows)


def test_resources_utilisation_is_busy_over_capacity(fake_run: FakeRun, run: SimRun) -> None:
    series = reliability.resource_timeseries(run.resources)
    assert set(series["replication"]) == {0}
    first = next(s for s in fake_run.resources if s.replication == 0 and s.kind == "server")
    row = series[(series["kind"] == "server") & (series["time"] == first.time)].iloc[0]
    assert row["utilisation"] == pytest.approx(first.busy / first.capacity)
    busiest = reliability.busiest_resources(run.resources).set_index("name")
    servers = [s for s in fake_run.resources if s.kind == "server"]
    assert busiest.loc["mfa1", "queue_max"] == max(s.queue_length for s in servers)


def test_replication_intervals_use_student_t(fake_run: FakeRun, run: SimRun) -> None:
    rates = []
    for replication in (0, 1):
        rows = [r for r in fake_run.auths if r.replication == replication]
        rates.append(sum(r.outcome == "success" for r in rows) / len(rows))
    table = reliability.replication_ci(run.auths).set_index("metric")
    mean = sum(rates) / 2
    half = 12.706 * np.std(rates, ddof=1) / math.sqrt(2)
    assert table.loc["success_rate", "mean"] == pytest.approx(mean)
    assert table.loc["success_rate", "ci_low"] == pytest.approx(max(mean - half, 0.0))
    assert table.loc["success_rate", "ci_high"] == pytest.approx(min(mean + half, 1.0))


def test_statistics_helpers() -> None:
    # Wilson for 45/50: the textbook value (0.7864, 0.9565)
    interval = wilson_interval(45, 50)
    assert (interval.low, interval.high) == pytest.approx((0.7864, 0.9565), abs=1e-4)
    assert math.isnan(wilson_interval(0, 0).estimate)
    assert t_quantile_975(1) == 12.706 and t_quantile_975(30) == 2.042
    assert t_quantile_975(50) == pytest.approx(2.0086, abs=0.01)  # exact: 2.00856
    assert t_quantile_975(10_000) == pytest.approx(1.96, abs=1e-3)
    assert mean_interval([1.0, 2.0, 3.0]).high == pytest.approx(2 + 4.303 / math.sqrt(3))


def test_compare_two_runs_side_by_side(fake_run: FakeRun, other_run: FakeRun) -> None:
    runs = [load_run(fake_run.path), load_run(other_run.path)]
    table = reliability.compare(runs)
    assert table["run"].tolist() == ["us-ca-gb", "one-server"]
    assert table["replications"].tolist() == [2, 3]
    one = other_run.auths
    assert table.loc[1, "wrong_server_per_auth"] == 0.0
    assert table.loc[1, "success_rate"] == pytest.approx(
        sum(r.outcome == "success" for r in one) / len(one)
    )


def test_a_sweep_compares_its_points(tmp_path: Path) -> None:
    """A sweep is one dataset whose rows carry the swept parameters as extra columns."""
    frames = []
    for count in (1, 3):
        auths, deliveries, resources = fakeruns.generate(servers=count, seed=count)
        root = fakeruns.write_run(tmp_path / f"p{count}", auths, deliveries, resources)
        frames.append(load_run(root).auths.assign(**{"servers.count": count}))
    sweep = tmp_path / "sweep"
    (sweep / "auths").mkdir(parents=True)
    pd.concat(frames, ignore_index=True).astype({"outcome": str}).to_parquet(
        sweep / "auths" / "part-00000.parquet"
    )
    run = load_run(sweep)
    assert run.parameters == ["servers.count"]
    table = reliability.compare(run)
    assert table["servers.count"].tolist() == [1, 3]
    assert table.loc[0, "wrong_server_per_auth"] == 0.0 < table.loc[1, "wrong_server_per_auth"]
    assert table["authentications"].sum() == len(run.auths)
