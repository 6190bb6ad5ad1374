"""Bootstrap errors of I_up for the bound's intervals: grouped (diagonal) and per-row (full)."""


from __future__ import annotations

import numpy as np

from privaudit.bound.candidates import Candidate, child_seed
from privaudit.bound.leakage import mixture_entropy, mixture_leakage
from privaudit.bound.moments import GroupStats
from privaudit.bound.resample import (
    cluster_spectra,
    replicate_logdets,
    replicate_totals,
    resample_counts,
    resample_groups,
)

__all__ = ["bootstrap_errors"]


def bootstrap_errors(
    data: np.ndarray,
    cands: list[Candidate],
    best: dict[float, int],
    replicates: int,
    seed: int,
) -> dict[float, np.ndarray]:
    """(B,) bootstrap errors of I_up per sigma: replicate minus the resampled data's truth.

    NOTE: the labels are those fitted on the whole sample. Re-fitting k-means per replicate
    would multiply its cost by B, and any fixed labelling gives a valid bound (L), so the
    interval measures the sampling error of the cluster moments, which is its purpose.
    """
    out: dict[float, np.ndarray] = {}
    for i in sorted(set(best.values())):
        noise_sigmas = np.array([s for s, j in best.items() if j == i])
        cand = cands[i]
        if cand.groups is None or cand.parent is None:
            errors = _errors_full(data, cand, noise_sigmas, replicates, seed)
        else:
            sub = child_seed(seed, 2, i)
            errors = _errors_grouped(
                cand.groups, cand.parent, cand.counts, noise_sigmas, replicates, sub
            )
        out.update(zip(noise_sigmas.tolist(), errors, strict=True))
    return out


def _errors_full(
    data: np.ndarray, cand: Candidate, noise_sigmas: np.ndarray, replicates: int, seed: int
) -> np.ndarray:
    """(S, B) errors of the full form: row resamples, the plug-in moments as the truth."""
    counts = resample_counts(data.shape[0], replicates, seed=seed)
    pi = replicate_totals(cand.labels, counts) / data.shape[0]
    spectra = cluster_spectra(data, cand.labels, counts)
    values = np.stack([mixture_leakage(pi, spectra, s) for s in noise_sigmas])
    plugin = [cand.leakage(s, plugin=True) for s in noise_sigmas]
    out: np.ndarray = values - np.array(plugin)[:, None]
    return out


def _errors_grouped(
    groups: GroupStats,
    parent: np.ndarray,
    counts: np.ndarray,
    noise_sigmas: np.ndarray,
    replicates: int,
    seed: int,
) -> np.ndarray:
    """(S, B) errors of the diagonal form from the grouped bootstrap (see `bound.noise_sweep`).

    `groups` are those of the finest clustering, `parent` maps them to this one, whose
    cluster sizes are `counts`.
    """
    n, pi_hat = int(counts.sum()), counts / counts.sum()
    pi = np.random.default_rng(seed).multinomial(n, pi_hat, size=replicates) / n
    weights = resample_groups(groups, replicates, seed=child_seed(seed, 1), parent=parent)
    logdets, targets = replicate_logdets(groups, weights, noise_sigmas, parent=parent)
    values = mixture_entropy(pi) + 0.5 * (pi * logdets).sum(-1)
    truth = mixture_entropy(pi_hat) + 0.5 * (pi_hat * targets).sum(-1)
    out: np.ndarray = values - truth[:, None]
    return out
