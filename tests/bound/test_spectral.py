"""The conditional spectral floor (S) on given spectra (docs/method.md §3b), against truth.

The block DP against brute force, the Gram path against the explicit covariance, the
properties of (S), the linear-Gaussian closed form, and Gaussian mixtures through a linear
encoder whose posterior-mean MMSE is known by Monte Carlo (`tests/support/gauss_mix.py`).
"""

from __future__ import annotations

import itertools
import math
import time
import tracemalloc

import gauss_mix as gm
import numpy as np
import pytest
import spectral_reference as sp
from hypothesis import given, settings
from hypothesis import strategies as st

pytestmark = pytest.mark.filterwarnings("error::RuntimeWarning")

FAST = settings(max_examples=60, deadline=None)


# ---------------------------------------------------------------- references


def term(block: np.ndarray, info: float) -> float:
    """|G| GM(lambda_G) exp(-2 I / |G|), straight from the definition."""
    g = block.size
    return g * math.exp(float(np.log(block).mean()) - 2.0 * info / g)


def compositions(r: int):
    """Every partition of 0..r-1 into contiguous blocks, as lists of (start, stop)."""
    for cuts in itertools.product((False, True), repeat=r - 1):
        edges = [0] + [i + 1 for i, c in enumerate(cuts) if c] + [r]
        yield list(itertools.pairwise(edges))


def brute_force(eigs: np.ndarray, info: float, explicit_drops: bool = False) -> float:
    """max over all 2^(r-1) contiguous partitions (and every keep/drop choice) / d."""
    lam = np.sort(eigs)[::-1]
    best = 0.0
    for blocks in compositions(lam.size):
        terms = [term(lam[a:b], info) for a, b in blocks]
        if explicit_drops:
            for keep in itertools.product((False, True), repeat=len(terms)):
                best = max(best, sum(t for t, k in zip(terms, keep, strict=True) if k))
        else:
            best = max(best, sum(max(t, 0.0) for t in terms))
    return best / lam.size


def dense_exact(values: np.ndarray, info: float) -> float:
    """Exact DP over every boundary of an explicit (dense) spectrum: no run merging."""
    lam = np.sort(np.asarray(values, dtype=np.float64))[::-1]
    pos = np.arange(lam.size + 1)
    logp = np.concatenate([[0.0], np.cumsum(np.log(lam))])
    best, _ = sp.block_dp(pos, logp, 2.0 * info)
    return float(best[-1]) / lam.size


log_eigs = st.lists(st.floats(-14.0, 1.0), min_size=1, max_size=10)
infos = st.one_of(st.just(0.0), st.floats(0.0, 60.0))


# ---------------------------------------------------------------- the block DP


@FAST
@given(log_eigs, infos)
def test_dp_equals_brute_force(logs: list[float], info: float) -> None:
    eigs = np.exp(np.array(logs))
    got = sp.block_floor(eigs, info)
    assert got == pytest.approx(brute_force(eigs, info), rel=1e-10, abs=1e-300)


@settings(max_examples=15, deadline=None)
@given(st.lists(st.floats(-10.0, 0.0), min_size=1, max_size=7), infos)
def test_dropping_blocks_never_helps(logs: list[float], info: float) -> None:
    eigs = np.exp(np.array(logs))
    with_drops = brute_force(eigs, info, explicit_drops=True)
    assert sp.block_floor(eigs, info) == pytest.approx(with_drops, rel=1e-10, abs=1e-300)


@FAST
@given(
    st.lists(st.floats(0.0, 8.0), min_size=0, max_size=5),
    st.integers(1, 5),
    st.floats(-12.0, -2.0),
    infos,
)
def test_trailing_run_is_exact(logs_above: list[float], run: int, log_v: float, info: float):
    """Compact (top + run of equal values) equals brute force on the dense spectrum."""
    v = math.exp(log_v)
    top = v * np.exp(np.array(logs_above))
    spectrum = sp.Spectrum.from_eigenvalues(top, d=top.size + run, tail=v)
    dense = np.concatenate([top, np.full(run, v)])
    assert spectrum.dim == dense.size
    got = sp.best_partition(spectrum, info)
    assert got.exact
    assert got.value == pytest.approx(brute_force(dense, info), rel=1e-10, abs=1e-300)


