"""Cluster features and measure each cluster's second moments (plain or bootstrap-weighted).

Serves the leakage bound (docs/method.md §3, eq. L) and the CEM regularizer (§5). Sums are
float64 over row or column blocks, so temporaries stay small and memory grows with n * m,
never with m * m except for full-covariance spectra.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from privaudit.errors import ConfigError, DataError

SCHEMES = ("single", "class", "kmeans", "class-kmeans")
_BLOCK = 1 << 18  # elements per temporary block (2 MiB of float64)
_ONEHOT_MAX_K = 64  # centre updates by one-hot matmul up to this k, by bincount beyond


@dataclass(frozen=True)
class ClusterStats:
    """Per-cluster feature moments, float64.

    Attributes:
        weights: (C,) pi_c = n_c / n.
        counts: (C,) samples per cluster n_c.
        means: (C, m) cluster means.
        variances: (C, m) per-dimension sample variances, the diagonal of S_c (ddof = 1;
            0 where n_c <= 1), in squared feature units.
    """

    weights: np.ndarray
    counts: np.ndarray
    means: np.ndarray
    variances: np.ndarray


def check_rows(a: np.ndarray, *, what: str, min_rows: int = 1) -> np.ndarray:
    """View (n, ...) samples as an (n, m) float matrix (float32 kept, integers to float64).

    Args:
        a: (n, ...) samples.
        what: what the rows are ("features", "inputs"), for messages.
        min_rows: the fewest samples accepted.

    Returns:
        (n, m) floating array, m = product of the trailing dimensions.

    Raises:
        DataError: wrong rank, too few rows, no columns, or NaN/inf values.
    """
    arr = np.asarray(a)
    if arr.ndim < 2:
        raise DataError(f"{what} must have shape (n, ...), got {arr.shape}")
    arr = arr.reshape(arr.shape[0], -1)
    if not np.issubdtype(arr.dtype, np.floating):
        arr = arr.astype(np.float64)
    if arr.shape[0] < min_rows or arr.shape[1] == 0:
        raise DataError(
            f"{what}: need at least {min_rows} samples of at least 1 value, got {arr.shape}",
            hint="pass more audit samples",
        )
    if not np.isfinite(arr).all():
        raise DataError(f"{what} contain NaN or inf", hint="check the model and the input data")
    return arr


def kmeans(z: np.ndarray, k: int, *, seed: int, iters: int = 20) -> np.ndarray:
    """Lloyd's k-means from a k-means++ start; vectorised and deterministic.

    Args:
        z: (n, m) samples; distances are computed in z's float dtype.
        k: wanted clusters. With k >= n every distinct row is its own cluster; with fewer
            than k distinct rows (duplicates), fewer clusters come back.
        seed: seed of the k-means++ draws.
        iters: at most this many Lloyd steps (stops once no label changes).

    Returns:
        (n,) int64 labels 0..C-1, C <= k, every label used.

    Raises:
        ConfigError: k < 1 or iters < 0.
        DataError: bad shape or NaN/inf.
    """
    if k < 1 or iters < 0:
        raise ConfigError(f"kmeans needs k >= 1 and iters >= 0, got k={k}, iters={iters}")
    data = check_rows(z, what="features")
    if k >= data.shape[0]:
        return np.unique(data, axis=0, return_inverse=True)[1].reshape(-1).astype(np.int64)
    centers = _kmeanspp(data, k, np.random.default_rng(seed))
    labels = _assign(data, centers)
    for _ in range(iters):
        centers = _update(data, labels, centers)
        new = _assign(data, centers)
        if np.array_equal(new, labels):
            break
        labels = new
    return np.unique(labels, return_inverse=True)[1].astype(np.int64)


def _kmeanspp(data: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """k-means++ seeding: each new centre drawn with probability proportional to D^2."""
    chosen = [int(rng.integers(data.shape[0]))]
    d2 = _sqdist(data, data[chosen[0]])
    for _ in range(1, k):
        cum = np.cumsum(d2)
        if cum[-1] <= 0.0:  # NOTE: every row duplicates a centre; more would stay empty
            break
        pick = int(np.searchsorted(cum, rng.random() * cum[-1], side="right"))
        chosen.append(min(pick, data.shape[0] - 1))
        d2 = np.minimum(d2, _sqdist(data, data[chosen[-1]]))
    return data[chosen].copy()


def _sqdist(data: np.ndarray, center: np.ndarray) -> np.ndarray:
    """Exact squared distances (n,) to one centre, so duplicates give exactly 0."""
    out = np.empty(data.shape[0])
    step = max(1, _BLOCK // data.shape[1])
    for s in range(0, data.shape[0], step):
        diff = data[s : s + step] - center
        out[s : s + step] = np.einsum("ij,ij->i", diff, diff)
    return out


def _assign(data: np.ndarray, centers: np.ndarray) -> np.ndarray:
    """Nearest centre: argmin_c ||c||^2 - 2 z.c (||z||^2 is common to all c)."""
    nearest: np.ndarray = np.argmin((centers * centers).sum(1) - 2.0 * (data @ centers.T), 1)
    return nearest


def _update(data: np.ndarray, labels: np.ndarray, centers: np.ndarray) -> np.ndarray:
    """Move each centre to its members' mean; an emptied cluster keeps its centre."""
    k = centers.shape[0]
    if k <= _ONEHOT_MAX_K:
        sums = (data.T @ (labels[:, None] == np.arange(k)).astype(data.dtype)).T
    else:
        sums = _group_sums(data, labels, k)
    counts = np.bincount(labels, minlength=k)
    new, filled = centers.copy(), counts > 0
    new[filled] = sums[filled] / counts[filled, None]
    return new


