"""Harden's numbers: variants over seeds, the noise-only frontier, the choice among defences.

A defence is judged by the *strongest* attack on it (the lowest MSE of every attack the run
enables, each trained from scratch on the fine-tuned model; or of a reference reconstruction,
when one does better: the label reference is the server's for free), against noise-only fine-tuning
at the same sigma and against a noise-only model whose noisy accuracy is matched to the
defence's within `MATCH_POINTS` (measured, never interpolated: the frontier's MSE is concave
in accuracy, and a straight line between two of its points would understate it). Gains are
paired by fine-tune seed and reported as mean and spread.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from privaudit.config import AttackName
from privaudit.results import AuditReport, Comparison, Status, Variant, strongest_reconstruction

__all__ = [
    "MATCH_POINTS",
    "NOISE_ONLY",
    "NO_LOSS",
    "budget_floor",
    "choose",
    "compare",
    "closest",
    "matches",
    "sigma_for_accuracy",
    "variant_of",
    "winner",
    "within_budget",
    "written_accuracy",
]

NO_LOSS = "none"  # the loss of a variant without CEM (noise-only, or the original model)
NOISE_ONLY = "noise-only"  # the defence name of the frontier's variants
MATCH_POINTS = 1.0  # a matched noise-only model is within this many accuracy points


def _mean_std(values: Sequence[float]) -> tuple[float, float]:
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
    stats: list[tuple[float, float, float | None]], *, defence: str | None = None,
    mu: float = 0.0, noise_stds: tuple[float, ...] | None = None,
) -> Variant:
    """Aggregate one configuration's per-seed audits into a Variant (means and spreads).

    Args:
        label: e.g. "cem", "noise-only x1.5".
        lam: lambda (0 without CEM).
        loss: "bound" | "hinge" | "none".
        noise_sigma: the deployment noise std it was trained and measured at.
        reports: one audit per fine-tune seed.
        stats: per seed, (feature mean, feature std, within-class share).
        defence: the defence's name, "noise-only" or "original".
        mu: the adversarial weight.
        noise_stds: seed 0's per-channel noise stds (a noise allocation).
    """
    noisy = _mean_std([r.utility.noisy_accuracy or 0.0 for r in reports])
    mses = [m for m in map(_decoder_mse, reports) if m is not None]
    mse = _mean_std(mses) if len(mses) == len(reports) else (None, None)
    found = [b for b in map(strongest_reconstruction, reports) if b is not None]
    strong: tuple[float | None, float | None] = (None, None)
    names = recovered = None
    if found and len(found) == len(reports):
        strong = _mean_std([b.mse for b in found])
        names = "/".join(dict.fromkeys(b.name for b in found))
        recovered = _mean_or_none([b.recovered for b in found])
    leak = [r.bound.leakage_bits_per_dim for r in reports if r.bound is not None]
    shares_within = [s[2] for s in stats if s[2] is not None]
    return Variant(
        label=label, lam=lam, loss=loss, noise_sigma=noise_sigma, seeds=len(reports),
        clean_accuracy=statistics.fmean(r.utility.clean_accuracy or 0.0 for r in reports),
        noisy_accuracy=noisy[0], noisy_accuracy_std=noisy[1],
        decoder_mse=mse[0], decoder_mse_std=mse[1],
        leakage_bits_per_dim=statistics.fmean(x for x in leak if x is not None)
        if leak and None not in leak else None,
        mse_floor=_mean_or_none([_floor_estimate(r) for r in reports]),
        paper_floor=statistics.fmean(r.bound.paper_floor if r.bound else 0.0 for r in reports),
        feature_mean=statistics.fmean(s[0] for s in stats),
        feature_std=statistics.fmean(s[1] for s in stats),
        within_class_share=statistics.fmean(shares_within) if shares_within else None,
        defence=defence, mu=mu, strongest_attack=names, strongest_mse=strong[0],
        strongest_mse_std=strong[1], recovered=recovered,
        seed_noisy_accuracy=tuple(r.utility.noisy_accuracy or 0.0 for r in reports),
        seed_strongest_mse=tuple(b.mse for b in found)
        if len(found) == len(reports) else (),
        noise_stds=noise_stds,
    )


def _floor_estimate(report: AuditReport) -> float | None:
    """(S)'s point estimate: every variant's alike, with an interval or without one.

    # NOTE: `mse_floor` is the lower end of the interval where there is one (the original's
    # full audit) and the estimate where there is not (the training seeds' audits): a table
    # of both read a hardened model as more private than a before/after of lower ends.
    """
    if report.bound is None:
        return None
    b = report.bound
    return b.mse_floor_estimate if b.mse_floor_estimate is not None else b.mse_floor


def _paired_gain(defence: Variant, baseline: Variant) -> tuple[float, float | None] | None:
    """Per-seed MSE gains defence_i / baseline_i - 1: mean and spread (None if unmeasured).

    One seed has no spread (None, never 0: a report must not print "± 0.0%" for it).
    """
    a, b = defence.seed_strongest_mse, baseline.seed_strongest_mse
    if not a or len(a) != len(b) or not all(x > 0 for x in b):
        return None
    mean, spread = _mean_std([x / y - 1.0 for x, y in zip(a, b, strict=True)])
    return mean, spread if len(a) > 1 else None


def _frontier_claim(name: str, label: str, gain: float, spread: float | None) -> str:
    """What the frontier gain says: "beats" only when the mean clears the seeds' spread."""
    where = f"the noise-only frontier at matched accuracy ({label})"
    if gain <= 0:
        return f"{name} does not beat {where}."
    if spread is None:
        return (f"{name} is above {where} on 1 seed, too few to tell a gain from seed noise "
                "(--seeds 3 measures the spread).")
    if gain > spread:
        return f"{name} beats {where}, by more than the seeds' spread."
    return f"{name} is above {where}, but within the seeds' spread."


