"""The interval estimators every output uses: one Wilson, one Student t, one pooled rate.

A figure read in the console, in ``summary.json`` and in a report must be the same number
with the same interval, so both ``sim.summary`` and ``reports`` compute them here. This
module depends on numpy only (no simulator internals), so ``reports`` may import it.

- A *pooled* share is every replication's numerator over every replication's denominator
  (``sum k / sum n``). With two or more replications its 95 % interval is Student's t on the
  ratio estimator's standard error across replications (each replication is one
  independent sample; authentications inside one share queues and outages), centred on the
  pooled share. With one replication it is the Wilson score interval over the counts, which
  ignores that correlation and is labelled so.
- A *mean over replications* (a percentile, say) gets Student's t on the replications.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = [
    "Z_975",
    "Interval",
    "mean_interval",
    "pooled_share",
    "student_t975",
    "wilson_bounds",
    "wilson_interval",
]

Z_975 = 1.959963984540054

# Student t 97.5 % quantiles by degrees of freedom (two-sided 95 % intervals)
_T975 = (
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
    2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
    2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Interval:
    """An estimate with its 95 % interval; ``method`` says which estimator made it."""

    estimate: float
    low: float
    high: float
    n: int
    method: str = ""


def student_t975(df: int) -> float:
    """Two-sided 95 % critical value of Student's t (table, then conservative steps)."""
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
        return Interval(math.nan, math.nan, math.nan, 0, "no trials")
    low, high = wilson_bounds([successes], [trials], z)
    return Interval(successes / trials, float(low[0]), float(high[0]), trials, "Wilson")


def mean_interval(values: Sequence[float] | np.ndarray) -> Interval:
    """95 % t interval of the mean of independent replications (NaNs ignored)."""
    data = np.asarray(values, dtype=float)
    data = data[~np.isnan(data)]
    n = int(data.size)
    if n == 0:
        return Interval(math.nan, math.nan, math.nan, 0, "no replications")
    mean = float(data.mean())
    if n == 1:
        return Interval(mean, math.nan, math.nan, 1, "one replication")
    half = student_t975(n - 1) * float(data.std(ddof=1)) / math.sqrt(n)
    return Interval(mean, mean - half, mean + half, n, f"t over {n} replications")


def pooled_share(
    successes: Sequence[int] | np.ndarray, trials: Sequence[int] | np.ndarray
) -> Interval:
    """The pooled share ``sum k / sum n`` of replications with its 95 % interval.

    Two or more replications: pooled share ± t(R-1) × the ratio estimator's standard error,
    ``sqrt(R/(R-1) × sum (k_i - p n_i)^2) / sum n`` (kept inside [0, 1]). One replication:
    the Wilson interval over its counts (correlation inside the replication ignored).
    """
    k = np.asarray(successes, dtype=float)
    n = np.asarray(trials, dtype=float)
    total = float(n.sum())
    if total <= 0:
        return Interval(math.nan, math.nan, math.nan, 0, "no trials")
    share = float(k.sum()) / total
    replications = int(k.size)
    if replications < 2:
        wilson = wilson_interval(int(k.sum()), int(total))
        return Interval(
            share,
            wilson.low,
            wilson.high,
            1,
            "Wilson over authentications (1 replication: correlation ignored)",
        )
    residual = float(((k - share * n) ** 2).sum())
    se = math.sqrt(replications / (replications - 1) * residual) / total
    half = student_t975(replications - 1) * se
    return Interval(
        share,
        max(0.0, share - half),
        min(1.0, share + half),
        replications,
        f"t over {replications} replications",
    )
