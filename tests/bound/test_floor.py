"""The tool's conditional spectral floor (S), estimated from samples, against the true MMSE.

`noise_sweep(..., x=inputs)` is what `assess` runs. Here its floor meets ground truth: Gaussian
mixtures through a linear encoder, whose posterior-mean MMSE is known by Monte Carlo, and the
linear-Gaussian closed form. The theorem's unconditional floor (the paper's form, with a
Gaussian h(x) over all the data) is shown to overstate privacy on the same mixtures.
"""

from __future__ import annotations

import math
import time
import tracemalloc
from typing import Any

import gauss_mix as gm
import numpy as np
import pytest

from privaudit.bound import input_entropy_gaussian, noise_sweep
from privaudit.bound.floor import cluster_leakages
from privaudit.results import BoundResult

pytestmark = pytest.mark.filterwarnings("error::RuntimeWarning")
MIXTURES = (*gm.CONFIGS, *gm.EXTRA_CONFIGS)


def _bound(
    x: np.ndarray, z: np.ndarray, y: np.ndarray | None, sigmas: list[float], **kw: object
) -> list[BoundResult]:
    return noise_sweep(
        z, y, sigmas, input_dim=x.shape[1], input_entropy=input_entropy_gaussian(x),
        input_entropy_source="gaussian", bootstrap=kw.pop("bootstrap", 40), seed=0, x=x,
        delta=kw.pop("delta", 0.0), **kw,  # type: ignore[arg-type]
    )  # fmt: skip


def _mixture(cfg: gm.Config) -> tuple[np.ndarray, np.ndarray, np.ndarray, float, float]:
    """Samples x, features z = A x, components, and the MC MMSE with its standard error."""
    rng = np.random.default_rng(cfg.seed)
    mix = gm.make_mixture(cfg, rng)
    a = gm.encoder(cfg, rng)
    mmse, se, _, _ = gm.mmse_mc(mix, a, cfg.sigma, 20000, rng)
    n_per = cfg.n_per or max(5 * cfg.d, 200)
    sizes = np.maximum(2, np.rint(mix.weights * n_per * cfg.k)).astype(np.int64)
    comp = np.repeat(np.arange(cfg.k), sizes)
    x = gm.sample(mix, comp, rng)
    return x, (x @ a.T).astype(np.float32), comp, mmse, se


@pytest.fixture(scope="module")
def mixtures() -> dict[str, tuple[BoundResult, float, float]]:
    out = {}
    for cfg in MIXTURES:
        x, z, comp, mmse, se = _mixture(cfg)
        out[cfg.name] = (_bound(x, z, comp, [cfg.sigma])[0], mmse, se)
    return out


@pytest.mark.parametrize("name", [cfg.name for cfg in MIXTURES])
def test_floor_never_exceeds_the_mixture_mmse(
    mixtures: dict[str, tuple[BoundResult, float, float]], name: str
) -> None:
    bound, mmse, se = mixtures[name]
    assert bound.floor_clustering == "class" and bound.mse_floor_estimate is not None
    assert bound.mse_floor is not None and bound.mse_floor_interval is not None
    assert bound.mse_floor <= bound.mse_floor_estimate  # the lower end is what is used
    assert bound.mse_floor_estimate <= mmse + 3 * se, (name, bound.mse_floor_estimate, mmse)
    assert bound.mse_floor > 0 and not bound.floor_vacuous


def test_the_papers_floor_overstates_privacy_there(
    mixtures: dict[str, tuple[BoundResult, float, float]],
) -> None:
    """The unconditional floor with a Gaussian h(x) of all the data exceeds the true MMSE."""
    over = [n for n, (b, mmse, se) in mixtures.items() if b.paper_floor > mmse + 3 * se]
    assert len(over) >= 2, over
    assert max(b.paper_floor / mmse for b, mmse, _ in mixtures.values()) > 5


