"""Conform tabular vectors and signals to the model input: shape, finite values, standardised.

Values are taken in their own units (any range); the audit measures them standardised per
feature (`units`). A NaN or infinite value is an error naming where it is: the row and column
of a table, the sample, channel and time step of a signal.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from privaudit.config.choices import Domain
from privaudit.data.arrays import DEFAULT_MAX_BYTES, check_size
from privaudit.data.conform import check_labels, check_limit
from privaudit.data.dataset import Dataset, subset_indices, subset_note
from privaudit.data.layout import Layout
from privaudit.data.units import standardise
from privaudit.errors import DataError

__all__ = ["conform_vectors", "default_names"]

_FLOAT32_MAX = float(np.finfo(np.float32).max)


def default_names(domain: Domain, count: int) -> tuple[str, ...]:
    """Feature names when the data has none: columns x0, x1, ...; channels ch0, ch1, ..."""
    prefix = "x" if domain == Domain.TABULAR else "ch"
    return tuple(f"{prefix}{i}" for i in range(count))


def conform_vectors(
    x: np.ndarray,
    y: np.ndarray | None,
    layout: Layout,
    *,
    source: str,
    limit: int | None = None,
    names: Sequence[str] | None = None,
    rows: np.ndarray | None = None,
    notes: Sequence[str] = (),
    class_names: Sequence[str] = (),
    data_range: tuple[float, float] | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> Dataset:
    """Validate, subset, shape and standardise tabular vectors or signals.

    Args:
        x: (N, ...) samples in their own units, any numeric dtype.
        y: (N,) labels, or None.
        layout: the model input's layout (tabular or signal domain).
        source: where the data came from, named in messages.
        limit: keep a seeded subset of this many samples.
        names: the feature names (table columns), or None for `default_names`.
        rows: (N,) the samples' row numbers in their file (tables), named in messages.
        notes: the record of what was done so far.
        class_names: names of the labels.
        data_range: (low, high) of the values (signals: the PSNR peak), or None: observed.
        max_bytes: refuse data that would take more memory than this.

    Raises:
        DataError: data that does not fit the model input, NaN or infinite values, or data
            above the size limit.
    """
    check_limit(limit)
    if x.dtype.kind not in "biuf":
        raise DataError(f"{source}: x has dtype {x.dtype}", hint="give numeric values")
    if x.ndim == 0 or x.size == 0:
        raise DataError(f"{source}: no samples (x has shape {x.shape})", hint="give non-empty data")
    y = check_labels(y, len(x), source)
    index = subset_indices(len(x), limit)
    record = [*notes, *subset_note(len(index), len(x))]
    if len(index) < len(x):
        x, y = x[index], None if y is None else y[index]
        rows = None if rows is None else rows[index]
    view, note = _as_domain(x, layout, source)
    record += [note] if note else []
    check_size(12 * view.size, f"{len(view)} samples of {view.shape[1:]} as float64 and float32",
               max_bytes, source)
    features = view.shape[1]
    labels = tuple(names) if names is not None and len(names) == features else (
        default_names(layout.domain, features))
    _check_finite(view, layout.domain, labels, rows, source)
    measured, units, unit_notes = standardise(view, labels, data_range,
                                              ranged=layout.domain == Domain.SIGNAL)
    return Dataset.from_arrays(measured, y, source=source, transforms=[*record, *unit_notes],
                               class_names=class_names, domain=layout.domain, units=units)


def _as_domain(x: np.ndarray, layout: Layout, source: str) -> tuple[np.ndarray, str]:
    """`x` in the domain's form, (N, F) or (N, C, T), and a note on any reshape."""
    want = layout.shape
    if layout.channels_last and layout.domain == Domain.SIGNAL:
        moved = _from_channels_last(x, want)
        if moved is not None:
            return moved
    size = math.prod(d for d in want if d is not None) if all(want) else None
    if len(want) == x.ndim - 1 and all(w in (None, d) for w, d in zip(want, x.shape[1:],
                                                                     strict=True)):
        return x, ""
    flat = math.prod(x.shape[1:])
    if layout.domain == Domain.SIGNAL and x.ndim == 3 and all(want):
        # NOTE: (N, T, C) signals for a channels-first model are transposed; a reshape mixed
        # channels and time steps with no word (a reviewer's channel means 32.4, 35.3, 26.8
        # where the data's are 0.1, 98.6, -4.2)
        channels, steps = int(want[0] or 0), int(want[1] or 0)
        if x.shape[1:] == (steps, channels):
            return (np.ascontiguousarray(x.transpose(0, 2, 1)),
                    f"(N, {steps}, {channels}) read as (N, T, C) and transposed to (N, C, T)")
        raise DataError(
            f"{source}: the model expects signal input {layout.describe()}, found data "
            f"(N, {x.shape[1]}, {x.shape[2]}): a reshape would mix channels and time steps",
            hint=f"give the signals as (N, {channels}, {steps}) (channels first), "
                 f"(N, {steps}, {channels}) or flat rows (N, {channels * steps})")
    if size is not None and flat == size:
        return x.reshape(len(x), *want), f"{tuple(x.shape[1:])}→{tuple(want)} per sample"
    if layout.domain == Domain.SIGNAL and x.ndim == 2 and want[0] == 1:
        return x[:, None], "(N, T)→(N, 1, T)"
    found = "(N, " + ", ".join(str(d) for d in x.shape[1:]) + ")"
    what = "features" if layout.domain == Domain.TABULAR else "channels and time steps"
    raise DataError(
        f"{source}: the model expects {layout.domain.value} input {layout.describe()}, found "
        f"data {found}",
        hint=f"give one row of {size or 'the model’s'} {what} per sample"
        + (" (choose the table's feature columns with --columns)"
           if layout.domain == Domain.TABULAR else ""),
    )


