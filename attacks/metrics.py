"""Reconstruction metrics per sample (MSE, PSNR, SSIM) and per feature, and bootstrap means.

MSE works on any sample shape; PSNR takes the data range (1 for pixels on [0, 1]); SSIM is for
images only. Per feature (axis 1: a tabular column, a signal channel): MSE, R^2 and Pearson
correlation over the samples (and time steps).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from privaudit.results import Interval

__all__ = [
    "bootstrap_mean",
    "bootstrap_ratio",
    "feature_correlation",
    "feature_mse",
    "feature_r2",
    "mse",
    "psnr",
    "ssim",
]

PSNR_CAP_DB = 100.0  # PSNR reported for a perfect reconstruction (mse = 0)
_K1, _K2 = 0.01, 0.03
_WINDOW, _SIGMA = 11, 1.5


def _check_pair(a: Tensor, b: Tensor, rank: int | None = 4) -> None:
    if a.shape != b.shape or (a.dim() != rank if rank else a.dim() < 2):
        want = "(N, C, H, W)" if rank == 4 else "(N, ...)"
        raise ValueError(f"expected two equal {want} shapes, got {a.shape}, {b.shape}")


def mse(a: Tensor, b: Tensor) -> Tensor:
    """Per-sample mean squared error.

    Args:
        a: (N, ...) samples: images (N, C, H, W) in [0, 1], or standardised vectors (N, F)
            and signals (N, C, T).
        b: the same shape.

    Returns:
        (N,) mean over each sample's values of (a - b)^2.
    """
    _check_pair(a, b, rank=None)
    return (a.float() - b.float()).pow(2).flatten(1).mean(dim=1)


def psnr(a: Tensor, b: Tensor, data_range: float = 1.0) -> Tensor:
    r"""Per-sample peak signal-to-noise ratio for a data range R (1 for pixels on [0, 1]).

    .. math:: \mathrm{PSNR} = 10 \log_{10}(R^2 / \mathrm{MSE})

    Args:
        a: (N, ...) samples, in the units of `data_range`.
        b: the same shape.
        data_range: R, the data's high - low (> 0).

    Returns:
        (N,) dB, capped at 100 dB (identical samples, mse = 0).
    """
    err = mse(a, b)
    db = 10.0 * torch.log10(data_range**2 / err.clamp_min(1e-30))
    return db.clamp_max(PSNR_CAP_DB)


def _by_feature(x: Tensor) -> Tensor:
    """(N, F, ...) -> (F, N * ...): each feature's values over samples (and time steps)."""
    return x.float().transpose(0, 1).reshape(x.shape[1], -1)


def feature_mse(a: Tensor, b: Tensor) -> Tensor:
    """(F,) mean squared error of each feature (axis 1) over the samples and time steps."""
    _check_pair(a, b, rank=None)
    return (_by_feature(a) - _by_feature(b)).pow(2).mean(dim=1)


def feature_r2(x_hat: Tensor, truth: Tensor) -> Tensor:
    r"""(F,) coefficient of determination of each feature: 1 - SSE / SST.

    .. math:: R^2_j = 1 - \frac{\sum (x_j - \hat x_j)^2}{\sum (x_j - \bar x_j)^2}

    SST is about the truth's own mean (scikit-learn's `r2_score`), so guessing a constant
    scores <= 0; NaN for a feature that is constant in `truth`.
    """
    sse = feature_mse(x_hat, truth)
    var = _by_feature(truth).var(dim=1, unbiased=False)
    return torch.where(var > 0, 1.0 - sse / var.clamp_min(1e-30), torch.nan)


def feature_correlation(x_hat: Tensor, truth: Tensor) -> Tensor:
    """(F,) Pearson correlation of each feature's reconstruction with the truth; NaN if constant."""
    _check_pair(x_hat, truth, rank=None)
    a, b = _by_feature(x_hat).double(), _by_feature(truth).double()
    a, b = a - a.mean(dim=1, keepdim=True), b - b.mean(dim=1, keepdim=True)
    den = (a.pow(2).sum(dim=1) * b.pow(2).sum(dim=1)).sqrt()
    return torch.where(den > 0, (a * b).sum(dim=1) / den.clamp_min(1e-300), torch.nan).float()


def _gaussian_taps(size: int, sigma: float, like: Tensor) -> Tensor:
    """Normalized 1-D Gaussian of odd length `size`."""
    coords = torch.arange(size, dtype=torch.float32, device=like.device) - (size - 1) / 2
    taps = torch.exp(-(coords**2) / (2 * sigma**2))
    return taps / taps.sum()


def _window_size(height: int, width: int) -> int:
    """11, or the largest odd size that fits a smaller image."""
    size = min(_WINDOW, height, width)
    return size if size % 2 == 1 else size - 1


