"""How visibly the inputs break the floor's one assumption: Gaussian within each cluster.

The floor (S) takes h(x|c) as the Gaussian entropy at the cluster's covariance, the largest
entropy any distribution of that covariance has. Where x|c is far from Gaussian (bimodal or
near-binary columns, heavy tails), the true h(x|c) is lower and the floor can overstate
privacy: a reviewer measured 1.6x to 5.9x on near-binary columns (each value 0 or 1, jittered
by 0.02 so that they count as continuous), with no warning.

Each column's within-cluster negentropy, J = h_Gauss - h (nats, >= 0), is estimated from its
sorted values by Vasicek's m-spacing estimator of h, whose bias at the sample size is read
off Gaussian samples of that size (seeded, so the same data always gives the same answer).
J of any column is a lower bound on the negentropy of x|c (data processing); the mean over
columns is what this module reports, a sign rather than a bound: for independent columns
the floor may overstate by up to exp(2 mean J).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from privaudit.bound.moments import rows_by_label

__all__ = ["MIN_ROWS", "NEGENTROPY_SIGN", "Negentropy", "column_negentropy"]

MIN_ROWS = 10  # a cluster's column is judged from this many rows up (2 in 1,000 Gaussian
# columns of a single 10-row cluster read above 0.5 nats: dropped from the floor, the safe way)
NEGENTROPY_SIGN = 0.05  # nats per column (a floor over by exp(0.1) = 10% at most) said
_CALIBRATION_DRAWS = 64  # Gaussian samples per size that measure the estimator's bias
_COLUMNS = 1024  # columns per step: memory holds one cluster's block in float64


@dataclass(frozen=True)
class Negentropy:
    """The columns' within-cluster negentropy, weighted by the clusters' sizes.

    Attributes:
        per_column: (d,) nats (an estimate: slightly below 0 for Gaussian columns); NaN where
            no cluster had `MIN_ROWS` rows.
        weight: (d,) the rows of the clusters that judged each column (0: not judged).
        variance: (d,) per column, the sum over those clusters of (rows x the estimator's
            spread on Gaussian samples of that size)^2: the noise `noise` is made of.
    """

    per_column: np.ndarray
    weight: np.ndarray
    variance: np.ndarray

    @property
    def mean(self) -> float:
        """The mean over the judged columns, nats."""
        return float(np.mean(self.per_column[self.weight > 0]))

    @property
    def noise(self) -> float:
        """The standard error of `mean` for Gaussian columns of the same sizes."""
        judged = self.weight > 0
        return math.sqrt(float(self.variance[judged].sum())) / float(self.weight[judged].sum())

    @property
    def visible(self) -> bool:
        """Whether the mean is beyond both `NEGENTROPY_SIGN` and three standard errors."""
        return self.mean > max(NEGENTROPY_SIGN, 3 * self.noise)

    def of(self, columns: np.ndarray) -> Negentropy | None:
        """The estimate of `columns` alone (a mask or indices); None if none was judged.

        It equals `column_negentropy` of those columns: each column's estimate is its own.
        """
        found = Negentropy(self.per_column[columns], self.weight[columns],
                           self.variance[columns])  # fmt: skip
        return found if (found.weight > 0).any() else None


def column_negentropy(x: np.ndarray, clusters: np.ndarray) -> Negentropy | None:
    """The negentropy of each column of `x` (n, d) within the clusters `clusters` (n,).

    Returns:
        The estimate, or None when no cluster has `MIN_ROWS` rows or no column varies.
    """
    rows = np.asarray(x).reshape(len(x), -1)
    total = np.zeros(rows.shape[1])
    weight = np.zeros(rows.shape[1])
    variance = np.zeros(rows.shape[1])
    gauss = 0.5 * math.log(2 * math.pi * math.e)
    for r in rows_by_label(np.asarray(clusters, dtype=np.int64)):
        if r.size < MIN_ROWS:
            continue
        bias, spread = _gaussian_estimate(r.size)
        for start in range(0, rows.shape[1], _COLUMNS):  # NOTE: a block of float64 at a time
            cols = slice(start, start + _COLUMNS)
            part = rows[r, cols].astype(np.float64)
            std = part.std(axis=0, ddof=1)
            varying = std > 0
            if not varying.any():
                continue
            found = gauss - (_spacing_entropy(part[:, varying] / std[varying]) - bias)
            # NOTE: kept signed: for Gaussian columns it is noise either way of 0
            total[cols][varying] += r.size * found
            weight[cols][varying] += r.size
            variance[cols][varying] += (r.size * spread) ** 2
    judged = weight > 0
    if not judged.any():
        return None
    per_column = np.where(judged, total / np.where(judged, weight, 1.0), np.nan)
    return Negentropy(per_column, weight, variance)


def _spacing_entropy(columns: np.ndarray) -> np.ndarray:
    """Vasicek's m-spacing estimate of each column's differential entropy, nats.

    h = mean_i log(n / (2 m) (x_(i+m) - x_(i-m))), order statistics clamped at the ends,
    m = round(sqrt(n) / 2); a spacing of 0 (tied values) counts as 1e-9 of the column's std.
    """
    n = len(columns)
    m = max(1, round(math.sqrt(n) / 2))
    ordered = np.sort(columns, axis=0)
    index = np.arange(n)
    spacing = ordered[np.minimum(index + m, n - 1)] - ordered[np.maximum(index - m, 0)]
    out: np.ndarray = np.log(n / (2 * m) * np.maximum(spacing, 1e-9)).mean(axis=0)
    return out


@lru_cache(maxsize=256)
def _gaussian_estimate(n: int) -> tuple[float, float]:
    """The estimator's bias (estimate - true h) and spread on n standard Gaussian values."""
    rng = np.random.default_rng(n)
    draws = _spacing_entropy(rng.standard_normal((n, _CALIBRATION_DRAWS)))
    draws -= 0.5 * math.log(2 * math.pi * math.e)
    return float(draws.mean()), float(draws.std(ddof=1))
