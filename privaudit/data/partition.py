"""Split a dataset into disjoint attacker-auxiliary and evaluation sets (stratified, seeded)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from privaudit.config.choices import Domain
from privaudit.data.dataset import Dataset
from privaudit.errors import ConfigError, DataError

__all__ = ["AuditPartition", "partition_aux_eval"]


@dataclass(frozen=True, eq=False)
class AuditPartition:
    """Disjoint attacker-auxiliary and evaluation sets.

    Attributes:
        aux: the attacker's auxiliary data (may be used to train attacks).
        eval: held-out samples the attacks must reconstruct; never shown to attacks.
    """

    aux: Dataset
    eval: Dataset


def partition_aux_eval(
    ds: Dataset,
    *,
    eval_fraction: float = 0.2,
    max_eval: int | None = None,
    seed: int = 0,
    names: tuple[str, str] = ("auxiliary", "evaluation"),
) -> AuditPartition:
    """Split into auxiliary and evaluation sets, stratified by label, disjoint by content.

    Aux samples whose bytes equal an evaluation sample are dropped from the aux side and
    counted in `aux.transforms`.

    Args:
        ds: the loaded data.
        eval_fraction: share of samples for evaluation, in (0, 1).
        max_eval: cap on the number of evaluation samples.
        seed: seed of the split.
        names: what the two sides are called in their `transforms` records.

    Returns:
        The split; both sides are in a seeded random order.

    Raises:
        ConfigError: bad `eval_fraction` or `max_eval`.
        DataError: a side would be empty.
    """
    if not 0 < eval_fraction < 1 or (max_eval is not None and max_eval < 1):
        raise ConfigError(
            f"need 0 < eval_fraction < 1 and max_eval >= 1, got {eval_fraction}, {max_eval}",
            hint="e.g. eval_fraction = 0.2 and max_eval = 500 in [tool.privaudit]",
        )
    n = len(ds)
    if n < 2:
        raise DataError(f"{ds.source}: {n} sample: an audit needs at least 2, one for the "
                        "attacker's auxiliary set and one to evaluate",
                        hint="give more samples (a few hundred make a useful audit)")
    n_eval = max(1, min(round(eval_fraction * n), max_eval or n, n - 1))
    rng = np.random.default_rng(seed)
    if ds.y is None:
        eval_idx = rng.permutation(n)[:n_eval]
    else:
        eval_idx = _stratified_pick(ds.y, n_eval, rng)
    rest = np.ones(n, bool)
    rest[eval_idx] = False
    aux_idx, removed = _drop_duplicates(ds.x, rng.permutation(np.flatnonzero(rest)), eval_idx)
    if len(aux_idx) == 0:
        raise DataError(
            f"{ds.source}: cannot split {n} samples into aux and eval: each of the {removed} "
            "left for the auxiliary set is identical to an evaluation sample",
            hint="give more distinct samples",
        )
    how = f"of {n} ({'stratified by label' if ds.y is not None else 'random'}, seed {seed})"
    what = {Domain.TABULAR: "rows", Domain.SIGNAL: "signals"}.get(ds.domain, "images")
    dup = [f"removed {removed} {names[0]} {what} identical to {names[1]} {what}"] if removed else []
    return AuditPartition(
        aux=ds.subset(aux_idx, f"split: {len(aux_idx)} {names[0]} {how}", *dup),
        eval=ds.subset(eval_idx, f"split: {len(eval_idx)} {names[1]} {how}"),
    )


def _stratified_pick(y: np.ndarray, n_eval: int, rng: np.random.Generator) -> np.ndarray:
    """`n_eval` indices with class shares as in `y` (largest-remainder rounding), shuffled."""
    _, inverse, counts = np.unique(y, return_inverse=True, return_counts=True)
    quota = n_eval * counts / counts.sum()
    take = np.floor(quota).astype(np.int64)
    take[np.argsort(take - quota, kind="stable")[: n_eval - int(take.sum())]] += 1
    picks = [rng.permutation(np.flatnonzero(inverse == k))[:t] for k, t in enumerate(take)]
    return rng.permutation(np.concatenate(picks))


def _drop_duplicates(
    x: np.ndarray, aux_idx: np.ndarray, eval_idx: np.ndarray
) -> tuple[np.ndarray, int]:
    """Remove aux indices whose sample bytes equal an evaluation sample's (blake2b hash)."""
    held_out = {_digest(x[i]) for i in eval_idx}
    keep = np.array([_digest(x[i]) not in held_out for i in aux_idx], dtype=bool)
    return aux_idx[keep], int(len(aux_idx) - keep.sum())


def _digest(sample: np.ndarray) -> bytes:
    return hashlib.blake2b(np.ascontiguousarray(sample).data, digest_size=16).digest()