@pytest.mark.parametrize("info", [0.0, 0.3, 5.0, 40.0, 400.0, 4000.0])
def test_runs_never_need_inner_boundaries(info: float) -> None:
    """Runs inside and at the end of the spectrum: compact DP == DP over every boundary."""
    rng = np.random.default_rng(int(info))
    top = np.sort(rng.lognormal(-6.0, 2.0, 30))[::-1] + sp.DELTA
    values = np.concatenate([top[:10], [top[10]], top[11:], [top[-1] / 3], [sp.DELTA]])
    counts = np.concatenate([np.ones(10), [25], np.ones(19), [40], [600]]).astype(np.int64)
    spectrum = sp.Spectrum.from_runs(values, counts)
    assert spectrum.values.size == 10 + 1 + 19 + 1 + 1
    assert sp.block_floor(spectrum, info) == pytest.approx(
        dense_exact(spectrum.dense(), info), rel=1e-10
    )


def test_info_zero_gives_mean_eigenvalue() -> None:
    rng = np.random.default_rng(0)
    for r in (1, 5, 300):
        eigs = rng.lognormal(-5.0, 2.0, r)
        assert sp.block_floor(eigs, 0.0) == pytest.approx(eigs.mean(), rel=1e-12)
    spectrum = sp.Spectrum.from_eigenvalues(rng.random(49) + sp.DELTA, d=150528, tail=sp.DELTA)
    assert sp.block_floor(spectrum, 0.0) == pytest.approx(spectrum.trace / spectrum.dim, rel=1e-12)


@pytest.mark.parametrize("info", [1e6, 1e300, 1e308, np.float64(1e308), math.inf])
def test_huge_info_gives_zero_without_warnings(info: float) -> None:
    eigs = np.array([1e-300, 1e-5, 1.0, 1e6])
    part = sp.best_partition(sp.Spectrum.from_eigenvalues(eigs), info)
    assert part.value == 0.0 and part.single_block == 0.0
    gram_like = sp.Spectrum.from_eigenvalues(np.linspace(1.0, 2.0, 49), d=150528, tail=sp.DELTA)
    value = sp.block_floor(gram_like, info)
    assert math.isfinite(value) and 0.0 <= value < 1e-10  # I/d >= 6.6 nats
    if info >= 1e300:
        assert value == 0.0


def test_zero_eigenvalues_are_a_dropped_block() -> None:
    eigs = np.array([2.0, 1.0, 0.5])
    for info in (0.0, 1.0, 30.0):
        padded = sp.block_floor(np.append(eigs, [0.0, 0.0]), info)
        assert padded == pytest.approx(sp.block_floor(eigs, info) * 3 / 5, rel=1e-12)
    assert sp.single_block_floor(sp.Spectrum.from_eigenvalues([1.0, 0.0]), 0.0) == 0.0


@FAST
@given(log_eigs, infos)
def test_blocks_reproduce_the_value(logs: list[float], info: float) -> None:
    eigs = np.sort(np.exp(np.array(logs)))[::-1]
    part = sp.best_partition(sp.Spectrum.from_eigenvalues(eigs), info)
    assert part.blocks[0][0] == 0 and part.blocks[-1][1] == eigs.size
    assert all(b[1] == c[0] for b, c in itertools.pairwise(part.blocks))
    total = sum(term(eigs[a:b], info) for a, b in part.blocks) / eigs.size
    assert total == pytest.approx(part.value, rel=1e-10, abs=1e-300)


@FAST
@given(st.lists(st.floats(-14.0, 1.0), min_size=1, max_size=60), infos)
def test_s_at_least_t(logs: list[float], info: float) -> None:
    part = sp.best_partition(sp.Spectrum.from_eigenvalues(np.exp(np.array(logs))), info)
    assert part.value >= part.single_block * (1 - 1e-12)


