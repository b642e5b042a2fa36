"""The simulator against closed forms, with fixed seeds and stated tolerances.

Each scenario switches off everything but the effect under test (``QUIET`` in conftest:
every phone reachable, no typos, no provider errors, one attempt), so the theory applies
exactly and a failure means the model, not the noise, is wrong.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from sim.distributions import Lognormal, RandomStream, poisson_arrivals
from sim.queues import FifoQueue
from tests.sim.helpers import QUIET, merged

# ----------------------------------------------------------------- retries: 1-(1-p)^n


@pytest.mark.parametrize("attempts", [1, 3, 5])
def test_success_within_n_attempts_and_expected_sends(simulate, attempts):
    """Independent attempts that each arrive with p: P(success) = 1-(1-p)^n and the mean
    number of sends with a cap of n is (1-(1-p)^n)/p. Tolerance: 4 standard errors."""
    p = 0.5
    run = simulate(
        merged(
            QUIET,
            {
                "population": {"users": 5000},
                "carriers": {
                    "default": [
                        {
                            "name": "carrier",
                            "share": 1.0,
                            "delivery_probability": p,
                            "latency": {"median_s": 2.0, "p95_s": 4.0},
                        }
                    ]
                },
                "arrivals": {"duration_s": 1500, "profile": [{"start_s": 0, "rate_per_s": 2.0}]},
                "user": {"max_attempts": attempts, "resend_after_s": 55.0, "window_s": 300.0},
            },
        ),
        seed=11,
    )
    auths = run.auths
    n = len(auths)
    assert n > 2500
    success = (auths["outcome"] == "success").mean()
    expected = 1 - (1 - p) ** attempts
    assert abs(success - expected) <= 4 * math.sqrt(expected * (1 - expected) / n) + 1e-9

    sends = auths["begins"].to_numpy()
    expected_sends = (1 - (1 - p) ** attempts) / p
    k = np.arange(1, attempts + 1)
    probabilities = (1 - p) ** (k - 1) * np.where(k < attempts, p, 1.0)  # sends = min(n, G)
    variance = float((probabilities * k**2).sum() - expected_sends**2)
    assert abs(sends.mean() - expected_sends) <= 4 * math.sqrt(variance / n) + 1e-9
    # nothing else stopped anyone: no engine denials, no losses other than the carrier's
    assert run.summary["engine_denials"] == {}
    assert set(run.summary["losses_by_cause"]) <= {"carrier_loss"}


# ----------------------------------------------------------------- M/M/c: Erlang C


def erlang_c(c: int, lam: float, mu: float) -> tuple[float, float]:
    """Waiting probability and mean wait of M/M/c."""
    a = lam / mu
    rho = a / c
    top = a**c / math.factorial(c) / (1 - rho)
    waiting = top / (sum(a**k / math.factorial(k) for k in range(c)) + top)
    return waiting, waiting / (c * mu - lam)


def test_erlang_c_reference_values():
    # docs/CALIBRATION.md: c=3, lambda=0.2, mu=0.1 -> C = 0.4444, Wq = 4.444
    waiting, wq = erlang_c(3, 0.2, 0.1)
    assert waiting == pytest.approx(0.4444, abs=1e-4)
    assert wq == pytest.approx(4.444, abs=1e-3)


def test_fifo_queue_is_m_m_c_with_poisson_arrivals_and_exponential_service():
    """The queue class alone, 300,000 customers after a warm-up of 10,000: Erlang C's
    waiting probability within 0.01, mean wait and P(Wq > 5) within 5 %."""
    rng = np.random.default_rng(3)
    n = 310_000
    arrivals = np.cumsum(rng.exponential(5.0, n)).tolist()
    services = rng.exponential(10.0, n).tolist()
    queue = FifoQueue("server", 3)
    waits = np.array([queue.admit(a, s) - a for a, s in zip(arrivals, services, strict=True)])
    waits = waits[10_000:]
    waiting, wq = erlang_c(3, 0.2, 0.1)
    assert (waits > 0).mean() == pytest.approx(waiting, abs=0.01)
    assert waits.mean() == pytest.approx(wq, rel=0.05)
    tail = waiting * math.exp(-(3 * 0.1 - 0.2) * 5.0)  # P(Wq > t) = C e^{-(c mu - lambda) t}
    assert (waits > 5.0).mean() == pytest.approx(tail, rel=0.05)


def test_servers_concurrency_queue_matches_erlang_c(simulate):
    """One server with 3 slots and exponential service (mean 10 s), Poisson sign-ins at
    0.2/s, each making exactly one call (push notifications all lost, one attempt): the
    servers' queue is M/M/3. 8 replications of 20,000 s, the first 1,000 s dropped:
    waiting probability within 0.02 of Erlang C's 0.4444 and mean wait within 15 % of 4.444
    (a replication's mean wait alone varies by about 10 %)."""
    run = simulate(
        merged(
            QUIET,
            {
                "population": {"users": 300, "methods": {"push": 1.0}},
                "push": {"loss_probability": 1.0},
                "arrivals": {
                    "duration_s": 20_000,
                    "profile": [{"start_s": 0, "rate_per_s": 0.2}],
                    "user_choice": "random",
                },
                "servers": {
                    "concurrency": 3,
                    "service_time": {"distribution": "exponential", "mean_s": 10.0},
                },
                "user": {"resend_after_s": 5.0},
            },
        ),
        replications=8,
        seed=5,
    )
    auths = run.auths
    assert (auths["begins"] == 1).all() and (auths["verifies"] == 0).all()
    steady = auths[auths["arrived_at"] > 1000]
    waiting, wq = erlang_c(3, 0.2, 0.1)
    assert (steady["server_wait"] > 0).mean() == pytest.approx(waiting, abs=0.02)
    assert steady["server_wait"].mean() == pytest.approx(wq, rel=0.15)
    mfa1 = run.summary["resources"]["server"]["mfa1"]
    assert mfa1["utilisation"] == pytest.approx(2 / 3, abs=0.03)  # rho = lambda / (c mu)


def test_m_m_1_sojourn_time():
    """M/M/1: W = 1/(mu - lambda); 200,000 customers, within 5 %."""
    rng = np.random.default_rng(8)
    n = 200_000
    arrivals = np.cumsum(rng.exponential(1 / 0.8, n)).tolist()
    services = rng.exponential(1.0, n).tolist()
    queue = FifoQueue("one", 1)
    sojourn = [queue.admit(a, s) - a + s for a, s in zip(arrivals, services, strict=True)]
    assert np.mean(sojourn[5000:]) == pytest.approx(1 / (1.0 - 0.8), rel=0.05)


# ----------------------------------------------------------------- the sender queue


def test_littles_law_on_the_sender_queue(simulate):
    """One short code limited to 1 message/s, Poisson sms at 0.7/s: the time-average queue
    sampled every second (resources.parquet) equals lambda x mean wait (deliveries) within
    5 %; the wait matches M/D/1 (Pollaczek-Khinchine, rho/(2 mu (1-rho)) = 1.167 s) within
    12 %, and the sender's utilisation is rho within 0.02."""
    run = simulate(
        merged(
            QUIET,
            {
                "population": {"users": 300},
                "arrivals": {
                    "duration_s": 20_000,
                    "profile": [{"start_s": 0, "rate_per_s": 0.7}],
                    "user_choice": "random",
                },
                "routing": {
                    "pools": {
                        "US": {"kind": "short_code", "senders": ["97671"], "throughput_per_s": 1.0}
                    }
                },
                "output": {"sample_interval_s": 1.0},
            },
        ),
        seed=2,
    )
    warm, end = 1000.0, 20_000.0
    d = run.deliveries
    d = d[(d["requested_at"] >= warm) & (d["requested_at"] < end)]
    wait = (d["sent_at"] - d["requested_at"]).mean()
    lam = len(d) / (end - warm)
    samples = run.resources
    samples = samples[
        (samples["kind"] == "sender")
        & (samples["name"] == "97671")
        & (samples["time"] >= warm)
        & (samples["time"] < end)
    ]
    assert samples["queue_length"].mean() == pytest.approx(lam * wait, rel=0.05)
    rho = 0.7
    assert wait == pytest.approx(rho / (2 * 1.0 * (1 - rho)), rel=0.12)
    assert samples["utilisation"].mean() == pytest.approx(rho, abs=0.02)


# ----------------------------------------------------------------- distributions


def test_lognormal_from_median_and_p95():
    dist = Lognormal.from_median_p95(3.0, 15.0)
    stream = RandomStream(np.random.default_rng(1))
    draws = np.array([dist.sample(stream) for _ in range(100_000)])
    assert np.median(draws) == pytest.approx(3.0, rel=0.02)
    assert np.quantile(draws, 0.95) == pytest.approx(15.0, rel=0.03)
    assert draws.mean() == pytest.approx(dist.mean, rel=0.03)
    assert dist.quantile(0.95) == pytest.approx(15.0)
    assert Lognormal.from_median_p95(5.0, 5.0).sample(stream) == 5.0


def test_piecewise_poisson_arrivals():
    """Counts per piece are Poisson(rate x length): within 4 standard deviations."""
    rng = np.random.default_rng(4)
    starts, rates = [0.0, 100.0, 400.0], [2.0, 50.0, 0.0]
    times = np.concatenate(list(poisson_arrivals(starts, rates, 1000.0, rng, chunk=1000)))
    assert np.all(np.diff(times) >= 0)
    for lo, hi, rate in [(0, 100, 2.0), (100, 400, 50.0)]:
        count = ((times >= lo) & (times < hi)).sum()
        mean = rate * (hi - lo)
        assert abs(count - mean) <= 4 * math.sqrt(mean)
    assert not ((times >= 400) & (times < 1000)).any()
