"""Load input samples (+ labels) from files as pixels shaped for the model (.npz, .npy, folders)."""

from __future__ import annotations

import zipfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

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
) -> Dataset:
    """Load samples from an image folder, `.npz` (`x`, optional `y`) or `.npy` file.

    Args:
        path: a folder (one subfolder per class), an `.npz` or an `.npy` file.
        input_shape: the model input shape including batch, e.g. (None, 1, 28, 28).
        limit: keep a deterministic random subset (seed 0) of this many samples.
        input_shape_override: (C, H, W) from `--input-shape`, for dynamic dims.
        resize: resize (bilinear) to the model's spatial size instead of failing.

    Returns:
        The samples as `(N, C, H, W)` float32 in [0, 1], with what was done recorded.

    Raises:
        DataError: unreadable data, or data that does not fit the model input.
        ConfigError: bad `limit` or `input_shape_override`.
    """
    path, want = Path(path), model_sample_shape(input_shape, input_shape_override)
    check_limit(limit)
    if path.is_dir():
        return _load_folder(path, want, limit=limit, resize=resize)
    if not path.is_file():
        raise DataError(f"data not found: {path}", hint="check the --data path")
    if path.suffix.lower() not in (".npz", ".npy"):
        raise DataError(
            f"unsupported data file {path.name}",
            hint="give an image folder, an .npz with arrays x (and y), or an .npy file",
        )
    x, y = _read_arrays(path)
    return conform(x, y, want, source=str(path), limit=limit, resize=resize)


def dataset_from_arrays(
    x: np.ndarray,
    y: np.ndarray | None,
    input_shape: Sequence[int | str | None],
    *,
    source: str = "<arrays>",
    limit: int | None = None,
    input_shape_override: Sequence[int] | None = None,
    resize: bool = False,
) -> Dataset:
    """Like `load_data`, for arrays already in memory (`x` as an `.npz` would hold it)."""
    want = model_sample_shape(input_shape, input_shape_override)
    return conform(np.asarray(x), y, want, source=source, limit=limit, resize=resize)


def _read_arrays(path: Path) -> tuple[np.ndarray, np.ndarray | None]:
    try:
        loaded = np.load(path, mmap_mode="r", allow_pickle=False)
        if isinstance(loaded, np.ndarray):
            return loaded, None
        with loaded as npz:
            if "x" not in npz.files:
                raise DataError(
                    f"{path} has no array 'x'; arrays present: {npz.files or 'none'}",
                    hint="save the inputs as np.savez(path, x=images, y=labels)",
                )
            return npz["x"], npz["y"] if "y" in npz.files else None
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, MemoryError) as e:
        text = str(e)
        if "Object arrays" in text or "Python objects" in text:
            text = "it holds Python objects (pickled data), which privaudit never loads"
        raise DataError(
            f"cannot read {path}: {text}", hint="save plain numeric arrays with np.save/np.savez"
        ) from e


def _load_folder(root: Path, want: CHW, *, limit: int | None, resize: bool) -> Dataset:
    paths, y, names = list_images(root)
    index = subset_indices(len(paths), limit)
    labels = f"in {len(names)} classes" if names else "(unlabeled)"
    notes = [f"image folder: {len(paths)} images {labels}"] + subset_note(len(index), len(paths))
    size = (want[1], want[2]) if want[1] and want[2] else None
    x, read_notes = read_images([paths[i] for i in index], size=size, resize=resize)
    y = None if y is None else y[index]
    return conform(
        x, y, want, source=str(root), resize=resize, layout="NHWC" if x.ndim == 4 else None,
        notes=notes + read_notes, class_names=names,
    )
