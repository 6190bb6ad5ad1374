"""Load input samples (+ labels) from files as pixels shaped for the model (.npz, .npy, folders)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from privaudit.data.arrays import DEFAULT_MAX_BYTES, check_size, read_arrays
from privaudit.data.conform import CHW, check_limit, conform, model_sample_shape
from privaudit.data.dataset import Dataset, subset_indices, subset_note
from privaudit.data.imagefolder import list_images, read_images
from privaudit.errors import DataError

__all__ = ["dataset_from_arrays", "load_data"]


def load_data(
    path: Path | str,
    input_shape: Sequence[int | str | None],
    *,
    limit: int | None = None,
    input_shape_override: Sequence[int] | None = None,
    resize: bool = False,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> Dataset:
    """Load samples from an image folder, `.npz` (`x`, optional `y`) or `.npy` file.

    Args:
        path: a folder (one subfolder per class), an `.npz` or an `.npy` file.
        input_shape: the model input shape including batch, e.g. (None, 1, 28, 28).
        limit: keep a deterministic random subset (seed 0) of this many samples; only those
            are read.
        input_shape_override: (C, H, W) from `--input-shape`, for dynamic dims.
        resize: resize (bilinear) to the model's spatial size instead of failing.
        max_bytes: refuse data that would take more memory than this (as stored and as
            float32 pixels), checked from the declared sizes before reading or allocating.

    Returns:
        The samples as `(N, C, H, W)` float32 in [0, 1], with what was done recorded.

    Raises:
        DataError: unreadable data, or data that does not fit the model input.
        ConfigError: bad `limit` or `input_shape_override`.
    """
    path, want = Path(path), model_sample_shape(input_shape, input_shape_override)
    check_limit(limit)
    if path.is_dir():
        return _load_folder(path, want, limit=limit, resize=resize, max_bytes=max_bytes)
    if not path.is_file():
        raise DataError(f"data not found: {path}", hint="check the --data path")
    if path.suffix.lower() not in (".npz", ".npy"):
        raise DataError(
            f"unsupported data file {path.name}",
            hint="give an image folder, an .npz with arrays x (and y), or an .npy file",
        )
    kept = read_arrays(path, limit, max_bytes)
    return conform(kept.x, kept.y, want, source=str(path), resize=resize, notes=kept.notes,
                   max_bytes=max_bytes)


def dataset_from_arrays(
    x: np.ndarray,
    y: np.ndarray | None,
    input_shape: Sequence[int | str | None],
    *,
    source: str = "<arrays>",
    limit: int | None = None,
    input_shape_override: Sequence[int] | None = None,
    resize: bool = False,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> Dataset:
    """Like `load_data`, for arrays already in memory (`x` as an `.npz` would hold it)."""
    want = model_sample_shape(input_shape, input_shape_override)
    return conform(np.asarray(x), y, want, source=source, limit=limit, resize=resize,
                   max_bytes=max_bytes)


def _load_folder(
    root: Path, want: CHW, *, limit: int | None, resize: bool, max_bytes: int
) -> Dataset:
    paths, y, names = list_images(root)
    index = subset_indices(len(paths), limit)
    labels = f"in {len(names)} classes" if names else "(unlabeled)"
    notes = [f"image folder: {len(paths)} images {labels}"] + subset_note(len(index), len(paths))
    size = (want[1], want[2]) if want[1] and want[2] else None
    if size is not None and resize:  # NOTE: every image becomes this size, RGB at worst
        what = f"{len(index)} images resized to {size[0]}x{size[1]} RGB uint8"
        check_size(len(index) * size[0] * size[1] * 3, what, max_bytes, str(root))
    x, read_notes = read_images([paths[i] for i in index], size=size, resize=resize,
                                max_bytes=max_bytes)
    y = None if y is None else y[index]
    return conform(
        x, y, want, source=str(root), resize=resize, layout="NHWC" if x.ndim == 4 else None,
        notes=notes + read_notes, class_names=names, max_bytes=max_bytes,
    )
