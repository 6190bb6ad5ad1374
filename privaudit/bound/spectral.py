r"""Closed form of the conditional spectral floor (S) on given spectra (docs/method.md §3b).

Inside a cluster c (any label that is a function of x: the class, a k-means cell), rotate x
into the principal directions of :math:`\Sigma_c = \mathrm{Cov}(x|c) + \delta I` (eigenvalues
:math:`\lambda_1 \ge \dots \ge \lambda_d`). MSE is rotation invariant, theorem (T) holds for
every block G of directions, and :math:`I(y_G; z|c) \le I(x; z|c) \le I_c` (data processing), so

.. math::

    \xi_c \ge \frac1d \max_{\mathcal G} \sum_{G \in \mathcal G} |G|\,\mathrm{GM}(\lambda_G)\,
        e^{-2 I_c/|G|} \qquad \text{(S)}, \qquad \text{floor} = \sum_c \pi_c \xi_c,

the max over partitions of the sorted spectrum into contiguous blocks. Every term is > 0, so
dropping a block never helps (a term that underflows to 0 is a dropped block). The single block
of all d directions is (T): :math:`\mathrm{GM}(\lambda) e^{-2I_c/d} = e^{2h/d}/(2\pi e)` with the
Gaussian :math:`h = \frac12 \log\det(2\pi e \Sigma_c) - I_c`; hence (S) >= (T) per cluster.

**Runs of equal eigenvalues are atomic.** Let a block hold g0 eigenvalues of log-sum A before a
run of value v = e^l, and let a boundary sit s places into the run. With u = g0 + s, the two
blocks either side of the boundary contribute
:math:`v[\psi_B(u) + \psi_{B'}(N - u)]`, where :math:`\psi_b(u) = u e^{b/u}`,
B = A - g0 l - 2I, B' likewise for the other side, and N fixed. Since
:math:`\psi_b''(u) = e^{b/u} b^2/u^3 \ge 0`, the sum is convex in u and its maximum over the run
lies at an end of the run. So the exact optimum only needs boundaries at run edges: the d - n_c
+ 1 trailing delta eigenvalues of a Gram spectrum are one atom, and the DP is exact in O(R^2)
for R distinct eigenvalues whatever d is.

The spectra come from `privaudit.bound.spectra` (estimated once per cluster); the floor for a
given leakage costs O(R^2) per cluster, so sweeps over sigma and bootstraps of I_c never redo
an eigendecomposition.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

__all__ = [
    "EXACT_MAX",
    "GRID_POINTS",
    "BlockFloor",
    "Spectrum",
    "best_partition",
    "block_dp",
    "block_floor",
    "single_block_floor",
]

EXACT_MAX = 2048  # exact DP up to this many distinct eigenvalues, a boundary grid beyond
GRID_POINTS = 512  # boundaries of the grid (geometric from both ends plus uniform)
_NEG_TOL = 1e-9  # eigenvalues down to -_NEG_TOL * max|lambda| are numerical zeros


@dataclass(frozen=True, eq=False)
class Spectrum:
    """Eigenvalues as runs: `values` (non-increasing, >= 0) each repeated `counts` times.

    The compact form of a Gram spectrum is n_c - 1 single eigenvalues plus one run of
    d - n_c + 1 copies of delta; no array of length d is ever built.

    Attributes:
        values: (R,) float64, non-increasing, finite, >= 0.
        counts: (R,) int64 multiplicities, >= 1; the dimension is their sum.
    """

    values: np.ndarray
    counts: np.ndarray

    def __post_init__(self) -> None:
        values = np.array(self.values, dtype=np.float64).reshape(-1)
        counts = np.asarray(self.counts).reshape(-1)
        if values.size == 0 or values.shape != counts.shape:
            raise ValueError("a spectrum needs as many counts as values, at least one")
        if not np.all(np.isfinite(values)) or values.min() < 0 or np.any(np.diff(values) > 0):
            raise ValueError("spectrum values must be finite, >= 0 and non-increasing")
        if counts.dtype.kind not in "iu" or counts.min() < 1:
            raise ValueError("spectrum counts must be integers >= 1")
        values.setflags(write=False)
        counts = counts.astype(np.int64)
        counts.setflags(write=False)
        object.__setattr__(self, "values", values)
        object.__setattr__(self, "counts", counts)

    @classmethod
    def from_runs(cls, values: ArrayLike, counts: ArrayLike) -> Spectrum:
        """Sort runs by value (descending), merge equal values, drop zero counts.

        Args:
            values: eigenvalues, any order; tiny negatives (numerical zeros) become 0.
            counts: their multiplicities, integers >= 0.

        Returns:
            The canonical spectrum.

        Raises:
            ValueError: shapes differ, non-finite or clearly negative values, bad counts.
        """
        vals = _nonnegative(values)
        cnt = np.asarray(counts).reshape(-1)
        if cnt.shape != vals.shape or cnt.dtype.kind not in "iu" or np.any(cnt < 0):
            raise ValueError("counts must be integers >= 0, one per value")
        keep = cnt > 0
        uniq, inverse = np.unique(vals[keep], return_inverse=True)
        merged = np.zeros(uniq.size, dtype=np.int64)
        np.add.at(merged, inverse.reshape(-1), cnt[keep].astype(np.int64))
        return cls(uniq[::-1], merged[::-1])

    @classmethod
    def from_eigenvalues(
        cls, eigs: ArrayLike, d: int | None = None, tail: float = 0.0
    ) -> Spectrum:
        """Spectrum from explicit eigenvalues, the d - len(eigs) missing ones equal to `tail`.

        Args:
            eigs: eigenvalues in any order (already including delta where wanted).
            d: the dimension (len(eigs) when None).
            tail: value of the missing eigenvalues (the dequantisation delta, for a Gram
                spectrum of 8-bit data).

        Returns:
            The canonical spectrum.

        Raises:
            ValueError: d < len(eigs) or bad values.
        """
        vals = np.asarray(eigs, dtype=np.float64).reshape(-1)
        dim = vals.size if d is None else int(d)
        if dim < vals.size or dim < 1:
            raise ValueError(f"d = {dim} is smaller than the {vals.size} eigenvalues given")
        runs = np.append(vals, float(tail))
        return cls.from_runs(runs, np.append(np.ones(vals.size, np.int64), dim - vals.size))

    @property
    def dim(self) -> int:
        """d, the number of eigenvalues with multiplicity."""
        return int(self.counts.sum())

    @property
    def trace(self) -> float:
        """Sum of the eigenvalues: d times the no-information MSE of the cluster."""
        return float(self.counts @ self.values)

    @property
    def log_mean(self) -> float:
        """Mean log eigenvalue, log GM(lambda); -inf when an eigenvalue is 0."""
        if self.values[-1] == 0.0:
            return -math.inf
        return float(self.counts @ np.log(self.values)) / self.dim

    def dense(self) -> np.ndarray:
        """All d eigenvalues, descending (for tests and small d only)."""
        return np.repeat(self.values, self.counts)

    def edges(self) -> tuple[np.ndarray, np.ndarray]:
        """Run edges of the positive eigenvalues: positions (R+1,) and log prefix sums (R+1,).

        A trailing run of zeros is left out: any block touching it has a zero term, so it is
        best dropped as one block of its own.
        """
        positive = self.values > 0
        counts = self.counts[positive]
        pos = np.concatenate([[0], np.cumsum(counts)])
        logp = np.concatenate([[0.0], np.cumsum(counts * np.log(self.values[positive]))])
        return pos, logp


@dataclass(frozen=True)
class BlockFloor:
    """The best block partition of one cluster's spectrum.

    Attributes:
        value: xi_c, (1/d) * max over partitions of sum_G |G| GM(lambda_G) exp(-2 I_c/|G|).
        single_block: the single block of all d directions, theorem (T) for the cluster.
        blocks: the chosen blocks as [start, stop) positions in the descending spectrum;
            positions left out (a trailing run of zero eigenvalues) are dropped.
        exact: True when the DP ran over every run edge (the true optimum), False when it
            ran over a boundary grid (a valid, lower floor).
    """

    value: float
    single_block: float
    blocks: tuple[tuple[int, int], ...]
    exact: bool


def block_floor(eigs: ArrayLike | Spectrum, info: float, d: int | None = None) -> float:
    r"""The conditional spectral floor (S) of one cluster.

    .. math:: \xi_c = \frac1d \max_{\mathcal G} \sum_G |G|\,\mathrm{GM}(\lambda_G)\,
        e^{-2 I_c/|G|}

    Args:
        eigs: a `Spectrum`, or eigenvalues of Cov(x|c) + delta I in any order: all d of them,
            or the largest ones with `d` given (the missing ones are 0).
        info: I_c, nats, >= 0 (inf allowed: the floor is 0).
        d: the dimension, only with an array `eigs`.

    Returns:
        xi_c, per-dimension MSE floor for the cluster.

    Raises:
        ValueError: bad eigenvalues, info < 0 or NaN, d with a Spectrum.
    """
    if isinstance(eigs, Spectrum):
        if d is not None and d != eigs.dim:
            raise ValueError(f"d = {d} contradicts the spectrum's dimension {eigs.dim}")
        return best_partition(eigs, info).value
    return best_partition(Spectrum.from_eigenvalues(eigs, d), info).value


def best_partition(
    spectrum: Spectrum, info: float, *, exact_max: int = EXACT_MAX, grid_points: int = GRID_POINTS
) -> BlockFloor:
    """Maximise (S) over contiguous block partitions by dynamic programming.

    F[j] = max_{i<j} F[i] + g e^{(P_j - P_i - 2I)/g}, g = pos_j - pos_i, P the prefix sums of
    log eigenvalues, over run edges (exact, O(R^2)) when R <= exact_max, else over a grid of
    about `grid_points` edges that always holds both ends (any partition is a valid floor).

    Args:
        spectrum: the cluster's eigenvalues.
        info: I_c, nats, >= 0; inf gives 0.
        exact_max: largest R solved exactly.
        grid_points: edges of the grid beyond that.

    Returns:
        The floor, the single block (T), the blocks and whether the DP was exact.

    Raises:
        ValueError: info < 0 or NaN.
    """
    two_i = 2.0 * _check_info(info)
    single = single_block_floor(spectrum, info)
    pos, logp = spectrum.edges()
    if math.isinf(two_i) or pos.size == 1:
        return BlockFloor(0.0, single, (), True)
    exact = pos.size - 1 <= exact_max
    if not exact:
        keep = _grid(pos.size - 1, grid_points)
        pos, logp = pos[keep], logp[keep]
    best, arg = block_dp(pos, logp, two_i)
    return BlockFloor(float(best[-1]) / spectrum.dim, single, _traceback(pos, arg), exact)


def single_block_floor(spectrum: Spectrum, info: float) -> float:
    """Theorem (T) for one Gaussian cluster: GM(lambda) exp(-2 I / d) = e^{2h/d} / (2 pi e).

    Args:
        spectrum: eigenvalues of Cov(x|c) + delta I.
        info: I, nats, >= 0 (inf gives 0).

    Returns:
        The single-block floor.
    """
    two_i = 2.0 * _check_info(info)
    log_mean = spectrum.log_mean
    if math.isinf(two_i) or math.isinf(log_mean):
        return 0.0
    with np.errstate(under="ignore"):
        return float(np.exp(log_mean - two_i / spectrum.dim))


def block_dp(
    pos: np.ndarray, logp: np.ndarray, two_i: float
) -> tuple[np.ndarray, np.ndarray]:
    """Best sums F over the edges 0..j (positions `pos`, log prefix sums `logp`), argmaxes.

    F[j] = max_{i<j} F[i] + g exp((logp_j - logp_i - 2I)/g), g = pos_j - pos_i.
    """
    best = np.zeros(pos.size)
    arg = np.zeros(pos.size, dtype=np.int64)
    posf = pos.astype(np.float64)
    with np.errstate(under="ignore"):
        for j in range(1, pos.size):
            g = posf[j] - posf[:j]
            vals = best[:j] + g * np.exp((logp[j] - logp[:j] - two_i) / g)
            a = int(np.argmax(vals))
            arg[j], best[j] = a, vals[a]
    return best, arg


def _traceback(pos: np.ndarray, arg: np.ndarray) -> tuple[tuple[int, int], ...]:
    """The blocks [start, stop) of the optimum ending at the last edge."""
    blocks = []
    j = pos.size - 1
    while j > 0:
        a = int(arg[j])
        blocks.append((int(pos[a]), int(pos[j])))
        j = a
    return tuple(reversed(blocks))


def _grid(n: int, points: int) -> np.ndarray:
    """About `points` sorted distinct integers in [0, n], both ends included."""
    k = max(points // 3, 2)
    geo = np.geomspace(1.0, n + 1.0, k) - 1.0
    pts = np.concatenate([geo, n - geo, np.linspace(0.0, n, k)])
    return np.unique(np.clip(np.rint(pts), 0, n).astype(np.int64))


def _check_info(info: float) -> float:
    value = float(info)
    if math.isnan(value) or value < 0:
        raise ValueError(f"leakage I_c must be >= 0 nats, got {info!r}")
    return value


def _nonnegative(values: ArrayLike) -> np.ndarray:
    """Finite float64 copy with numerical negatives (>= -tol * max) set to 0."""
    vals = np.array(values, dtype=np.float64).reshape(-1)
    if not np.all(np.isfinite(vals)):
        raise ValueError("eigenvalues must be finite")
    scale = float(np.abs(vals).max()) if vals.size else 0.0
    if vals.size and vals.min() < -_NEG_TOL * scale:
        raise ValueError(f"eigenvalue {vals.min():.3g} < 0: not a covariance spectrum")
    return np.maximum(vals, 0.0)
