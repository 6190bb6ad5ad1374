"""Per-cluster input spectra for the floor (S): Cov(x|c) + delta I, compactly, bootstrappable.

With n_c <= d the eigenvalues come from the n_c x n_c Gram matrix of the centred rows, and the
d - n_c + 1 missing ones are delta, kept as one run: no d x d matrix, even at 3 x 224 x 224.
`centred_gram` + `gram_spectrum(..., indices)` give a bootstrap resample's spectrum in
O(n_c^3) without touching d (docs/method.md §3b).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from privaudit.bound.moments import check_rows
from privaudit.bound.spectral import Spectrum

__all__ = [
    "ClusterSpectra",
    "centred_gram",
    "cluster_spectra",
    "cluster_spectrum",
    "dropped_spectra",
    "gram_spectrum",
]

_COLUMN_BLOCK = 1 << 14  # columns per step of the Gram accumulation
_ROW_BLOCK = 1 << 10  # rows per step of the covariance accumulation (n > d there)
EXACT_DIM = 512  # up to this d, `dropped_spectra` diagonalises every replicate's covariance


def cluster_spectrum(x_c: ArrayLike, delta: float) -> Spectrum:
    """Compact spectrum of Cov(x_c) + delta I (ddof = 1), never a d x d array when n_c <= d.

    With n_c <= d the n_c x n_c Gram matrix of the centred rows gives the n_c - 1 non-zero
    eigenvalues of the sample covariance (the same as those of Xc^T Xc / (n_c - 1)); the other
    d - n_c + 1 eigenvalues are 0, so delta after the shift, kept as one run. With n_c > d the
    d x d covariance is used.

    Args:
        x_c: (n_c, d) or (n_c, C, H, W) inputs of one cluster, n_c >= 2.
        delta: the isotropic variance added (dequantisation), >= 0.

    Returns:
        The spectrum (d eigenvalues with multiplicity).

    Raises:
        ValueError: fewer than 2 rows, NaN/inf, negative delta.
    """
    rows = _rows(x_c, min_rows=2)
    n, d = rows.shape
    if n <= d:
        return gram_spectrum(centred_gram(rows), d, delta)
    return _spectrum(_cov_eigenvalues(rows), n, d, _check_delta(delta))


def centred_gram(x_c: ArrayLike) -> np.ndarray:
    """Xc Xc^T (n_c x n_c, float64) of the rows centred at their mean, over column blocks.

    Keep it to bootstrap the spectrum cheaply: `gram_spectrum(gram, d, delta, indices)` gives
    the spectrum of the resampled rows x_c[indices] in O(n_c^3), without touching d.

    Args:
        x_c: (n_c, d...) inputs of one cluster.

    Returns:
        The (n_c, n_c) centred Gram matrix (not divided by n_c - 1).
    """
    rows = _rows(x_c, min_rows=1)
    n, d = rows.shape
    mean = rows.mean(axis=0, dtype=np.float64)
    gram = np.zeros((n, n))
    for start in range(0, d, _COLUMN_BLOCK):
        block = rows[:, start : start + _COLUMN_BLOCK].astype(np.float64)
        block -= mean[start : start + _COLUMN_BLOCK]
        gram += block @ block.T
    return gram


def gram_spectrum(
    gram: np.ndarray, d: int, delta: float, indices: ArrayLike | None = None
) -> Spectrum:
    """Spectrum of Cov + delta I for the rows (or the resampled rows `indices`) of a Gram.

    Rows x_i - c with any common c: re-centring is H G H, H = I - 11^T/n, so a bootstrap
    resample only needs the sub-matrix G[idx, idx] (duplicates allowed).

    Args:
        gram: (n, n) from `centred_gram`.
        d: the input dimension (>= n for a compact spectrum; any d >= 1 works).
        delta: the dequantisation variance, >= 0.
        indices: optional row indices (a bootstrap draw), at least 2.

    Returns:
        The spectrum: min(n - 1, d) eigenvalues plus a run of delta.
    """
    sub = np.asarray(gram, dtype=np.float64)
    if indices is not None:
        idx = np.asarray(indices).reshape(-1)
        sub = sub[np.ix_(idx, idx)]
    n = sub.shape[0]
    if n < 2 or sub.shape != (n, n):
        raise ValueError(f"need a square Gram matrix of at least 2 rows, got {sub.shape}")
    sub = sub - sub.mean(axis=0) - sub.mean(axis=1, keepdims=True) + sub.mean()
    return _spectrum(np.linalg.eigvalsh(sub / (n - 1)), n, d, _check_delta(delta))


def dropped_spectra(
    x_c: ArrayLike, deal: ArrayLike, groups: int, delta: float
) -> list[Spectrum | None]:
    """Spectra of Cov + delta I of one cluster's rows with each group dropped in turn (n_c > d).

    The delete-a-group jackknife's spectra where the cluster has more rows than dimensions
    (no Gram matrix is kept there). Each group's count, mean and scatter about its own mean
    are read once; a replicate joins the groups it keeps by the parallel-axis rule, a sum of
    positive semi-definite terms (no difference of large sums). Up to `EXACT_DIM` dimensions
    each replicate's covariance is diagonalised (O(groups d^3)); beyond, its eigenvalues are
    taken to first order, as the diagonal of its covariance in the whole cluster's eigenbasis
    (one d x d eigendecomposition and one projection of the rows, then O(groups^2 d)).

    Args:
        x_c: (n_c, d...) inputs of one cluster.
        deal: (n_c,) the group 0..groups-1 of each row.
        groups: the number of groups G.
        delta: the isotropic variance added (dequantisation), >= 0.

    Returns:
        G spectra; None for a replicate that keeps fewer than 2 rows.
    """
    rows = _rows(x_c, min_rows=1)
    n, d = rows.shape
    group = np.asarray(deal, dtype=np.int64).reshape(-1)
    if group.shape != (n,):
        raise ValueError(f"{group.size} groups for {n} rows")
    delta = _check_delta(delta)
    mean = rows.mean(axis=0, dtype=np.float64)
    exact = d <= EXACT_DIM
    basis = None if exact else np.linalg.eigh(_covariance(rows, mean))[1]
    count = np.bincount(group, minlength=groups).astype(np.float64)
    means = np.zeros((groups, d))
    scatter = np.zeros((groups, d, d) if exact else (groups, d))
    for present in np.flatnonzero(count):
        g = int(present)
        part = rows[group == g].astype(np.float64) - mean
        if basis is not None:
            part = part @ basis
        means[g] = part.mean(axis=0)
        part -= means[g]
        scatter[g] = part.T @ part if exact else np.einsum("ij,ij->j", part, part)
    out: list[Spectrum | None] = []
    for g in range(groups):
        keep = (np.arange(groups) != g) & (count > 0)
        kept = float(count[keep].sum())
        if kept < 2:
            out.append(None)
            continue
        weight = count[keep]
        off = means[keep] - weight @ means[keep] / kept
        if exact:
            joined = scatter[keep].sum(axis=0) + (off.T * weight) @ off
            eigs = np.linalg.eigvalsh(joined / (kept - 1))
        else:
            eigs = (scatter[keep].sum(axis=0) + weight @ (off * off)) / (kept - 1)
        out.append(_spectrum(eigs, int(kept), d, delta))
    return out


def _spectrum(eigs: np.ndarray, n: int, d: int, delta: float) -> Spectrum:
    """The top min(n - 1, d) eigenvalues (clipped at 0) + delta, and a run of delta."""
    rank = min(n - 1, d)
    top = np.maximum(np.sort(eigs)[::-1][:rank], 0.0) + delta
    counts = np.append(np.ones(rank, dtype=np.int64), d - rank)
    return Spectrum.from_runs(np.append(top, delta), counts)


def _check_delta(delta: float) -> float:
    value = float(delta)
    if not (math.isfinite(value) and value >= 0):
        raise ValueError(f"delta must be finite and >= 0, got {delta!r}")
    return value


def _cov_eigenvalues(rows: np.ndarray) -> np.ndarray:
    """Eigenvalues of the d x d sample covariance."""
    return np.linalg.eigvalsh(_covariance(rows, rows.mean(axis=0, dtype=np.float64)))


def _covariance(rows: np.ndarray, mean: np.ndarray) -> np.ndarray:
    """The d x d sample covariance (ddof 1) of rows about `mean`, accumulated over row blocks."""
    n, d = rows.shape
    cov = np.zeros((d, d))
    for start in range(0, n, _ROW_BLOCK):
        block = rows[start : start + _ROW_BLOCK].astype(np.float64) - mean
        cov += block.T @ block
    out: np.ndarray = cov / (n - 1)
    return out


def _rows(x: ArrayLike, min_rows: int) -> np.ndarray:
    """(n, d) float view of x with finite entries and at least `min_rows` rows."""
    return check_rows(np.asarray(x), what="inputs", min_rows=min_rows)


@dataclass(frozen=True, eq=False)
class ClusterSpectra:
    """Per-cluster spectra, computed once and reused for any leakage.

    Attributes:
        labels: (C,) distinct cluster labels (np.unique order); infos follow this order.
        counts: (C,) samples per cluster.
        spectra: one Spectrum per cluster, None for a cluster with fewer than
            `min_samples` rows (its covariance is unknown: it contributes xi_c = 0).
        dim: d.
        delta: the dequantisation variance inside the spectra (0 for spectra of continuous
            data, e.g. a true covariance).
    """

    labels: np.ndarray
    counts: np.ndarray
    spectra: tuple[Spectrum | None, ...]
    dim: int
    delta: float = 0.0

    @property
    def weights(self) -> np.ndarray:
        """pi_c, the clusters' shares of the samples."""
        return np.asarray(self.counts / self.counts.sum(), dtype=np.float64)

    @property
    def skipped(self) -> np.ndarray:
        """(C,) bool: clusters too small to have a covariance (xi_c = 0)."""
        return np.array([s is None for s in self.spectra])


