"""Confidence intervals for the two kinds of uncertainty a report shows.

Within one replication, a success rate is a binomial proportion: the Wilson score interval
stays inside [0, 1] and behaves at rates near 100 %, where the normal approximation does not.
Across replications, each replication is one independent sample of the metric, so the interval
is Student's t on their mean — the honest one, since authentications inside a replication share
queues and outages and are not independent. scipy is not a dependency: the 97.5 % t quantiles
are the simulator's table, so ``mfalab run``'s summary and the report print the same interval.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from sim.summary import student_t975

__all__ = ["Interval", "mean_interval", "t_quantile_975", "wilson_bounds", "wilson_interval"]

Z_975 = 1.959963984540054


@dataclass(frozen=True, slots=True)
class Interval:
    estimate: float
    low: float
    high: float
    n: int


def t_quantile_975(df: int) -> float:
    """Two-sided 95 % critical value of Student's t — the simulator's own table
    (``sim.summary.student_t975``), so a report and ``mfalab run``'s summary agree."""
    return student_t975(df)


def wilson_bounds(
    successes: np.ndarray | Sequence[float], trials: np.ndarray | Sequence[float], z: float = Z_975
) -> tuple[np.ndarray, np.ndarray]:
    """Vectorised 95 % Wilson score bounds; NaN where there are no trials."""
    k = np.asarray(successes, dtype=float)
    n = np.asarray(trials, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = k / n
        denominator = 1 + z * z / n
        centre = (p + z * z / (2 * n)) / denominator
        half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
        low = np.where(n > 0, np.clip(centre - half, 0.0, 1.0), np.nan)
        high = np.where(n > 0, np.clip(centre + half, 0.0, 1.0), np.nan)
    return low, high


def wilson_interval(successes: int, trials: int, z: float = Z_975) -> Interval:
    """95 % Wilson score interval of a proportion; NaN when there are no trials."""
    if trials <= 0:
        return Interval(math.nan, math.nan, math.nan, 0)
    low, high = wilson_bounds([successes], [trials], z)
    return Interval(successes / trials, float(low[0]), float(high[0]), trials)


def mean_interval(values: Sequence[float] | np.ndarray) -> Interval:
    """95 % t interval of the mean of independent replications (NaNs ignored)."""
    data = np.asarray(values, dtype=float)
    data = data[~np.isnan(data)]
    n = int(data.size)
    if n == 0:
        return Interval(math.nan, math.nan, math.nan, 0)
    mean = float(data.mean())
    if n == 1:
        return Interval(mean, math.nan, math.nan, 1)
    half = t_quantile_975(n - 1) * float(data.std(ddof=1)) / math.sqrt(n)
    return Interval(mean, mean - half, mean + half, n)
