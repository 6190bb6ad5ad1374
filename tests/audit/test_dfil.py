"""dFIL (method.md §3d) against closed forms: a linear encoder has J = A everywhere."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from privaudit.audit.dfil import MAX_PROBES, TARGET_RSE, measure_dfil
from privaudit.results import Status

CPU = torch.device("cpu")


def _linear(d: int, m: int, seed: int) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Flatten(), nn.Linear(d, m, bias=True))


@pytest.mark.parametrize(("d", "m", "sigma"), [(64, 16, 0.1), (64, 200, 0.5), (300, 40, 0.05)])
def test_linear_encoder_matches_the_closed_form(d: int, m: int, sigma: float) -> None:
    enc = _linear(d, m, seed=d + m)
    x = np.random.default_rng(0).random((96, 1, d), dtype=np.float32)
    result = measure_dfil(enc, x, sigma, seed=1, device=CPU, batch_size=32)
    weight = enc[1].weight.detach().double()
    exact = float((weight**2).sum()) / (sigma**2 * d)  # tr(A^T A) / (sigma^2 d)
    assert result.status is Status.OK and result.mean is not None
    assert result.relative_standard_error is not None
    assert result.relative_standard_error <= TARGET_RSE or result.probes == MAX_PROBES
    assert result.mean == pytest.approx(exact, rel=4 * max(result.relative_standard_error, 1e-3))
    assert result.inverse_mean == pytest.approx(np.mean([1 / v for v in result.values]))
    assert len(result.values) == 96 and result.p05 <= result.median <= result.p95  # type: ignore[operator]


def test_a_nonlinear_encoder_varies_by_input_and_more_noise_means_less_leakage() -> None:
    torch.manual_seed(0)
    enc = nn.Sequential(nn.Flatten(), nn.Linear(32, 16), nn.Sigmoid())
    x = np.random.default_rng(1).normal(0, 3, (64, 32)).astype(np.float32)
    low, high = (measure_dfil(enc, x, s, seed=2, device=CPU) for s in (0.05, 0.2))
    assert low.values != high.values and np.std(low.values) > 0
    assert low.mean == pytest.approx(16 * high.mean, rel=1e-9)  # 1/sigma^2, same probes


def test_skipped_without_an_encoder_or_without_noise() -> None:
    x = np.zeros((4, 8), np.float32)
    no_torch = measure_dfil(None, x, 0.1, seed=0, device=CPU, reason="unsupported ops: ['If']")
    assert no_torch.status is Status.SKIPPED and "unsupported ops" in (no_torch.reason or "")
    no_noise = measure_dfil(_linear(8, 4, 0), x, 0.0, seed=0, device=CPU)
    assert no_noise.status is Status.SKIPPED and "sigma = 0" in (no_noise.reason or "")


def test_seeded() -> None:
    enc, x = _linear(20, 5, 3), np.random.default_rng(2).random((10, 20), dtype=np.float32)
    a, b = (measure_dfil(enc, x, 0.1, seed=7, device=CPU) for _ in range(2))
    assert a.values == b.values