@pytest.mark.parametrize("info", [0.0, 10.0, 300.0, 3000.0, 30000.0])
def test_grid_is_a_lower_floor_and_close(info: float) -> None:
    rng = np.random.default_rng(3)
    eigs = np.arange(1, 3001) ** -1.5 * rng.lognormal(0, 0.3, 3000) + sp.DELTA
    spectrum = sp.Spectrum.from_eigenvalues(eigs)
    exact = sp.best_partition(spectrum, info, exact_max=4000)
    grid = sp.best_partition(spectrum, info)
    coarse = sp.best_partition(spectrum, info, grid_points=30)
    assert exact.exact and not grid.exact and not coarse.exact
    assert grid.value <= exact.value * (1 + 1e-12)
    assert coarse.value <= exact.value * (1 + 1e-12)
    assert grid.value >= 0.99 * exact.value
    assert grid.value >= grid.single_block * (1 - 1e-12)


def test_spectrum_validation() -> None:
    with pytest.raises(ValueError):
        sp.block_floor([1.0, -0.5], 1.0)
    with pytest.raises(ValueError):
        sp.block_floor([1.0, np.nan], 1.0)
    with pytest.raises(ValueError):
        sp.block_floor([1.0], -1.0)
    with pytest.raises(ValueError):
        sp.block_floor([1.0], math.nan)
    with pytest.raises(ValueError):
        sp.block_floor([1.0, 2.0], 1.0, d=1)
    with pytest.raises(ValueError):
        sp.Spectrum(np.array([1.0, 2.0]), np.array([1, 1]))  # not non-increasing
    assert sp.block_floor([1.0, -1e-18], 0.0) == pytest.approx(0.5)  # numerical zero


# ---------------------------------------------------------------- spectra from data


def test_gram_path_equals_explicit_covariance() -> None:
    rng = np.random.default_rng(1)
    d, n = 200, 30
    x = rng.random((n, d)) @ np.diag(np.linspace(0.1, 1.0, d))
    spectrum = sp.cluster_spectrum(x)
    explicit = np.linalg.eigvalsh(np.cov(x, rowvar=False) + sp.DELTA * np.eye(d))[::-1]
    assert spectrum.dim == d and spectrum.values.size == n  # n - 1 singles + the delta run
    assert spectrum.counts[-1] == d - (n - 1)
    np.testing.assert_allclose(spectrum.dense(), explicit, rtol=1e-9, atol=1e-15)
    for info in (0.0, 2.0, 50.0, 500.0):
        assert sp.block_floor(spectrum, info) == pytest.approx(
            dense_exact(explicit, info), rel=1e-8
        )


def test_gram_bootstrap_without_touching_d() -> None:
    rng = np.random.default_rng(11)
    x = 0.5 + 0.1 * rng.standard_normal((25, 3000)).astype(np.float32)
    gram = sp.centred_gram(x)
    np.testing.assert_allclose(
        sp.gram_spectrum(gram, 3000, sp.DELTA).dense(), sp.cluster_spectrum(x).dense(), rtol=1e-9
    )
    for _ in range(3):
        idx = rng.integers(0, 25, 25)  # duplicates: rank drops, extra eigenvalues are delta
        boot = sp.gram_spectrum(gram, 3000, sp.DELTA, indices=idx)
        direct = sp.cluster_spectrum(x[idx])
        assert boot.dim == direct.dim == 3000
        np.testing.assert_allclose(boot.dense(), direct.dense(), rtol=1e-7, atol=1e-12)


def test_covariance_path_when_more_samples_than_dims() -> None:
    rng = np.random.default_rng(2)
    x = rng.standard_normal((300, 20)) * np.linspace(0.01, 0.3, 20)
    spectrum = sp.cluster_spectrum(x)
    explicit = np.linalg.eigvalsh(np.cov(x, rowvar=False) + sp.DELTA * np.eye(20))[::-1]
    np.testing.assert_allclose(spectrum.dense(), explicit, rtol=1e-10)


