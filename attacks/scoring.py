"""The one scoring rule of attacks and reference reconstructions: per-image metrics, paired.

Every reconstruction (an attack's, or a reference's: method.md §3c) is scored on the same
evaluation images with the same bootstrap resamples, so intervals of different
reconstructions are paired: an attack's recovered share and whether it beats the `label`
reference come from the same draws as its MSE.
"""

from __future__ import annotations

import torch
from torch import Tensor

from privaudit.attacks import metrics
from privaudit.results import AttackResult, Interval, Reference, Status

__all__ = ["DECIMALS", "Scorer", "Scored"]

DECIMALS = 4  # stored reconstructions are rounded to this many decimals
PRIOR, LABEL = "prior", "label"


class Scored:
    """Per-image metrics of one reconstruction and their bootstrap means."""

    def __init__(self, x_hat: Tensor, truth: Tensor, seed: int) -> None:
        with torch.no_grad():
            self.per_image = {
                "mse": metrics.mse(x_hat, truth),
                "psnr": metrics.psnr(x_hat, truth),
                "ssim": metrics.ssim(x_hat, truth),
            }
        self.stats = {k: metrics.bootstrap_mean(v, seed=seed) for k, v in self.per_image.items()}

    @property
    def mse(self) -> float:
        """The mean per-image MSE."""
        return self.stats["mse"][0]


class Scorer:
    """Scores reconstructions of the evaluation images (`truth`), paired through `seed`.

    Args:
        truth: (N, ...) the private evaluation inputs.
        floor: the bound's MSE floor (an attack below it breaks its assumption), or None.
        n_stored: reconstructions kept for the report (the first evaluation indices).
        seed: the bootstrap seed shared by every reconstruction.
    """

    def __init__(self, truth: Tensor, floor: float | None, n_stored: int, seed: int) -> None:
        self.truth = truth
        self.floor = floor
        self.samples = tuple(range(min(max(0, n_stored), len(truth))))
        self.seed = seed
        self.references: dict[str, Scored] = {}

    def reference(self, name: str, x_hat: Tensor | None, reason: str | None = None) -> Reference:
        """Score a reference reconstruction (kept for the attacks' recovered share)."""
        if x_hat is None:
            return Reference(name=name, mse=None, reason=reason or "not computed")
        scored = Scored(x_hat, self.truth, self.seed)
        self.references[name] = scored
        return Reference(
            name=name, mse=scored.mse, mse_interval=scored.stats["mse"][1],
            psnr=scored.stats["psnr"][0], ssim=scored.stats["ssim"][0],
            recovered=self._recovered(scored)[0],
        )

    def attack(
        self, name: str, x_hat: Tensor, seconds: float, params: dict[str, object]
    ) -> AttackResult:
        """Score an attack's reconstruction.

        Returns:
            Per-image MSE/PSNR/SSIM means with bootstrap intervals, the recovered share,
            whether it beats the label reference, and the stored samples.
        """
        scored = Scored(x_hat, self.truth, self.seed)
        stats, mse = scored.stats, scored.mse
        recovered, interval = self._recovered(scored)
        return AttackResult(
            attack=name, status=Status.OK, mse=mse, psnr=stats["psnr"][0],
            ssim=stats["ssim"][0], mse_interval=stats["mse"][1], psnr_interval=stats["psnr"][1],
            ssim_interval=stats["ssim"][1], n_samples=len(self.truth), seconds=seconds,
            params=params, below_floor=bool(self.floor is not None and mse < self.floor),
            samples=self.samples, reconstructions=self._stored(x_hat), recovered=recovered,
            recovered_interval=interval, beats_label=self._beats_label(scored),
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

