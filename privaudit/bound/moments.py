"""Per-cluster feature moments: checked rows, exact cluster statistics and random-group sums.

Serves the leakage bound (docs/method.md §3, eq. L) and the CEM regularizer (§5). Sums are
float64 over row or column blocks, so temporaries stay small and memory grows with n * m.
Cluster statistics come from one pass over z through `group_stats`, whose groups the
bootstrap in `privaudit.resample` reweights.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from privaudit.bound.leakage import ClusterStats
from privaudit.errors import ConfigError, DataError

__all__ = [
    "BLOCK",
    "GroupStats",
    "check_labels",
    "check_rows",
    "checked_group_stats",
    "cluster_stats",
    "group_stats",
    "merge_stats",
    "rows_by_label",
]

BLOCK = 1 << 18  # elements per temporary block (2 MiB of float64)
_MIN_GROUPS = 32  # a cluster is cut into at least this many groups (or into single samples)


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


def rows_by_label(labels: np.ndarray) -> list[np.ndarray]:
    """Row indices of each label 0..max, in order (empty arrays for unused labels)."""
    order = np.argsort(labels, kind="stable")
    return np.split(order, np.cumsum(np.bincount(labels))[:-1])


def check_labels(labels: np.ndarray, n: int) -> np.ndarray:
    """Validate cluster labels and return them as a flat int64 array.

    Args:
        labels: (n,) cluster labels.
        n: the number of sample rows.

    Returns:
        (n,) int64 labels.

    Raises:
        DataError: not n non-negative integers.
    """
    lab = np.asarray(labels).reshape(-1)
    if lab.shape[0] != n or not np.issubdtype(lab.dtype, np.integer) or (lab < 0).any():
        raise DataError(f"cluster labels must be {n} non-negative integers")
    return lab.astype(np.int64)


def cluster_stats(z: np.ndarray, labels: np.ndarray) -> ClusterStats:
    r"""Weights, means and per-dimension variances of every cluster (exact, centred sums).

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
    return group_stats(data, labels, group_size=data.shape[0], seed=0).stats


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


@dataclass(frozen=True)
class GroupStats:
    """Moments of random groups of samples, each group inside one cluster.

    Attributes:
        cluster: (G,) cluster 0..C-1 of each group, non-decreasing.
        counts: (G,) samples per group.
        moments: (G, 2, m) float32 sums of z - o_c and (z - o_c)^2 over each group, o_c the
            origin of its cluster: inputs of the bootstrap only.
        origins: (C, m) one sample of each cluster (0 for an empty cluster).
        members: (n,) the group of every sample.
        stats: the clusters' exact float64 statistics (as `cluster_stats`).
    """

    cluster: np.ndarray
    counts: np.ndarray
    moments: np.ndarray
    origins: np.ndarray
    members: np.ndarray
    stats: ClusterStats


@dataclass(frozen=True)
class _Layout:
    """Random groups of samples.

    Group g holds the rows order[start[g]:start[g + 1]] and lies in cluster[g]; `origin`
    (C,) is one member row of each cluster; `members` (n,) is the group of each sample.
    """

    order: np.ndarray
    start: np.ndarray
    origin: np.ndarray
    cluster: np.ndarray
    members: np.ndarray


def group_stats(z: np.ndarray, labels: np.ndarray, *, group_size: int, seed: int) -> GroupStats:
    """Split every cluster into random groups; sum each group's and each cluster's moments.

    A cluster of n_c samples gets groups of s_c = clip(n_c // 32, 1, group_size) samples
    (sizes differ by at most 1), so it has at least 32 groups, or one per sample when
    n_c < 64: few groups would make the bootstrap's spread noisy, and small clusters are
    cheap to resample row by row. One float64 pass over z in chunks of groups, shifted by
    one sample of each cluster (exact for constant columns, well conditioned otherwise).

    Args:
        z: (n, m) features (float32 is fine).
        labels: (n,) integer labels 0..C-1 (C = max + 1; an unused label has no group).
        group_size: the largest group, >= 1 (1: every sample is a group).
        seed: seed of the random split.

    Returns:
        The groups' statistics.

    Raises:
        ConfigError: group_size < 1.
        DataError: bad shapes, NaN/inf, or negative or non-integer labels.
    """
    if group_size < 1:
        raise ConfigError(f"group_size must be >= 1, got {group_size}")
    data = check_rows(z, what="features")
    return checked_group_stats(data, check_labels(labels, data.shape[0]), group_size, seed)