@pytest.mark.parametrize(("n", "d"), [(40, 60), (200, 20), (21, 20)])
def test_rotation_changes_nothing(n: int, d: int) -> None:
    rng = np.random.default_rng(n + d)
    x = 0.5 + rng.standard_normal((n, d)) * np.geomspace(0.3, 0.003, d)
    q = gm.orthogonal(rng, d)
    a, b = sp.cluster_spectrum(x), sp.cluster_spectrum(x @ q)
    assert a.dim == b.dim == d
    np.testing.assert_allclose(a.dense(), b.dense(), rtol=1e-8, atol=1e-14)
    for info in (0.5, 20.0, 200.0):
        assert sp.block_floor(a, info) == pytest.approx(sp.block_floor(b, info), rel=1e-8)


def test_floor_never_decreases_as_sigma_grows() -> None:
    rng = np.random.default_rng(4)
    cfg = gm.Config("mono", d=40, m=24, k=3, spread=0.2, within=0.05, alpha=2.0, sigma=0.1)
    mix = gm.make_mixture(cfg, rng)
    comp = np.repeat(np.arange(3), [30, 60, 90])
    x = gm.sample(mix, comp, rng)
    _, _, var = sp.feature_variances(x @ gm.encoder(cfg, rng).T * 5, comp)
    spectra = sp.cluster_spectra(x, comp)
    sigmas = np.geomspace(1e-3, 3.0, 20)
    info = np.array([sp.diagonal_info(var, s) for s in sigmas])
    assert np.all(np.diff(info, axis=0) <= 0)
    for kwargs in ({}, {"exact_max": 5, "grid_points": 8}):  # exact and grid DP
        floors = [sp.floor_from_spectra(spectra, i, **kwargs).floor for i in info]
        assert np.all(np.diff(floors) >= -1e-15 * np.abs(floors[1:]))
    assert floors[0] < floors[-1]


