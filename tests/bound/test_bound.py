"""The bound against the linear-Gaussian closed form (method.md §3) and its properties."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from privaudit.bound import (
    SIGMA_ZERO_WARNING,
    cluster_stats,
    entropy,
    estimate_bound,
    input_entropy_certified,
    input_entropy_from_user,
    input_entropy_gaussian,
    leakage_diagonal,
    leakage_full,
    mse_floor,
    noise_sweep,
)
from privaudit.errors import ConfigError, DataError
from privaudit.results import BoundResult

SIGMAS = [0.05, 0.1, 0.3, 1.0]
D, M, N = 64, 16, 4000


def _logdet(a: np.ndarray) -> float:
    sign, value = np.linalg.slogdet(a)
    assert sign > 0
    return float(value)


@dataclass(frozen=True)
class LinearGaussian:
    """x ~ N(mu, Sx) in R^64, clean features A x in R^16, samples of both."""

    sx: np.ndarray
    a: np.ndarray
    x: np.ndarray
    z: np.ndarray

    def true_leakage(self, sigma: float) -> float:
        return 0.5 * _logdet(np.eye(M) + self.a @ self.sx @ self.a.T / sigma**2)

    def posterior(self, sigma: float) -> np.ndarray:
        return np.linalg.inv(np.linalg.inv(self.sx) + self.a.T @ self.a / sigma**2)

    @property
    def h_x(self) -> float:
        return 0.5 * (D * math.log(2 * math.pi * math.e) + _logdet(self.sx)) / D


@pytest.fixture(scope="module")
def lg() -> LinearGaussian:
    rng = np.random.default_rng(0)
    basis, _ = np.linalg.qr(rng.standard_normal((D, D)))
    spectrum = 0.1 * 0.93 ** np.arange(D)  # decaying; pixel variances ~0.01-0.05
    sx = (basis * spectrum) @ basis.T
    a = rng.standard_normal((M, D)) / 2
    x = 0.5 + rng.multivariate_normal(np.zeros(D), sx, size=N)
    return LinearGaussian(sx, a, x, x @ a.T)


def _bound(
    lg: LinearGaussian, sigma: float, k: int = 5, covariance: str = "diagonal"
) -> BoundResult:
    return estimate_bound(
        lg.z,
        None,
        sigma,
        input_dim=D,
        input_entropy=lg.h_x,
        input_entropy_source="user",
        k=k,
        covariance=covariance,
    )


def test_fixture_is_pixel_like(lg: LinearGaussian) -> None:
    assert 0.01 < np.diag(lg.sx).mean() < 0.05


@pytest.mark.parametrize("sigma", SIGMAS)
@pytest.mark.parametrize("k", [1, 5])
def test_diagonal_bound_covers_true_leakage(lg: LinearGaussian, sigma: float, k: int) -> None:
    result = _bound(lg, sigma, k=k)
    interval, leak = result.leakage_interval, result.leakage_nats
    assert interval is not None and leak is not None
    assert lg.true_leakage(sigma) <= interval.high
    assert interval.low <= leak <= interval.high * 1.01


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_interval_covers_truth_when_the_estimate_is_biased(seed: int) -> None:
    # independent features (Hadamard is tight) and n ~ m: the log-det estimate is biased low
    # by O(m / n); a plain percentile interval then lies below the truth (coverage ~0.1)
    rng = np.random.default_rng(seed)
    v = rng.uniform(0.005, 0.05, 100)
    z = rng.standard_normal((50, 100)) * np.sqrt(v)
    r = estimate_bound(
        z, None, 0.02, input_dim=D, input_entropy=-1.0, input_entropy_source="user", k=1
    )
    assert r.leakage_interval is not None
    assert r.leakage_interval.low <= 0.5 * np.log1p(v / 0.02**2).sum() <= r.leakage_interval.high


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_grouped_bootstrap_interval_matches_the_per_row_one(seed: int) -> None:
    # independent Gaussian features: Hadamard is tight, so I(x;z) has a closed form
    rng = np.random.default_rng(seed)
    v = rng.uniform(0.005, 0.05, 32)
    z = rng.standard_normal((4000, 32)) * np.sqrt(v)
    kw: dict[str, Any] = {
        "input_dim": D,
        "input_entropy": -1.0,
        "input_entropy_source": "user",
        "bootstrap": 1000,
        "seed": seed,
    }
    grouped = estimate_bound(z, None, 0.05, **kw).leakage_interval  # clusters of ~800: 16 rows
    rows = estimate_bound(z, None, 0.05, group_size=1, **kw).leakage_interval
    assert grouped is not None and rows is not None
    assert grouped.high - grouped.low == pytest.approx(rows.high - rows.low, rel=0.25)
    assert grouped.low <= 0.5 * np.log1p(v / 0.05**2).sum() <= grouped.high


@pytest.mark.parametrize("sigma", SIGMAS)
def test_full_single_cluster_is_tight(lg: LinearGaussian, sigma: float) -> None:
    result = _bound(lg, sigma, k=1, covariance="full")
    assert result.clustering == "single" and not result.warnings
    assert result.leakage_nats == pytest.approx(lg.true_leakage(sigma), rel=0.03)
    assert result.floor_ratio == pytest.approx(math.exp(-2 * lg.true_leakage(sigma) / D), 0.01)


@pytest.mark.parametrize("sigma", SIGMAS)
@pytest.mark.parametrize("covariance", ["diagonal", "full"])
def test_floor_with_true_entropy_never_exceeds_mmse(
    lg: LinearGaussian, sigma: float, covariance: str
) -> None:
    result = _bound(lg, sigma, covariance=covariance)
    mmse = np.trace(lg.posterior(sigma)) / D
    assert result.paper_floor <= mmse
    assert result.paper_floor_interval is not None and result.paper_floor_interval.low <= mmse
    assert result.certified_mse_floor <= result.paper_floor  # certified h(x) is far lower


@pytest.mark.parametrize("sigma", SIGMAS)
def test_full_floor_matches_closed_form_floor(lg: LinearGaussian, sigma: float) -> None:
    result = _bound(lg, sigma, k=1, covariance="full")
    true_floor = math.exp(_logdet(lg.posterior(sigma)) / D)
    assert result.paper_floor == pytest.approx(true_floor, rel=0.03)
    h_post = 0.5 * (D * math.log(2 * math.pi * math.e) + _logdet(lg.posterior(sigma))) / D
    assert result.cond_entropy_per_dim == pytest.approx(h_post, abs=0.01)


def test_gaussian_input_entropy_matches_closed_form() -> None:
    rng = np.random.default_rng(1)
    d = 16
    basis, _ = np.linalg.qr(rng.standard_normal((d, d)))
    cov = (basis * (0.05 * 0.8 ** np.arange(d))) @ basis.T
    x = 0.5 + rng.multivariate_normal(np.zeros(d), cov, size=20000)
    delta = entropy.DEQUANTIZATION_VARIANCE
    expected = 0.5 * (d * math.log(2 * math.pi * math.e) + _logdet(cov + delta * np.eye(d))) / d
    assert input_entropy_gaussian(x) == pytest.approx(expected, abs=0.01)


@pytest.mark.parametrize("n", [30, 80])
def test_gaussian_entropy_gram_path_equals_direct_path(n: int) -> None:
    x = np.random.default_rng(2).random((n, 50))
    delta = entropy.DEQUANTIZATION_VARIANCE
    gram, direct = entropy._logdet_gram(x, delta), entropy._logdet_cov(x, delta)
    assert gram == pytest.approx(direct, rel=1e-9)
    naive = _logdet(np.cov(x, rowvar=False) + delta * np.eye(50))
    assert gram == pytest.approx(naive, rel=1e-9)
    expected = 0.5 * (math.log(2 * math.pi * math.e) + naive / 50)
    assert input_entropy_gaussian(x.reshape(n, 2, 25)) == pytest.approx(expected, rel=1e-9)


def test_entropy_units_and_certified_value() -> None:
    assert input_entropy_certified() == pytest.approx(-math.log(256))
    assert input_entropy_from_user(8.0, "bits") == 0.0
    assert input_entropy_from_user(5.0, "bits") == pytest.approx(-3 * math.log(2))
    assert input_entropy_from_user(-2.5, "nats") == -2.5
    with pytest.raises(ConfigError):
        input_entropy_from_user(1.0, "bytes")
    with pytest.raises(ConfigError):
        input_entropy_from_user(float("nan"), "nats")


def test_reported_quantities_are_consistent(lg: LinearGaussian) -> None:
    r = _bound(lg, 0.3)
    assert r.leakage_nats is not None and r.cond_entropy_per_dim is not None
    assert r.leakage_bits_per_dim == pytest.approx(r.leakage_nats / (D * math.log(2)))
    assert r.cond_entropy_per_dim == pytest.approx(lg.h_x - r.leakage_nats / D)
    assert r.paper_floor == pytest.approx(mse_floor(r.cond_entropy_per_dim))
    assert r.paper_floor == pytest.approx(mse_floor(lg.h_x) * r.floor_ratio)
    assert r.certified_mse_floor == pytest.approx(mse_floor(-math.log(256) - r.leakage_nats / D))
    assert r.leakage_nats == min(t.leakage_nats for t in r.terms)
    assert {t.clustering for t in r.terms} == {"single", "kmeans"}
    assert (r.input_dim, r.feature_dim, r.n_samples) == (D, M, N)


def test_leakage_primitives_agree_with_naive_formulas() -> None:
    rng = np.random.default_rng(3)
    z = rng.standard_normal((40, 12)) * np.linspace(0.1, 2, 12)
    labels = np.repeat([0, 1, 2], [5, 15, 20])  # cluster 0: n_c < m (Gram path)
    pi = np.bincount(labels) / 40
    entropy = -(pi * np.log(pi)).sum()
    full = entropy + sum(
        0.5 * pi[c] * _logdet(np.eye(12) + np.cov(z[labels == c], rowvar=False) / 0.25)
        for c in range(3)
    )
    diag = entropy + sum(
        0.5 * pi[c] * np.log1p(z[labels == c].var(0, ddof=1) / 0.25).sum() for c in range(3)
    )
    assert leakage_full(z, labels, 0.5) == pytest.approx(full, rel=1e-10)
    assert leakage_diagonal(cluster_stats(z, labels), 0.5) == pytest.approx(diag, rel=1e-10)
    with pytest.raises(ConfigError):
        leakage_diagonal(cluster_stats(z, labels), 0.0)


@pytest.mark.parametrize("covariance", ["diagonal", "full"])
@pytest.mark.parametrize("labelled", [False, True])
def test_sigma_zero_is_vacuous(covariance: str, labelled: bool) -> None:
    z = np.random.default_rng(0).random((30, 4))
    y = np.arange(30) % 3 if labelled else None
    r = estimate_bound(
        z,
        y,
        0.0,
        input_dim=8,
        input_entropy=-1.0,
        input_entropy_source="gaussian",
        covariance=covariance,
    )
    assert r.vacuous and r.leakage_nats is None and r.leakage_interval is None
    assert (r.mse_floor, r.paper_floor, r.floor_ratio, r.certified_mse_floor) == (0.0,) * 4
    assert r.cond_entropy_per_dim is None and r.terms == () and r.clustering is None
    assert r.warnings == (SIGMA_ZERO_WARNING,)


@pytest.mark.parametrize(
    ("z", "sigma", "options", "error"),
    [
        (np.ones((10, 3)), -0.1, {}, ConfigError),
        (np.ones((10, 3)), float("nan"), {}, ConfigError),
        (np.ones((10, 3)), float("inf"), {}, ConfigError),
        (np.ones((10, 3)), 0.1, {"covariance": "sparse"}, ConfigError),
        (np.ones((10, 3)), 0.1, {"input_entropy_source": "oracle"}, ConfigError),
        (np.ones((10, 3)), 0.1, {"k": 0}, ConfigError),
        (np.ones((10, 3)), 0.1, {"group_size": 0}, ConfigError),
        (np.ones((10, 3)), 0.1, {"y": np.zeros(4)}, DataError),
        (np.array([[1.0, np.nan]] * 5), 0.1, {}, DataError),
        (np.array([[1.0, np.inf]] * 5), 0.0, {}, DataError),
        (np.ones((1, 3)), 0.1, {}, DataError),
    ],
)
def test_bad_input_raises(z: np.ndarray, sigma: float, options: dict, error: type) -> None:
    kw = {"y": None, "input_dim": 4, "input_entropy": -1.0, "input_entropy_source": "user"}
    with pytest.raises(error):
        estimate_bound(z, noise_sigma=sigma, **(kw | options))


def test_an_outlier_cell_does_not_disqualify_the_kmeans_clustering() -> None:
    rng = np.random.default_rng(7)
    y = np.repeat([0, 1], 200)
    modes = rng.integers(0, 2, 400) * 6.0  # two modes per class: k-means halves each class
    z = (modes + 3.0 * y)[:, None] + 0.3 * rng.standard_normal((400, 8))
    z[:3] += 40.0  # 3 outliers of class 0: k = 3 gives them a cell of their own
    kw = {"input_dim": 8, "input_entropy": -1.0, "input_entropy_source": "user", "bootstrap": 0}
    r = estimate_bound(z, y, 0.5, k=3, **kw)
    terms = {t.clustering: t for t in r.terms}
    assert r.clustering == "class-kmeans" and r.warnings == ()
    assert terms["class-kmeans"].min_cluster_size >= 10
    assert terms["class-kmeans"].leakage_nats < terms["class"].leakage_nats


def test_interval_above_a_biased_point_estimate_warns() -> None:
    rng = np.random.default_rng(8)
    z = rng.standard_normal((40, 1000))  # 20 samples a class for 1000 unit-variance features
    y = np.repeat([0, 1], 20)
    kw = {"input_dim": 1000, "input_entropy": -1.0, "input_entropy_source": "user", "k": 1}
    r = estimate_bound(z, y, 0.3, **kw)
    truth = math.log(2) + 500 * math.log1p(1 / 0.09)  # eq. (L) with the true variances
    assert r.leakage_nats is not None and r.leakage_interval is not None
    assert r.leakage_nats < r.leakage_interval.low <= truth <= r.leakage_interval.high
    assert any("biased low" in w and "smallest 20 samples" in w for w in r.warnings)
    many = rng.standard_normal((4000, 10))  # plenty of samples: the point sits in its interval
    big = estimate_bound(many, np.repeat([0, 1], 2000), 0.3, **(kw | {"input_dim": 10}))
    assert big.leakage_interval is not None
    assert big.leakage_interval.low <= big.leakage_nats and big.warnings == ()


def test_small_clusters_warn() -> None:
    rng = np.random.default_rng(4)
    z = rng.standard_normal((43, 3))
    y = np.array([0] * 20 + [1] * 20 + [2] * 3)
    r = estimate_bound(
        z, y, 0.5, input_dim=4, input_entropy=-1.0, input_entropy_source="user", bootstrap=0
    )
    assert any(
        w.startswith("class clustering: 1 of 3 clusters have fewer than 10") for w in r.warnings
    )
    assert r.leakage_interval is None and r.paper_floor_interval is None
    quiet = estimate_bound(
        z,
        y,
        0.5,
        input_dim=4,
        input_entropy=-1.0,
        input_entropy_source="user",
        k=1,
        min_cluster_size=3,
    )
    assert quiet.warnings == ()


def test_full_covariance_with_few_samples_warns() -> None:
    z = np.random.default_rng(5).standard_normal((12, 30))
    r = estimate_bound(
        z,
        None,
        0.5,
        input_dim=30,
        input_entropy=-1.0,
        input_entropy_source="user",
        covariance="full",
        k=1,
    )
    assert any("not a valid bound" in w for w in r.warnings)


@pytest.mark.parametrize("labelled", [False, True])
@pytest.mark.parametrize("covariance", ["diagonal", "full"])
def test_noise_sweep_equals_separate_estimates(labelled: bool, covariance: str) -> None:
    rng = np.random.default_rng(6)
    z = rng.standard_normal((120, 6)) + rng.integers(0, 3, (120, 1))
    y = rng.integers(0, 2, 120) if labelled else None
    kw: dict[str, Any] = {
        "input_dim": 10,
        "input_entropy": -1.0,
        "input_entropy_source": "user",
        "covariance": covariance,
        "bootstrap": 30,
    }
    sweep = noise_sweep(z, y, [0.0, 0.1, 1.0, 10.0], **kw)
    for r in sweep:
        single = estimate_bound(z, y, r.noise_sigma, **kw)
        assert single.clustering == r.clustering and single.vacuous == r.vacuous
        if not r.vacuous:
            assert r.leakage_nats == pytest.approx(single.leakage_nats, rel=1e-12)
            assert r.leakage_interval is not None and single.leakage_interval is not None
            got, want = r.leakage_interval, single.leakage_interval
            assert (got.low, got.high) == pytest.approx((want.low, want.high), rel=1e-9)


def test_intervals_only_where_asked_and_unchanged_by_the_others() -> None:
    rng = np.random.default_rng(7)
    z = rng.standard_normal((150, 5)) + rng.integers(0, 3, (150, 1))
    y = rng.integers(0, 3, 150)
    kw: dict[str, Any] = {
        "input_dim": 10,
        "input_entropy": -1.0,
        "input_entropy_source": "user",
        "bootstrap": 30,
    }
    sweep = noise_sweep(z, y, [0.1, 0.0, 1.0, 10.0], interval_at=[0.1], **kw)
    alone = estimate_bound(z, y, 0.1, **kw)
    assert sweep[0].leakage_interval == alone.leakage_interval is not None
    assert sweep[0].paper_floor_interval == alone.paper_floor_interval
    points = noise_sweep(z, y, [1.0, 10.0], **{**kw, "bootstrap": 0})
    for got, want in zip(sweep[2:], points, strict=True):
        assert got.leakage_interval is None and got.paper_floor_interval is None
        assert got.leakage_nats == want.leakage_nats and got.clustering == want.clustering


# --- properties ---------------------------------------------------------------------------

features = st.builds(
    lambda seed, n, m, scale, dup: _features(seed, n, m, scale, dup),
    st.integers(0, 2**16),
    st.integers(2, 60),
    st.integers(1, 12),
    st.floats(1e-3, 1e3),
    st.booleans(),
)


def _features(seed: int, n: int, m: int, scale: float, dup: bool) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n, m)) * scale * rng.random(m) + rng.integers(0, 3, (n, 1))
    if dup:  # repeated rows and a constant column: degenerate clusters and variances
        z[: n // 2] = z[0]
        z[:, 0] = 1.0
    return z, rng.integers(0, 3, n)


def _kw(covariance: str = "diagonal") -> dict[str, Any]:
    return {
        "input_dim": 20,
        "input_entropy": -1.0,
        "input_entropy_source": "user",
        "covariance": covariance,
        "bootstrap": 0,
        "k": 3,
    }


@settings(max_examples=25, deadline=None)
@given(features, st.lists(st.floats(1e-3, 1e3), min_size=2, max_size=5), st.booleans())
def test_more_noise_never_lowers_the_floor(
    data: tuple[np.ndarray, np.ndarray], sigmas: list[float], labelled: bool
) -> None:
    z, y = data
    results = noise_sweep(z, y if labelled else None, sorted(sigmas), **_kw())
    for lo, hi in zip(results, results[1:], strict=False):
        assert lo.leakage_nats is not None and hi.leakage_nats is not None
        assert hi.leakage_nats <= lo.leakage_nats + 1e-12 * max(1.0, lo.leakage_nats)
        assert hi.paper_floor >= lo.paper_floor * (1 - 1e-12)


@settings(max_examples=25, deadline=None)
@given(features, st.floats(1e-4, 1e4), st.booleans(), st.sampled_from(["diagonal", "full"]))
def test_leakage_is_never_negative(
    data: tuple[np.ndarray, np.ndarray], sigma: float, labelled: bool, covariance: str
) -> None:
    z, y = data
    r = estimate_bound(z, y if labelled else None, sigma, **_kw(covariance))
    assert r.leakage_nats is not None and r.leakage_nats >= 0
    assert all(t.leakage_nats >= 0 for t in r.terms)
    assert 0 < r.floor_ratio <= 1


@settings(max_examples=25, deadline=None)
@given(features, st.floats(1e-3, 1e3), st.booleans(), st.integers(0, 2**16))
def test_permuting_feature_dimensions_changes_nothing(
    data: tuple[np.ndarray, np.ndarray], sigma: float, labelled: bool, perm_seed: int
) -> None:
    z, y = data
    perm = np.random.default_rng(perm_seed).permutation(z.shape[1])
    for covariance in ("diagonal", "full"):
        a = estimate_bound(z, y if labelled else None, sigma, **_kw(covariance))
        b = estimate_bound(z[:, perm], y if labelled else None, sigma, **_kw(covariance))
        assert b.leakage_nats == pytest.approx(a.leakage_nats, rel=1e-9, abs=1e-12)
        assert b.clustering == a.clustering
