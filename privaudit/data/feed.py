"""What the model is fed: measured samples -> the data's own units -> the model's shape and norm.

Everything privaudit measures (the bound, the attacks, the references) works on samples as
measured (`Dataset.x`); only the model sees them as it was trained to: back in the data's own
units, in the model input's shape, through its input normalization. For images the first two
steps do nothing, so the model gets exactly `Normalization.apply` of the pixels.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from privaudit.data.normalization import Normalization
from privaudit.data.units import Units

if TYPE_CHECKING:
    import torch

__all__ = ["Feed"]


@dataclass(frozen=True)
class Feed:
    """The map from measured samples to the model's input.

    Attributes:
        norm: the model's input normalization (per entry of the model input's axis 1).
        units: how measured samples map to the data's own units.
        model_shape: the per-sample shape the model takes (the same values in the same order
            as a measured sample).
    """

    norm: Normalization
    units: Units
    model_shape: tuple[int, ...]

    @classmethod
    def pixels(cls, norm: Normalization, shape: tuple[int, ...]) -> Feed:
        """The feed of images: pixels `(C, H, W)` into a model normalized by `norm`."""
        return cls(norm, Units(), tuple(int(d) for d in shape))

    @property
    def integer(self) -> bool:
        """Whether the model takes whole-number pixels (see `Normalization.integer`)."""
        return self.norm.integer

    def apply(self, x: np.ndarray) -> np.ndarray:
        """The model input for measured samples `x` (N, ...): float32 (or whole numbers)."""
        raw = self.units.to_raw(x)
        if tuple(raw.shape[1:]) != self.model_shape:
            raw = raw.reshape(len(raw), *self.model_shape)
        return self.norm.apply(raw)

    def apply_torch(self, x: torch.Tensor) -> torch.Tensor:
        """Differentiable `apply` on a tensor of measured samples."""
        raw = self.units.to_raw_torch(x)
        if tuple(raw.shape[1:]) != self.model_shape:
            raw = raw.reshape(len(raw), *self.model_shape)
        return self.norm.apply_torch(raw)

    def summary(self) -> str:
        """One line for the provenance record (the normalization, as before)."""
        return self.norm.summary()
