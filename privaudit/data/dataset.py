"""Input samples as measured, with provenance (the Dataset), seeded subsets, report record."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from privaudit.config.choices import Domain
from privaudit.data.units import Units

__all__ = ["SUBSET_SEED", "Dataset", "describe", "subset_indices", "subset_note"]

SUBSET_SEED = 0


@dataclass(frozen=True, eq=False)
class Dataset:
    """Input samples as measured, with provenance.

    Attributes:
        x: float32 samples in their domain's form: images `(N, C, H, W)` as pixels in [0, 1];
            tabular vectors `(N, F)` and signals `(N, C, T)` standardised per feature (`units`
            maps them back to their own units). The model's normalization is applied only
            when feeding the model.
        y: `(N,)` int64 class labels, or None.
        source: where the samples came from (a path).
        fingerprint: sha256 (hex) over the shape, the bytes of `x` and the labels, and for
            tables and signals the units (per-feature mean and std, and the data range).
        transforms: human-readable record of every conversion applied, in order.
        class_names: class names (image folders, text labels), indexed by label.
        domain: tabular, signal or image.
        units: how `x` maps to the data's own units (identity for images).
    """

    x: np.ndarray
    y: np.ndarray | None
    source: str
    fingerprint: str
    transforms: tuple[str, ...] = ()
    class_names: tuple[str, ...] = ()
    domain: Domain = Domain.IMAGE
    units: Units = Units()

    @classmethod
    def from_arrays(
        cls,
        x: np.ndarray,
        y: np.ndarray | None,
        *,
        source: str,
        transforms: Sequence[str] = (),
        class_names: Sequence[str] = (),
        domain: Domain = Domain.IMAGE,
        units: Units | None = None,
    ) -> Dataset:
        """A Dataset of float32 samples in their domain's form and `(N,)` labels, fingerprinted."""
        x = np.ascontiguousarray(x, dtype=np.float32)
        rank = {Domain.TABULAR: 2, Domain.SIGNAL: 3, Domain.IMAGE: 4}[Domain(domain)]
        if x.ndim != rank or (y is not None and y.shape != (len(x),)):
            raise ValueError(f"need {domain} x of rank {rank} and y (N,), got {x.shape}, "
                             f"{_shape(y)}")
        units = units or Units()
        h = hashlib.sha256(repr(x.shape).encode())
        h.update(x.data)
        if y is not None:
            y = np.ascontiguousarray(y, dtype=np.int64)
            h.update(y.data)
        if not units.identity:
            # NOTE: x is standardised per feature: data scaled or shifted per column has the
            # same x, and its old shards were reused (a sweep read 99.4% accuracy on data the
            # model gets 33% of). The units, and the range that sets a signal's PSNR, count.
            h.update(np.asarray(units.mean, np.float64).tobytes())
            h.update(np.asarray(units.std, np.float64).tobytes())
            h.update(repr(units.data_range).encode())
        return cls(x, y, source, h.hexdigest(), tuple(transforms), tuple(class_names),
                   Domain(domain), units)

    def __len__(self) -> int:
        return len(self.x)

    @property
    def sample_shape(self) -> tuple[int, ...]:
        """Per-sample shape: (F,), (C, T) or (C, H, W)."""
        return tuple(int(d) for d in self.x.shape[1:])

    @property
    def num_classes(self) -> int | None:
        """Number of distinct labels, or None when unlabeled."""
        return None if self.y is None else len(np.unique(self.y))

    def subset(self, index: np.ndarray, *notes: str) -> Dataset:
        """The samples at `index` (in that order), with `notes` appended to the transforms."""
        y = None if self.y is None else self.y[index]
        return Dataset.from_arrays(
            self.x[index], y, source=self.source, transforms=self.transforms + notes,
            class_names=self.class_names, domain=self.domain, units=self.units,
        )


def _shape(a: np.ndarray | None) -> tuple[int, ...] | None:
    return None if a is None else tuple(a.shape)


def subset_indices(n: int, limit: int | None) -> np.ndarray:
    """Sorted indices of a seeded (seed 0) random subset of `limit` of `n` samples (all if None).

    A random subset, not the first `limit`, so that class-sorted files keep every class.
    """
    if limit is None or limit >= n:
        return np.arange(n)
    return np.sort(np.random.default_rng(SUBSET_SEED).permutation(n)[:limit])


def subset_note(kept: int, n: int) -> list[str]:
    """The transform record of a `subset_indices` subset (empty when everything is kept)."""
    return [f"random subset of {kept} of {n} samples (seed {SUBSET_SEED})"] if kept < n else []


def describe(ds: Dataset) -> dict[str, object]:
    """Provenance of a dataset for the report (JSON-ready).

    Returns:
        source, n, shape (per sample), classes (distinct labels or None), class_names,
        fingerprint and transforms.
    """
    return {
        "source": ds.source,
        "n": len(ds),
        "shape": list(ds.sample_shape),
        "classes": ds.num_classes,
        "class_names": list(ds.class_names),
        "fingerprint": ds.fingerprint,
        "transforms": list(ds.transforms),
    }
