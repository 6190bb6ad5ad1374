"""Read `.npz` and `.npy` arrays with their sizes checked from the headers before any reading.

A compressed `.npz` of a megabyte can declare gigabytes of pixels (a decompression bomb), and
an `.npy` can declare more than it holds. The `.npy` header (shape, dtype) of each array is
read first; the samples `--limit` keeps are checked against the size limit; then only those
rows are read: a memory map for `.npy`, rows streamed out of the zip member for `.npz`.
"""

from __future__ import annotations

import math
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import numpy as np

from privaudit.data.dataset import subset_indices, subset_note
from privaudit.errors import DataError

__all__ = ["DEFAULT_MAX_BYTES", "Arrays", "check_size", "read_arrays"]

DEFAULT_MAX_BYTES = 4 * 10**9  # the `max_data_gb` default, 4 GB
_CHUNK_BYTES = 1 << 20  # rows are streamed out of a zip member about 1 MB at a time
_SAVE_HINT = "save plain numeric arrays with np.save/np.savez"
_READ_ERRORS = (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error,
                NotImplementedError)


@dataclass(frozen=True, eq=False)
class Arrays:
    """The samples kept from a file: `x` and `y` of the kept rows, and a note on the subset.

    Attributes:
        x: the kept samples, as stored (any layout and dtype; a memory map for `.npy`).
        y: their labels as stored, or None.
        notes: the transform record of the subset (empty when every sample is kept).
    """

    x: np.ndarray
    y: np.ndarray | None
    notes: tuple[str, ...]


def check_size(nbytes: int, what: str, max_bytes: int, source: str) -> None:
    """Raise DataError unless `nbytes` (what the data takes in memory) is within `max_bytes`.

    Args:
        nbytes: the size in bytes.
        what: what takes that size, e.g. "x: 200 samples of (1, 28, 28) uint8".
        max_bytes: the limit (`max_data_gb` in bytes).
        source: the data's path, named in the message.
    """
    if nbytes > max_bytes:
        raise DataError(
            f"{source}: the data would take {nbytes / 1e9:.3g} GB in memory ({what}), above "
            f"the limit max_data_gb = {max_bytes / 1e9:g}",
            hint="keep fewer samples (--limit N) or a smaller input size, or raise the limit "
            "(--max-data-gb, max_data_gb in the config) if the machine has the memory",
        )


def read_arrays(path: Path, limit: int | None, max_bytes: int, labels: bool = True) -> Arrays:
    """The samples of an `.npz` (`x`, optional `y`) or `.npy` file that `limit` keeps.

    Args:
        path: the file.
        limit: keep this seeded subset of the samples (`subset_indices`), None: all.
        max_bytes: refuse arrays whose kept samples would take more memory than this.
        labels: read `y` (False, `--no-labels`: it is neither read nor checked).

    Raises:
        DataError: unreadable file, pickled objects, inconsistent sizes, or data above the
            size limit (checked before reading it).
    """
    try:
        if path.suffix.lower() == ".npy":
            return _read_npy(path, limit, max_bytes)
        with zipfile.ZipFile(path) as archive:
            return _read_npz(archive, path, limit, max_bytes, labels)
    except _READ_ERRORS as e:
        text = str(e)
        if "Object arrays" in text or "Python objects" in text:
            text = "it holds Python objects (pickled data), which privaudit never loads"
        raise DataError(f"cannot read {path}: {text}", hint=_SAVE_HINT) from e


def _read_npy(path: Path, limit: int | None, max_bytes: int) -> Arrays:
    x = np.load(path, mmap_mode="r", allow_pickle=False)
    if x.ndim == 0:
        return Arrays(x, None, ())
    index = subset_indices(len(x), limit)
    _check_kept(x.shape, x.dtype, len(index), max_bytes, str(path), "x")
    kept = x if len(index) == len(x) else x[index]  # NOTE: reads the kept rows only
    return Arrays(kept, None, tuple(subset_note(len(index), len(x))))


def _read_npz(
    archive: zipfile.ZipFile, path: Path, limit: int | None, max_bytes: int, labels: bool
) -> Arrays:
    members = {n.removesuffix(".npy"): n for n in archive.namelist()}
    if "x" not in members:
        raise DataError(
            f"{path} has no array 'x'; arrays present: {list(members) or 'none'}",
            hint="save the inputs as np.savez(path, x=images, y=labels)",
        )
    with archive.open(members["x"]) as fh:
        shape, dtype, fortran = _header(fh, archive.getinfo(members["x"]), path, "x")
        n = shape[0] if shape else 0
        index = subset_indices(n, limit)
        _check_kept(shape, dtype, n if fortran else len(index), max_bytes, str(path), "x")
        x = _read_rows(fh, shape, dtype, fortran, index, path)
    wanted = labels and "y" in members  # NOTE: --no-labels: y is not read, whatever it holds
    y = _read_labels(archive, members["y"], path, n, max_bytes) if wanted else None
    return Arrays(x, None if y is None else y[index], tuple(subset_note(len(index), n)))


