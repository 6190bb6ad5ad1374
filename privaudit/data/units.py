"""The units things are measured in: pixels on [0, 1], or features standardised over the data.

Images are measured in pixels on [0, 1], as read. Tabular vectors and signals are read in
their own units; every MSE, the bound and the attacks measure them *standardised*: each feature
(a tabular column, a signal channel) minus its mean, divided by its standard deviation over the
audit data, so that guessing a feature's mean costs an MSE of about 1 per value (for tables,
1 - MSE reads as the share recovered; a signal's prior guesses each step's own mean and can
cost less). `Units` maps the measured values back to the data's own units (for the
model, which takes those, and for raw-unit numbers in the report).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch

__all__ = ["DISCRETE_LEVELS", "Units", "standardise"]

DISCRETE_LEVELS = 20  # an integer-valued column with at most this many values is discrete


@dataclass(frozen=True)
class Units:
    """Measured values <-> the data's own units: raw = measured * std + mean, per feature.

    A feature is an entry of axis 1 of the samples in their domain's form: a tabular column
    of (N, F), a signal channel of (N, C, T). Images have no features here (`identity`).

    Attributes:
        mean: per feature, in the data's own units; empty for pixels (identity).
        std: per feature, > 0 (1 for a constant feature, which is not scaled).
        names: per feature: the column names, or channel names.
        discrete: per feature: integer-valued with at most `DISCRETE_LEVELS` distinct values.
        data_range: high - low of the data in its own units (signals: the PSNR peak), or None.
        levels: per feature, the sorted values a discrete feature takes (empty for the
            others): a reconstruction is snapped to the nearest to count an exact match.
    """

    mean: tuple[float, ...] = ()
    std: tuple[float, ...] = ()
    names: tuple[str, ...] = ()
    discrete: tuple[bool, ...] = ()
    data_range: float | None = None
    levels: tuple[tuple[float, ...], ...] = ()

    @property
    def identity(self) -> bool:
        """Whether measured values are the data's own (pixels)."""
        return not self.mean

    def _params(self, ndim: int) -> tuple[np.ndarray, np.ndarray]:
        shape = (1, -1) + (1,) * (ndim - 2)
        return (np.asarray(self.mean, np.float64).reshape(shape),
                np.asarray(self.std, np.float64).reshape(shape))

    def to_raw(self, x: np.ndarray) -> np.ndarray:
        """Measured `(N, F)` or `(N, C, T)` values in the data's own units (float32, or `x`)."""
        if self.identity:
            return x
        mean, std = self._params(x.ndim)
        out: np.ndarray = (x * std + mean).astype(np.float32)
        return out

    def to_raw_torch(self, x: torch.Tensor) -> torch.Tensor:
        """Differentiable `to_raw` of a tensor (the same tensor for pixels)."""
        if self.identity:
            return x
        import torch  # NOTE: lazy, so that loading data does not import torch

        shape = (1, -1) + (1,) * (x.dim() - 2)
        mean = torch.tensor(self.mean, dtype=x.dtype, device=x.device).reshape(shape)
        std = torch.tensor(self.std, dtype=x.dtype, device=x.device).reshape(shape)
        return x * std + mean

    def summary(self) -> str:
        """One line for the provenance record."""
        if self.identity:
            return "measured as pixels on [0, 1]"
        return (f"standardised: each of {len(self.mean)} features minus its mean, divided by its "
                "standard deviation over the audit data")


def standardise(
    raw: np.ndarray, names: Sequence[str], data_range: tuple[float, float] | None = None,
    *, ranged: bool = True,
) -> tuple[np.ndarray, Units, list[str]]:
    """Standardise `(N, F)` or `(N, C, T)` raw values per feature (axis 1) over all samples.

    Args:
        raw: the samples in their own units, finite (float64 or anything numeric).
        names: one name per feature.
        data_range: (low, high) of the data's values, or None for the observed range.
        ranged: record a data range (signals: their PSNR peak); False for tabular columns,
            whose units differ from column to column.

    Returns:
        The float32 standardised values, the `Units` that map them back, and notes for the
        provenance record (constant features, which are left unscaled).
    """
    axes = (0, *range(2, raw.ndim))
    values = np.asarray(raw, dtype=np.float64)
    mean, std = values.mean(axis=axes), values.std(axis=axes)
    constant = ~(values.max(axis=axes) > values.min(axis=axes))
    std = np.where(constant | ~(std > 0), 1.0, std)
    shape = (1, -1) + (1,) * (raw.ndim - 2)
    measured = ((values - mean.reshape(shape)) / std.reshape(shape)).astype(np.float32)
    levels = _levels(values)
    low, high = data_range or (float(values.min()), float(values.max()))
    units = Units(
        mean=tuple(float(v) for v in mean), std=tuple(float(v) for v in std),
        names=tuple(names), discrete=tuple(bool(v) for v in levels),
        data_range=float(high - low) if ranged else None, levels=levels,
    )
    notes = [units.summary()]
    if constant.any():
        which = ", ".join(repr(names[i]) for i in np.flatnonzero(constant)[:5])
        notes.append(f"{int(constant.sum())} constant features left unscaled ({which})")
    return measured, units, notes


def _levels(values: np.ndarray) -> tuple[tuple[float, ...], ...]:
    """Per feature, the sorted values of a discrete one, empty for the others.

    Discrete: integer-valued with at most `DISCRETE_LEVELS` distinct values (a discrete
    feature always has one or more).
    """
    moved = np.moveaxis(values, 1, 0).reshape(values.shape[1], -1)
    out: list[tuple[float, ...]] = []
    for column in moved:
        found = np.unique(column) if bool(np.all(column == np.rint(column))) else None
        out.append(() if found is None or len(found) > DISCRETE_LEVELS else
                   tuple(float(v) for v in found))
    return tuple(out)
