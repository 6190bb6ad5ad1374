"""Linear inversion: the best linear estimate of the input from the noisy features (LMMSE)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import Tensor

from privaudit.attacks.base import Attack, AttackData, AttackParams, RunContext, check_positive
from privaudit.attacks.nets import clean_aux_features
from privaudit.attacks.target import Capability, Target
from privaudit.config.choices import AttackName
from privaudit.errors import AttackError

__all__ = ["LinearAttack", "LinearParams"]

@dataclass(frozen=True)
class LinearParams(AttackParams):
    """Settings of the linear attack (closed form: no compute budget to scale).

    Attributes:
        max_samples: auxiliary samples the fit uses at most; beyond it, a seeded random
            subset (the fit holds an (n, n) or (m, m) matrix, whichever is smaller).
    """

    max_samples: int = 4096

    def __post_init__(self) -> None:
        check_positive("linear", "max_samples", self.max_samples, integer=True)


class LinearAttack(Attack[LinearParams]):
    """Linear inversion: x_hat = mean_x + C_xz (C_zz + sigma^2 I)^-1 (z - mean_z).

    The linear minimum-mean-squared-error estimate, with the covariances of the auxiliary
    inputs and their clean features (queried from the encoder) and the deployment's sigma:
    the least-squares linear map from noisy features to inputs, averaged over the noise in
    closed form. For Gaussian inputs through a linear encoder it is the optimal attacker
    (its MSE is the MMSE, docs/method.md §3); for any encoder it reaches what a linear
    read-out of the features gives, which an identity-like or shallow encoder leaks in full
    and a short decoder training may not find.

    Threat model: black box. The attacker holds auxiliary inputs, can query the encoder,
    and knows sigma.

    Adapted from: the linear (ridge) decoder baseline of the feature-inversion literature
    (e.g. Mahendran and Vedaldi, "Understanding Deep Image Representations by Inverting
    Them", CVPR 2015, which compares with such read-outs).

    Cost: O(n^2 m) for the Gram matrix of n = min(N_aux, max_samples) samples in the dual
    form (m > n), else O(n m^2); then O(N_eval n d). Float64, on `ctx.device`.
    """

    name: ClassVar[str] = AttackName.LINEAR
    params_type: ClassVar[type[AttackParams]] = LinearParams
    requires: ClassVar[frozenset[Capability]] = frozenset({Capability.QUERY})
    summary: ClassVar[str] = "best linear estimate of the input from the features (LMMSE)"

    def reconstruct(self, target: Target, data: AttackData, ctx: RunContext) -> Tensor:
        """The linear estimate of every target, clipped to the inputs' range."""
        queries = data.target_z.flatten(1)
        if len(queries) == 0:
            return torch.zeros((0, *target.input_shape))
        z, x = clean_aux_features(target, data).flatten(1), data.aux_x.flatten(1)
        if len(x) < 2:
            raise AttackError(f"linear needs at least 2 auxiliary samples, got {len(x)}")
        if len(x) > self.params.max_samples:
            g = torch.Generator().manual_seed(ctx.seed)
            keep = torch.randperm(len(x), generator=g)[: self.params.max_samples]
            z, x = z[keep], x[keep]
        with torch.no_grad(), ctx.progress.task(self.name, total=None):
            out = _estimate(z.to(ctx.device), x.to(ctx.device), queries.to(ctx.device),
                            target.noise_sigma).cpu()  # fmt: skip
        if not torch.isfinite(out).all():
            raise AttackError("linear: the estimate is not finite (features of inf or NaN?)")
        return target.clip(out.reshape(len(out), *target.input_shape))


def _estimate(z: Tensor, x: Tensor, queries: Tensor, sigma: float) -> Tensor:
    """mean_x + S K^-1 R for every query, float32 (N_eval, d); float64 inside.

    Dual form (features m > samples n): K = Zc Zc^T + n sigma^2 I (n, n), R = Xc, S the
    queries' centred features times Zc^T. Primal: K = Zc^T Zc + n sigma^2 I (m, m),
    R = Zc^T Xc, S the queries' centred features. Features and inputs are read a block of
    columns at a time, so memory holds K, S and one block, never a float64 copy of them all.
    """
    n, m = z.shape
    mean_z = _column_mean(z)
    dual = m > n
    if dual:
        gram = torch.zeros(n, n, dtype=torch.float64, device=z.device)
        kernel = torch.zeros(len(queries), n, dtype=torch.float64, device=z.device)
        for cols in _blocks(m):
            zc = z[:, cols].double() - mean_z[cols]
            gram += zc @ zc.T
            kernel += (queries[:, cols].double() - mean_z[cols]) @ zc.T
    else:  # NOTE: m <= n <= max_samples: small enough to hold whole
        zc = z.double() - mean_z
        gram, kernel = zc.T @ zc, queries.double() - mean_z
    factor = _cholesky(gram, n * sigma**2)
    mean_x = _column_mean(x)
    out = torch.empty(len(queries), x.shape[1], dtype=torch.float32, device=z.device)
    for cols in _blocks(x.shape[1]):
        xc = x[:, cols].double() - mean_x[cols]
        rhs = xc if dual else zc.T @ xc  # NOTE: zc is the whole (n, m) in the primal form
        out[:, cols] = (mean_x[cols] + kernel @ torch.cholesky_solve(rhs, factor)).float()
    return out


COLUMNS = 4096  # feature or input columns per block of `_estimate`


def _blocks(width: int) -> list[slice]:
    return [slice(start, min(start + COLUMNS, width)) for start in range(0, width, COLUMNS)]


def _column_mean(a: Tensor) -> Tensor:
    """Each column's mean, float64, a block of columns at a time."""
    return torch.cat([a[:, cols].double().mean(0) for cols in _blocks(a.shape[1])])


def _cholesky(gram: Tensor, ridge: float) -> Tensor:
    """The Cholesky factor of gram + ridge I, with a jitter that grows until it exists.

    The ridge is the noise's expected share of the normal equations (n sigma^2); the jitter,
    at least 1e-10 of the mean diagonal, keeps sigma = 0 solvable (then: the minimum-norm
    least-squares map).
    """
    scale = float(gram.diagonal().mean().clamp_min(1e-300))
    eye = torch.eye(len(gram), dtype=gram.dtype, device=gram.device)
    for jitter in (1e-10, 1e-8, 1e-6, 1e-4):
        factor, info = torch.linalg.cholesky_ex(gram + (ridge + jitter * scale) * eye)
        if int(info) == 0:
            return factor
    raise AttackError("linear: the features' covariance could not be factored")
