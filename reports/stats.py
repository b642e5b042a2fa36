"""Confidence intervals for the two kinds of uncertainty a report shows.

The estimators live in ``sim.estimates`` (numpy only, no simulator internals), so that
``mfalab run``'s summary, ``summary.json`` and a report compute the same interval with the
same edge cases; this module keeps the names reports and notebooks already import.
"""

from __future__ import annotations

from sim.estimates import (
    Z_975,
    Interval,
    mean_interval,
    pooled_share,
    student_t975,
    wilson_bounds,
    wilson_interval,
)

__all__ = [
    "Z_975",
    "Interval",
    "mean_interval",
    "pooled_share",
    "t_quantile_975",
    "wilson_bounds",
    "wilson_interval",
]


def t_quantile_975(df: int) -> float:
    """Two-sided 95 % critical value of Student's t (``sim.estimates.student_t975``)."""
    return student_t975(df)
