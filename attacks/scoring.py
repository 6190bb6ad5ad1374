"""The one scoring rule of attacks and reference reconstructions: per-sample metrics, paired.

Every reconstruction (an attack's, or a reference's: method.md §3c) is scored on the same
evaluation inputs with the same bootstrap resamples, so intervals of different
reconstructions are paired: an attack's recovered share and whether it beats the `label`
reference come from the same draws as its MSE. What is scored depends on the inputs
(`Measure`): images get MSE, PSNR and SSIM on [0, 1]; signals MSE (standardised), PSNR on their
data range and per-channel scores; tabular vectors MSE (standardised) and per-column scores.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from privaudit.attacks import metrics
from privaudit.config.choices import Domain
from privaudit.results import AttackResult, FeatureScore, Interval, Reference, Status

__all__ = ["DECIMALS", "Measure", "Scored", "Scorer"]

DECIMALS = 4  # stored reconstructions are rounded to this many decimals
PRIOR, LABEL = "prior", "label"


@dataclass(frozen=True)
class Measure:
    """What the inputs are and how their measured values map to the data's own units.

    Attributes:
        domain: tabular, signal or image.
        names: per feature (axis 1; tabular columns, signal channels); empty for images.
        mean: per feature, the data's own units (raw = measured * std + mean).
        std: per feature.
        discrete: per feature: integer-valued with few values (exact matches are counted).
        data_range: the signals' high - low in their own units (the PSNR peak), or None.
        levels: per feature, the values a discrete feature takes (empty: whole numbers).
    """

    domain: Domain = Domain.IMAGE
    names: tuple[str, ...] = ()
    mean: tuple[float, ...] = ()
    std: tuple[float, ...] = ()
    discrete: tuple[bool, ...] = ()
    data_range: float | None = None
    levels: tuple[tuple[float, ...], ...] = ()

    def to_raw(self, x: Tensor) -> Tensor:
        """Measured `(N, F, ...)` values in the data's own units."""
        shape = (1, -1) + (1,) * (x.dim() - 2)
        mean = torch.tensor(self.mean, dtype=torch.float64).reshape(shape)
        std = torch.tensor(self.std, dtype=torch.float64).reshape(shape)
        return x.double() * std + mean


class Scored:
    """Per-sample metrics of one reconstruction, their bootstrap means, per-feature scores."""

    def __init__(self, x_hat: Tensor, truth: Tensor, seed: int, measure: Measure) -> None:
        with torch.no_grad():
            self.per_image = {"mse": metrics.mse(x_hat, truth)}
            if measure.domain == Domain.IMAGE:
                self.per_image["psnr"] = metrics.psnr(x_hat, truth)
                self.per_image["ssim"] = metrics.ssim(x_hat, truth)
            elif measure.domain == Domain.SIGNAL and measure.data_range:
                raw = measure.to_raw(x_hat), measure.to_raw(truth)
                self.per_image["psnr"] = metrics.psnr(*raw, data_range=measure.data_range)
            self.features = () if measure.domain == Domain.IMAGE else feature_scores(
                x_hat, truth, measure)
        self.stats = {k: metrics.bootstrap_mean(v, seed=seed) for k, v in self.per_image.items()}

    @property
    def mse(self) -> float:
        """The mean per-sample MSE."""
        return self.stats["mse"][0]

    def mean(self, name: str) -> float | None:
        """The mean of metric `name`, or None when it does not apply to these inputs."""
        return self.stats[name][0] if name in self.stats else None

    def interval(self, name: str) -> Interval | None:
        """The bootstrap interval of metric `name`, or None when it does not apply."""
        return self.stats[name][1] if name in self.stats else None


def feature_scores(x_hat: Tensor, truth: Tensor, measure: Measure) -> tuple[FeatureScore, ...]:
    """Per feature (axis 1): MSE standardised and raw, R^2, correlation, exact matches.

    Exact matches are counted for discrete tabular columns only: the share of evaluation rows
    whose reconstruction, snapped to the nearest value the column takes (in the data's own
    units), equals the true value. Rounding to whole numbers counted a column of tens (70,
    80, ...) as never recovered by any attack, and the mean guess (99.7, rounded to 100) as
    the best.
    """
    mse, r2 = metrics.feature_mse(x_hat, truth), metrics.feature_r2(x_hat, truth)
    corr = metrics.feature_correlation(x_hat, truth)
    exact: list[float | None] = [None] * truth.shape[1]
    if measure.domain == Domain.TABULAR and any(measure.discrete):
        guess, true = measure.to_raw(x_hat), measure.to_raw(truth)
        for j, d in enumerate(measure.discrete):
            if d:
                levels = _levels_of(measure, j)
                hits = _snapped(guess[:, j], levels) == _snapped(true[:, j], levels)
                exact[j] = float(hits.double().mean())
    return tuple(
        FeatureScore(name=name, mse=float(mse[j]), mse_raw=float(mse[j]) * measure.std[j] ** 2,
                     r2=_finite(r2[j]), correlation=_finite(corr[j]), exact_match=exact[j])
        for j, name in enumerate(measure.names)
    )  # fmt: skip


