r"""Estimate the conditional spectral floor (S) from inputs and features (docs/method.md §3b).

The floor conditions on a cluster label c that is a function of x (the class when labels are
given, else k-means cells of the features) and, inside each cluster, applies theorem (T) to
blocks of the input's principal directions:

.. math:: \mathrm{MSE} \ge \sum_c \pi_c \Big(\frac1d \max_{\mathcal G} \sum_G |G|\,
    \mathrm{GM}(\lambda_{c,G})\, e^{-2 I_c/|G|} - \delta\Big)^+

with :math:`\lambda_c` the spectrum of Cov(x|c) + delta I (delta: the 8-bit dequantisation
variance, 0 for data in its own units) and :math:`I_c \ge I(x; z | c)`: the smaller of the
diagonal Gaussian-channel bound of the cluster's features and, with sub-cells inside the
cluster, the mixture bound H(pi_k|c) + sum_k pi_k|c I_ck. Both bound I(x;z|c), so either is
valid. The one assumption left is a Gaussian h(x) within a cluster.

The interval is a delete-a-group jackknife within the clusters that recomputes both the spectra
(through each cluster's Gram matrix, O(n_c^3), or with more rows than dimensions through its
groups' scatter matrices, `dropped_spectra`) and the leakages, so it covers the sampling error
of both: near zero leakage the floor is the within-cluster variance, whose own sampling error
is then all of the interval.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from privaudit.bound.leakage import mixture_entropy
from privaudit.bound.moments import rows_by_label
from privaudit.bound.spectra import (
    ClusterSpectra,
    centred_gram,
    cluster_spectra,
    dropped_spectra,
    gram_spectrum,
)
from privaudit.bound.spectral import Spectrum, best_partition

__all__ = [
    "CellVariances",
    "FloorEstimate",
    "FloorModel",
    "cell_variances",
    "cluster_leakages",
    "dropped_leakages",
    "fit_floor",
]

VACUOUS_SHARE = 1e-6  # a floor under this share of the no-information MSE says nothing


@dataclass(frozen=True)
class FloorEstimate:
    """The floor (S) at one noise std.

    Attributes:
        value: sum_c pi_c max(xi_c - delta, 0), per input dimension.
        interval: (low, high) jackknife interval, or None.
        prior: sum_c pi_c tr(Cov(x|c))/d: what knowing the cluster alone allows.
        single_block: the same floor with one block per cluster (theorem (T) per cluster).
        blocks: the largest number of blocks any cluster used.
        vacuous: the floor is below `VACUOUS_SHARE` of `prior`: every block's factor vanishes.
    """

    value: float
    interval: tuple[float, float] | None
    prior: float
    single_block: float
    blocks: int
    vacuous: bool


@dataclass(frozen=True, eq=False)
class FloorModel:
    """Everything the floor needs, fitted once and reused for every noise std.

    Attributes:
        clustering: "class" or "kmeans": what the floor conditions on.
        spectra: per-cluster input spectra (clusters in label order 0..C-1).
        rows: row indices of each cluster.
        cells: (n,) sub-cell of every row inside its cluster (0 when there are none).
        z: (n, m) features.
        grams: per cluster, the centred Gram matrix (jackknife), None when n_c > d.
        delta: the dequantisation variance inside the spectra.
        x: (n, d) the inputs (the jackknife's spectra of clusters with n_c > d).
    """

    clustering: str
    spectra: ClusterSpectra
    rows: tuple[np.ndarray, ...]
    cells: np.ndarray
    z: np.ndarray
    grams: tuple[np.ndarray | None, ...]
    delta: float
    x: np.ndarray

    def estimate(self, noise_sigma: float) -> FloorEstimate:
        """The floor at `noise_sigma` > 0 from the fitted spectra and the sample's leakages."""
        return self.estimates([noise_sigma])[0]

    def estimates(self, noise_sigmas: Sequence[float]) -> list[FloorEstimate]:
        """The floor at each noise std (> 0); each cluster's variances are made once for all."""
        infos = np.empty((len(noise_sigmas), len(self.rows)))
        for c, r in enumerate(self.rows):
            variances = cell_variances(self.z[r], self.cells[r])
            infos[:, c] = [variances.leakage(s) for s in noise_sigmas]
        return [_combine(self.spectra, i, self.delta, None) for i in infos]

    def jackknife(
        self, noise_sigmas: Sequence[float], groups: int, seed: int, level: float = 0.95,
        points: Mapping[float, float] | None = None,
    ) -> dict[float, tuple[float, float]]:
        """Delete-a-group jackknife intervals of the floor at each noise std.

        `points`: the floor at each of those stds when the caller has it already (`estimates`),
        else it is computed here.

        The rows of every cluster are dealt at random into `groups` groups; replicate g drops
        group g from every cluster and recomputes the spectra (through the Gram matrices, or
        the groups' scatter matrices where n_c > d) and the leakages. The standard error is
        sqrt((G - 1)/G sum_g (F_g - mean)^2); the interval is the floor +- z SE, clipped at 0.

        # NOTE: not a bootstrap. A resample of n_c < d rows holds only ~0.63 n_c distinct
        # rows, so its spectrum loses eigenvalues and its floor drops: a basic bootstrap reads
        # that as bias and shifts the interval up (overstating privacy), a percentile one lies
        # wholly below the point. Dropping 1/G of the rows barely changes the rank, and the
        # jackknife's spread does not depend on a shift common to all replicates.
        """
        rng = np.random.default_rng(seed)
        deal = [rng.permutation(r.size) % groups for r in self.rows]
        infos = dropped_leakages(self.z, self.rows, self.cells, deal, groups, noise_sigmas)
        replicates = [self._dropped(c, d, groups) for c, d in enumerate(deal)]
        draws = np.empty((groups, len(noise_sigmas)))
        for g in range(groups):
            spectra = [r[g] for r in replicates]
            for s in range(len(noise_sigmas)):
                draws[g, s] = _floor_value(self.spectra.weights, spectra, infos[g, s], self.delta)
        spread = np.sqrt((groups - 1) / groups * ((draws - draws.mean(0)) ** 2).sum(0))
        z = float(_normal_quantile(0.5 + level / 2))
        if points is None:
            points = {s: e.value for s, e in zip(noise_sigmas, self.estimates(noise_sigmas),
                                                  strict=True)}  # fmt: skip
        out = {}
        for s, noise_sigma in enumerate(noise_sigmas):
            point = points[noise_sigma]
            out[float(noise_sigma)] = (max(0.0, point - z * spread[s]), point + z * spread[s])
        return out

    def _dropped(self, c: int, deal: np.ndarray, groups: int) -> list[Spectrum | None]:
        """Cluster c's spectrum with each group of its rows dropped in turn.

        A replicate that keeps under 2 rows keeps the cluster's spectrum; a cluster without
        one (too few rows) has none in any replicate.
        """
        spectrum, gram = self.spectra.spectra[c], self.grams[c]
        if spectrum is None:
            return [None] * groups
        if gram is None:
            found = dropped_spectra(self.x[self.rows[c]], deal, groups, self.delta)
        else:
            found = [gram_spectrum(gram, self.spectra.dim, self.delta, np.flatnonzero(deal != g))
                     if np.count_nonzero(deal != g) >= 2 else None
                     for g in range(groups)]  # fmt: skip
        return [spectrum if s is None else s for s in found]


def fit_floor(
    x: np.ndarray, z: np.ndarray, clusters: np.ndarray, cells: np.ndarray | None, *,
    clustering: str, delta: float,
) -> FloorModel:
    """Fit the floor's clustering: per-cluster spectra and the rows' sub-cells.

    Args:
        x: (n, d) inputs (pixels on [0, 1], or standardised units).
        z: (n, m) clean features of the same rows.
        clusters: (n,) int64 cluster labels 0..C-1 (a function of x).
        cells: (n,) int64 sub-cells nested in the clusters (k-means cells), or None.
        clustering: what `clusters` is ("class", "kmeans"), for the report.
        delta: the dequantisation variance (1/(12 * 255^2) for 8-bit data, 0 otherwise).

    Returns:
        The fitted model. The jackknife recomputes spectra through Gram matrices, kept for
        clusters with n_c <= d, and through the inputs' scatter matrices for the others.
    """
    spectra = cluster_spectra(x, clusters, delta)
    rows = tuple(rows_by_label(np.asarray(clusters, dtype=np.int64)))
    grams = tuple(
        centred_gram(x[r]) if 2 <= r.size <= x.shape[1] else None for r in rows
    )
    sub = np.zeros(len(z), np.int64) if cells is None else np.asarray(cells, dtype=np.int64)
    return FloorModel(clustering, spectra, rows, sub, z, grams, delta, np.asarray(x))


def cluster_leakages(
    z: np.ndarray, rows: Sequence[np.ndarray], cells: np.ndarray, noise_sigma: float
) -> np.ndarray:
    """I_c per cluster: the smaller of its diagonal bound and its sub-cell mixture bound.

    Args:
        z: (n, m) features.
        rows: row indices of each cluster (duplicates allowed: a bootstrap resample).
        cells: (n,) sub-cell of every row.
        noise_sigma: noise std > 0.

    Returns:
        (C,) nats; inf for a cluster with fewer than 2 rows.
    """
    return np.array([cell_variances(z[r], cells[r]).leakage(noise_sigma) for r in rows])


@dataclass(frozen=True, eq=False)
class CellVariances:
    """One cluster's per-feature sample variances (ddof 1): over all its rows, and per sub-cell.

    Attributes:
        n: the cluster's rows.
        var: (m,) each feature's variance over the cluster (NaN under 2 rows).
        counts: (K,) rows of each sub-cell present in the cluster.
        cell_var: (K, m) each sub-cell's variances (NaN under 2 rows).
    """

    n: int
    var: np.ndarray
    counts: np.ndarray
    cell_var: np.ndarray

    def leakage(self, noise_sigma: float) -> float:
        """I_c at `noise_sigma` > 0: the smaller of the diagonal and mixture bounds.

        The mixture bound H(pi_k|c) + sum_k pi_k|c I_ck needs two sub-cells or more, each of
        2 rows or more. inf under 2 rows.
        """
        single = _diagonal(self.var, self.n, noise_sigma)
        if self.counts.size < 2 or self.counts.min() < 2:
            return single
        pi = self.counts / self.counts.sum()
        parts = np.array([_diagonal(v, int(k), noise_sigma)
                          for v, k in zip(self.cell_var, self.counts, strict=True)])  # fmt: skip
        return min(single, float(mixture_entropy(pi)) + float(pi @ parts))


def cell_variances(zc: np.ndarray, sub: np.ndarray) -> CellVariances:
    """The `CellVariances` of one cluster's feature rows `zc` (n, m) in sub-cells `sub` (n,)."""
    labels, inverse = np.unique(sub, return_inverse=True)
    data = zc.astype(np.float64)
    var = _variance(data)
    if labels.size < 2:
        return CellVariances(len(data), var, np.array([len(data)]), var[None])
    counts = np.bincount(inverse, minlength=labels.size)
    cell_var = np.stack([_variance(data[inverse == k]) for k in range(labels.size)])
    return CellVariances(len(data), var, counts, cell_var)


def _variance(data: np.ndarray) -> np.ndarray:
    """Each column's sample variance (ddof 1); NaN under 2 rows."""
    if len(data) < 2:
        return np.full(data.shape[1], np.nan)
    out: np.ndarray = data.var(axis=0, ddof=1)
    return out


COLUMNS = 2048  # feature columns per step of `dropped_leakages`: bounds its float64 copies


def dropped_leakages(
    z: np.ndarray, rows: Sequence[np.ndarray], cells: np.ndarray, deal: Sequence[np.ndarray],
    groups: int, noise_sigmas: Sequence[float],
) -> np.ndarray:
    """`cluster_leakages` of every delete-a-group replicate at every noise std, in one pass.

    Replicate g keeps the rows of cluster c whose `deal[c]` is not g. Each cluster's rows are
    read once, summarised per (sub-cell, group) block; a replicate's variances join the blocks
    it keeps (`_dropped_variances`). Equal to `cluster_leakages` on the kept rows up to
    rounding, and never negative; the variances do not depend on sigma, so they are made once
    for every noise std.

    Args:
        z: (n, m) features.
        rows: row indices of each cluster (no duplicates).
        cells: (n,) sub-cell of every row.
        deal: per cluster, (n_c,) the group 0..groups-1 of each of its rows.
        groups: the number of groups G.
        noise_sigmas: the noise stds (> 0).

    Returns:
        (G, S, C) nats; inf for a replicate that leaves a cluster under 2 rows.
    """
    out = np.empty((groups, len(noise_sigmas), len(rows)))
    for c, (r, d) in enumerate(zip(rows, deal, strict=True)):
        for g, variances in enumerate(_dropped_variances(z[r], cells[r], d, groups)):
            out[g, :, c] = [variances.leakage(s) for s in noise_sigmas]
    return out


def _dropped_variances(
    zc: np.ndarray, sub: np.ndarray, deal: np.ndarray, groups: int
) -> list[CellVariances]:
    """One cluster's `CellVariances` with each group of its rows dropped in turn.

    Rows are summarised per block, a (sub-cell, group) pair holding rows: its count, its mean
    (less the cluster's) and the squared deviations from its own mean, summed. A replicate
    joins the blocks it keeps by the parallel-axis rule, whose every term is a sum of squares:
    no difference of large sums, so no cancellation, and never a negative variance.
    """
    labels, cell = np.unique(sub, return_inverse=True)
    blocks, block = np.unique(cell * groups + np.asarray(deal, np.int64), return_inverse=True)
    count = np.bincount(block, minlength=blocks.size).astype(np.float64)
    indicator = np.zeros((blocks.size, len(zc)))
    indicator[block, np.arange(len(zc))] = 1.0
    offset = np.empty((blocks.size, zc.shape[1]))  # each block's mean, less the cluster's
    spread = np.empty((blocks.size, zc.shape[1]))  # squared deviations from the block's mean
    for start in range(0, zc.shape[1], COLUMNS):
        cols = slice(start, start + COLUMNS)
        data = zc[:, cols].astype(np.float64)
        data -= data.mean(axis=0)
        offset[:, cols] = (indicator @ data) / count[:, None]
        dev = data - offset[block, cols]
        spread[:, cols] = indicator @ (dev * dev)
    cells, group = blocks // groups, blocks % groups
    weighted = count[:, None] * offset
    out = []
    for g in range(groups):
        member = np.zeros((labels.size, blocks.size))  # 1: replicate g keeps block b of cell k
        member[cells, np.arange(blocks.size)] = group != g
        out.append(_joined(member, count, offset, weighted, spread, cells))
    return out


def _joined(
    member: np.ndarray, count: np.ndarray, offset: np.ndarray, weighted: np.ndarray,
    spread: np.ndarray, cell: np.ndarray,
) -> CellVariances:  # fmt: skip
    """`CellVariances` of the blocks a replicate keeps, per sub-cell and in all.

    Args:
        member: (K, B) 1 where the replicate keeps block b, of sub-cell k.
        count: (B,) rows per block.
        offset: (B, m) each block's mean, less the cluster's.
        weighted: (B, m) count times offset.
        spread: (B, m) each block's squared deviations from its own mean, summed.
        cell: (B,) each block's sub-cell.
    """
    rows = member @ count
    present = rows > 0
    if not present.any():  # NOTE: every row of the cluster was in the dropped group
        return CellVariances(0, np.full(offset.shape[1], np.nan), np.zeros(0, np.int64),
                             np.zeros((0, offset.shape[1])))  # fmt: skip
    member, rows = member[present], rows[present]
    mean = (member @ weighted) / rows[:, None]
    which = np.cumsum(present)[cell] - 1  # each block's row in `mean` (-1: none kept)
    between = offset - mean[which]
    np.square(between, out=between)
    between *= count[:, None]  # NOTE: blocks of a sub-cell kept empty weigh 0 in `member`
    within = member @ spread + member @ between
    with np.errstate(invalid="ignore", divide="ignore"):
        cell_var = np.where(rows[:, None] >= 2, within / (rows[:, None] - 1), np.nan)
    total = int(rows.sum())
    counts = rows.astype(np.int64)
    if total < 2:
        return CellVariances(total, np.full(offset.shape[1], np.nan), counts, cell_var)
    centre = (rows[:, None] * mean).sum(axis=0) / total
    var = (within.sum(axis=0) + (rows[:, None] * (mean - centre) ** 2).sum(axis=0)) / (total - 1)
    return CellVariances(total, var, counts, cell_var)


def _diagonal(var: np.ndarray, n: int, noise_sigma: float) -> float:
    r"""Diagonal bound of `n` rows of feature variances `var`, bias-corrected; inf under 2 rows.

    .. math:: \frac12 \sum_j \Big[\log(1 + s_j^2/\sigma^2)
        + \frac{1}{n - 1}\Big(\frac{s_j^2}{\sigma^2 + s_j^2}\Big)^2\Big]

    The log of a sample variance is biased low by about the second term (s^2 has relative
    variance 2/(n - 1)); adding it back keeps a small cluster's I_c from being underestimated,
    which would raise the floor.
    """
    if n < 2:
        return math.inf
    share = var / (noise_sigma**2 + var)
    return float(0.5 * (np.log1p(var / noise_sigma**2) + share * share / (n - 1)).sum())


def _floor_value(
    weights: np.ndarray, spectra: Sequence[Spectrum | None], infos: np.ndarray, delta: float
) -> float:
    """sum_c pi_c max(xi_c - delta, 0) for given spectra and leakages."""
    return float(sum(
        w * max(best_partition(s, i).value - delta, 0.0)
        for w, s, i in zip(weights, spectra, infos, strict=True)
        if s is not None and math.isfinite(i)
    ))


def _combine(
    spectra: ClusterSpectra, infos: np.ndarray, delta: float, interval: tuple[float, float] | None
) -> FloorEstimate:
    """The FloorEstimate of per-cluster spectra and leakages."""
    w = spectra.weights
    parts = [
        best_partition(s, i) if s is not None and math.isfinite(i) else None
        for s, i in zip(spectra.spectra, infos, strict=True)
    ]
    xi = np.array([max(p.value - delta, 0.0) if p else 0.0 for p in parts])
    single = np.array([max(p.single_block - delta, 0.0) if p else 0.0 for p in parts])
    traces = np.array([s.trace / s.dim - delta if s else 0.0 for s in spectra.spectra])
    value, prior = float(w @ xi), float(w @ traces)
    return FloorEstimate(
        value=value, interval=interval, prior=prior, single_block=float(w @ single),
        blocks=max((len(p.blocks) for p in parts if p), default=0),
        vacuous=bool(value <= VACUOUS_SHARE * prior),
    )


def _normal_quantile(p: float) -> float:
    """The standard normal quantile (Acklam's rational approximation, |error| < 1.2e-9)."""
    from statistics import NormalDist

    return NormalDist().inv_cdf(p)