def _blur(x: Tensor, taps: Tensor) -> Tensor:
    """Separable depthwise Gaussian filter with VALID borders (no padding)."""
    channels, size = x.shape[1], taps.numel()
    rows = taps.view(1, 1, 1, size).expand(channels, 1, 1, size)
    cols = taps.view(1, 1, size, 1).expand(channels, 1, size, 1)
    return F.conv2d(F.conv2d(x, rows, groups=channels), cols, groups=channels)


def ssim(a: Tensor, b: Tensor) -> Tensor:
    """Per-image structural similarity (Wang et al. 2004), differentiable.

    Gaussian window 11x11 with sigma 1.5, valid borders (no padding), K1 = 0.01,
    K2 = 0.03, data range 1; the SSIM map is averaged per channel, then over channels.
    This matches scikit-image's ``structural_similarity(gaussian_weights=True,
    sigma=1.5, use_sample_covariance=False, data_range=1)`` and pytorch-msssim.
    Images smaller than 11 pixels use the largest odd window that fits.

    Args:
        a: (N, C, H, W) in [0, 1].
        b: (N, C, H, W) in [0, 1].

    Returns:
        (N,) SSIM in [-1, 1]; 1 for identical images.
    """
    _check_pair(a, b)
    a, b = a.float(), b.float()
    size = _window_size(a.shape[2], a.shape[3])
    if size < 1:
        raise ValueError(f"image too small for SSIM: {tuple(a.shape[2:])}")
    taps = _gaussian_taps(size, _SIGMA, a)
    mu_a, mu_b = _blur(a, taps), _blur(b, taps)
    var_a = _blur(a * a, taps) - mu_a**2
    var_b = _blur(b * b, taps) - mu_b**2
    cov = _blur(a * b, taps) - mu_a * mu_b
    c1, c2 = _K1**2, _K2**2
    num = (2 * mu_a * mu_b + c1) * (2 * cov + c2)
    den = (mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2)
    return (num / den).flatten(2).mean(dim=2).mean(dim=1)


def bootstrap_mean(
    values: Tensor | np.ndarray | Sequence[float],
    *,
    n_boot: int = 1000,
    seed: int,
    level: float = 0.95,
) -> tuple[float, Interval]:
    """Mean of per-sample values with a percentile-bootstrap confidence interval.

    Args:
        values: (N,) per-sample values (e.g. per-image MSE).
        n_boot: number of bootstrap resamples.
        seed: seed of the resampling; the same seed resamples the same indices, so
            intervals of different attacks on the same evaluation set are paired.
        level: coverage of the interval.

    Returns:
        The sample mean and its interval.

    Raises:
        ValueError: no values, or n_boot < 1.
    """
    arr = _flat(values)
    means = _resampled_means(arr, n_boot, seed)
    return float(arr.mean()), _percentile_interval(means, level)


def bootstrap_ratio(
    numerator: Tensor | np.ndarray | Sequence[float],
    denominator: Tensor | np.ndarray | Sequence[float],
    *,
    n_boot: int = 1000,
    seed: int,
    level: float = 0.95,
) -> tuple[float, Interval]:
    """mean(numerator) / mean(denominator) with a paired percentile-bootstrap interval.

    Both are resampled with the same indices (those of `bootstrap_mean` with this seed).

    Raises:
        ValueError: no values, different lengths, or n_boot < 1.
    """
    num, den = _flat(numerator), _flat(denominator)
    if num.shape != den.shape:
        raise ValueError(f"paired values need equal lengths, got {num.size} and {den.size}")
    means = _resampled_means(np.stack([num, den]), n_boot, seed)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratios = means[0] / means[1]
    return float(num.mean() / den.mean()), _percentile_interval(ratios, level)


def _flat(values: Tensor | np.ndarray | Sequence[float]) -> np.ndarray:
    arr = values.detach().cpu().double().numpy() if isinstance(values, Tensor) else values
    return np.asarray(arr, dtype=np.float64).ravel()


def _resampled_means(arr: np.ndarray, n_boot: int, seed: int) -> np.ndarray:
    """Means over n_boot resamples of the last axis: (n_boot,) for 1-D, (k, n_boot) for (k, N).

    The resampled indices depend only on the seed and N, so different values are paired.
    """
    n = arr.shape[-1]
    if n == 0 or n_boot < 1:
        raise ValueError(f"need values and n_boot >= 1, got {n} values, n_boot={n_boot}")
    rng = np.random.default_rng(seed)
    means = np.empty((*arr.shape[:-1], n_boot))
    chunk = max(1, 2_000_000 // n)  # NOTE: bounds the index matrix to ~16 MB
    for start in range(0, n_boot, chunk):
        stop = min(n_boot, start + chunk)
        idx = rng.integers(0, n, size=(stop - start, n))
        means[..., start:stop] = arr[..., idx].mean(axis=-1)
    return means


def _percentile_interval(draws: np.ndarray, level: float) -> Interval:
    tail = (1.0 - level) / 2 * 100
    low, high = np.percentile(draws, [tail, 100 - tail])
    return Interval(low=float(low), high=float(high), level=level)
