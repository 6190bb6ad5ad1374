"""Linear inversion: the best linear estimate of the input from the noisy features (LMMSE)."""

from __future__ import annotations

from dataclasses import dataclass, replace
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
    """Linear inversion: x_hat = mean_x + C_xz (C_zz + r I)^-1 (z - mean_z), r >= sigma^2.

    The linear minimum-mean-squared-error estimate, with the covariances of the auxiliary
    inputs and their clean features (queried from the encoder): with r = sigma^2, the
    deployment's noise, it is the least-squares linear map from noisy features to inputs,
    averaged over the noise in closed form, and for Gaussian inputs through a linear encoder
    the optimal attacker (its MSE is the MMSE, docs/method.md §3). With fewer samples than
    the map has coefficients, sigma^2 alone barely regularises the fit, so r is chosen among
    sigma^2 + t v (v: the mean feature variance, t in `EXTRA`) by the MSE on a held-out fifth
    of the auxiliary samples, reconstructed from their noisy features; then the map is
    fitted on all of them. It reaches what a linear read-out of the features gives, which an
    identity-like or shallow encoder leaks in full and a short decoder training may miss.
    Tabular and signal estimates are clipped to the auxiliary range only where that
    reconstructs the held-out fifth better (clipped to the other samples' range): a range
    read off samples is no bound on new inputs, and clipping to it cost 4.6x on Gaussian data.

    Threat model: black box. The attacker holds auxiliary inputs and their noisy features,
    can query the encoder, and knows sigma.

    Adapted from: the linear (ridge) decoder baseline of the feature-inversion literature
    (e.g. Mahendran and Vedaldi, "Understanding Deep Image Representations by Inverting
    Them", CVPR 2015, which compares with such read-outs).

    Cost: with n = min(N_aux, max_samples) samples, m features and d input values: the dual
    form (m > n) O(n^2 m) for the Gram matrix and O(N n m) for the queries' kernel, the
    primal O(n m^2); O(n^3) per Cholesky factor (one per ridge tried, and the last); then
    O(N n d). Float64 on `ctx.device`; memory holds the (n, n) or (m, m) matrix, the kernel
    and one block of columns of the samples at a time.
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
        g = torch.Generator().manual_seed(ctx.seed)
        order = torch.randperm(len(x), generator=g)[: self.params.max_samples]
        held = len(order) // 5 if len(order) >= HELD_OUT_MIN else 0

        def shaped(a: Tensor) -> Tensor:
            return a.float().cpu().reshape(len(a), *target.input_shape)

        clipped = True
        with torch.no_grad(), ctx.progress.task(self.name, total=None):
            ridge = target.noise_sigma**2
            if held:  # NOTE: the ridge that best reconstructs held-out samples from their noise
                part = _Fit(z, x, order[held:], ctx.device)
                check = order[:held]
                tried = [ridge + t * part.variance for t in EXTRA]
                truth = shaped(x[check])
                ranged = _fit_range(target, shaped(x[order[held:]]))
                errors = {}
                for r, e in zip(tried, part.estimates(data.aux_z.flatten(1)[check], tried),
                                strict=True):  # fmt: skip
                    errors[r, True] = float(((ranged.clip(shaped(e)) - truth) ** 2).mean())
                    errors[r, False] = float(((shaped(e) - truth) ** 2).mean())
                ridge, clipped = min(errors, key=errors.__getitem__)
            (out,) = _Fit(z, x, order, ctx.device).estimates(queries, [ridge])
        if not torch.isfinite(out).all():
            raise AttackError("linear: the estimate is not finite (features of inf or NaN?)")
        return target.clip(shaped(out)) if clipped else shaped(out)


HELD_OUT_MIN = 50  # auxiliary samples from which a fifth is held out to choose the ridge
EXTRA = (0.0, 1e-4, 1e-3, 1e-2, 1e-1, 1.0)  # ridge tried beyond sigma^2, x the feature variance
COLUMNS = 4096  # feature or input columns per block


class _Fit:
    """The moments of the auxiliary samples `rows` that the map needs at any ridge.

    Read a block of columns at a time, in float64 on `device` (a copy of one block of the
    rows at a time): the means, and the Gram matrix, Zc Zc^T (n, n) when the features
    outnumber the samples (the dual form), else Zc^T Zc (m, m).
    """

    def __init__(self, z: Tensor, x: Tensor, rows: Tensor, device: torch.device) -> None:
        self.z, self.x, self.rows, self.device = z, x, rows, device
        self.n, m = len(rows), z.shape[1]
        self.dual = m > self.n
        self.mean_z = torch.cat([self._block(z, c).mean(0) for c in _blocks(m)])
        self.mean_x = torch.cat([self._block(x, c).mean(0) for c in _blocks(x.shape[1])])
        self.zc: Tensor | None = None  # (n, m) centred features, kept in the primal form only
        if self.dual:
            self.gram = torch.zeros(self.n, self.n, dtype=torch.float64, device=device)
            for cols in _blocks(m):
                zc = self._block(z, cols) - self.mean_z[cols]
                self.gram += zc @ zc.T
        else:  # NOTE: m <= n <= max_samples: small enough to hold whole
            self.zc = torch.cat([self._block(z, c) for c in _blocks(m)], 1) - self.mean_z
            self.gram = self.zc.T @ self.zc
        self.variance = float(self.gram.diagonal().sum()) / (self.n * m)  # mean feature var.

    def estimates(self, queries: Tensor, ridges: list[float]) -> list[Tensor]:
        """The map's estimate of each query (N, m) at each ridge per sample, float64 (N, d).

        mean_x + S (K + n ridge I)^-1 R; the mean input when the features are constant.
        """
        if self.variance == 0:  # NOTE: constant features carry nothing: the mean input
            return [self.mean_x.expand(len(queries), -1).clone() for _ in ridges]
        if self.zc is None:
            kernel = torch.zeros(len(queries), self.n, dtype=torch.float64, device=self.device)
            for cols in _blocks(self.z.shape[1]):
                q = queries[:, cols].to(self.device, torch.float64) - self.mean_z[cols]
                kernel += q @ (self._block(self.z, cols) - self.mean_z[cols]).T
        else:
            kernel = queries.to(self.device, torch.float64) - self.mean_z
        out = []
        for ridge in ridges:
            factor = _cholesky(self.gram, self.n * ridge)
            est = torch.empty(len(queries), self.x.shape[1], dtype=torch.float64,
                              device=self.device)  # fmt: skip
            for cols in _blocks(self.x.shape[1]):
                xc = self._block(self.x, cols) - self.mean_x[cols]
                rhs = xc if self.zc is None else self.zc.T @ xc
                est[:, cols] = self.mean_x[cols] + kernel @ torch.cholesky_solve(rhs, factor)
            out.append(est)
        return out

    def _block(self, a: Tensor, cols: slice) -> Tensor:
        """Columns `cols` of the fitted rows of `a`, float64 on the device."""
        return a[:, cols][self.rows].to(self.device, torch.float64)


def _fit_range(target: Target, fitted: Tensor) -> Target:
    """The target as the attacker knows its range from the fitted samples alone (`clip`).

    Pixels: [0, 1], which holds every input. Tabular vectors and signals: the fitted samples'
    own range per feature, as `Target.bounds` is the auxiliary samples' range: so the
    held-out samples show what clipping costs on inputs beyond the range it was read from
    (on Gaussian data clipping to the auxiliary range made the estimate 4.6x worse).
    """
    if target.pixels or target.bounds is None:
        return target
    axes = (0, *range(2, fitted.dim()))
    low, high = fitted.amin(dim=axes, keepdim=True)[0], fitted.amax(dim=axes, keepdim=True)[0]
    return replace(target, bounds=(low.numpy(), high.numpy()))


def _blocks(width: int) -> list[slice]:
    return [slice(start, min(start + COLUMNS, width)) for start in range(0, width, COLUMNS)]


def _cholesky(gram: Tensor, ridge: float) -> Tensor:
    """The Cholesky factor of gram + ridge I, with a jitter where that fails.

    The jitter (no ridge on a singular Gram) starts at 1e-10 of the mean diagonal and grows
    until the factor exists.
    """
    eye = torch.eye(len(gram), dtype=gram.dtype, device=gram.device)
    scale = float(gram.diagonal().mean())
    for jitter in (0.0, 1e-10, 1e-8, 1e-6, 1e-4):
        factor, info = torch.linalg.cholesky_ex(gram + (ridge + jitter * scale) * eye)
        if int(info) == 0:
            out: Tensor = factor
            return out
    raise AttackError("linear: the features' covariance could not be factored (inf or NaN?)")