def cluster_spectra(
    x: ArrayLike, labels: ArrayLike, delta: float, *, min_samples: int = 2
) -> ClusterSpectra:
    """Spectrum of Cov(x|c) + delta I for every cluster c (eigendecompositions done once).

    Args:
        x: (n, d) or (n, C, H, W) inputs on the [0, 1] pixel scale.
        labels: (n,) cluster labels, any sortable values.
        delta: the dequantisation variance added to every eigenvalue.
        min_samples: clusters with fewer rows (at least 2 are needed for a covariance) are
            skipped: xi_c = 0, which never overstates the floor.

    Returns:
        The per-cluster spectra and counts.

    Raises:
        ValueError: shapes disagree, NaN/inf, min_samples < 2.
    """
    if min_samples < 2:
        raise ValueError(f"min_samples must be >= 2, got {min_samples}")
    rows = _rows(x, min_rows=1)
    lab = np.asarray(labels).reshape(-1)
    if lab.size != rows.shape[0]:
        raise ValueError(f"{lab.size} labels for {rows.shape[0]} samples")
    uniq, inverse = np.unique(lab, return_inverse=True)
    inverse = inverse.reshape(-1)
    order = np.argsort(inverse, kind="stable")
    counts = np.bincount(inverse, minlength=uniq.size)
    ends = np.cumsum(counts)
    spectra = tuple(
        cluster_spectrum(rows[order[end - cnt : end]], delta) if cnt >= min_samples else None
        for cnt, end in zip(counts, ends, strict=True)
    )
    return ClusterSpectra(uniq, counts, spectra, rows.shape[1], _check_delta(delta))