@pytest.mark.parametrize("sigma", [0.05, 0.1, 0.2, 0.5])
def test_linear_gaussian_floor_below_the_closed_form_mmse(sigma: float) -> None:
    """One Gaussian cluster (method.md §3): the estimated (S) stays below tr(P)/d."""
    rng = np.random.default_rng(1)
    d, m = 24, 12
    sx = gm.power_cov(rng, d, 0.1, 1.5)
    a = 3.0 * rng.standard_normal((m, d)) / math.sqrt(d)
    x = 0.5 + rng.standard_normal((4000, d)) @ np.linalg.cholesky(sx).T
    _, mmse, det_p = gm.linear_gaussian(sx, a, sigma)
    bound = _bound(x, (x @ a.T).astype(np.float32), np.zeros(4000, np.int64), [sigma])[0]
    assert bound.mse_floor_estimate is not None and bound.mse_floor is not None
    assert bound.mse_floor <= bound.mse_floor_estimate <= mmse
    assert bound.mse_floor_estimate >= 0.5 * det_p  # and not vacuously low: near (T) = det(P)^1/d


def test_floor_grows_with_sigma_and_needs_no_labels() -> None:
    cfg = gm.CONFIGS[2]
    x, z, comp, _, _ = _mixture(cfg)
    sigmas = [0.02, 0.05, 0.1, 0.2, 0.5]
    floors = [b.mse_floor_estimate for b in _bound(x, z, comp, sigmas, bootstrap=0)]
    assert all(f is not None for f in floors)
    assert np.all(np.diff(np.array(floors, dtype=float)) >= 0)
    unlabelled = _bound(x, z, None, [cfg.sigma], bootstrap=0)[0]
    assert unlabelled.floor_clustering == "kmeans" and unlabelled.mse_floor is not None


def test_rotating_the_input_space_changes_nothing() -> None:
    cfg = gm.CONFIGS[0]
    x, z, comp, _, _ = _mixture(cfg)
    q = gm.orthogonal(np.random.default_rng(3), x.shape[1])
    a, b = (_bound(v, z, comp, [cfg.sigma], bootstrap=0)[0] for v in (x, x @ q))
    assert a.mse_floor == pytest.approx(b.mse_floor, rel=1e-8)


def test_floor_at_least_the_single_block_and_fewer_samples_than_dims() -> None:
    """n_c < d (the Gram path): still below the MMSE, and (S) >= (T) for the same clusters."""
    cfg = gm.Config("few", d=64, m=32, k=4, spread=0.2, within=0.05, alpha=2.0, sigma=0.1,
                    gain=3.0, n_per=12)  # fmt: skip
    x, z, comp, mmse, se = _mixture(cfg)
    assert np.bincount(comp).max() < cfg.d
    bound = _bound(x, z, comp, [cfg.sigma])[0]
    assert bound.mse_floor is not None and bound.mse_floor_estimate is not None
    assert 0 <= bound.mse_floor <= bound.mse_floor_estimate <= mmse + 3 * se
    assert bound.mse_floor_estimate > 0  # conservative with 12 samples in 64 dimensions
    from privaudit.bound.floor import fit_floor  # the pieces: (S) >= (T) per cluster

    model = fit_floor(x, z, comp, None, clustering="class", delta=0.0)
    estimate = model.estimate(cfg.sigma)
    assert estimate.value >= estimate.single_block * (1 - 1e-12)


def test_cluster_leakage_takes_the_smaller_bound() -> None:
    """With sub-cells, I_c is min(diagonal, H(pi_k|c) + mixture): both bound I(x;z|c)."""
    rng = np.random.default_rng(5)
    centres = np.array([[0.0, 0.0], [6.0, 6.0]])
    z = np.concatenate([c + 0.1 * rng.standard_normal((200, 2)) for c in centres])
    rows = (np.arange(400),)
    cells = np.repeat([0, 1], 200)
    single = cluster_leakages(z, rows, np.zeros(400, np.int64), 0.5)[0]
    split = cluster_leakages(z, rows, cells, 0.5)[0]
    assert split < single  # two tight cells: the mixture bound is far smaller
    assert split >= math.log(2)  # it still carries the cell entropy H(pi)