def _levels_of(measure: Measure, j: int) -> Tensor | None:
    """The values discrete feature j takes, sorted (None: unknown, whole numbers then)."""
    if j >= len(measure.levels) or not measure.levels[j]:
        return None
    return torch.tensor(measure.levels[j], dtype=torch.float64)


def _snapped(values: Tensor, levels: Tensor | None) -> Tensor:
    """Each value replaced by the nearest of `levels` (ties: the lower), or rounded."""
    if levels is None:
        return torch.round(values)
    if len(levels) == 1:
        return levels.expand_as(values)
    right = torch.searchsorted(levels, values.contiguous()).clamp(1, len(levels) - 1)
    left = right - 1
    nearer_left = (values - levels[left]).abs() <= (levels[right] - values).abs()
    return torch.where(nearer_left, levels[left], levels[right])


def _finite(value: Tensor) -> float | None:
    v = float(value)
    return v if np.isfinite(v) else None


class Scorer:
    """Scores reconstructions of the evaluation inputs (`truth`), paired through `seed`.

    Args:
        truth: (N, ...) the private evaluation inputs, measured.
        floor: the bound's MSE floor (an attack below it breaks its assumption), or None.
        n_stored: reconstructions kept for the report (the first evaluation indices).
        seed: the bootstrap seed shared by every reconstruction.
        measure: what the inputs are (default: images, pixels on [0, 1]).
    """

    def __init__(
        self, truth: Tensor, floor: float | None, n_stored: int, seed: int,
        measure: Measure | None = None,
    ) -> None:
        self.truth = truth
        self.floor = floor
        self.samples = tuple(range(min(max(0, n_stored), len(truth))))
        self.seed = seed
        self.measure = measure or Measure()
        self.references: dict[str, Scored] = {}

    def reference(self, name: str, x_hat: Tensor | None, reason: str | None = None) -> Reference:
        """Score a reference reconstruction (kept for the attacks' recovered share)."""
        if x_hat is None:
            return Reference(name=name, mse=None, reason=reason or "not computed")
        scored = Scored(x_hat, self.truth, self.seed, self.measure)
        self.references[name] = scored
        return Reference(
            name=name, mse=scored.mse, mse_interval=scored.interval("mse"),
            psnr=scored.mean("psnr"), ssim=scored.mean("ssim"),
            recovered=self._recovered(scored)[0], features=scored.features,
        )

    def attack(
        self, name: str, x_hat: Tensor, seconds: float, params: dict[str, object]
    ) -> AttackResult:
        """Score an attack's reconstruction.

        Returns:
            Per-sample MSE (PSNR, SSIM where they apply) means with bootstrap intervals, the
            recovered share, whether it beats the label reference, the stored samples, and
            the per-feature scores of tabular vectors and signals.
        """
        scored = Scored(x_hat, self.truth, self.seed, self.measure)
        mse = scored.mse
        recovered, interval = self._recovered(scored)
        return AttackResult(
            attack=name, status=Status.OK, mse=mse, psnr=scored.mean("psnr"),
            ssim=scored.mean("ssim"), mse_interval=scored.interval("mse"),
            psnr_interval=scored.interval("psnr"), ssim_interval=scored.interval("ssim"),
            n_samples=len(self.truth), seconds=seconds,
            params=params, below_floor=bool(self.floor is not None and mse < self.floor),
            samples=self.samples, reconstructions=self._stored(x_hat), recovered=recovered,
            recovered_interval=interval, beats_label=self._beats_label(scored),
            features=scored.features,
        )  # fmt: skip

    def _recovered(self, scored: Scored) -> tuple[float | None, Interval | None]:
        """1 - MSE / MSE(prior), with a paired percentile interval."""
        prior = self.references.get(PRIOR)
        if prior is None or not prior.mse > 0:
            return None, None
        ratio, interval = metrics.bootstrap_ratio(
            scored.per_image["mse"], prior.per_image["mse"], seed=self.seed
        )
        return 1.0 - ratio, Interval(1.0 - interval.high, 1.0 - interval.low, interval.level)

    def _beats_label(self, scored: Scored) -> bool | None:
        """Whether the MSE is below the label reference's beyond their paired interval."""
        label = self.references.get(LABEL)
        if label is None:
            return None
        gap = scored.per_image["mse"] - label.per_image["mse"]
        _, interval = metrics.bootstrap_mean(gap, seed=self.seed)
        return interval.high < 0

    def _stored(self, x_hat: Tensor) -> tuple[tuple[float, ...], ...]:
        return tuple(
            tuple(round(float(v), DECIMALS) for v in x_hat[i].flatten().tolist())
            for i in self.samples
        )

