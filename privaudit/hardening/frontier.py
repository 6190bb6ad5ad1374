"""Harden's numbers: variants aggregated over seeds, the noise-only frontier, the lambda choice."""

from __future__ import annotations

import statistics

import numpy as np

from privaudit.config import AttackName
from privaudit.results import AuditReport, Comparison, Status, Variant

__all__ = ["NO_LOSS", "choose", "against_frontier", "frontier_mse", "variant_of"]

NO_LOSS = "none"  # the loss of a variant without CEM (noise-only, or the original model)


def _mean_std(values: list[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (0 for a single value)."""
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0


def _mean_or_none(values: list[float | None]) -> float | None:
    """The mean, or None when a value is missing."""
    known = [v for v in values if v is not None]
    return statistics.fmean(known) if known and len(known) == len(values) else None


def _decoder_mse(report: AuditReport) -> float | None:
    return next((a.mse for a in report.attacks
                 if a.attack == AttackName.DECODER and a.status is Status.OK), None)


def variant_of(
    label: str, lam: float, loss: str, noise_sigma: float, reports: list[AuditReport],
    stats: list[tuple[float, float, float | None]],
) -> Variant:
    """Aggregate one configuration's per-seed audits into a Variant (means and spreads).

    Args:
        label: e.g. "cem", "noise-only x1.5".
        lam: lambda (0 for noise-only and the original).
        loss: "bound" | "hinge" | "none".
        noise_sigma: the deployment noise std it was trained and measured at.
        reports: one audit per fine-tune seed.
        stats: per seed, (feature mean, feature std, within-class share).
    """
    noisy = _mean_std([r.utility.noisy_accuracy or 0.0 for r in reports])
    mses = [m for m in map(_decoder_mse, reports) if m is not None]
    mse = _mean_std(mses) if len(mses) == len(reports) else (None, None)
    leak = [r.bound.leakage_bits_per_dim for r in reports if r.bound is not None]
    shares = [s[2] for s in stats if s[2] is not None]
    return Variant(
        label=label, lam=lam, loss=loss, noise_sigma=noise_sigma, seeds=len(reports),
        clean_accuracy=statistics.fmean(r.utility.clean_accuracy or 0.0 for r in reports),
        noisy_accuracy=noisy[0], noisy_accuracy_std=noisy[1],
        decoder_mse=mse[0], decoder_mse_std=mse[1],
        leakage_bits_per_dim=statistics.fmean(x for x in leak if x is not None)
        if leak and None not in leak else None,
        mse_floor=_mean_or_none([r.bound.mse_floor if r.bound else None for r in reports]),
        paper_floor=statistics.fmean(r.bound.paper_floor if r.bound else 0.0 for r in reports),
        feature_mean=statistics.fmean(s[0] for s in stats),
        feature_std=statistics.fmean(s[1] for s in stats),
        within_class_share=statistics.fmean(shares) if shares else None,
    )


def frontier_mse(frontier: list[Variant], accuracy: float) -> float | None:
    """Decoder MSE of the noise-only frontier at `accuracy`, linearly interpolated.

    Points are (noisy accuracy, decoder MSE), sorted by accuracy, equal accuracies averaged.
    None when `accuracy` is outside the points' range: nothing is extrapolated.
    """
    points: dict[float, list[float]] = {}
    for v in frontier:
        if v.decoder_mse is not None:
            points.setdefault(v.noisy_accuracy, []).append(v.decoder_mse)
    if not points or not min(points) <= accuracy <= max(points):
        return None
    xs = sorted(points)
    return float(np.interp(accuracy, xs, [statistics.fmean(points[a]) for a in xs]))


def against_frontier(cem: Variant, frontier: list[Variant]) -> Comparison:
    """CEM vs noise-only at equal sigma (`frontier[0]`) and vs the frontier at CEM's accuracy."""
    equal = frontier[0]
    gain = delta = None
    if cem.decoder_mse is not None and equal.decoder_mse:
        gain = cem.decoder_mse / equal.decoder_mse - 1.0
        delta = 100.0 * (cem.noisy_accuracy - equal.noisy_accuracy)
    at = frontier_mse(frontier, cem.noisy_accuracy)
    accs = [v.noisy_accuracy for v in frontier if v.decoder_mse is not None]
    if at is None or cem.decoder_mse is None:
        span = f"[{min(accs):.4g}, {max(accs):.4g}]" if accs else "(no points)"
        note = (f"CEM's noisy accuracy {cem.noisy_accuracy:.4g} is outside the noise-only "
                f"frontier's range {span}: no matched-accuracy comparison (nothing is "
                "extrapolated).")
        return Comparison(gain, delta, None, None, note + _SCOPE)
    frontier_gain = cem.decoder_mse / at - 1.0
    verdict = "beats" if frontier_gain > 0 else "does not beat"
    return Comparison(gain, delta, at, frontier_gain, f"CEM {verdict} the frontier here." + _SCOPE)


_SCOPE = (" Variants are measured with the decoder attack and the bound only, on the same "
          "data split and seeds; numbers are means over the fine-tune seeds.")


def choose(grid: list[Variant], max_drop: float, reference: float) -> tuple[int, str]:
    """The most private grid point within the accuracy budget.

    Within budget: noisy accuracy >= `reference` (the original's clean accuracy) minus
    `max_drop` points. Most private: largest decoder MSE, then lowest leakage.

    Returns:
        The index into `grid` and the reason, in words. Without any point within the
        budget, the most accurate one is kept and the reason says so.
    """
    floor = reference - max_drop / 100.0
    ok = [i for i, v in enumerate(grid) if v.noisy_accuracy >= floor]
    if not ok:
        best = max(range(len(grid)), key=lambda i: grid[i].noisy_accuracy)
        return best, (f"no lambda kept the noisy accuracy within {max_drop:g} points of the "
                      f"original's clean accuracy {reference:.4g}; kept the most accurate, "
                      f"lambda {grid[best].lam:g} ({grid[best].noisy_accuracy:.4g})")

    def key(i: int) -> tuple[float, float]:
        v = grid[i]
        return (v.decoder_mse if v.decoder_mse is not None else -np.inf,
                -(v.leakage_bits_per_dim if v.leakage_bits_per_dim is not None else np.inf))

    best = max(ok, key=key)
    v = grid[best]
    return best, (f"lambda {v.lam:g} ({v.loss}): the largest decoder MSE "
                  f"({v.decoder_mse if v.decoder_mse is not None else float('nan'):.4g}) "
                  f"of the {len(ok)} of {len(grid)} lambdas whose noisy accuracy stays within "
                  f"{max_drop:g} points of the original's clean accuracy {reference:.4g} "
                  f"(it has {v.noisy_accuracy:.4g})")