def _from_channels_last(
    x: np.ndarray, want: tuple[int | None, ...]
) -> tuple[np.ndarray, str] | None:
    """Signals of a channels-last model in its own layout, (N, T, C), or flat in its order.

    The model reads them (N, T, C); the audit computes on (N, C, T), so they are transposed,
    never reshaped (a reshape would mix channels and time steps). None: not in that layout
    (data already (N, C, T) is taken as it is).
    """
    channels, steps = want
    if channels is None:
        return None
    if x.ndim == 3 and x.shape[2] == channels and steps in (None, x.shape[1]):
        note = f"(N, {x.shape[1]}, {channels}) (N, T, C), the model's own layout→(N, C, T)"
        return np.ascontiguousarray(x.transpose(0, 2, 1)), note
    if x.ndim == 2 and channels > 1 and steps is not None and x.shape[1] == channels * steps:
        rows = x.reshape(len(x), steps, channels).transpose(0, 2, 1)
        note = (f"rows of {x.shape[1]} values read in the model's own order (T, C) = "
                f"({steps}, {channels})→(N, C, T)")
        return np.ascontiguousarray(rows), note
    return None


def _check_finite(
    x: np.ndarray, domain: Domain, names: Sequence[str], rows: np.ndarray | None, source: str
) -> None:
    """Refuse NaN, infinite, or beyond-float32 values, naming the first one's place."""
    values = np.asarray(x, dtype=np.float64)
    bad = ~np.isfinite(values) | (np.abs(np.nan_to_num(values)) > _FLOAT32_MAX)
    count = int(np.count_nonzero(bad))
    if not count:
        return
    where = tuple(int(i) for i in np.argwhere(bad)[0])
    value = values[where]
    if rows is not None:  # NOTE: a table's rows are numbered from 1 after the header
        at = f"row {int(rows[where[0]])}"
    else:
        at = f"x[{', '.join(str(i) for i in where)}]: row {where[0]}"
    if domain == Domain.TABULAR:
        place = f"{at}, column {names[where[1]]!r}"
    else:
        place = f"{at}, channel {names[where[1]]!r}, time step {where[2]}"
    kind = "NaN or infinite" if not np.isfinite(value) else "beyond float32"
    raise DataError(
        f"{source}: {count} {kind} values, the first at {place} ({value:g})",
        hint="drop or fill in the missing values (NaN, inf) before the audit; the model takes "
        "float32",
    )
