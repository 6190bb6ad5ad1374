"""Closed forms of bound (L) and theorem (T) on given statistics: I_up and the MSE floor.

Entropies in nats; the floor is per input dimension on the [0, 1] pixel scale
(docs/method.md §2-3). `privaudit.bound` estimates them from features.
"""

from __future__ import annotations

import math

import numpy as np

from privaudit.candidates import _mixture_leakage
from privaudit.config import check_sigma
from privaudit.errors import ConfigError
from privaudit.moments import ClusterStats
from privaudit.resample import cluster_spectra

__all__ = ["check_noise_sigma", "leakage_diagonal", "leakage_full", "mse_floor"]


def leakage_diagonal(stats: ClusterStats, sigma: float) -> float:
    r"""Diagonal (Hadamard) form of bound (L): a valid upper bound on I(x;z).

    .. math:: I_{up} = H(\pi) + \frac12 \sum_c \pi_c \sum_j \log(1 + S_{c,jj}/\sigma^2)

    Args:
        stats: cluster weights and (C, m) variances of the clean features.
        sigma: noise std > 0, feature units.

    Returns:
        I_up, nats per sample.

    Raises:
        ConfigError: sigma not finite and > 0.
    """
    sigma = _positive_sigma(sigma)
    return float(_mixture_leakage(stats.weights[None], stats.variances[None], sigma)[0])


def leakage_full(z: np.ndarray, labels: np.ndarray, sigma: float) -> float:
    r"""Full-covariance form of bound (L), from the clusters' sample covariances.

    .. math:: I_{up} = H(\pi) + \frac12 \sum_c \pi_c \log\det(I + S_c/\sigma^2)

    Exact for Gaussian clusters; a plug-in estimate that underestimates unless n_c >> m.

    Args:
        z: (n, m) clean features.
        labels: (n,) cluster labels 0..C-1.
        sigma: noise std > 0, feature units.

    Returns:
        I_up, nats per sample.

    Raises:
        ConfigError: sigma not finite and > 0.
        DataError: bad shapes or NaN/inf.
    """
    sigma = _positive_sigma(sigma)
    spectra = cluster_spectra(z, labels)
    counts = np.bincount(np.asarray(labels).reshape(-1))
    return float(_mixture_leakage(counts[None] / counts.sum(), spectra, sigma)[0])


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


def check_noise_sigma(sigma: float) -> float:
    """The noise std as a float; ConfigError unless finite and >= 0 (`config.check_sigma`)."""
    value = float(sigma)
    check_sigma(value, "noise sigma")
    return value


def _positive_sigma(sigma: float) -> float:
    if check_noise_sigma(sigma) == 0.0:
        raise ConfigError("sigma = 0 makes I(x;z) unbounded", hint="use estimate_bound")
    return float(sigma)
