"""Reconstruction metrics against scikit-image reference values and closed forms."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from privaudit.attacks import metrics

# The demo's copy of the shared data/mnist_2k.npz (same SHA-256, 9ef1e128...).
MNIST = Path(__file__).resolve().parents[2] / "privaudit" / "demo" / "mnist_2k.npz"

# Reference values computed once at dev time (scikit-image 0.26.0) with
#   skimage.metrics.structural_similarity(a, b, gaussian_weights=True, sigma=1.5,
#       use_sample_covariance=False, data_range=1)
# per image, float64, on the first 8 images of mnist_2k.npz (x / 255) against
#   NOISY: np.clip(x + 0.1 * np.random.default_rng(0).standard_normal(x.shape), 0, 1)
#   BLUR:  3x3 box filter with symmetric padding (= scipy.ndimage.uniform_filter(x,
#          size=(1, 3, 3), mode="reflect")), as built in `_pairs` below.
# RGB: images 0-5 reshaped to two (3, 28, 28) images vs NOISY likewise, channel_axis=0.
SSIM_NOISY = (0.879463, 0.907573, 0.849409, 0.881660, 0.931923, 0.904985, 0.915787, 0.773381)
SSIM_BLUR = (0.839879, 0.850756, 0.876028, 0.877358, 0.882305, 0.876834, 0.877347, 0.760127)
SSIM_RGB = (0.878815, 0.906189)


def _pairs() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    x = np.load(MNIST)["x"][:8].astype(np.float64) / 255
    noisy = np.clip(x + 0.1 * np.random.default_rng(0).standard_normal(x.shape), 0, 1)
    pad = np.pad(x, ((0, 0), (1, 1), (1, 1)), mode="symmetric")
    blur = np.stack([pad[:, i : i + 28, j : j + 28] for i in range(3) for j in range(3)]).mean(0)
    return x, noisy, blur


def _t(a: np.ndarray) -> torch.Tensor:
    return torch.tensor(a, dtype=torch.float32)


@pytest.mark.parametrize(("which", "expected"), [(1, SSIM_NOISY), (2, SSIM_BLUR)])
def test_ssim_matches_scikit_image(which: int, expected: tuple[float, ...]) -> None:
    arrays = _pairs()
    got = metrics.ssim(_t(arrays[0])[:, None], _t(arrays[which])[:, None])
    assert got.shape == (8,)
    np.testing.assert_allclose(got.numpy(), expected, atol=1e-3)


def test_ssim_multichannel_is_mean_over_channels() -> None:
    x, noisy, _ = _pairs()
    got = metrics.ssim(_t(x[:6].reshape(2, 3, 28, 28)), _t(noisy[:6].reshape(2, 3, 28, 28)))
    np.testing.assert_allclose(got.numpy(), SSIM_RGB, atol=1e-3)


def test_identical_images() -> None:
    x = torch.rand(4, 2, 16, 16, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(metrics.ssim(x, x), torch.ones(4), atol=1e-6)
    assert torch.equal(metrics.mse(x, x), torch.zeros(4))
    assert torch.equal(metrics.psnr(x, x), torch.full((4,), metrics.PSNR_CAP_DB))


def test_psnr_is_10_log10_of_inverse_mse() -> None:
    g = torch.Generator().manual_seed(1)
    a, b = torch.rand(5, 1, 8, 8, generator=g), torch.rand(5, 1, 8, 8, generator=g)
    mse = ((a.double() - b.double()) ** 2).mean(dim=(1, 2, 3))
    assert torch.allclose(metrics.mse(a, b).double(), mse, rtol=1e-5)
    assert torch.allclose(metrics.psnr(a, b).double(), 10 * torch.log10(1 / mse), rtol=1e-5)


@pytest.mark.parametrize("fn", [metrics.mse, metrics.psnr, metrics.ssim])
def test_symmetric(fn: object) -> None:
    g = torch.Generator().manual_seed(2)
    a, b = torch.rand(3, 3, 12, 12, generator=g), torch.rand(3, 3, 12, 12, generator=g)
    assert callable(fn)
    assert torch.allclose(fn(a, b), fn(b, a), atol=1e-6)


def test_ssim_small_image_uses_largest_odd_window() -> None:
    """8x8 digits: a 7x7 window (sigma 1.5) leaves a 2x2 SSIM map, checked by hand."""
    g = torch.Generator().manual_seed(3)
    a, b = torch.rand(2, 1, 8, 8, generator=g), torch.rand(2, 1, 8, 8, generator=g)
    taps = torch.exp(-((torch.arange(7.0) - 3) ** 2) / (2 * 1.5**2))
    w = torch.outer(taps, taps) / taps.sum() ** 2
    expected = torch.zeros(2)
    for i in range(2):
        vals = []
        for r in range(2):
            for c in range(2):
                pa, pb = a[i, 0, r : r + 7, c : c + 7], b[i, 0, r : r + 7, c : c + 7]
                ma, mb = (w * pa).sum(), (w * pb).sum()
                va, vb = (w * pa**2).sum() - ma**2, (w * pb**2).sum() - mb**2
                cov = (w * pa * pb).sum() - ma * mb
                c1, c2 = 0.01**2, 0.03**2
                num = (2 * ma * mb + c1) * (2 * cov + c2)
                vals.append(num / ((ma**2 + mb**2 + c1) * (va + vb + c2)))
        expected[i] = torch.stack(vals).mean()
    assert torch.allclose(metrics.ssim(a, b), expected, atol=1e-5)


def test_ssim_is_differentiable() -> None:
    a = torch.rand(2, 1, 16, 16, generator=torch.Generator().manual_seed(4))
    b = a.clone().add_(0.1).clamp_(0, 1).requires_grad_(True)
    metrics.ssim(a, b).sum().backward()
    assert b.grad is not None and torch.isfinite(b.grad).all() and b.grad.abs().sum() > 0


def test_shape_mismatch_raises() -> None:
    with pytest.raises(ValueError, match="shape"):
        metrics.mse(torch.zeros(1, 1, 4, 4), torch.zeros(1, 1, 4, 5))


def test_bootstrap_mean_interval() -> None:
    values = np.random.default_rng(5).normal(2.0, 1.0, size=400)
    mean, ci = metrics.bootstrap_mean(values, seed=0)
    assert mean == pytest.approx(values.mean())
    assert ci.low < mean < ci.high and ci.level == 0.95
    se = values.std() / np.sqrt(len(values))
    assert ci.high - ci.low == pytest.approx(2 * 1.96 * se, rel=0.2)
    assert metrics.bootstrap_mean(torch.tensor(values), seed=0) == (mean, ci)  # seeded, any input
    assert metrics.bootstrap_mean(values, seed=1)[1] != ci


def test_bootstrap_constant_and_empty() -> None:
    mean, ci = metrics.bootstrap_mean([0.5] * 10, n_boot=50, seed=0)
    assert mean == ci.low == ci.high == 0.5
    with pytest.raises(ValueError):
        metrics.bootstrap_mean([], seed=0)