def test_sigma_sweep_reuses_the_spectra(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(5)
    x = rng.random((90, 500))
    labels = np.repeat([0, 1, 2], 30)
    var = sp.feature_variances(x[:, :50] * 3, labels)[2]
    spectra = sp.cluster_spectra(x, labels)
    infos = [sp.diagonal_info(var, s) for s in np.geomspace(0.01, 1.0, 20)]

    def boom(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("an eigendecomposition during the sweep")

    monkeypatch.setattr(np.linalg, "eigvalsh", boom)
    monkeypatch.setattr(np.linalg, "eigh", boom)
    start = time.perf_counter()
    floors = sp.floor_sweep(spectra, infos)
    assert time.perf_counter() - start < 0.5
    assert floors.shape == (20,) and np.all(np.diff(floors) >= 0)


def test_single_sample_cluster_contributes_zero() -> None:
    rng = np.random.default_rng(6)
    x = rng.random((41, 30))
    labels = np.array([0] * 20 + [1] * 20 + [7])
    info = np.array([3.0, 3.0, np.nan])  # the lone sample's leakage is unknown
    res = sp.spectral_floor(x, labels, info)
    assert list(res.skipped) == [False, False, True] and res.xi[2] == 0.0
    alone = sp.spectral_floor(x[:40], labels[:40], info[:2])
    assert res.floor == pytest.approx(alone.floor * 40 / 41)
    assert res.floor <= alone.floor
    assert np.isinf(sp.diagonal_info(sp.feature_variances(x, labels)[2], 0.1)[2])


def test_spectral_floor_combines_clusters() -> None:
    rng = np.random.default_rng(7)
    x = rng.random((100, 16, 4))  # (n, C, H)-like input is flattened
    labels = np.where(np.arange(100) < 30, "cat", "dog")
    res = sp.spectral_floor(x, labels, [1.0, 20.0])
    assert res.weights == pytest.approx([0.3, 0.7])
    assert res.floor == pytest.approx(res.weights @ res.xi)
    assert res.single_block <= res.floor <= res.prior
    rows = x.reshape(100, -1)
    traces = [
        np.trace(np.cov(rows[labels == c], rowvar=False)) / 64 + sp.DELTA for c in ("cat", "dog")
    ]
    assert res.prior == pytest.approx(res.weights @ np.array(traces), rel=1e-9)
    assert 0 < res.ratio_to_prior <= 1
    with pytest.raises(ValueError):
        sp.spectral_floor(x, labels, [1.0])


def test_scale_imagenet_sized_inputs() -> None:
    """d = 3*224*224, n_c = 50, 10 clusters: < 2 s, no d x d memory."""
    d, n_c, k = 3 * 224 * 224, 50, 10
    rng = np.random.default_rng(8)
    base = rng.random((n_c, d), dtype=np.float32)
    x = np.concatenate([base * np.float32(0.05 * (c + 1)) + np.float32(c / k) for c in range(k)])
    x[::3] += np.float32(0.01)
    labels = np.repeat(np.arange(k), n_c)
    tracemalloc.start()
    start = time.perf_counter()
    res = sp.spectral_floor(x, labels, np.geomspace(10.0, 1e5, k))
    elapsed = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert elapsed < 2.0, f"{elapsed:.2f} s"
    assert peak < 120e6, f"peak {peak / 1e6:.0f} MB"  # x itself is 301 MB
    assert res.exact.all() and res.floor >= res.single_block > 0
    assert res.delta == sp.DELTA and 0 <= res.floor_quantised < res.floor
    assert res.floor_quantised == pytest.approx(
        res.weights @ np.maximum(res.xi - sp.DELTA, 0.0), rel=1e-12
    )
    assert all(blocks[-1][1] == d for blocks in res.blocks)


# ---------------------------------------------------------------- closed forms: linear-Gaussian


LG_CASES = [(16, 8, 0.0, 1.0), (32, 16, 1.5, 3.0), (64, 64, 2.0, 5.0), (48, 96, 1.0, 2.0),
            (64, 16, 3.0, 10.0)]  # fmt: skip


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize(("d", "m", "alpha", "gain"), LG_CASES)
def test_linear_gaussian_floor_below_mmse(seed: int, d: int, m: int, alpha: float, gain: float):
    rng = np.random.default_rng(seed)
    sx = gm.power_cov(rng, d, 0.1, alpha)
    a = gain * rng.standard_normal((m, d)) / math.sqrt(d)
    spectrum = sp.Spectrum.from_eigenvalues(np.linalg.eigvalsh(sx))
    for sigma in (0.05, 0.1, 0.2, 0.5):
        info, mmse, det_p = gm.linear_gaussian(sx, a, sigma)
        part = sp.best_partition(spectrum, info)
        assert part.single_block == pytest.approx(det_p, rel=1e-9)  # (T) = det(P)^(1/d)
        assert part.single_block * (1 - 1e-12) <= part.value <= mmse * (1 + 1e-12)


def test_linear_gaussian_blocks_beat_t_when_the_spectrum_is_spread() -> None:
    """method.md says (S) = (T) there; not in general: d = 2, one observed direction."""
    sx = np.diag([1.0, 1e-4])
    a = np.array([[1.0, 0.0]])
    info, mmse, det_p = gm.linear_gaussian(sx, a, 0.1)
    part = sp.best_partition(sp.Spectrum.from_eigenvalues(np.diag(sx)), info)
    assert part.blocks == ((0, 1), (1, 2))
    assert part.value == pytest.approx(0.5 * (1 + 1e-4) / 101)
    assert part.value > 4.9 * det_p and part.value > 0.99 * mmse and part.value <= mmse


# ---------------------------------------------------------------- Gaussian mixtures (Monte Carlo)


MIX_CONFIGS = (*gm.CONFIGS, *gm.EXTRA_CONFIGS)


@pytest.fixture(scope="module")
def mixture_results() -> dict[str, gm.MixtureResult]:
    return {cfg.name: gm.evaluate(cfg, 20000) for cfg in MIX_CONFIGS}


@pytest.mark.parametrize("name", [cfg.name for cfg in MIX_CONFIGS])
def test_mixture_floor_below_mmse(mixture_results: dict[str, gm.MixtureResult], name: str):
    r = mixture_results[name]
    limit = r.mmse + 3 * r.se + 1e-12 * r.mmse
    for value in (
        r.s_true,
        r.s_true_full_info,
        r.s_true_sample_info,
        r.s_sample_exact_info,
        r.s_sample,
    ):
        assert value <= limit, f"{name}: (S) {value:.4g} > MMSE {r.mmse:.4g}"
    assert r.s_sample >= r.t_sample * (1 - 1e-12)
    assert abs(r.mmse - r.plain) <= 4 * r.plain_se + 4 * r.se  # the two MC estimators agree


def test_old_floor_exceeds_mmse(mixture_results: dict[str, gm.MixtureResult]) -> None:
    over = [n for n, r in mixture_results.items() if r.old > r.mmse + 3 * r.se + 3 * r.plain_se]
    assert len(over) >= 2, over
    assert max(r.old / r.mmse for r in mixture_results.values()) > 5


def test_sample_spectrum_not_biased_upwards_in_the_tight_regime() -> None:
    """Weak leakage, isotropic cluster, n_c = d: single draws can exceed, the mean does not."""
    rng = np.random.default_rng(9)
    d, sigma = 32, 0.5
    a = rng.standard_normal((d, d)) / math.sqrt(d)
    info_true, mmse, _ = gm.linear_gaussian(0.0025 * np.eye(d), a, sigma)
    ratios = []
    for _ in range(60):
        x = 0.5 + 0.05 * rng.standard_normal((d, d))
        info = sp.diagonal_info((x @ a.T).var(axis=0, ddof=1), sigma)
        ratios.append(sp.block_floor(sp.cluster_spectrum(x, 0.0), info) / mmse)
    assert np.mean(ratios) < 1.0
    assert sp.block_floor(np.full(d, 0.0025), info_true) <= mmse


# ---------------------------------------------------------------- leakage and the old floor


def test_diagonal_info() -> None:
    var = np.array([[0.0, 1.0, 4.0], [2.0, 2.0, 2.0]])
    expect = 0.5 * np.log1p(var / 0.25).sum(axis=1)
    np.testing.assert_allclose(sp.diagonal_info(var, 0.5), expect, rtol=1e-14)
    assert np.all(np.isinf(sp.diagonal_info(var, 0.0)))
    tiny = sp.diagonal_info(var, 1e-200)  # no overflow: log-space
    assert np.all(np.isfinite(tiny))
    np.testing.assert_allclose(tiny[0], 0.5 * (np.log(4.0) - 4 * np.log(1e-200)), rtol=1e-12)
    np.testing.assert_allclose(tiny[1], 0.5 * 3 * (np.log(2.0) - 2 * np.log(1e-200)), rtol=1e-12)
    with pytest.raises(ValueError):
        sp.diagonal_info(var, -1.0)


def test_mixture_info_adds_label_entropy() -> None:
    assert sp.mixture_info([0.5, 0.5, 0.0], [1.0, 3.0, 99.0]) == pytest.approx(np.log(2) + 2.0)


def test_unconditional_floor_is_gaussian_t() -> None:
    rng = np.random.default_rng(10)
    for n, d in ((200, 12), (15, 40)):
        x = rng.random((n, d))
        info = 3.0
        floor, spectrum = sp.unconditional_floor(x, info)
        cov = np.cov(x, rowvar=False) + sp.DELTA * np.eye(d)
        h = 0.5 * np.linalg.slogdet(2 * np.pi * np.e * cov)[1]
        assert sp.gaussian_entropy(spectrum) == pytest.approx(h / d, rel=1e-9)
        assert floor == pytest.approx(np.exp(2 * (h - info) / d) / (2 * np.pi * np.e), rel=1e-9)
