"""k-means, cluster labels and (bootstrap-weighted) cluster moments against naive numpy."""

from __future__ import annotations

import numpy as np
import pytest

from privaudit.bound.clustering import absorb_small_cells, cluster_labels, kmeans
from privaudit.bound.moments import check_rows, cluster_stats, group_stats, merge_stats
from privaudit.bound.resample import (
    cluster_spectra,
    replicate_logdets,
    replicate_totals,
    resample_counts,
    resample_groups,
)
from privaudit.errors import ConfigError, DataError


def _blobs(n_per: int = 100, m: int = 5, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centers = np.array([[0.0] * m, [20.0] * m, [0.0, 20.0] + [-20.0] * (m - 2)])
    truth = np.repeat(np.arange(3), n_per)
    return centers[truth] + rng.standard_normal((3 * n_per, m)), truth


def _is_contiguous(labels: np.ndarray) -> bool:
    return set(np.unique(labels).tolist()) == set(range(int(labels.max()) + 1))


def test_kmeans_recovers_separated_blobs() -> None:
    z, truth = _blobs()
    labels = kmeans(z.astype(np.float32), 3, seed=1)
    table = np.zeros((3, 3), dtype=int)
    np.add.at(table, (labels, truth), 1)
    assert sorted(table.max(1).tolist()) == [100, 100, 100]  # one pure cluster per blob


def test_kmeans_is_deterministic() -> None:
    z, _ = _blobs(n_per=50, m=8, seed=3)
    z += np.random.default_rng(4).standard_normal(z.shape) * 8  # overlapping: init matters
    a, b = kmeans(z, 6, seed=7), kmeans(z, 6, seed=7)
    np.testing.assert_array_equal(a, b)
    assert _is_contiguous(a)


@pytest.mark.parametrize("k", [5, 6, 50])
def test_kmeans_k_at_least_n_gives_each_distinct_row_a_cluster(k: int) -> None:
    z = np.array([[0.0, 1.0], [2.0, 3.0], [0.0, 1.0], [5.0, 5.0], [7.0, 1.0]])
    labels = kmeans(z, k, seed=0)
    assert labels[0] == labels[2]
    assert len(set(labels.tolist())) == 4 and _is_contiguous(labels)


def test_kmeans_with_only_duplicate_points() -> None:
    z = np.ones((20, 3))
    np.testing.assert_array_equal(kmeans(z, 3, seed=0), np.zeros(20))
    two = np.repeat(np.array([[0.0, 0.0], [1.0, 1.0]]), 10, axis=0)
    labels = kmeans(two, 4, seed=0)
    assert len(set(labels.tolist())) == 2 and labels[0] != labels[-1]


def test_kmeans_rejects_bad_arguments() -> None:
    with pytest.raises(ConfigError):
        kmeans(np.zeros((4, 2)), 0, seed=0)
    with pytest.raises(DataError):
        kmeans(np.array([[0.0, np.nan], [1.0, 1.0]]), 1, seed=0)


def test_cluster_stats_match_naive_numpy() -> None:
    rng = np.random.default_rng(0)
    z = (rng.standard_normal((200, 7)) * 3 + 0.5).astype(np.float32)
    labels = rng.integers(0, 4, 200)
    labels[17] = 4  # a singleton cluster: variance 0, not NaN
    stats = cluster_stats(z, labels)
    for c in range(5):
        rows = z[labels == c].astype(np.float64)
        assert stats.counts[c] == len(rows)
        assert stats.weights[c] == pytest.approx(len(rows) / 200)
        np.testing.assert_allclose(stats.means[c], rows.mean(0), rtol=1e-12)
        expected = rows.var(0, ddof=1) if len(rows) > 1 else np.zeros(7)
        np.testing.assert_allclose(stats.variances[c], expected, rtol=1e-10, atol=1e-14)


def test_merge_stats_equals_direct_stats_of_coarse_clusters() -> None:
    rng = np.random.default_rng(1)
    z = rng.standard_normal((300, 6)) + rng.integers(0, 3, (300, 1)) * 4.0
    fine = rng.integers(0, 12, 300)
    parent = np.arange(12) % 5
    merged, direct = merge_stats(cluster_stats(z, fine), parent), cluster_stats(z, parent[fine])
    np.testing.assert_array_equal(merged.counts, direct.counts)
    np.testing.assert_allclose(merged.means, direct.means, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(merged.variances, direct.variances, rtol=1e-10)


def test_cluster_labels_schemes() -> None:
    z, truth = _blobs(n_per=40)
    y = np.array(["cat", "dog", "emu"])[truth]
    assert (cluster_labels(z, y, scheme="single", k=3, seed=0) == 0).all()
    np.testing.assert_array_equal(cluster_labels(z, y, scheme="class", k=3, seed=0), truth)
    nested = cluster_labels(z, y, scheme="class-kmeans", k=4, seed=0)
    assert _is_contiguous(nested) and nested.max() + 1 == 12
    for c in range(12):  # every k-means cell lies inside one class
        assert len(set(truth[nested == c].tolist())) == 1
    assert cluster_labels(z, None, scheme="kmeans", k=3, seed=0).max() == 2


def test_small_cells_join_the_nearest_cell_of_their_parent() -> None:
    rng = np.random.default_rng(0)
    # parent 0: cells 0 (30 rows at 0), 1 (30 at 10), 2 (3 rows at 9: nearest to cell 1);
    # parent 1: cells 3 (30 at 0, the nearer in space but another parent), 4 (40 at -20)
    at = np.array([0.0, 10.0, 9.0, 0.0, -20.0])
    labels = np.repeat(np.arange(5), [30, 30, 3, 30, 40])
    z = at[labels][:, None] + 0.1 * rng.standard_normal((labels.size, 2))
    out = absorb_small_cells(z, labels, np.array([0, 0, 0, 1, 1]), min_size=10)
    np.testing.assert_array_equal(out, np.repeat([0, 1, 1, 2, 3], [30, 30, 3, 30, 40]))
    assert absorb_small_cells(z, labels, np.array([0, 0, 0, 1, 1]), 3) is labels  # none small


def test_small_cells_of_a_small_parent_end_as_one_cell() -> None:
    z = np.arange(24, dtype=np.float64).reshape(12, 2)
    labels = np.repeat(np.arange(4), [2, 3, 3, 4])  # the parents hold 5 and 7 rows, < 8
    out = absorb_small_cells(z, labels, np.array([0, 0, 1, 1]), min_size=8)
    np.testing.assert_array_equal(out, np.repeat([0, 1], [5, 7]))
    np.testing.assert_array_equal(np.bincount(out), [5, 7])


@pytest.mark.parametrize(
    ("scheme", "y", "error"),
    [("class", None, ConfigError), ("gmm", None, ConfigError), ("class", np.zeros(3), DataError)],
)
def test_cluster_labels_errors(scheme: str, y: np.ndarray | None, error: type) -> None:
    with pytest.raises(error):
        cluster_labels(np.zeros((5, 2)), y, scheme=scheme, k=2, seed=0)


def test_resample_counts_are_seeded_multiplicities() -> None:
    counts = resample_counts(50, 7, seed=3)
    assert counts.shape == (7, 50) and (counts.sum(1) == 50).all()
    np.testing.assert_array_equal(counts, resample_counts(50, 7, seed=3))


def test_replicate_moments_equal_materialised_resamples() -> None:
    rng = np.random.default_rng(2)
    z = (rng.standard_normal((60, 5)) * 2 + 1).astype(np.float32)
    labels = rng.integers(0, 3, 60)
    counts = resample_counts(60, 4, seed=9)
    totals = replicate_totals(labels, counts)
    spectra = cluster_spectra(z, labels, counts)
    for b in range(4):
        idx = np.repeat(np.arange(60), counts[b].astype(int))
        rows, lab = z[idx].astype(np.float64), labels[idx]
        for c in range(3):
            assert totals[b, c] == (lab == c).sum()
            eig = np.linalg.eigvalsh(np.cov(rows[lab == c], rowvar=False))
            np.testing.assert_allclose(np.sort(spectra[b, c]), eig, rtol=1e-8, atol=1e-12)


def _labels_with_sizes(sizes: list[int], seed: int) -> np.ndarray:
    return np.random.default_rng(seed).permutation(np.repeat(np.arange(len(sizes)), sizes))


def test_group_stats_split_clusters_into_random_groups() -> None:
    labels = _labels_with_sizes([600, 130, 40, 9, 1], seed=0)
    z = np.random.default_rng(1).standard_normal((labels.size, 4)) * 3 + 7
    groups = group_stats(z, labels, group_size=16, seed=2)
    assert (np.diff(groups.cluster) >= 0).all() and groups.moments.dtype == np.float32
    np.testing.assert_array_equal(groups.counts, np.bincount(groups.members))
    np.testing.assert_array_equal(groups.cluster[groups.members], labels)  # nested in clusters
    for c, (n_c, size) in enumerate([(600, 16), (130, 4), (40, 1), (9, 1), (1, 1)]):
        own = groups.counts[groups.cluster == c]
        assert own.sum() == n_c and own.size == -(-n_c // size) and own.max() == size
        assert own.min() >= size - 1
        assert (z[labels == c] == groups.origins[c]).all(1).any()  # the origin is a member
    for g in range(groups.counts.size):  # moments of the group's own rows about the origin
        rows = z[groups.members == g] - groups.origins[groups.cluster[g]]
        np.testing.assert_allclose(groups.moments[g, 0], rows.sum(0), rtol=1e-6, atol=1e-5)
        np.testing.assert_allclose(groups.moments[g, 1], (rows**2).sum(0), rtol=1e-6)
    direct = cluster_stats(z, labels)
    np.testing.assert_allclose(groups.stats.means, direct.means, rtol=1e-12)
    np.testing.assert_allclose(groups.stats.variances, direct.variances, rtol=1e-10)
    again = group_stats(z, labels, group_size=16, seed=2)
    np.testing.assert_array_equal(groups.members, again.members)
    assert not np.array_equal(groups.members, group_stats(z, labels, group_size=16, seed=3).members)


@pytest.mark.parametrize("group_size", [1, 3])
@pytest.mark.parametrize("coarse", [False, True])
def test_grouped_replicates_equal_materialised_group_resamples(
    group_size: int, coarse: bool
) -> None:
    rng = np.random.default_rng(2)
    z = (rng.standard_normal((300, 5)) * 2 + rng.integers(0, 3, (300, 1)) * 3).astype(np.float32)
    fine = _labels_with_sizes([120, 70, 30, 80], seed=4)
    parent = np.array([1, 0, 1, 0]) if coarse else None  # coarse clusters interleave
    labels = fine if parent is None else parent[fine]
    groups = group_stats(z, fine, group_size=group_size, seed=4)
    weights = resample_groups(groups, 5, seed=9, parent=parent)
    for c in np.unique(labels):  # each cluster redraws exactly its own number of groups
        own = np.unique(groups.members[labels == c])
        assert (weights[:, own].sum(1) == own.size).all()
    np.testing.assert_array_equal(weights, resample_groups(groups, 5, seed=9, parent=parent))
    sigmas = [0.5, 2.0]
    logdets, _ = replicate_logdets(groups, weights, sigmas, parent=parent)
    assert logdets.shape == (2, 5, labels.max() + 1)
    for b in range(5):
        idx = np.repeat(np.arange(300), weights[b, groups.members].astype(int))
        rows, lab = z[idx].astype(np.float64), labels[idx]
        for c in np.unique(labels):
            var = rows[lab == c].var(0, ddof=1)
            expected = [np.log1p(var / s**2).sum() for s in sigmas]
            np.testing.assert_allclose(logdets[:, b, c], expected, rtol=1e-5)  # float32


def test_replicate_targets_are_the_replicates_mean() -> None:
    rng = np.random.default_rng(6)
    z = rng.standard_normal((960, 3)) * [1.0, 2.0, 0.5] + 5.0
    labels = _labels_with_sizes([640, 320], seed=7)  # groups of exactly 10
    single = group_stats(z, labels, group_size=1, seed=0)
    _, plugin = replicate_logdets(single, np.ones((1, 960)), [0.5])
    for c in range(2):  # groups of one sample: the plug-in (ddof = 0) variance
        expected = np.log1p(z[labels == c].var(0) / 0.25).sum()
        np.testing.assert_allclose(plugin[0, c], expected, rtol=1e-6)
    groups = group_stats(z, labels, group_size=10, seed=0)
    weights = resample_groups(groups, 20000, seed=1)
    _, target = replicate_logdets(groups, weights[:1], [0.5])
    for c in range(2):
        own, n_c = groups.members[labels == c], (labels == c).sum()
        sums = np.stack([z[groups.members == g].sum(0) for g in np.unique(own)])
        squares = np.stack([(z[groups.members == g] ** 2).sum(0) for g in np.unique(own)])
        w = weights[:, np.unique(own)]
        s1, s2 = w @ sums, w @ squares
        mean = ((s2 - s1**2 / n_c) / (n_c - 1)).mean(0)  # Monte Carlo mean of the replicates
        np.testing.assert_allclose(target[0, c], np.log1p(mean / 0.25).sum(), rtol=1e-3)


def test_group_stats_rejects_bad_group_size() -> None:
    with pytest.raises(ConfigError):
        group_stats(np.zeros((4, 2)), np.zeros(4, dtype=int), group_size=0, seed=0)


def test_kmeans_fitted_on_a_subsample_labels_every_row_by_its_nearest_centre() -> None:
    z, truth = _blobs(n_per=300, m=6, seed=8)
    labels = kmeans(z, 3, seed=1, fit_rows=60)
    table = np.zeros((3, 3), dtype=int)
    np.add.at(table, (labels, truth), 1)
    assert sorted(table.max(1).tolist()) == [300, 300, 300]
    centers = np.stack([z[labels == c].mean(0) for c in range(3)])
    np.testing.assert_array_equal(labels, ((z[:, None] - centers) ** 2).sum(-1).argmin(1))
    np.testing.assert_array_equal(labels, kmeans(z, 3, seed=1, fit_rows=60))
    np.testing.assert_array_equal(kmeans(z, 3, seed=1, fit_rows=900), kmeans(z, 3, seed=1))
    with pytest.raises(ConfigError):
        kmeans(z, 3, seed=1, fit_rows=0)


@pytest.mark.parametrize("n_per", [3, 40])  # Gram path (n_c < m) and covariance path
def test_cluster_spectra_match_covariance_eigenvalues(n_per: int) -> None:
    rng = np.random.default_rng(5)
    z = rng.standard_normal((2 * n_per, 10))
    labels = np.repeat([0, 1], n_per)
    spectra = cluster_spectra(z, labels)
    assert spectra.shape == (1, 2, min(n_per, 10))
    for c in range(2):
        eig = np.linalg.eigvalsh(np.cov(z[labels == c], rowvar=False))
        np.testing.assert_allclose(np.sort(spectra[0, c]), eig[-spectra.shape[2] :], atol=1e-12)


def test_check_rows_flattens_and_rejects_bad_input() -> None:
    assert check_rows(np.zeros((4, 2, 3), dtype=np.float32), what="features").shape == (4, 6)
    assert check_rows(np.zeros((4, 2), dtype=np.uint8), what="features").dtype == np.float64
    with pytest.raises(DataError):
        check_rows(np.zeros(4), what="features")
    with pytest.raises(DataError):
        check_rows(np.array([[np.inf]]), what="features")


def test_prechecked_paths_match_the_public_ones() -> None:
    from privaudit.bound.moments import check_labels, checked_group_stats

    z, truth = _blobs(60, 4)
    data = check_rows(z.astype(np.float32), what="features")
    for scheme in ("kmeans", "class-kmeans"):
        a = cluster_labels(z.astype(np.float32), truth, scheme=scheme, k=3, seed=1)
        b = cluster_labels(data, truth, scheme=scheme, k=3, seed=1, checked=True)
        np.testing.assert_array_equal(a, b)
    lab = check_labels(a, data.shape[0])
    g1 = group_stats(data, lab, group_size=4, seed=2)
    g2 = checked_group_stats(data, lab, 4, 2)
    np.testing.assert_array_equal(g1.moments, g2.moments)
    np.testing.assert_array_equal(g1.stats.variances, g2.stats.variances)