def checked_group_stats(
    data: np.ndarray, lab: np.ndarray, group_size: int, seed: int
) -> GroupStats:
    """`group_stats` on rows from `check_rows` and int64 labels from `check_labels`."""
    k = int(lab.max()) + 1
    lay = _layout(lab, k, group_size, seed)
    moments, totals = _shifted_moments(data, lay, k)
    counts = np.bincount(lab, minlength=k)
    origins = np.where(counts[:, None] > 0, data[lay.origin].astype(np.float64), 0.0)
    shift, size = totals[:, 0], np.maximum(counts, 1)[:, None]
    scatter = np.maximum(totals[:, 1] - shift * shift / size, 0.0)
    variances = scatter / np.maximum(counts - 1, 1)[:, None]
    stats = ClusterStats(counts / counts.sum(), counts, origins + shift / size, variances)
    return GroupStats(lay.cluster, np.diff(lay.start), moments, origins, lay.members, stats)


def _layout(lab: np.ndarray, k: int, group_size: int, seed: int) -> _Layout:
    """Random groups inside each cluster, dealt round-robin from a random order."""
    sizes = np.bincount(lab, minlength=k)
    ngroups = -(-sizes // np.clip(sizes // _MIN_GROUPS, 1, group_size))
    perm = np.random.default_rng(seed).permutation(lab.size)
    order = perm[np.argsort(lab[perm], kind="stable")]  # by cluster, random within
    own, first = lab[order], np.cumsum(sizes) - sizes
    rank = np.arange(lab.size) - first[own]
    group = (np.cumsum(ngroups) - ngroups)[own] + rank % ngroups[own]
    members = np.empty(lab.size, np.int64)
    members[order] = group
    start = np.concatenate([[0], np.cumsum(np.bincount(group, minlength=int(ngroups.sum())))])
    origin = order[np.minimum(first, lab.size - 1)]  # a member of each non-empty cluster
    cluster = np.repeat(np.arange(k), ngroups)
    return _Layout(order[np.argsort(group, kind="stable")], start, origin, cluster, members)


def _shifted_moments(data: np.ndarray, lay: _Layout, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Sums of z - o and (z - o)^2 per group (G, 2, m) float32 and per cluster (k, 2, m).

    Chunks of consecutive groups are gathered (whole rows) into a (groups, width) grid of
    slots; a slot beyond its group's size holds the origin row, which the shift zeroes.
    """
    g, m, counts = lay.cluster.size, data.shape[1], np.diff(lay.start)
    moments, totals = np.empty((g, 2, m), np.float32), np.zeros((k, 2, m))
    a, slots = 0, max(16, min(max(128, BLOCK // (4 * m)), 4 * BLOCK // m))  # <= 8 MiB
    while a < g:
        grid_size = np.maximum.accumulate(counts[a : a + slots]) * np.arange(1, slots + 1)[: g - a]
        b = a + max(1, int(np.searchsorted(grid_size, slots, "right")))
        cnt, width, rows = counts[a:b], int(counts[a:b].max()), np.arange(*lay.start[[a, b]])
        slot = np.repeat(np.arange(b - a) * width - lay.start[a:b], cnt) + rows
        source = np.repeat(lay.origin[lay.cluster[a:b]], width)
        source[slot] = lay.order[rows]
        grid = data[source].reshape(b - a, width, m).astype(np.float64)
        grid -= data[lay.origin[lay.cluster[a:b]]][:, None]
        chunk = np.stack([grid.sum(1), np.einsum("gsw,gsw->gw", grid, grid)], axis=1)
        moments[a:b] = chunk
        c0 = lay.cluster[a]
        totals[c0 : lay.cluster[b - 1] + 1] += _cluster_sums(chunk, lay.cluster[a:b] - c0)
        a = b
    return moments, totals


def _cluster_sums(a: np.ndarray, cluster: np.ndarray) -> np.ndarray:
    """Sums (C, ...) of the rows of a in each cluster 0..C-1 (rows sorted by cluster)."""
    bounds = np.searchsorted(cluster, np.arange(int(cluster[-1]) + 2))
    out = np.zeros((bounds.size - 1, *a.shape[1:]))
    for c in np.flatnonzero(bounds[1:] > bounds[:-1]):
        out[c] = a[bounds[c] : bounds[c + 1]].sum(0)
    return out
