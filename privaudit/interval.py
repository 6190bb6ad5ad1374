"""Bootstrap errors of I_up for the bound's intervals: grouped (diagonal) and per-row (full)."""

from __future__ import annotations

import numpy as np

from privaudit.candidates import _Candidate, _child, _entropy, _mixture_leakage
from privaudit.moments import GroupStats
from privaudit.resample import (
    cluster_spectra,
    replicate_logdets,
    replicate_totals,
    resample_counts,
    resample_groups,
)


def _bootstrap(
    data: np.ndarray,
    cands: list[_Candidate],
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
        sigmas = np.array([s for s, j in best.items() if j == i])
        cand = cands[i]
        if cand.groups is None or cand.parent is None:
            errors = _errors_full(data, cand, sigmas, replicates, seed)
        else:
            sub = _child(seed, 2, i)
            errors = _errors_grouped(cand.groups, cand.parent, cand.counts, sigmas, replicates, sub)
        out.update(zip(sigmas.tolist(), errors, strict=True))
    return out


def _errors_full(
    data: np.ndarray, cand: _Candidate, sigmas: np.ndarray, replicates: int, seed: int
) -> np.ndarray:
    """(S, B) errors of the full form: row resamples, the plug-in moments as the truth."""
    counts = resample_counts(data.shape[0], replicates, seed=seed)
    pi = replicate_totals(cand.labels, counts) / data.shape[0]
    spectra = cluster_spectra(data, cand.labels, counts)
    values = np.stack([_mixture_leakage(pi, spectra, s) for s in sigmas])
    plugin = [cand.leakage(s, plugin=True) for s in sigmas]
    out: np.ndarray = values - np.array(plugin)[:, None]
    return out


def _errors_grouped(
    groups: GroupStats,
    parent: np.ndarray,
    counts: np.ndarray,
    sigmas: np.ndarray,
    replicates: int,
    seed: int,
) -> np.ndarray:
    """(S, B) errors of the diagonal form from the grouped bootstrap (see `bound.noise_sweep`).

    `groups` are those of the finest clustering, `parent` maps them to this one, whose
    cluster sizes are `counts`.
    """
    n, pi_hat = int(counts.sum()), counts / counts.sum()
    pi = np.random.default_rng(seed).multinomial(n, pi_hat, size=replicates) / n
    weights = resample_groups(groups, replicates, seed=_child(seed, 1), parent=parent)
    logdets, targets = replicate_logdets(groups, weights, sigmas, parent=parent)
    values = _entropy(pi) + 0.5 * (pi * logdets).sum(-1)
    truth = _entropy(pi_hat) + 0.5 * (pi_hat * targets).sum(-1)
    out: np.ndarray = values - truth[:, None]
    return out