def test_jackknife_interval_is_reported_and_optional() -> None:
    cfg = gm.CONFIGS[1]
    x, z, comp, _, _ = _mixture(cfg)
    with_ci = _bound(x, z, comp, [cfg.sigma])[0]
    iv = with_ci.mse_floor_interval
    assert iv is not None and iv.low <= with_ci.mse_floor_estimate <= iv.high  # type: ignore[operator]
    assert with_ci.mse_floor == iv.low
    plain = _bound(x, z, comp, [cfg.sigma], bootstrap=0)[0]
    assert plain.mse_floor_interval is None and plain.mse_floor == plain.mse_floor_estimate
    without_x = noise_sweep(z, comp, [cfg.sigma], input_dim=x.shape[1], input_entropy=-2.0,
                            input_entropy_source="gaussian", bootstrap=0)[0]  # fmt: skip
    assert without_x.mse_floor is None and without_x.paper_floor > 0


def test_scale_imagenet_sized_inputs() -> None:
    """d = 3 x 224 x 224 with 50 samples a class: no d x d matrix, seconds not minutes."""
    d, n_c, k = 3 * 224 * 224, 50, 4
    rng = np.random.default_rng(8)
    x = np.concatenate([rng.random((n_c, d), dtype=np.float32) * np.float32(0.1 * (c + 1))
                        for c in range(k)])  # fmt: skip
    z = x[:, :: d // 64][:, :64] * np.float32(4.0)
    y = np.repeat(np.arange(k), n_c)
    tracemalloc.start()
    start = time.perf_counter()
    bound = noise_sweep(z, y, [0.5], input_dim=d, input_entropy=-2.0,
                        input_entropy_source="gaussian", bootstrap=20, x=x)[0]  # fmt: skip
    elapsed = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert bound.mse_floor is not None and bound.mse_floor > 0
    assert elapsed < 20, f"{elapsed:.1f} s"
    assert peak < 400e6, f"peak {peak / 1e6:.0f} MB"  # x is 120 MB; a d x d matrix is 180 GB


def _binary_mmse(sigma: float, rng: np.random.Generator, n: int = 200_000) -> float:
    """The posterior-mean MMSE of a +-1 fair coin seen through N(0, sigma^2) noise."""
    x = rng.choice([-1.0, 1.0], n)
    z = x + sigma * rng.standard_normal(n)
    return float(np.mean((x - np.tanh(z / sigma**2)) ** 2))


def test_discrete_columns_are_left_out_of_the_floor() -> None:
    """Coins have no density: the Gaussian assumption put the floor 55x above their MMSE.

    With every column discrete the floor is 0; with half of them, it is half the floor of
    the continuous columns alone, which the MSE over every column cannot go below.
    """
    rng = np.random.default_rng(0)
    n, sigma = 600, 0.15
    y = rng.integers(0, 2, n)
    coins = rng.choice([-1.0, 1.0], (n, 8))
    smooth = rng.standard_normal((n, 8)) + 2.0 * y[:, None]
    mmse = _binary_mmse(sigma, rng)
    old = _bound(coins, coins.astype(np.float32), y, [sigma])[0]
    assert old.mse_floor is not None and old.mse_floor > 10 * mmse  # what the flags fix
    (only_coins,) = _bound(coins, coins.astype(np.float32), y, [sigma],
                           continuous=np.zeros(8, bool))  # fmt: skip
    assert only_coins.mse_floor == 0.0 and only_coins.mse_floor_estimate == 0.0
    assert any("every input column is discrete" in w for w in only_coins.warnings)
    x = np.concatenate([smooth, coins], axis=1)
    z = x.astype(np.float32)
    keep = np.array([True] * 8 + [False] * 8)
    (mixed,) = _bound(x, z, y, [sigma], continuous=keep)
    (alone,) = _bound(smooth, z, y, [sigma])
    assert mixed.mse_floor_estimate == pytest.approx(0.5 * (alone.mse_floor_estimate or 0))
    assert any("8 of 16 input dimensions are discrete" in w for w in mixed.warnings)
    assert not any("discrete" in w for w in alone.warnings)


def test_continuous_dims_flags_few_levels_whatever_their_values_and_atoms() -> None:
    """A standardised one-hot column takes two values that are not whole numbers (-0.65,
    1.53): 0.1.x looked for integers only, and (S) read 0.0612 on 13 such columns through an
    identity encoder, where thresholding z reaches MSE 0.0013. A zero-inflated column has no
    density either."""
    from privaudit.audit.bounds import ATOM_SHARE, continuous_dims

    rng = np.random.default_rng(3)
    n = 300
    smooth = rng.standard_normal(n)
    flags = rng.integers(0, 2, n).astype(np.float64)
    one_hot = (flags - flags.mean()) / flags.std()  # two levels, neither whole
    levels = rng.integers(0, 20, n) * 0.37  # 20 levels
    inflated = np.where(rng.random(n) < ATOM_SHARE + 0.05, 0.0, rng.standard_normal(n))
    sparse = np.where(rng.random(n) < ATOM_SHARE - 0.1, 0.0, rng.standard_normal(n))
    x = np.stack([smooth, one_hot, levels, inflated, sparse, rng.standard_normal(n)], axis=1)
    assert continuous_dims(x).tolist() == [True, False, False, False, True, True]
    assert continuous_dims(x, block=2).tolist() == continuous_dims(x).tolist()
    assert continuous_dims(np.stack([smooth, sparse], axis=1)) is None
    assert continuous_dims(x[:, 1:3]).tolist() == [False, False]


def test_a_grid_of_more_than_20_levels_lowers_the_floor_by_its_dequantisation() -> None:
    """Whole numbers with 26 levels count as continuous, yet at sigma 0.03 (standardised)
    rounding z recovers them: a tester's (S) read 0.000887 where rounding reached 0.00028
    and `--fail-under-floor` passed. (S) holds for the column plus uniform noise of its grid's
    width; the input itself can do up to D^2 / 12 better, so (S) is lowered by that."""
    from privaudit.audit.bounds import continuous_dims, lattice_variance

    rng = np.random.default_rng(2)
    n, d, sigma = 3000, 16, 0.03
    y = rng.integers(0, 2, n)
    raw = rng.integers(0, 22, (n, d)) + 4.0 * y[:, None]
    x = (raw - raw.mean(axis=0)) / raw.std(axis=0)  # standardised, as privaudit measures
    keep = continuous_dims(x)
    assert keep is None  # more than 20 levels, no value in 20% of the rows
    lattice = lattice_variance(x)
    assert lattice == pytest.approx(float(np.mean(1 / (12 * raw.std(axis=0) ** 2))), rel=1e-6)
    z = x + sigma * rng.standard_normal(x.shape)
    rounded = (np.rint(z * raw.std(axis=0) + raw.mean(axis=0)) - raw.mean(axis=0)) / raw.std(
        axis=0)  # fmt: skip
    attack = float(np.mean((rounded - x) ** 2))
    (plain,) = _bound(x, x.astype(np.float32), y, [sigma])
    (lowered,) = _bound(x, x.astype(np.float32), y, [sigma], lattice=lattice)
    assert plain.mse_floor is not None and plain.mse_floor > attack  # what the grid fixes
    assert lowered.mse_floor is not None and lowered.mse_floor <= attack
    assert any("lie on a grid" in w for w in lowered.warnings)
    # continuous values are on no grid worth the name: nothing changes
    smooth = rng.standard_normal((n, d))
    assert lattice_variance(smooth) < 1e-12


def test_images_on_a_coarse_grid_are_dequantised_on_it() -> None:
    """Binary 8x8 images through an identity encoder at sigma 0.15: (S) read 0.0198 (8-bit
    dequantisation) where thresholding z at 0.5 reaches MSE 0.0004 (a tester's case)."""
    import torch
    from onnx_cases import export
    from torch import nn

    import privaudit
    from privaudit.audit.bounds import pixel_grid_variance
    from privaudit.bound import DEQUANTIZATION_VARIANCE

    rng = np.random.default_rng(0)
    eight_bit = rng.integers(0, 256, (50, 64)) / 255.0
    assert pixel_grid_variance(eight_bit) == DEQUANTIZATION_VARIANCE
    assert pixel_grid_variance(rng.random((50, 64))) == DEQUANTIZATION_VARIANCE  # no grid
    assert pixel_grid_variance(rng.integers(0, 16, (50, 64)) / 15.0) == pytest.approx(
        1 / (12 * 15**2))  # fmt: skip
    n, sigma = 1500, 0.15
    y = rng.integers(0, 2, n)
    rates = np.where(y[:, None] == 1, np.linspace(0.1, 0.9, 64), np.linspace(0.9, 0.1, 64))
    x = (rng.random((n, 64)) < rates).astype(np.float32)
    assert pixel_grid_variance(x) == pytest.approx(1 / 12)
    head = nn.Linear(64, 2)
    model = nn.Sequential()
    model.add_module("encoder", nn.Flatten())
    model.add_module("head", head)
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as folder:
        proto = export(model, Path(folder) / "m.onnx", (torch.zeros(1, 1, 8, 8),))
    images = (x.reshape(n, 1, 8, 8) * 255).astype(np.uint8)
    report = privaudit.assess(proto, data=(images, y), split="encoder", noise=sigma,
                              attacks=False, bound={"dfil": False})  # fmt: skip
    z = x + sigma * rng.standard_normal(x.shape)
    threshold = float(np.mean(((z > 0.5) - x) ** 2))
    assert report.bound is not None and report.bound.mse_floor is not None
    assert report.bound.mse_floor <= threshold < 0.002
    assert any("the images take few levels" in w for w in report.warnings)


@pytest.mark.parametrize("offset", [0.0, 1e3])
def test_dropped_leakages_equal_recomputing_each_replicate(offset: float) -> None:
    """The jackknife's one-pass leakages equal `cluster_leakages` on each replicate's kept rows.

    Built to break the bookkeeping: a sub-cell whose rows all fall in one group (it vanishes
    from that replicate), a sub-cell of 2 rows (under 2 once one is dropped), a one-cell
    cluster, a cluster of 3 rows (under 2 when 2 are dropped), features far from 0 with a
    small spread (cancellation), a cluster left empty, and more columns than one step of
    the pass.
    """
    from privaudit.bound.floor import COLUMNS, dropped_leakages

    rng = np.random.default_rng(11)
    m, groups, sigmas = COLUMNS + 37, 4, [0.01, 0.3, 2.0]
    sizes, n = (60, 25, 3, 40, 2), 130
    z = (offset + rng.standard_normal((n, m)) * rng.uniform(1e-3, 2.0, m)).astype(np.float32)
    bounds = np.cumsum((0, *sizes))
    rows = tuple(rng.permutation(n)[a:b] for a, b in zip(bounds[:-1], bounds[1:], strict=True))
    cells = np.zeros(n, np.int64)
    cells[rows[0][:30]], cells[rows[0][30:50]], cells[rows[0][50:52]] = 1, 2, 3
    cells[rows[3][:20]] = 5
    deal = [rng.permutation(len(r)) % groups for r in rows]
    deal[0][30:50] = 2  # sub-cell 2 lives in group 2 alone
    deal[2][:] = [0, 0, 1]  # dropping group 0 leaves 1 row
    deal[4][:] = [1, 1]  # dropping group 1 leaves none
    got = dropped_leakages(z, rows, cells, deal, groups, sigmas)
    for g in range(groups):
        kept = [r[d != g] for r, d in zip(rows, deal, strict=True)]
        for s, sigma in enumerate(sigmas):
            want = cluster_leakages(z, kept, cells, sigma)
            assert np.isinf(got[g, s]).tolist() == np.isinf(want).tolist()
            finite = np.isfinite(want)
            np.testing.assert_allclose(got[g, s][finite], want[finite], rtol=1e-9)
    assert np.isinf(got[0, :, 2]).all() and np.isfinite(got[1:, :, 2]).all()
    assert np.isinf(got[1, :, 4]).all()


@pytest.mark.parametrize(("spread", "outlier", "sigma"), [
    (0.0, 1.4e5, 1e-6),  # identical kept rows: variance 0, leakage 0
    (0.0, 7.1, 1e-8),
    (1e-4, 1e4, 1e-3),  # the dropped row moves the mean 1e8 times the kept spread
    (1e-2, 0.0, 1e-6),  # a column mean 1e8 times its spread (below)
])
def test_dropped_leakages_survive_a_far_outlier(spread: float, outlier: float,
                                                sigma: float) -> None:  # fmt: skip
    """A replicate that drops a far outlier keeps rows whose variance is tiny or 0: summing
    deviations from the full mean would cancel (a reviewer measured a negative leakage, NaN,
    and a jackknife interval that overstated the floor). Every replicate equals recomputing."""
    from privaudit.bound.floor import dropped_leakages

    rng = np.random.default_rng(3)
    n, m, groups = 10, 6, 10
    base = 1e8 if outlier == 0 else 0.3
    z = base + spread * rng.standard_normal((n, m))
    z[0] += outlier
    rows, cells = (np.arange(n),), np.zeros(n, np.int64)
    deal = [np.arange(n) % groups]  # every row its own group: replicate 0 drops the outlier
    got = dropped_leakages(z, rows, cells, deal, groups, [sigma])
    assert (got >= 0).all() and np.isfinite(got).all()
    for g in range(groups):
        want = cluster_leakages(z, [rows[0][deal[0] != g]], cells, sigma)
        np.testing.assert_allclose(got[g, 0], want, rtol=1e-9, atol=1e-10)  # nats
    if spread == 0:
        assert got[0, 0, 0] < 1e-10  # identical kept rows: 0 up to rounding (3.7e-12 here)


def test_jackknife_covers_the_variance_where_clusters_outnumber_dimensions() -> None:
    """Near zero leakage the floor is the within-class variance, whose sampling error is then
    all of the interval. With more rows than dimensions the replicates once kept the whole
    sample's spectrum: the interval shrank to a point and its lower end lay above the true
    MMSE (the population variance, 1) in 17 of 40 samples of Gaussian data (a reviewer,
    2026-12-08: 1.0006 against 0.9588 reached by least squares). Now in none."""
    from privaudit.bound.floor import fit_floor

    above, widths = 0, []
    for seed in range(40):
        rng = np.random.default_rng(seed)
        x = rng.standard_normal((300, 4))
        y = rng.integers(0, 3, 300)
        model = fit_floor(x, 0.001 * x, y, None, clustering="class", delta=0.0)
        low, high = model.jackknife([1.0], 20, seed)[1.0]
        above += low > 1.0
        widths.append(high - low)
    assert above <= 2, above  # a 95% two-sided interval: its lower end above 1 in 2.5%
    assert min(widths) > 0.05  # sqrt(2/300) of relative sd on the variance: about 0.16 wide


@pytest.mark.parametrize("d", [6, 40])
def test_dropped_spectra_equal_recomputing_and_first_order_beyond(d: int,
                                                                  monkeypatch: Any) -> None:
    """Each replicate's spectrum equals the covariance of its kept rows (exact up to
    `EXACT_DIM`); beyond it, the first-order eigenvalues keep the trace and stay close."""
    import privaudit.bound.spectra as spectra

    rng = np.random.default_rng(d)
    x = rng.standard_normal((200, d)) * np.exp(rng.uniform(-2, 1, d)) + 5.0
    groups = 7
    deal = rng.permutation(200) % groups
    for exact in (True, False):
        monkeypatch.setattr(spectra, "EXACT_DIM", d if exact else d - 1)
        got = spectra.dropped_spectra(x, deal, groups, 0.01)
        for g in range(groups):
            want = spectra.cluster_spectrum(x[deal != g], 0.01)
            mine = got[g]
            assert mine is not None
            full = np.repeat(mine.values, mine.counts)
            truth = np.repeat(want.values, want.counts)
            np.testing.assert_allclose(full.sum(), truth.sum(), rtol=1e-10)  # the trace
            if exact:
                np.testing.assert_allclose(full, truth, rtol=1e-9, atol=1e-12)
            else:  # NOTE: the diagonal in the whole sample's basis: majorised by the truth
                np.testing.assert_allclose(full, truth, rtol=0.15)


@pytest.mark.parametrize(("kind", "floored", "said"), [
    ("gauss", True, None),
    ("uniform", True, "visibly is not"),  # negentropy 0.18 nats: warned, kept
    ("nearbin", False, "16 of 16 input dimensions are far from Gaussian"),
])
def test_dimensions_far_from_gaussian_leave_the_floor(kind: str, floored: bool,
                                                      said: str | None) -> None:  # fmt: skip
    """A reviewer (2026-12-08): near-binary columns (0 or 1, jittered by 0.02 so they count
    as continuous) through an identity encoder at sigma 0.3 got a floor of 0.232 where the
    posterior mean reaches 0.143, with no word on the floor. Their within-class negentropy
    (2.3 nats) now takes them out of the floor, as discrete columns are; Gaussian columns
    raise nothing, and uniform ones (0.18 nats) a warning."""
    rng = np.random.default_rng(1)
    n, d = 800, 16
    x = {"gauss": lambda: rng.standard_normal((n, d)),
         "uniform": lambda: rng.random((n, d)),
         "nearbin": lambda: rng.integers(0, 2, (n, d)) + 0.02 * rng.standard_normal((n, d)),
         }[kind]()  # fmt: skip
    x = (x - x.mean(0)) / x.std(0)
    y = rng.integers(0, 3, n)
    z = x + 0.0  # NOTE: the identity encoder; the noise is the bound's sigma
    (bound,) = _bound(x, z, y, [0.3], certified=False)  # NOTE: a table's path, as assess
    assert bound.mse_floor is not None and (bound.mse_floor > 0) == floored
    (as_pixels,) = _bound(x, z, y, [0.3])  # NOTE: images are not weighed
    assert as_pixels.mse_floor is not None and as_pixels.mse_floor > 0
    shape = [w for w in bound.warnings if "Gaussian within each" in w]
    assert (said is None and not shape) or (said is not None and said in shape[0]), shape


def test_negentropy_is_calibrated_on_gaussian_columns() -> None:
    """The m-spacing estimate's bias is measured on Gaussian samples of each size: Gaussian
    columns read about 0 and are never called visible; skewed ones are."""
    from privaudit.bound.gaussianity import column_negentropy

    for seed in range(10):
        rng = np.random.default_rng(seed)
        for n in (60, 300):
            found = column_negentropy(rng.standard_normal((n, 8)), rng.integers(0, 3, n))
            assert found is not None and not found.visible and abs(found.mean) < 0.1
        skewed = column_negentropy(np.exp(rng.standard_normal((300, 8))), rng.integers(0, 3, 300))
        assert skewed is not None and skewed.visible and 0.4 < skewed.mean < 0.9  # true 0.77


def test_negentropy_in_column_blocks_equals_it_whole(monkeypatch: Any) -> None:
    """Memory holds one cluster's block of columns in float64; the blocks change nothing."""
    import privaudit.bound.gaussianity as gaussianity

    rng = np.random.default_rng(4)
    x = np.exp(rng.standard_normal((90, 7))).astype(np.float32)
    y = rng.integers(0, 2, 90)
    whole = gaussianity.column_negentropy(x, y)
    monkeypatch.setattr(gaussianity, "_COLUMNS", 3)
    blocks = gaussianity.column_negentropy(x, y)
    assert whole is not None and blocks is not None
    np.testing.assert_allclose(blocks.per_column, whole.per_column, rtol=1e-12)


def test_classes_too_small_to_weigh_are_said() -> None:
    """Classes of 19 rows were never weighed (the estimate needed 20), and nothing said so:
    near-binary columns in 30 such classes read a floor 2.5x the posterior mean's MSE. Ten
    rows are weighed now; under that, a warning says the assumption could not be checked."""
    rng = np.random.default_rng(5)
    for n_c, said in ((19, "far from Gaussian"), (6, "the 10 rows it takes to weigh")):
        y = np.repeat(np.arange(30), n_c)
        x = rng.integers(0, 2, (len(y), 16)) + 0.02 * rng.standard_normal((len(y), 16))
        x = (x - x.mean(0)) / x.std(0)
        (bound,) = _bound(x, x + 0.0, y, [0.2], certified=False)
        assert any(said in w for w in bound.warnings), bound.warnings
        if n_c == 19:
            assert bound.mse_floor == 0


def test_a_signals_far_dimension_is_named_by_channel_and_step() -> None:
    """A signal's flat dimension 54 means nothing to its owner; channel 6, step 6 does."""
    rng = np.random.default_rng(6)
    n = 300
    x = rng.standard_normal((n, 2, 8))
    x[:, 1, 5] = rng.integers(0, 2, n) + 0.02 * rng.standard_normal(n)  # one near-binary value
    y = rng.integers(0, 3, n)
    flat = x.reshape(n, -1)
    (bound,) = noise_sweep(flat, y, [0.3], input_dim=16, input_entropy=input_entropy_gaussian(flat),
                           input_entropy_source="gaussian", bootstrap=0, seed=0, x=x, delta=0.0,
                           certified=False)  # fmt: skip
    assert any("1 of 16 input dimensions are far from Gaussian" in w and
               "channel 1, step 5, counted from 0" in w for w in bound.warnings), bound.warnings


def test_negentropy_of_some_columns_equals_it_recomputed_on_them() -> None:
    """The floor weighs the columns left after the far ones go from the first estimate."""
    from privaudit.bound.gaussianity import column_negentropy

    rng = np.random.default_rng(7)
    x = np.concatenate([rng.standard_normal((200, 5)), np.exp(rng.standard_normal((200, 3)))], 1)
    y = rng.integers(0, 3, 200)
    whole = column_negentropy(x, y)
    assert whole is not None
    mask = np.arange(8) % 3 != 1
    part, again = whole.of(mask), column_negentropy(x[:, mask], y)
    assert part is not None and again is not None
    np.testing.assert_allclose(part.per_column, again.per_column, rtol=1e-12)
    assert part.mean == pytest.approx(again.mean, rel=1e-12)
    assert part.noise == pytest.approx(again.noise, rel=1e-12)
    assert part.visible == again.visible


def test_a_joint_departure_from_gaussian_is_warned_where_columns_look_gaussian() -> None:
    """A reviewer (2026-12-08): the vertices of a rotated hypercube (each column a sum of 16
    +-1 terms, so close to Gaussian one by one; the whole discrete) through an identity
    encoder got a floor far above the posterior mean's MSE with no word. The whitened rows'
    lengths are constant there, unlike a Gaussian's: the joint check says so. Gaussian rows
    and the same columns shuffled apart (independent, Gaussian-like) raise nothing."""
    rng = np.random.default_rng(2)
    n, d, sigma = 900, 16, 0.3
    q, _ = np.linalg.qr(rng.standard_normal((d, d)))
    v = rng.choice([-1.0, 1.0], (n, d))
    cube = v @ q.T
    y = rng.integers(0, 3, n)
    # NOTE: the posterior mean in the cube's own axes: tanh(v_j + noise) / sigma^2 per axis
    noisy = v + sigma * rng.standard_normal((n, d))
    mmse = float(np.mean((v - np.tanh(noisy / sigma**2)) ** 2))
    (bound,) = _bound(cube, cube + 0.0, y, [sigma], certified=False)
    assert bound.mse_floor is not None and bound.mse_floor > 10 * mmse  # the assumption fails
    joint = [w for w in bound.warnings if "together they visibly are not" in w]
    assert joint and "far from Gaussian" not in " ".join(bound.warnings), bound.warnings
    apart = np.stack([rng.permutation(cube[:, j]) for j in range(d)], axis=1)
    for x in (rng.standard_normal((n, d)) @ q.T, apart):
        (plain,) = _bound(x, x + 0.0, y, [sigma], certified=False)
        assert not [w for w in plain.warnings if "Gaussian within each" in w], plain.warnings


def test_the_joint_check_is_calibrated_on_gaussian_rows() -> None:
    """Gaussian rows of any size and scale read about 0 nats and are never called visible;
    uniform rows in a rotated cube (0.18 nats a column, hidden by the rotation) are."""
    from privaudit.bound.gaussianity import radial_negentropy

    for seed in range(12):
        rng = np.random.default_rng(seed)
        n, d = int(rng.integers(40, 400)), int(rng.integers(2, 15))
        x = rng.standard_normal((n, d)) * rng.uniform(0.1, 10, d) + 3
        found = radial_negentropy(x, rng.integers(0, 3, n))
        assert found is not None and not found.visible and abs(found.nats) < 0.15, found
    q, _ = np.linalg.qr(rng.standard_normal((16, 16)))
    uniform = radial_negentropy(rng.uniform(-1, 1, (900, 16)) @ q, rng.integers(0, 3, 900))
    assert uniform is not None and uniform.visible and uniform.dims == 16
    assert radial_negentropy(rng.standard_normal((30, 16)), np.zeros(30, np.int64)) is None