def closest(frontier: Sequence[Variant], accuracy: float) -> Variant | None:
    """The noise-only variant whose noisy accuracy is nearest `accuracy` (measured ones)."""
    measured = [v for v in frontier if v.strongest_mse is not None]
    return min(measured, key=lambda v: abs(v.noisy_accuracy - accuracy), default=None)


def matches(v: Variant, accuracy: float) -> bool:
    """Whether `v`'s noisy accuracy is within MATCH_POINTS of `accuracy`."""
    return abs(v.noisy_accuracy - accuracy) * 100.0 <= MATCH_POINTS + 1e-9


def sigma_for_accuracy(frontier: Sequence[Variant], accuracy: float) -> float | None:
    """The noise-only sigma expected to give `accuracy`: log sigma interpolated in accuracy.

    Outside the measured range the nearest two points are extended in a straight line (in
    log sigma), clamped to a quarter or four times the nearest point's sigma. None with
    fewer than two distinct accuracies.
    """
    points: dict[float, list[float]] = {}
    for v in frontier:
        points.setdefault(v.noisy_accuracy, []).append(math.log(v.noise_sigma))
    if len(points) < 2:
        return None
    acc = np.array(sorted(points))
    logs = np.array([statistics.fmean(points[a]) for a in acc])
    if acc[0] <= accuracy <= acc[-1]:
        return float(math.exp(np.interp(accuracy, acc, logs)))
    i, j = (0, 1) if accuracy < acc[0] else (-2, -1)
    slope = (logs[j] - logs[i]) / (acc[j] - acc[i])
    near = i if accuracy < acc[0] else j
    guess = logs[near] + slope * (accuracy - acc[near])
    return float(math.exp(np.clip(guess, logs[near] - math.log(4), logs[near] + math.log(4))))


def compare(
    defence: Variant, equal: Variant | None, frontier: Sequence[Variant]
) -> Comparison:
    """The defence against noise-only at equal sigma and at matched noisy accuracy.

    Args:
        defence: the defence's variant.
        equal: noise-only at the same sigma (None when not measured).
        frontier: every noise-only variant measured (the matched one among them, if any).
    """
    name = defence.defence or defence.label
    gain = equal_spread = delta = None
    if equal is not None and (paired := _paired_gain(defence, equal)) is not None:
        gain, equal_spread = paired
        delta = 100.0 * (defence.noisy_accuracy - equal.noisy_accuracy)
    near = closest(frontier, defence.noisy_accuracy)
    base = Comparison(gain, delta, None, None, "", defence=name, attack="strongest",
                      equal_sigma_mse_gain_std=equal_spread)
    if near is None or not matches(near, defence.noisy_accuracy):
        reach = ("no noise-only model was measured" if near is None else
                 f"the nearest noise-only model ({near.label}) has noisy accuracy "
                 f"{near.noisy_accuracy:.4g}, "
                 f"{100 * abs(near.noisy_accuracy - defence.noisy_accuracy):.1f} points away")
        note = (f"{name}: no noise-only model matched its noisy accuracy "
                f"{defence.noisy_accuracy:.4g} within {MATCH_POINTS:g} point ({reach}); no "
                "frontier gain is claimed.")
        return replace(base, note=note + _SCOPE)
    paired = _paired_gain(defence, near)
    if paired is None:
        return replace(base, note=f"{name}: an attack failed on a seed; no frontier gain."
                       + _SCOPE)
    return replace(
        base, frontier_mse_at_cem_accuracy=near.strongest_mse, frontier_mse_gain=paired[0],
        note=_frontier_claim(name, near.label, *paired) + _SCOPE,
        frontier_mse_gain_std=paired[1], frontier_label=near.label,
        frontier_accuracy_delta=100.0 * (defence.noisy_accuracy - near.noisy_accuracy),
    )