def _group_sums(
    data: np.ndarray, labels: np.ndarray, k: int, center: np.ndarray | None = None
) -> np.ndarray:
    """Per-cluster column sums (k, m), float64, of z or, given centres, of (z - c_l)^2."""
    m = data.shape[1]
    out, cols, step = np.zeros(k * m), np.arange(m), max(1, _BLOCK // m)
    for s in range(0, data.shape[0], step):
        lab = labels[s : s + step]
        block = data[s : s + step].astype(np.float64)
        if center is not None:
            block -= center[lab]
            block *= block
        out += np.bincount((lab[:, None] * m + cols).ravel(), block.ravel(), k * m)
    return out.reshape(k, m)


def cluster_labels(
    z: np.ndarray, y: np.ndarray | None, *, scheme: str, k: int, seed: int
) -> np.ndarray:
    """Labels of one mixture of eq. (L); each is a function of x (its features or class).

    Args:
        z: (n, m) features.
        y: (n,) class labels of any sortable dtype, or None.
        scheme: "single", "class", "kmeans" (k clusters of z) or "class-kmeans" (k-means
            with k clusters inside each class).
        k: clusters of the k-means schemes.
        seed: k-means seed; each class gets its own stream derived from it.

    Returns:
        (n,) int64 labels 0..C-1, every label used; class-kmeans numbers class by class.

    Raises:
        ConfigError: unknown scheme, or a class scheme without labels.
        DataError: y does not hold one label per row.
    """
    if scheme not in SCHEMES:
        raise ConfigError(f"unknown clustering {scheme!r}; expected one of {SCHEMES}")
    n = np.shape(z)[0]
    if scheme == "single":
        return np.zeros(n, dtype=np.int64)
    if scheme == "kmeans":
        return kmeans(z, k, seed=seed)
    if y is None:
        raise ConfigError(f"clustering {scheme!r} needs class labels", hint="pass labels")
    classes = np.asarray(y).reshape(-1)
    if classes.shape[0] != n:
        raise DataError(f"got {classes.shape[0]} labels for {n} feature rows")
    ids = np.unique(classes, return_inverse=True)[1].reshape(-1).astype(np.int64)
    if scheme == "class":
        return ids
    data, out, offset = check_rows(z, what="features"), np.empty(n, dtype=np.int64), 0
    for c, idx in enumerate(_members(ids)):
        child = int(np.random.SeedSequence([seed, c]).generate_state(1)[0])
        out[idx] = kmeans(data[idx], k, seed=child) + offset
        offset = int(out[idx].max()) + 1
    return out


def _members(labels: np.ndarray) -> list[np.ndarray]:
    """Row indices of each label 0..max, in order (empty arrays for unused labels)."""
    order = np.argsort(labels, kind="stable")
    return np.split(order, np.cumsum(np.bincount(labels))[:-1])


def _check_labels(labels: np.ndarray, n: int) -> np.ndarray:
    lab = np.asarray(labels).reshape(-1)
    if lab.shape[0] != n or not np.issubdtype(lab.dtype, np.integer) or (lab < 0).any():
        raise DataError(f"cluster labels must be {n} non-negative integers")
    return lab.astype(np.int64)


def cluster_stats(z: np.ndarray, labels: np.ndarray) -> ClusterStats:
    r"""Weights, means and per-dimension variances of every cluster, in two exact passes.

    .. math::
        \pi_c = \frac{n_c}{n}, \qquad
        S_{c,jj} = \frac{1}{n_c - 1} \sum_{i: l_i = c} (z_{ij} - \bar z_{cj})^2

    Args:
        z: (n, m) features (float32 is fine).
        labels: (n,) integer labels 0..C-1 (C = max + 1; an unused label gets zeros).

    Returns:
        The statistics, float64.

    Raises:
        DataError: bad shapes, NaN/inf, or negative or non-integer labels.
    """
    data = check_rows(z, what="features")
    lab = _check_labels(labels, data.shape[0])
    k = int(lab.max()) + 1
    counts = np.bincount(lab, minlength=k)
    means = _group_sums(data, lab, k) / np.maximum(counts, 1)[:, None]
    variances = _group_sums(data, lab, k, means) / np.maximum(counts - 1, 1)[:, None]
    return ClusterStats(counts / data.shape[0], counts, means, variances)


def merge_stats(stats: ClusterStats, parent: np.ndarray) -> ClusterStats:
    r"""Statistics of a coarser clustering whose clusters are unions of these ones.

    Exact (parallel-axis theorem), so nested clusterings need only one pass over z:

    .. math::
        (N_p - 1) S_{p,jj} = \sum_{c \to p} (n_c - 1) S_{c,jj} + n_c (\bar z_{cj} - \bar z_{pj})^2

    Args:
        stats: statistics of the fine clustering (C clusters).
        parent: (C,) the coarse cluster 0..P-1 of each fine cluster.

    Returns:
        The statistics of the P coarse clusters.
    """
    p = np.asarray(parent, dtype=np.int64)
    counts = np.bincount(p, stats.counts, minlength=int(p.max()) + 1).astype(np.int64)
    means = np.zeros((counts.size, stats.means.shape[1]))
    np.add.at(means, p, stats.counts[:, None] * stats.means)
    means /= np.maximum(counts, 1)[:, None]
    scatter = np.maximum(stats.counts - 1, 0)[:, None] * stats.variances
    scatter += stats.counts[:, None] * (stats.means - means[p]) ** 2
    pooled = np.zeros_like(means)
    np.add.at(pooled, p, scatter)
    pooled /= np.maximum(counts - 1, 1)[:, None]
    return ClusterStats(counts / counts.sum(), counts, means, pooled)


def resample_counts(n: int, replicates: int, *, seed: int) -> np.ndarray:
    """Bootstrap multiplicities (B, n) float64: row b counts each sample's draws (sum n)."""
    rng = np.random.default_rng(seed)
    out = np.empty((replicates, n))
    for b in range(replicates):
        out[b] = np.bincount(rng.integers(0, n, n), minlength=n)
    return out


def replicate_totals(labels: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Weighted cluster sizes N_bc = sum_{i in c} w_bi, (B, C), from (B, n) counts."""
    return np.stack([counts[:, idx].sum(1) for idx in _members(labels)], axis=1)


def replicate_variances(
    z: np.ndarray, labels: np.ndarray, counts: np.ndarray
) -> Iterator[tuple[int, np.ndarray]]:
    r"""Per-dimension variances of each cluster in each bootstrap replicate, streamed.

    Weighting sample i by its multiplicity w_bi equals materialising the resampled set,
    without the O(B n m) copy; mu_c, the cluster mean, is a shift for conditioning:

    .. math::
        S^{(b)}_{c,jj} = \frac{\sum_{i \in c} w_{bi} (z_{ij} - \mu_{cj})^2
        - \big(\sum_{i \in c} w_{bi} (z_{ij} - \mu_{cj})\big)^2 / N_{bc}}{N_{bc} - 1}

    Args:
        z: (n, m) features.
        labels: (n,) cluster labels 0..C-1.
        counts: (B, n) multiplicities (see `resample_counts`).

    Yields:
        (c, variances (B, m_block)) per non-empty cluster and block of columns; a
        cluster's blocks tile columns 0..m-1. Variances are 0 where N_bc <= 1.
    """
    data = check_rows(z, what="features")
    for c, idx in enumerate(_members(_check_labels(labels, data.shape[0]))):
        if idx.size == 0:
            continue
        w = counts[:, idx]
        total = w.sum(1)[:, None]
        denom = np.where(total > 1, total - 1, np.inf)
        for j in range(0, data.shape[1], max(1, _BLOCK // idx.size)):
            block = data[idx, j : j + max(1, _BLOCK // idx.size)].astype(np.float64)
            block -= block.mean(0)
            s1, s2 = w @ block, w @ (block * block)
            yield c, np.maximum(s2 - s1 * s1 / np.maximum(total, 1), 0.0) / denom


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
    groups = _members(_check_labels(labels, data.shape[0]))
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
