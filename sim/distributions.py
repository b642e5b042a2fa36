"""The random quantities of the model, and the theory they carry.

Published delivery figures come as "median so many seconds, 95 % within so many": a
lognormal is fixed by those two numbers (``Lognormal.from_median_p95``) and keeps the long
tail carriers show. Arrivals are a Poisson process whose rate is constant piece by piece
(a 9:00 peak is a few pieces). Every draw comes from one ``numpy.random.Generator`` per
replication; ``RandomStream`` fetches values in blocks because a scalar numpy call costs
about a microsecond and the simulator makes millions of them.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["Z95", "Lognormal", "RandomStream", "poisson_arrivals"]

#: The standard normal's 95th percentile: p95 = median * exp(sigma * Z95).
Z95 = 1.6448536269514722
_BLOCK = 4096


class RandomStream:
    """Scalar uniform, normal and exponential draws from one generator, in blocks.

    The sequence of values depends only on the generator's seed and on the order of the
    calls, so a replication is reproducible as long as the model asks in the same order.
    """

    __slots__ = ("_e", "_ei", "_n", "_ni", "_rng", "_u", "_ui")

    def __init__(self, rng: np.random.Generator) -> None:
        self._rng = rng
        self._u: list[float] = []
        self._n: list[float] = []
        self._e: list[float] = []
        self._ui = self._ni = self._ei = 0

    @property
    def generator(self) -> np.random.Generator:
        return self._rng

    def uniform(self) -> float:
        """U[0, 1)."""
        i = self._ui
        if i >= len(self._u):
            self._u = self._rng.random(_BLOCK).tolist()
            i = 0
        self._ui = i + 1
        return self._u[i]

    def normal(self) -> float:
        i = self._ni
        if i >= len(self._n):
            self._n = self._rng.standard_normal(_BLOCK).tolist()
            i = 0
        self._ni = i + 1
        return self._n[i]

    def exponential(self, mean: float = 1.0) -> float:
        """Exponential with mean ``mean``."""
        i = self._ei
        if i >= len(self._e):
            self._e = self._rng.standard_exponential(_BLOCK).tolist()
            i = 0
        self._ei = i + 1
        return self._e[i] * mean

    def pick(self, cumulative: Sequence[float]) -> int:
        """Index drawn with the probabilities whose running sums are ``cumulative``: the
        first edge above a uniform on [0, total)."""
        i = bisect_right(cumulative, self.uniform() * cumulative[-1])
        last = len(cumulative) - 1
        return i if i < last else last


@dataclass(frozen=True, slots=True)
class Lognormal:
    """A positive duration whose logarithm is normal; ``sigma == 0`` is a constant."""

    median: float
    sigma: float

    @classmethod
    def from_median_p95(cls, median: float, p95: float) -> Lognormal:
        if median <= 0 or p95 < median:
            raise ValueError("a lognormal needs 0 < median <= p95")
        return cls(median, math.log(p95 / median) / Z95)

    @property
    def mean(self) -> float:
        return self.median * math.exp(self.sigma**2 / 2)

    @property
    def variance(self) -> float:
        s2 = self.sigma**2
        return self.median**2 * math.exp(s2) * (math.exp(s2) - 1)

    def quantile(self, q: float) -> float:
        from statistics import NormalDist

        return self.median * math.exp(self.sigma * NormalDist().inv_cdf(q))

    def cdf(self, x: float) -> float:
        if x <= 0:
            return 0.0
        if self.sigma == 0:
            return 1.0 if x >= self.median else 0.0
        z = math.log(x / self.median) / self.sigma
        return 0.5 * math.erfc(-z / math.sqrt(2))

    def sample(self, stream: RandomStream) -> float:
        if self.sigma == 0:
            return self.median
        return self.median * math.exp(self.sigma * stream.normal())


def poisson_arrivals(
    starts: Sequence[float],
    rates: Sequence[float],
    duration: float,
    rng: np.random.Generator,
    *,
    chunk: int = 65_536,
) -> Iterator[np.ndarray]:
    """Arrival times of a Poisson process with a piecewise-constant rate, in sorted chunks.

    Given the count in an interval, Poisson arrivals are uniform on it, so each piece is a
    Poisson count and sorted uniforms — exact, and vectorised. Long pieces are cut so that a
    chunk holds about ``chunk`` arrivals, which keeps memory bounded at any size.
    """
    edges = [*starts[1:], duration]
    for start, end, rate in zip(starts, edges, rates, strict=True):
        end = min(end, duration)
        if rate <= 0 or end <= start:
            continue
        pieces = max(1, math.ceil(rate * (end - start) / chunk))
        width = (end - start) / pieces
        for k in range(pieces):
            lo = start + k * width
            count = int(rng.poisson(rate * width))
            if count:
                yield np.sort(lo + rng.random(count) * width)
