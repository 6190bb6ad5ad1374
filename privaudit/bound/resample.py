"""Bootstrap resampling of cluster moments: grouped diagonal replicates and weighted spectra.

The diagonal bootstrap reweights the moments of small random groups of samples (see
`privaudit.moments.group_stats`), G = n / group_size rows; the full-covariance one
reweights single rows and eigendecomposes every cluster per replicate.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from privaudit.bound.moments import (
    BLOCK,
    GroupStats,
    check_labels,
    check_rows,
    merge_stats,
    rows_by_label,
)

__all__ = [
    "cluster_spectra",
    "replicate_logdets",
    "replicate_totals",
    "resample_counts",
    "resample_groups",
]


@dataclass(frozen=True)
class _Pooled:
    """The groups of each cluster of a coarser clustering, and those clusters' moments."""

    rows: list[np.ndarray]
    means: np.ndarray
    variances: np.ndarray


def _pool(groups: GroupStats, parent: np.ndarray | None) -> _Pooled:
    """Pool the groups by parent[cluster] (identity when None)."""
    stats = groups.stats
    if parent is not None:
        stats = merge_stats(stats, parent)
    coarse = groups.cluster if parent is None else np.asarray(parent)[groups.cluster]
    rows = rows_by_label(coarse)
    rows += [np.zeros(0, np.int64)] * (stats.counts.size - len(rows))
    return _Pooled(rows, stats.means, stats.variances)


def resample_groups(
    groups: GroupStats, replicates: int, *, seed: int, parent: np.ndarray | None = None
) -> np.ndarray:
    """Grouped bootstrap multiplicities (B, G): each cluster redraws its own G_c groups.

    Args:
        groups: group statistics.
        replicates: B.
        seed: seed of the draws.
        parent: (C,) a coarser clustering (see `merge_stats`) to resample instead.

    Returns:
        (B, G) float64 counts; in every row, the counts of a cluster's groups sum to G_c.
    """
    pooled = _pool(groups, parent)
    sizes = np.array([r.size for r in pooled.rows])
    order, g = np.concatenate(pooled.rows), groups.counts.size  # by (coarse) cluster
    first, size = np.repeat(np.cumsum(sizes) - sizes, sizes), np.repeat(sizes, sizes)
    pick = np.random.default_rng(seed).random((replicates, g)) * size
    draws = order[first + np.minimum(pick.astype(np.int64), size - 1)]  # within the cluster
    draws += np.arange(0, replicates * g, g)[:, None]
    out: np.ndarray = np.bincount(draws.ravel(), minlength=replicates * g).astype(np.float64)
    return out.reshape(replicates, g)


