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

__all__ = ["MIN_ROWS", "NEGENTROPY_SIGN", "Negentropy", "Radial", "column_negentropy",
           "radial_negentropy"]

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


MAX_RADIAL_DIM = 128  # the joint check's dimensions at most (its calibration is O(n d^2))
RADIAL_ROWS = 2  # a cluster is judged jointly from RADIAL_ROWS * (d + 1) rows (and MIN_ROWS) up


@dataclass(frozen=True)
class Radial:
    """The divergence of the clusters' whitened squared lengths from a Gaussian's, in nats.

    Attributes:
        nats: the estimate, weighted by the judged clusters' rows (a lower bound on the
            negentropy of x|c, in nats per row, not per dimension; about 0 for Gaussians).
        noise: its standard error for Gaussian rows of the same sizes.
        dims: the dimensions judged (the largest over the judged clusters).
    """

    nats: float
    noise: float
    dims: int

    @property
    def visible(self) -> bool:
        """Whether the estimate is beyond both `NEGENTROPY_SIGN` and three standard errors."""
        return self.nats > max(NEGENTROPY_SIGN, 3 * self.noise)


def radial_negentropy(x: np.ndarray, clusters: np.ndarray) -> Radial | None:
    """How far the rows of `x` (n, d) are from Gaussian within `clusters` (n,), as a whole.

    Each cluster of at least `RADIAL_ROWS` (d' + 1) rows (and `MIN_ROWS`), d' its directions
    of non-zero variance, at most `MAX_RADIAL_DIM`, is whitened by its own mean and
    covariance; for Gaussian rows u = n / (n - 1)^2 * squared length follows Beta(d'/2,
    (n - d' - 1)/2). The divergence of u's law from it is estimated as -h(u) - mean log
    p(u) (h by m-spacings on log u), less its mean on seeded Gaussian samples of that size.

    Returns:
        The estimate, or None when no cluster can be judged.
    """
    rows = np.asarray(x).reshape(len(x), -1)
    if rows.shape[1] > MAX_RADIAL_DIM:
        return None
    total = weight = variance = 0.0
    dims = 0
    for r in rows_by_label(np.asarray(clusters, dtype=np.int64)):
        if r.size < MIN_ROWS:
            continue
        white = _whitened(rows[r].astype(np.float64))
        d = white.shape[1]
        if d == 0 or r.size < RADIAL_ROWS * (d + 1):
            continue
        bias, spread = _gaussian_radial(r.size, d)
        total += r.size * (_radial_statistic(white) - bias)
        weight += r.size
        variance += (r.size * spread) ** 2
        dims = max(dims, d)
    if not weight:
        return None
    return Radial(total / weight, math.sqrt(variance) / weight, dims)


def _whitened(part: np.ndarray) -> np.ndarray:
    """The rows centred and rotated into their principal directions, each scaled to unit variance.

    Directions of variance below 1e-10 of the largest (constant or collinear columns) are left
    out: their rows are no density there, and what is left is judged.
    """
    centred = part - part.mean(axis=0)
    values, vectors = np.linalg.eigh(centred.T @ centred / (len(part) - 1))
    top = float(values[-1]) if values.size else 0.0
    keep = values > 1e-10 * top if top > 0 else np.zeros(values.size, bool)
    out: np.ndarray = centred @ (vectors[:, keep] / np.sqrt(values[keep]))
    return out


def _radial_statistic(white: np.ndarray) -> float:
    """-h(u) - mean log p(u) of the whitened rows' scaled squared lengths u (see above)."""
    n, d = white.shape
    u = np.clip((white * white).sum(axis=1) * n / (n - 1) ** 2, 1e-300, 1 - 1e-12)
    a, b = d / 2, (n - d - 1) / 2
    log_u = np.log(u)
    log_p = (a - 1) * log_u + (b - 1) * np.log1p(-u) - (
        math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b))
    # NOTE: h(u) = h(log u) + E log u; the spacings of log u spread the small lengths out
    h = float(_spacing_entropy(log_u[:, None])[0]) + float(log_u.mean())
    return -h - float(log_p.mean())


@lru_cache(maxsize=256)
def _gaussian_radial(n: int, d: int) -> tuple[float, float]:
    """`_radial_statistic`'s mean and spread on n rows of d standard Gaussian columns."""
    rng = np.random.default_rng((n, d))
    draws = []
    for _ in range(_CALIBRATION_DRAWS):
        centred = rng.standard_normal((n, d))
        centred -= centred.mean(axis=0)
        # NOTE: the squared length does not depend on how the rows are whitened: a Cholesky
        # factor (full rank here) does it several times faster than `_whitened`'s eigh
        factor = np.linalg.cholesky(centred.T @ centred / (n - 1))
        draws.append(_radial_statistic(np.linalg.solve(factor, centred.T).T))
    return float(np.mean(draws)), float(np.std(draws, ddof=1))