def _read_labels(
    archive: zipfile.ZipFile, member: str, path: Path, n: int, max_bytes: int
) -> np.ndarray:
    """All of `y` (one label per sample of x: `n` of them)."""
    with archive.open(member) as fh:
        shape, dtype, fortran = _header(fh, archive.getinfo(member), path, "y")
        rows = shape[0] if shape else 0
        _check_kept(shape, dtype, rows, max_bytes, str(path), "y")
        y = _read_rows(fh, shape, dtype, fortran, np.arange(rows), path)
    if y.ndim == 0 or len(y) != n:
        raise DataError(
            f"{path}: y has shape {y.shape} but x has {n} samples",
            hint="give exactly one class label per sample in y",
        )
    return y


def _header(
    fh: IO[bytes], info: zipfile.ZipInfo, path: Path, name: str
) -> tuple[tuple[int, ...], np.dtype, bool]:
    """Shape, dtype and order from an `.npy` header, checked against the member's size."""
    version = np.lib.format.read_magic(fh)
    if version == (1, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_1_0(fh)
    elif version == (2, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_2_0(fh)
    else:
        raise DataError(f"{path}: array {name} has .npy format version {version}",
                        hint=_SAVE_HINT)
    if dtype.hasobject:
        raise DataError(f"cannot read {path}: it holds Python objects (pickled data), which "
                        "privaudit never loads", hint=_SAVE_HINT)
    if math.prod(shape) * dtype.itemsize > info.file_size:
        raise DataError(
            f"{path}: array {name} declares shape {shape} of {dtype}, more than the "
            f"{info.file_size} bytes stored for it (a corrupt or forged file)",
            hint=_SAVE_HINT,
        )
    return tuple(int(d) for d in shape), dtype, bool(fortran)


def _check_kept(
    shape: tuple[int, ...], dtype: np.dtype, kept: int, max_bytes: int, source: str, name: str
) -> None:
    per_sample = math.prod(shape[1:]) * dtype.itemsize
    what = f"{name}: {kept} samples of {tuple(shape[1:])} {dtype}"
    check_size(kept * per_sample, what, max_bytes, source)


def _read_rows(
    fh: IO[bytes], shape: tuple[int, ...], dtype: np.dtype, fortran: bool, index: np.ndarray,
    path: Path,
) -> np.ndarray:
    """The rows `index` (sorted) of the array whose data starts at `fh`'s position.

    C-ordered arrays are streamed: only the kept rows are held. A Fortran-ordered one (rare)
    is read whole, so its whole size must be within the limit (checked by the caller).
    """
    if fortran or not shape or len(index) == shape[0]:
        count = math.prod(shape)
        flat = np.frombuffer(_read_exact(fh, count * dtype.itemsize, path), dtype, count)
        whole = flat.reshape(shape, order="F" if fortran else "C")
        return whole if len(index) == (shape[0] if shape else 0) else whole[index]
    row_shape, out = shape[1:], np.empty((len(index), *shape[1:]), dtype)
    row_bytes = max(1, math.prod(row_shape) * dtype.itemsize)
    step, done = max(1, _CHUNK_BYTES // row_bytes), 0
    for start in range(0, shape[0], step):
        rows = min(step, shape[0] - start)
        block = np.frombuffer(_read_exact(fh, rows * row_bytes, path), dtype)
        picked = index[(index >= start) & (index < start + rows)] - start
        out[done : done + len(picked)] = block.reshape(rows, *row_shape)[picked]
        done += len(picked)
    return out


def _read_exact(fh: IO[bytes], nbytes: int, path: Path) -> bytearray:
    buffer = bytearray(nbytes)
    view, got = memoryview(buffer), 0
    while got < nbytes:
        n = fh.readinto(view[got:])  # type: ignore[attr-defined]  # NOTE: a ZipExtFile has it
        if not n:
            raise DataError(f"cannot read {path}: the file ends early (truncated)",
                            hint=_SAVE_HINT)
        got += n
    return buffer

