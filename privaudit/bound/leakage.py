"""Closed forms of bound (L) and theorem (T) on given statistics: I_up and the MSE floor.

The bottom of the bound package: pure functions of weights, variances or eigenvalues, which
the estimation modules above (`candidates`, `bootstrap`, `estimate`) compose. Entropies in
nats; the floor is per input dimension on the [0, 1] pixel scale (docs/method.md §2-3).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from privaudit.errors import ConfigError
from privaudit.noise import check_noise_sigma

__all__ = [
    "ClusterStats",
    "leakage_diagonal",
    "mixture_entropy",
    "mixture_leakage",
    "mse_floor",
    "positive_noise_sigma",
]


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


def mixture_entropy(pi: np.ndarray) -> np.ndarray:
    """H(pi) = -sum_c pi_c log pi_c over the last axis (0 log 0 = 0), nats."""
    out: np.ndarray = -(pi * np.log(np.where(pi > 0, pi, 1.0))).sum(-1)
    return out


def mixture_leakage(pi: np.ndarray, spectra: np.ndarray, noise_sigma: float) -> np.ndarray:
    r"""Eq. (L) from cluster weights and per-cluster variances or eigenvalues.

    .. math:: I_{up} = H(\pi) + \frac12 \sum_c \pi_c \sum_j \log(1 + s_{c,j}/\sigma^2)

    Args:
        pi: (B, C) cluster weights per replicate.
        spectra: (B, C, r) variances (diagonal form) or eigenvalues (full form).
        noise_sigma: the noise std, > 0.

    Returns:
        (B,) I_up, nats per sample.
    """
    logdets = np.log1p(spectra / noise_sigma**2).sum(-1)
    out: np.ndarray = mixture_entropy(pi) + 0.5 * (pi * logdets).sum(-1)
    return out


def leakage_diagonal(stats: ClusterStats, noise_sigma: float) -> float:
    r"""Diagonal (Hadamard) form of bound (L): a valid upper bound on I(x;z).

    .. math:: I_{up} = H(\pi) + \frac12 \sum_c \pi_c \sum_j \log(1 + S_{c,jj}/\sigma^2)

    Args:
        stats: cluster weights and (C, m) variances of the clean features.
        noise_sigma: noise std > 0, feature units.

    Returns:
        I_up, nats per sample.

    Raises:
        ConfigError: noise_sigma not finite and > 0.
    """
    noise_sigma = positive_noise_sigma(noise_sigma)
    return float(mixture_leakage(stats.weights[None], stats.variances[None], noise_sigma)[0])


def mse_floor(cond_entropy_per_dim: float) -> float:
    r"""The MSE floor of theorem (T): no attack has a lower per-dimension MSE.

    .. math:: \xi \ge \frac{e^{2 h(x|z)/d}}{2\pi e}

    Args:
        cond_entropy_per_dim: h(x|z)/d, nats.

    Returns:
        The floor, on the [0, 1] pixel scale.
    """
    with np.errstate(over="ignore"):
        return float(np.exp(2.0 * cond_entropy_per_dim) / (2 * math.pi * math.e))


def positive_noise_sigma(noise_sigma: float) -> float:
    """The noise std as a float; ConfigError unless finite and > 0 (0 makes I unbounded)."""
    value = check_noise_sigma(float(noise_sigma), "noise sigma")
    if value == 0.0:
        raise ConfigError("sigma = 0 makes I(x;z) unbounded", hint="use estimate_bound")
    if value * value == 0.0:
        raise ConfigError(f"noise sigma {value:g} is too small: its square is 0 in floating "
                          "point", hint="use a larger sigma, or 0 for no noise")
    return value
