"""Utilisation counts only busy time inside the horizon: never above 100 % (issue 14, 3)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from sim.queues import FifoQueue
from tests.sim.helpers import merged

_requests = st.lists(
    st.tuples(
        st.floats(min_value=0.0, max_value=100.0, allow_nan=False),
        st.floats(min_value=0.0, max_value=50.0, allow_nan=False),
    ),
    max_size=60,
)


@given(slots=st.integers(min_value=1, max_value=4), requests=_requests, extra=st.floats(0, 10))
@settings(max_examples=200, deadline=None)
def test_busy_time_inside_the_horizon_never_exceeds_the_slots(slots, requests, extra):
    queue = FifoQueue("q", slots)
    arrivals = sorted(requests)
    for arrival, service in arrivals:
        queue.admit(arrival, service)
    horizon = (arrivals[-1][0] if arrivals else 0.0) + extra
    busy = queue.busy_time_until(horizon)
    assert 0.0 <= busy <= slots * horizon + 1e-9
    # the busy time inside the horizon is the overlap of every service interval with it
    assert busy <= queue.busy_time + 1e-9


def test_busy_time_until_is_the_overlap_with_the_horizon():
    queue = FifoQueue("q", 1)
    queue.admit(0.0, 4.0)  # busy 0..4
    queue.admit(1.0, 4.0)  # waits, busy 4..8
    queue.admit(2.0, 4.0)  # waits, busy 8..12
    assert queue.busy_time == 12.0
    assert queue.busy_time_until(5.0) == 5.0
    assert queue.busy_time_until(12.0) == 12.0


def test_a_saturated_sender_reports_at_most_100_percent(simulate):
    """One sender far below the offered load (the experiment login_storm_0900's header
    suggests): messages still queued at the end made its mean read 162 %."""
    scenario = {
        "population": {"users": 2000},
        "arrivals": {"duration_s": 300, "profile": [{"start_s": 0, "rate_per_s": 6.0}]},
        "routing": {
            "pools": {"US": {"kind": "short_code", "senders": ["97671"], "throughput_per_s": 1.0}}
        },
    }
    run = simulate(merged({}, scenario), seed=2)
    sender = run.summary["resources"]["sender"]["97671"]
    assert sender["peak_queue"] > 50  # saturated indeed
    assert 0.95 <= sender["utilisation"] <= 1.0
    assert sender["peak_utilisation"] <= 1.0
    resources = run.resources
    assert (resources["utilisation"] <= 1.0 + 1e-9).all()
