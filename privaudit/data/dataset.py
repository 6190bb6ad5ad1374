"""Input samples in pixel space with provenance (the Dataset), seeded subsets, report record."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["SUBSET_SEED", "Dataset", "describe", "subset_indices", "subset_note"]

SUBSET_SEED = 0


@dataclass(frozen=True, eq=False)
class Dataset:
    """Input samples in pixel space, with provenance.

    Attributes:
        x: `(N, C, H, W)` float32 pixels in [0, 1]; the model's normalization is applied
            only when feeding the model.
        y: `(N,)` int64 class labels, or None.
        source: where the samples came from (a path).
        fingerprint: sha256 (hex) over the shape, the bytes of `x` and the labels.
        transforms: human-readable record of every conversion applied, in order.
        class_names: class folder names (image folders only), indexed by label.
    """

    x: np.ndarray
    y: np.ndarray | None
    source: str
    fingerprint: str
    transforms: tuple[str, ...] = ()
    class_names: tuple[str, ...] = ()

    @classmethod
    def from_arrays(
        cls,
        x: np.ndarray,
        y: np.ndarray | None,
        *,
        source: str,
        transforms: Sequence[str] = (),
        class_names: Sequence[str] = (),
    ) -> Dataset:
        """A Dataset of `(N, C, H, W)` float32 pixels and `(N,)` labels, fingerprinted."""
        x = np.ascontiguousarray(x, dtype=np.float32)
        if x.ndim != 4 or (y is not None and y.shape != (len(x),)):
            raise ValueError(f"need x (N, C, H, W) and y (N,), got {x.shape}, {_shape(y)}")
        h = hashlib.sha256(repr(x.shape).encode())
        h.update(x.data)
        if y is not None:
            y = np.ascontiguousarray(y, dtype=np.int64)
            h.update(y.data)
        return cls(x, y, source, h.hexdigest(), tuple(transforms), tuple(class_names))

    def __len__(self) -> int:
        return len(self.x)

    @property
    def sample_shape(self) -> tuple[int, int, int]:
        """Per-sample (C, H, W)."""
        c, h, w = self.x.shape[1:]
        return int(c), int(h), int(w)

    @property
    def num_classes(self) -> int | None:
        """Number of distinct labels, or None when unlabeled."""
        return None if self.y is None else len(np.unique(self.y))

    def subset(self, index: np.ndarray, *notes: str) -> Dataset:
        """The samples at `index` (in that order), with `notes` appended to the transforms."""
        y = None if self.y is None else self.y[index]
        return Dataset.from_arrays(
            self.x[index], y, source=self.source, transforms=self.transforms + notes,
            class_names=self.class_names,
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
        source, n, shape (C, H, W), classes (distinct labels or None), class_names,
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
