r"""Fisher information leakage (dFIL) per evaluation sample (docs/method.md §3d).

For z = f(x) + N(0, sigma^2 I), Maeng et al. (NeurIPS 2023, arXiv 2305.04146) define

.. math:: \mathrm{dFIL}(x) = \frac{\mathrm{tr}(J(x)^\top J(x))}{\sigma^2 d}

with J the encoder's Jacobian in pixel space. By the Cramer-Rao bound an *unbiased*
attacker's MSE per dimension on x is at least 1/dFIL(x); biased attackers (every learned one)
can beat it. The trace comes from Hutchinson probes, tr(J^T J) = E_v ||J^T v||^2 with
Rademacher v in feature space, through vector-Jacobian products of the ONNX-to-torch
interpreter: one forward pass per batch, one backward pass per probe, batched over samples.
"""

from __future__ import annotations

import math
import time

import numpy as np
import torch
from torch import Tensor, nn

from privaudit.results import Dfil, Status

__all__ = ["MAX_PROBES", "PROBE_ROUND", "TARGET_RSE", "measure_dfil"]

TARGET_RSE = 0.02  # probes are added until the mean's relative standard error is this low
PROBE_ROUND = 8  # probes added per round
MAX_PROBES = 128


def measure_dfil(
    encoder: nn.Module | None,
    x: np.ndarray,
    noise_sigma: float,
    *,
    seed: int,
    device: torch.device,
    batch_size: int = 128,
    reason: str | None = None,
) -> Dfil:
    """DFIL of every evaluation input, with the probes' relative standard error.

    Args:
        encoder: the encoder in pixel space (pixels in, clean features out), or None.
        x: (N, ...) evaluation inputs.
        noise_sigma: the deployment's noise std.
        seed: seed of the Rademacher probes.
        device: where to compute.
        batch_size: samples per forward pass.
        reason: why `encoder` is None (the interpreter lacks an op), for the report.

    Returns:
        The per-sample distribution of dFIL and of 1/dFIL, or a skipped result with its reason
        (also when the features have no gradient path from the input, e.g. token ids cast to
        integers inside the encoder).
    """
    if encoder is None:
        return Dfil(Status.SKIPPED, reason=f"needs the encoder in torch: {reason or 'missing'}")
    if not noise_sigma > 0:
        return Dfil(Status.SKIPPED, reason="sigma = 0: dFIL is infinite, 1/dFIL is 0")
    start = time.perf_counter()
    encoder = encoder.to(device).eval()
    if len(x) and not _differentiable(encoder, x[:1], device):
        return Dfil(Status.SKIPPED, reason="the encoder's features have no gradient path from "
                    "its input (integer or rounded values inside it), so dFIL is undefined")
    squares = _probe_squares(encoder, x, seed, device, batch_size)
    trace = squares.mean(axis=1)
    values = trace / (noise_sigma**2 * int(np.prod(x.shape[1:])))
    return _summary(values, squares, time.perf_counter() - start)


def _differentiable(encoder: nn.Module, x: np.ndarray, device: torch.device) -> bool:
    """Whether the features of the samples `x` have a gradient path from the input."""
    inputs = torch.from_numpy(np.ascontiguousarray(x, np.float32)).to(device)
    inputs.requires_grad_(True)
    features = _first(encoder(inputs))
    if not features.requires_grad:
        return False
    (grad,) = torch.autograd.grad(features.sum(), inputs, allow_unused=True)
    return grad is not None


def _probe_squares(
    encoder: nn.Module, x: np.ndarray, seed: int, device: torch.device, batch_size: int
) -> np.ndarray:
    """(N, P) values ||J^T v_p||^2, probes added in rounds until the RSE target or the cap."""
    gen = torch.Generator(device="cpu").manual_seed(seed)
    rounds: list[np.ndarray] = []
    while True:
        rounds.append(_round(encoder, x, gen, device, batch_size))
        squares = np.concatenate(rounds, axis=1)
        if _rse(squares) <= TARGET_RSE or squares.shape[1] >= MAX_PROBES:
            return squares


def _round(
    encoder: nn.Module, x: np.ndarray, gen: torch.Generator, device: torch.device, batch: int
) -> np.ndarray:
    """(N, PROBE_ROUND) squared norms of J^T v for fresh Rademacher probes v."""
    out = []
    for i in range(0, len(x), batch):
        inputs = torch.from_numpy(np.ascontiguousarray(x[i : i + batch], np.float32)).to(device)
        inputs.requires_grad_(True)
        features = _first(encoder(inputs)).flatten(1)
        columns = []
        for p in range(PROBE_ROUND):
            probe = torch.randint(0, 2, features.shape, generator=gen).to(features) * 2 - 1
            (vjp,) = torch.autograd.grad(features, inputs, probe, retain_graph=p < PROBE_ROUND - 1)
            columns.append(vjp.flatten(1).double().pow(2).sum(1))
        out.append(torch.stack(columns, 1).cpu().numpy())
    return np.concatenate(out)


def _first(out: Tensor | tuple[Tensor, ...]) -> Tensor:
    return out[0] if isinstance(out, tuple) else out


def _rse(squares: np.ndarray) -> float:
    """Relative standard error of the mean trace over samples, from the probes' spread."""
    n, probes = squares.shape
    mean = float(squares.mean())
    if probes < 2 or not mean > 0:
        return 0.0 if mean == 0 else math.inf
    per_sample_var = squares.var(axis=1, ddof=1) / probes
    return float(math.sqrt(float(per_sample_var.sum())) / n / mean)


def _percentile(values: np.ndarray, q: float) -> float:
    """The q-th percentile of values that may hold +inf (1/dFIL of a flat encoder region).

    numpy interpolates inf - inf to NaN (with a warning) between two infinite values; the
    percentile of such a tail is infinite.
    """
    if np.isfinite(values).all():
        return float(np.percentile(values, q))
    with np.errstate(invalid="ignore"):
        found = float(np.percentile(values, q))
    return math.inf if math.isnan(found) else found


def _summary(values: np.ndarray, squares: np.ndarray, seconds: float) -> Dfil:
    with np.errstate(divide="ignore"):
        inverse = np.where(values > 0, 1.0 / values, np.inf)
    return Dfil(
        status=Status.OK,
        probes=int(squares.shape[1]),
        relative_standard_error=_rse(squares),
        mean=float(values.mean()),
        median=float(np.median(values)),
        p05=float(np.percentile(values, 5)),
        p95=float(np.percentile(values, 95)),
        inverse_mean=float(inverse.mean()),
        inverse_p05=_percentile(inverse, 5),
        values=tuple(float(f"{v:.6g}") for v in values),
        seconds=seconds,
    )
