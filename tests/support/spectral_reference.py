"""Reference helpers of the floor's tests: (S) from given spectra and leakages, the old floor.

Built on privaudit's closed form (`privaudit.bound.spectral`) and spectra
(`privaudit.bound.spectra`), with independent leakage and pooling code, so that the tests can
compute (S) for the true spectra and leakages of a Gaussian mixture (the ground truth), and the
unconditional floor that the tool used before the conditional one.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from privaudit.bound.spectra import ClusterSpectra, centred_gram, gram_spectrum
from privaudit.bound.spectra import cluster_spectra as _cluster_spectra
from privaudit.bound.spectra import cluster_spectrum as _cluster_spectrum
from privaudit.bound.spectral import (
    EXACT_MAX,
    GRID_POINTS,
    Spectrum,
    best_partition,
    block_dp,
    block_floor,
    single_block_floor,
)

__all__ = [
    "DELTA", "ClusterSpectra", "Spectrum", "SpectralFloor", "best_partition", "block_dp",
    "block_floor", "centred_gram", "cluster_spectra", "cluster_spectrum", "diagonal_info",
    "feature_variances", "floor_from_spectra", "floor_sweep", "gaussian_entropy",
    "gram_spectrum", "mixture_info", "single_block_floor", "spectral_floor",
    "unconditional_floor",
]  # fmt: skip

DELTA = 1.0 / (12 * 255**2)  # variance of 8-bit dequantisation on [0, 1]
_LOG_2PIE = math.log(2 * math.pi * math.e)


def cluster_spectrum(x_c: ArrayLike, delta: float = DELTA) -> Spectrum:
    """`privaudit.bound.spectra.cluster_spectrum` with the 8-bit delta by default."""
    return _cluster_spectrum(x_c, delta)


def cluster_spectra(
    x: ArrayLike, labels: ArrayLike, delta: float = DELTA, *, min_samples: int = 2
) -> ClusterSpectra:
    """`privaudit.bound.spectra.cluster_spectra` with the 8-bit delta by default."""
    return _cluster_spectra(x, labels, delta, min_samples=min_samples)


def _rows(x: ArrayLike, min_rows: int) -> np.ndarray:
    arr = np.asarray(x)
    if arr.ndim < 2 or arr.shape[0] < min_rows:
        raise ValueError(f"need (n, d...) data with n >= {min_rows}, got {arr.shape}")
    return arr.reshape(arr.shape[0], -1)


@dataclass(frozen=True, eq=False)
class SpectralFloor:
    """The conditional spectral floor and its per-cluster pieces.

    Attributes:
        floor: (S), sum_c pi_c xi_c: no attack has a lower per-dimension MSE (given Gaussian
            clusters with these spectra and leakages at most I_c).
        single_block: (T) per cluster, combined the same way (<= floor).
        prior: sum_c pi_c tr(Sigma_c)/d, the value at I_c = 0 (what knowing c alone allows).
        weights: (C,) pi_c.
        xi: (C,) per-cluster floors (0 for skipped clusters).
        xi_single: (C,) per-cluster (T).
        blocks: per cluster, the chosen blocks [start, stop) of its descending spectrum.
        exact: (C,) whether each cluster's DP was exact.
        skipped: (C,) clusters with too few samples, counted with xi_c = 0.
        delta: the dequantisation variance in the spectra (see `floor_quantised`).
    """

    floor: float
    single_block: float
    prior: float
    weights: np.ndarray
    xi: np.ndarray
    xi_single: np.ndarray
    blocks: tuple[tuple[tuple[int, int], ...], ...]
    exact: np.ndarray
    skipped: np.ndarray
    delta: float = 0.0

    @property
    def floor_quantised(self) -> float:
        """Floor on the MSE against the 8-bit images: sum_c pi_c max(xi_c - delta, 0).

        The spectra describe the dequantised x + u, u ~ U(-1/510, 1/510)^d independent of
        (x, z) with variance delta, so E||x + u - x_hat||^2 = E||x - x_hat||^2 + d delta for
        every attack. A floor near delta (the Gram path's delta run at large I_c) says nothing.
        """
        return float(self.weights @ np.maximum(self.xi - self.delta, 0.0))

    @property
    def ratio_to_prior(self) -> float:
        """Floor / prior: how much of the within-cluster variance no attack can remove."""
        return self.floor / self.prior if self.prior > 0 else 0.0


def floor_from_spectra(
    spectra: ClusterSpectra,
    info_per_cluster: ArrayLike,
    *,
    exact_max: int = EXACT_MAX,
    grid_points: int = GRID_POINTS,
) -> SpectralFloor:
    """(S) = sum_c pi_c xi_c from precomputed spectra and per-cluster leakage I_c.

    Args:
        spectra: from `cluster_spectra`.
        info_per_cluster: (C,) I_c in nats, in the order of `spectra.labels` (ignored, may be
            NaN, for skipped clusters).
        exact_max: see `best_partition`.
        grid_points: see `best_partition`.

    Returns:
        The floor, (T) combined the same way, the per-cluster values and diagnostics.

    Raises:
        ValueError: wrong number of leakages, or a negative/NaN one.
    """
    infos = np.asarray(info_per_cluster, dtype=np.float64).reshape(-1)
    if infos.size != len(spectra.spectra):
        raise ValueError(f"{infos.size} leakages for {len(spectra.spectra)} clusters")
    parts = [
        best_partition(s, i, exact_max=exact_max, grid_points=grid_points) if s else None
        for s, i in zip(spectra.spectra, infos, strict=True)
    ]
    xi = np.array([p.value if p else 0.0 for p in parts])
    xi_single = np.array([p.single_block if p else 0.0 for p in parts])
    traces = np.array([s.trace / s.dim if s else 0.0 for s in spectra.spectra])
    w = spectra.weights
    return SpectralFloor(
        floor=float(w @ xi),
        single_block=float(w @ xi_single),
        prior=float(w @ traces),
        weights=w,
        xi=xi,
        xi_single=xi_single,
        blocks=tuple(p.blocks if p else () for p in parts),
        exact=np.array([p.exact if p else True for p in parts]),
        skipped=spectra.skipped,
        delta=spectra.delta,
    )


def spectral_floor(
    x: ArrayLike,
    labels: ArrayLike,
    info_per_cluster: ArrayLike,
    delta: float = DELTA,
    *,
    min_samples: int = 2,
) -> SpectralFloor:
    """The conditional spectral floor (S) from inputs, cluster labels and leakages.

    Args:
        x: (n, d...) inputs on the [0, 1] pixel scale.
        labels: (n,) cluster labels (a function of x, e.g. the class).
        info_per_cluster: (C,) I_c, nats, in np.unique(labels) order.
        delta: the dequantisation variance.
        min_samples: smaller clusters count with xi_c = 0.

    Returns:
        See `SpectralFloor`.
    """
    return floor_from_spectra(
        cluster_spectra(x, labels, delta, min_samples=min_samples), info_per_cluster
    )


def feature_variances(
    features: ArrayLike, labels: ArrayLike
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-cluster per-dimension variances of the clean features (ddof = 1).

    Args:
        features: (n, m...) clean features f(x).
        labels: (n,) cluster labels.

    Returns:
        Distinct labels (C,), counts (C,), variances (C, m); NaN rows for single-sample
        clusters (`diagonal_info` turns them into an infinite leakage, a zero floor).
    """
    rows = _rows(features, min_rows=1)
    lab = np.asarray(labels).reshape(-1)
    if lab.size != rows.shape[0]:
        raise ValueError(f"{lab.size} labels for {rows.shape[0]} samples")
    uniq, inverse = np.unique(lab, return_inverse=True)
    inverse = inverse.reshape(-1)
    variances = np.full((uniq.size, rows.shape[1]), np.nan)
    for c in range(uniq.size):
        members = rows[inverse == c]
        if members.shape[0] >= 2:
            variances[c] = members.var(axis=0, ddof=1, dtype=np.float64)
    return uniq, np.bincount(inverse, minlength=uniq.size), variances


def diagonal_info(variances: ArrayLike, sigma: float) -> np.ndarray:
    r"""Diagonal (Hadamard) leakage bound per cluster, method.md (L) without H(pi).

    .. math:: I_c = \frac12 \sum_j \log(1 + S_{c,jj}/\sigma^2)

    Computed as logaddexp(0, log S - 2 log sigma): no overflow for tiny sigma.

    Args:
        variances: (C, m) or (m,) within-cluster feature variances (NaN: unknown).
        sigma: feature noise std, >= 0; sigma = 0 (or a NaN variance) gives inf.

    Returns:
        (C,) nats (a scalar array for 1-D input).
    """
    var = np.asarray(variances, dtype=np.float64)
    s = float(sigma)
    if not (math.isfinite(s) and s >= 0) or np.any(var < 0):
        raise ValueError("sigma must be finite and >= 0, variances >= 0")
    unknown = np.isnan(var).any(axis=-1)
    if s == 0.0:
        return np.full(unknown.shape, np.inf)
    with np.errstate(divide="ignore", invalid="ignore"):  # log 0 = -inf: log1p(0) = 0
        terms = np.logaddexp(0.0, np.log(np.nan_to_num(var)) - 2.0 * math.log(s))
    return np.where(unknown, np.inf, 0.5 * terms.sum(axis=-1))


def mixture_info(weights: ArrayLike, infos: ArrayLike) -> float:
    """Bound (L) for a mixture: I_up = H(pi) + sum_c pi_c I_c (the old floor's leakage).

    Args:
        weights: (C,) pi_c, summing to 1.
        infos: (C,) I_c, nats.

    Returns:
        I_up, nats per sample.
    """
    w = np.asarray(weights, dtype=np.float64).reshape(-1)
    i = np.asarray(infos, dtype=np.float64).reshape(-1)
    used = w > 0
    entropy = float(-(w[used] * np.log(w[used])).sum())
    return entropy + float(w[used] @ i[used])


def gaussian_entropy(spectrum: Spectrum) -> float:
    """Gaussian (maximum-entropy) h/d = 1/2 (log(2 pi e) + mean log lambda), nats."""
    return 0.5 * (_LOG_2PIE + spectrum.log_mean)


def unconditional_floor(
    x: ArrayLike, info_up: float, delta: float = DELTA
) -> tuple[float, Spectrum]:
    r"""The current tool's floor: (T) with Gaussian h(x) over ALL data (no clusters).

    .. math:: \xi \ge e^{2(h_{gauss}(x) - I_{up})/d} / (2\pi e) = \mathrm{GM}(\lambda)
        e^{-2 I_{up}/d}

    h_gauss over all data is the maximum entropy at the pooled covariance; for multi-modal x
    it is far above the true h(x), so this "floor" can exceed the true MMSE (method.md §3b).

    Args:
        x: (n, d...) inputs, n >= 2.
        info_up: I_up in nats (e.g. `mixture_info`, with its H(pi) term).
        delta: the dequantisation variance.

    Returns:
        The floor and the pooled spectrum (reusable for other info_up via
        `single_block_floor`).
    """
    spectrum = cluster_spectrum(x, delta)
    return single_block_floor(spectrum, info_up), spectrum


def floor_sweep(spectra: ClusterSpectra, infos: Sequence[ArrayLike]) -> np.ndarray:
    """(S) for several leakage vectors (sigma values, bootstrap draws): no eigendecomposition.

    Args:
        spectra: from `cluster_spectra`.
        infos: S vectors of (C,) I_c.

    Returns:
        (S,) floors.
    """
    return np.array([floor_from_spectra(spectra, i).floor for i in infos])