_SCOPE = (" MSEs are the strongest attack's (lowest MSE of every attack run, each trained "
          "from scratch on each model, or of a reference reconstruction when lower), on the "
          "same data split; gains are paired by fine-tune seed (mean and spread).")


def _privacy(v: Variant) -> tuple[float, float]:
    """Sort key, most private last: strongest attack's MSE, then lower leakage."""
    mse = v.strongest_mse if v.strongest_mse is not None else v.decoder_mse
    return (mse if mse is not None else -np.inf,
            -(v.leakage_bits_per_dim if v.leakage_bits_per_dim is not None else np.inf))


def _describe(v: Variant) -> str:
    knob = f"mu {v.mu:g}" if v.defence == "adversarial" else f"lambda {v.lam:g}"
    if v.defence == "cem+adversarial":
        knob += f", mu {v.mu:g}"
    return f"{v.defence or v.label} ({knob})"


def written_accuracy(v: Variant) -> float:
    """The noisy accuracy of the model `harden` writes for `v`: its first seed's.

    With --seeds N the variant's `noisy_accuracy` is the mean over N fine-tunes, but one model
    is written (seed 0's): a budget is kept by that model or not at all.
    """
    return v.seed_noisy_accuracy[0] if v.seed_noisy_accuracy else v.noisy_accuracy


def budget_floor(max_drop: float, reference: float) -> float:
    """The least noisy accuracy `--max-accuracy-drop` allows: `reference` less `max_drop` points."""
    return reference - max_drop / 100.0


def within_budget(v: Variant, max_drop: float, reference: float) -> bool:
    """Whether `v`'s written model keeps its noisy accuracy within `max_drop` points of `reference`.

    The written model's accuracy: `written_accuracy`.
    """
    return written_accuracy(v) >= budget_floor(max_drop, reference)


def choose(grid: list[Variant], max_drop: float, reference: float) -> tuple[int, str]:
    """The most private candidate within the accuracy budget.

    Within budget: noisy accuracy >= `reference` (the original's clean accuracy) minus
    `max_drop` points. Most private: largest strongest-attack MSE, then lowest leakage.

    Returns:
        The index into `grid` and the reason, in words. Without any candidate within the
        budget, the most accurate one is kept and the reason says so.
    """
    ok = [i for i, v in enumerate(grid) if within_budget(v, max_drop, reference)]
    seeds = max((v.seeds for v in grid), default=1)
    whose = " (the written model's, seed 0's of the fine-tunes)" if seeds > 1 else ""
    if not ok:
        best = max(range(len(grid)), key=lambda i: written_accuracy(grid[i]))
        return best, (f"no candidate kept the noisy accuracy{whose} within {max_drop:g} points "
                      f"of the original's clean accuracy {reference:.4g}; kept the most "
                      f"accurate, {_describe(grid[best])} ({written_accuracy(grid[best]):.4g})")
    best = max(ok, key=lambda i: _privacy(grid[i]))
    v = grid[best]
    mse = v.strongest_mse if v.strongest_mse is not None else v.decoder_mse
    most = (f"the largest strongest-attack MSE ({mse:.4g})" if mse is not None else
            f"the lowest leakage ({v.leakage_bits_per_dim:.4g} bits/dim; no attack was run)"
            if v.leakage_bits_per_dim is not None else "the first (nothing measured privacy)")
    return best, (f"{_describe(v)}: {most} of the {len(ok)} of {len(grid)} candidates whose "
                  f"noisy accuracy{whose} stays within {max_drop:g} points of the original's "
                  f"clean accuracy {reference:.4g} (it has {written_accuracy(v):.4g})")


def winner(candidates: list[Variant], comparisons: list[Comparison]) -> tuple[int, str]:
    """Without an accuracy budget: the defence with the largest frontier gain.

    The frontier gain is accuracy-aware (against noise-only at matched accuracy); without
    one for every defence, the largest strongest-attack MSE wins and the reason says that
    accuracy was not weighed.
    """
    if len(candidates) == 1:
        return 0, f"{_describe(candidates[0])}: the only defence trained"
    gains = [c.frontier_mse_gain for c in comparisons]
    if comparisons and all(g is not None for g in gains):
        best = max(range(len(candidates)), key=lambda i: float(gains[i] or 0.0))
        return best, (f"{_describe(candidates[best])}: the largest gain over noise-only at "
                      f"matched accuracy ({100 * float(gains[best] or 0.0):+.1f}%)")
    best = max(range(len(candidates)), key=lambda i: _privacy(candidates[i]))
    return best, (f"{_describe(candidates[best])}: the largest strongest-attack MSE; accuracy "
                  "was not weighed (give --baseline for matched-accuracy gains, or "
                  "--max-accuracy-drop)")
