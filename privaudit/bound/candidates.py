"""Candidate clusterings of bound (L): eq. (L) per clustering, their fit, choice and warnings."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from privaudit.bound.clustering import absorb_small_cells, cluster_labels
from privaudit.bound.leakage import mixture_leakage
from privaudit.bound.moments import GroupStats, checked_group_stats, merge_stats
from privaudit.bound.resample import cluster_spectra

__all__ = ["Candidate", "best_candidate", "bias_warning", "child_seed", "fit_candidates",
           "candidate_warnings"]


@dataclass(frozen=True)
class Candidate:
    """One clustering of (L): labels (n,), sizes (C,), variances or eigenvalues (C, r).

    Diagonal form only: `groups` are the bootstrap groups of the finest clustering and
    `parent` (C_fine,) maps its clusters to this clustering's.
    """

    clustering: str
    labels: np.ndarray
    counts: np.ndarray
    spectra: np.ndarray
    groups: GroupStats | None = None
    parent: np.ndarray | None = None

    def leakage(self, noise_sigma: float, *, plugin: bool = False) -> float:
        """Eq. (L); `plugin` uses the ddof = 0 moments (the resampling world's truth)."""
        pi = self.counts / self.counts.sum()
        scale = np.maximum(self.counts - 1, 0) / self.counts if plugin else np.ones_like(pi)
        spectra = (self.spectra * scale[:, None])[None]
        return float(mixture_leakage(pi[None], spectra, noise_sigma)[0])


def fit_candidates(
    data: np.ndarray,
    y: np.ndarray | None,
    covariance: str,
    k: int,
    seed: int,
    group_size: int,
    min_size: int,
) -> list[Candidate]:
    """Every candidate clustering with its spectra, finest first internally.

    k-means cells under `min_size` samples join the nearest cell of their class (see
    `absorb_small_cells`), so a few outliers do not disqualify the finest clustering.

    NOTE: the diagonal statistics of the finest clustering are computed in one pass over
    z, as the moments of its bootstrap groups, and merged exactly into the coarser, nested
    ones (single within class within class-kmeans, or single within kmeans), which keeps
    the bound cheap next to feature extraction.
    """
    schemes = ("single", "class", "class-kmeans") if y is not None else ("single", "kmeans")
    labels = [cluster_labels(data, y, scheme=s, k=k, seed=seed, checked=True) for s in schemes]
    parent = np.zeros(int(labels[-1].max()) + 1, dtype=np.int64)
    parent[labels[-1]] = labels[-2]  # the class (or the single cluster) of each cell
    labels[-1] = absorb_small_cells(data, labels[-1], parent, min_size)
    if covariance == "full":
        spectra = [cluster_spectra(data, lab)[0] for lab in labels]
        return [
            Candidate(s, lab, np.bincount(lab), sp)
            for s, lab, sp in zip(schemes, labels, spectra, strict=True)
        ]
    groups = checked_group_stats(data, labels[-1], group_size, child_seed(seed, 1))
    fine = groups.stats
    out = []
    for scheme, lab in zip(schemes, labels, strict=True):
        parent = np.zeros(fine.counts.size, dtype=np.int64)
        parent[labels[-1]] = lab
        stats = merge_stats(fine, parent)
        out.append(Candidate(scheme, lab, stats.counts, stats.variances, groups, parent))
    return out


def child_seed(seed: int, *keys: int) -> int:
    """An independent seed for one use of `seed`."""
    return int(np.random.SeedSequence([seed, *keys]).generate_state(1)[0])


def best_candidate(cands: list[Candidate], noise_sigma: float, min_size: int) -> int:
    """Index of the smallest I_up among well-estimated clusterings.

    # NOTE: every clustering gives a valid bound *in expectation*, but tiny clusters bias
    # their variance terms low, so a clustering with a cluster under `min_size` could win the
    # minimum by estimation error and overstate the floor. It only competes when no
    # well-estimated clustering exists ("single" always is one once n >= min_size).
    """
    leak = np.array([c.leakage(noise_sigma) for c in cands])
    ok = np.array([c.counts.min() >= min_size for c in cands])
    if ok.any():
        leak = np.where(ok, leak, np.inf)
    return int(np.argmin(leak))


def candidate_warnings(
    cands: list[Candidate], chosen: Candidate, m: int, covariance: str, min_size: int
) -> tuple[str, ...]:
    """Small-cluster warnings (every clustering) and the full form's validity warning."""
    out = []
    for c in cands:
        small = c.counts < min_size
        if small.any():
            out.append(
                f"{c.clustering} clustering: {int(small.sum())} of {c.counts.size} clusters "
                f"have fewer than {min_size} samples ({int(c.counts[small].sum())} samples in "
                f"all, smallest {int(c.counts.min())}); their variances are poorly estimated: "
                "use more audit data or a smaller k"
            )
    thin = int((chosen.counts < m).sum())
    if covariance == "full" and thin:
        out.append(
            f"full covariance: {thin} of {chosen.counts.size} {chosen.clustering} clusters "
            f"have fewer samples than feature dimensions (m = {m}); I_up is then an estimate "
            "that underestimates I(x;z), not a valid bound: use covariance='diagonal'"
        )
    return tuple(out)


def bias_warning(leak: float, low: float, high: float, chosen: Candidate, m: int) -> str:
    """The warning for a bootstrap interval that lies wholly above the point estimate."""
    return (
        f"I_up = {leak:.4g} nats lies below its whole bootstrap interval [{low:.4g}, "
        f"{high:.4g}]: the {chosen.clustering} clusters are small for m = {m} features "
        f"(smallest {int(chosen.counts.min())} samples), so the plug-in I_up is biased low; "
        "read the interval's upper end as the leakage, or audit more data"
    )