def replicate_logdets(
    groups: GroupStats,
    weights: np.ndarray,
    noise_sigmas: Sequence[float] | np.ndarray,
    *,
    parent: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    r"""Diagonal log-dets of every cluster in every grouped bootstrap replicate.

    Weighting group g by w_bg equals materialising the resample of whole groups; with its
    S1, S2 (weighted sums of the groups' moments about the cluster mean) and
    N_bc = \sum_g w_bg n_g,

    .. math::
        S^{(b)}_{c,jj} = \frac{S_2 - S_1^2 / N_{bc}}{N_{bc} - 1}, \qquad
        \text{out}_{sbc} = \sum_j \log\big(1 + S^{(b)}_{c,jj} / \sigma_s^2\big)

    The target is the same sum at tau, the variances that the replicates estimate without
    bias: E[S1^2] = \sum_g s_g^2 + (1 - 1/G_c)(\sum_g s_g)^2 under the multinomial draws, so

    .. math:: \tau_c = \Big(\sum_g q_g - E[S_1^2] / n_c\Big) / (n_c - 1)

    which is the plug-in (ddof = 0) variance when every group is one sample. Cost
    O(B G m): the groups' moments move from the cluster origins to the (coarse) cluster
    means once, in float32, then each cluster takes two (B, G_c) x (G_c, m) products,
    in column blocks of `BLOCK` values at most.

    Args:
        groups: group statistics.
        weights: (B, G) multiplicities (see `resample_groups`, same `parent`).
        noise_sigmas: noise stds > 0.
        parent: (C,) a coarser clustering (see `merge_stats`) to measure instead.

    Returns:
        (S, B, P) replicate log-dets and (S, P) target log-dets (0 for empty clusters).
    """
    sig2 = np.asarray(noise_sigmas, dtype=np.float64).reshape(-1) ** 2
    pooled, b = _pool(groups, parent), weights.shape[0]
    out = np.zeros((sig2.size, b, len(pooled.rows)))
    target = np.zeros((sig2.size, len(pooled.rows)))
    live = [p for p, rows in enumerate(pooled.rows) if rows.size]
    if not live:
        return out, target
    order = np.concatenate([pooled.rows[p] for p in live])
    bounds = np.cumsum([0] + [pooled.rows[p].size for p in live])
    w = weights[:, order]  # by cluster: each cluster's weights are a column slice
    totals = np.add.reduceat(w * groups.counts[order], bounds[:-1], axis=1)  # N_bc
    scale = np.where(totals > 1, 1.0 / np.maximum(totals - 1, 1.0), 0.0)
    w_mean = w * np.repeat(np.sqrt(scale / np.maximum(totals, 1.0)), np.diff(bounds), 1)
    w_square = w * np.repeat(scale, np.diff(bounds), 1)
    w_mean, w_square = w_mean.astype(np.float32), w_square.astype(np.float32)
    inverse = (1.0 / sig2).astype(np.float32)
    centred = _Centring(groups, pooled)
    for i, p in enumerate(live):
        rows, cluster = pooled.rows[p], slice(bounds[i], bounds[i + 1])
        mean_w = np.ascontiguousarray(w_mean[:, cluster])  # BLAS is slower on strided rows
        square_w = np.ascontiguousarray(w_square[:, cluster])
        step = max(1, BLOCK // max(b, 2 * rows.size))
        for j in range(0, groups.moments.shape[2], step):
            cols = slice(j, j + step)
            s, q = centred(rows, p, cols)
            out[:, :, p] += _logdet_block(mean_w, square_w, s, q, inverse)
            target[:, p] += _target_block(s, rows, groups, pooled.variances[p, cols], sig2)
    return out, target


class _Centring:
    """Group moments about their (coarse) cluster's mean, from those about its origin."""

    def __init__(self, groups: GroupStats, pooled: _Pooled) -> None:
        self.groups = groups
        self.origins = groups.origins.astype(np.float32)
        self.means = pooled.means.astype(np.float32)
        self.sizes = groups.counts.astype(np.float32)

    def __call__(self, rows: np.ndarray, p: int, cols: slice) -> tuple[np.ndarray, np.ndarray]:
        """(g, w) float32 sums of z - mu and (z - mu)^2 of the groups `rows` over `cols`.

        From the sums s, q about the origin o: s' = s + n d and q' = q + d (2 s + n d),
        d = o - mu.
        """
        g = self.groups
        s, q = g.moments[rows, 0, cols], g.moments[rows, 1, cols]
        d = self.origins[g.cluster[rows], cols] - self.means[p, cols]
        moved = self.sizes[rows, None] * d
        q += d * (2.0 * s + moved)
        s += moved
        return s, q


def _target_block(
    s: np.ndarray, rows: np.ndarray, groups: GroupStats, variances: np.ndarray, sig2: np.ndarray
) -> np.ndarray:
    """(S,) sums over a column block of log1p(tau_jj / sigma^2).

    With the exact variances S = sum_g q_g / (n_c - 1): tau = S - E[S1^2] / (n_c (n_c - 1)).
    The correction is O(S / n_c): float32 sums suffice.
    """
    total = float(groups.counts[rows].sum())
    if total <= 1:
        return np.zeros(sig2.size)
    s1 = s.sum(0).astype(np.float64)
    spread = np.einsum("gw,gw->w", s, s).astype(np.float64)
    spread += (1.0 - 1.0 / rows.size) * s1 * s1
    tau = np.maximum(variances - spread / (total * (total - 1.0)), 0.0)
    return np.array([np.log1p(tau / v).sum() for v in sig2])


def _logdet_block(
    w_mean: np.ndarray, w_square: np.ndarray, s: np.ndarray, q: np.ndarray, inverse: np.ndarray
) -> np.ndarray:
    """(S, B) sums over a column block of log1p(S_jj / sigma^2).

    The per-replicate factors ride on the weights, so that the (B, block) passes need no
    broadcasting: with a = 1 / (N - 1) (0 where N <= 1), a S2 - (sqrt(a / N) S1)^2 = S_jj;
    `inverse` holds 1 / sigma^2. NOTE: float32: its rounding (1e-7 relative) is far below the
    replicates' sampling spread (about sqrt(2 / n_c)), and it halves the memory and its
    traffic; the (B, block) arrays are sized to stay in a core's cache, and the row sums
    run as a matrix-vector product.
    """
    s1 = w_mean @ s
    var = w_square @ q
    np.square(s1, out=s1)
    np.subtract(var, s1, out=var)
    np.maximum(var, 0.0, out=var)
    ones = np.ones(var.shape[1], np.float32)
    out = np.empty((inverse.size, var.shape[0]))
    for i, v in enumerate(inverse):
        np.multiply(var, v, out=s1)
        np.log1p(s1, out=s1)
        out[i] = s1 @ ones
    return out


def resample_counts(n: int, replicates: int, *, seed: int) -> np.ndarray:
    """Bootstrap multiplicities (B, n) float64: row b counts each sample's draws (sum n)."""
    rng = np.random.default_rng(seed)
    out = np.empty((replicates, n))
    for b in range(replicates):
        out[b] = np.bincount(rng.integers(0, n, n), minlength=n)
    return out


def replicate_totals(labels: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Weighted cluster sizes N_bc = sum_{i in c} w_bi, (B, C), from (B, n) counts."""
    return np.stack([counts[:, idx].sum(1) for idx in rows_by_label(labels)], axis=1)


def cluster_spectra(
    z: np.ndarray, labels: np.ndarray, counts: np.ndarray | None = None
) -> np.ndarray:
    """Eigenvalues of each cluster's (bootstrap-weighted) sample covariance S_c.

    With n_c < m they come from the n_c x n_c Gram matrix (Sylvester: Z^T W Z and
    W^1/2 Z Z^T W^1/2 share their non-zero spectrum), else from the m x m covariance.

    Args:
        z: (n, m) features.
        labels: (n,) cluster labels 0..C-1.
        counts: (B, n) multiplicities, or None for the sample itself (B = 1).

    Returns:
        (B, C, r) eigenvalues (ddof = 1, clipped at 0, zero-padded), r = max_c min(n_c, m).
    """
    data = check_rows(z, what="features")
    groups = rows_by_label(check_labels(labels, data.shape[0]))
    weights = np.ones((1, data.shape[0])) if counts is None else counts
    rank = max(min(idx.size, data.shape[1]) for idx in groups)
    out = np.zeros((weights.shape[0], len(groups), rank))
    for c, idx in enumerate(groups):
        rows = data[idx].astype(np.float64)
        for b in range(weights.shape[0]):
            eig = _weighted_eigenvalues(rows, weights[b, idx])
            out[b, c, : eig.size] = eig
    return out


def _weighted_eigenvalues(rows: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Spectrum of sum_i w_i (z_i - mu_w)(z_i - mu_w)^T / (sum w - 1), via the smaller Gram."""
    keep = w > 0
    rows, w = rows[keep], w[keep]
    total = float(w.sum())
    if total <= 1.0:
        return np.zeros(0)
    scaled = (rows - (w @ rows) / total) * np.sqrt(w)[:, None]
    gram = scaled @ scaled.T if scaled.shape[0] < scaled.shape[1] else scaled.T @ scaled
    eig = np.linalg.eigvalsh(gram) / (total - 1.0)
    # NOTE: zero the round-off eigenvalues (below the numerical-rank tolerance, and the one
    # that centering makes exactly 0 when rows <= m); log1p(eig / sigma^2) would magnify
    # them at small sigma and make the result depend on the order of the features.
    eig[eig <= eig.max(initial=0.0) * gram.shape[0] * np.finfo(np.float64).eps] = 0.0
    eig[: max(0, eig.size - (rows.shape[0] - 1))] = 0.0
    return eig
