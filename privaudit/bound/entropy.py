"""Input entropy h(x)/d: certified, Gaussian and user-given values (docs/method.md §3).

Entropies are in nats per *input* dimension d, in the units the inputs are measured in:
pixels on [0, 1], or standardised features (tabular vectors, signals).
"""

from __future__ import annotations

import math

import numpy as np

from privaudit.bound.moments import check_rows
from privaudit.config.choices import EntropyUnit
from privaudit.errors import ConfigError

__all__ = [
    "CERTIFIED_BITS",
    "DEQUANTIZATION_VARIANCE",
    "STANDARDISED_VARIANCE_FLOOR",
    "input_entropy_certified",
    "input_entropy_from_user",
    "input_entropy_gaussian",
]

CERTIFIED_BITS = 8
DEQUANTIZATION_VARIANCE = 1.0 / (12 * 255**2)  # delta, the variance of 8-bit dequantization
# NOTE: data in its own units has no dequantisation; its Gaussian h(x) still needs a variance
# floor to stay finite where the covariance is singular (a constant column, fewer samples than
# dimensions). 1e-6 of the unit variance of a standardised feature, like 8-bit's 1.3e-6.
STANDARDISED_VARIANCE_FLOOR = 1e-6
_BLOCK = 1 << 18
_LOG_2PIE = math.log(2 * math.pi * math.e)


def input_entropy_certified(levels: int = 2**CERTIFIED_BITS) -> float:
    r"""Certified lower bound on h(x)/d for dequantized data with L levels per value.

    .. math:: h(x)/d \ge -\log L

    Args:
        levels: L, pixel values (256 for 8-bit data).

    Returns:
        h(x)/d, nats per dimension.

    Raises:
        ConfigError: levels < 2.
    """
    if levels < 2:
        raise ConfigError(f"levels must be >= 2, got {levels}")
    return -math.log(levels)


def input_entropy_gaussian(x: np.ndarray, delta: float = DEQUANTIZATION_VARIANCE) -> float:
    r"""Gaussian (maximum-entropy, so optimistic) estimate of h(x)/d.

    .. math:: \frac{h(x)}{d} \approx \frac{1}{2d} \log\det(2\pi e(\mathrm{Cov}(x) + \delta I))

    Covariance with ddof = 1. With n <= d the n x n Gram matrix is used,
    det(delta I_d + Xc^T Xc) = delta^(d-n) det(delta I_n + Xc Xc^T); otherwise the d x d
    covariance is accumulated over row blocks.

    Args:
        x: (n, d) or (n, ...) inputs: pixels in [0, 1], or standardised features.
        delta: the variance added to every direction (> 0): 1/(12 * 255^2) for 8-bit data,
            `STANDARDISED_VARIANCE_FLOOR` for standardised features.

    Returns:
        h(x)/d, nats per dimension.

    Raises:
        DataError: fewer than 2 samples, bad shape or NaN/inf.
    """
    data = check_rows(x, what="inputs", min_rows=2)
    n, d = data.shape
    logdet = _logdet_gram(data, delta) if n <= d else _logdet_cov(data, delta)
    return float(0.5 * (_LOG_2PIE + logdet / d))


def _logdet_gram(x: np.ndarray, delta: float) -> float:
    """Return log det(Cov(x) + delta I_d) through the n x n Gram matrix."""
    n, d = x.shape
    centered = x.astype(np.float64) - x.mean(0, dtype=np.float64)
    gram = centered @ centered.T / (n - 1)
    gram[np.diag_indices(n)] += delta
    return float((d - n) * math.log(delta) + _logdet_spd(gram))


def _logdet_cov(x: np.ndarray, delta: float) -> float:
    """Return log det(Cov(x) + delta I_d), the covariance accumulated over row blocks."""
    n, d = x.shape
    step = max(256, _BLOCK // d)
    mean = sum(x[s : s + step].sum(0, dtype=np.float64) for s in range(0, n, step)) / n
    cov = np.zeros((d, d))
    for s in range(0, n, step):
        block = x[s : s + step].astype(np.float64) - mean
        cov += block.T @ block
    cov /= n - 1
    cov[np.diag_indices(d)] += delta
    return _logdet_spd(cov)


def _logdet_spd(a: np.ndarray) -> float:
    return 2.0 * float(np.log(np.diag(np.linalg.cholesky(a))).sum())


def input_entropy_from_user(value: float, unit: str) -> float:
    r"""Convert a user's input entropy to nats per dimension.

    .. math:: h/d = (\mathrm{bpd} - 8) \ln 2 \quad \text{(unit "bits")}

    Args:
        value: h(x)/d in nats ("nats"), or a density model's bits per dimension on 8-bit
            data ("bits"), which include the 8 bits of the discretisation.
        unit: "nats" or "bits".

    Returns:
        h(x)/d, nats per dimension, pixels on [0, 1].

    Raises:
        ConfigError: unknown unit or non-finite value.
    """
    if not math.isfinite(value):
        raise ConfigError(f"input entropy must be finite, got {value!r}")
    if unit == EntropyUnit.NATS:
        return float(value)
    if unit == EntropyUnit.BITS:
        return (float(value) - CERTIFIED_BITS) * math.log(2)
    raise ConfigError(f"unknown input entropy unit {unit!r}; expected 'nats' or 'bits'")
