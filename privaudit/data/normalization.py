"""The model's per-channel input normalization: pixels in [0, 1] <-> model input."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from privaudit.errors import ConfigError, DataError

__all__ = ["Normalization"]

if TYPE_CHECKING:
    import torch

_NORM_HINT = "give --mean/--std as one number or one per channel, with every std > 0"


@dataclass(frozen=True)
class Normalization:
    """The model's input normalization: model input = (pixels - mean) / std, per channel.

    Attributes:
        mean: per-channel means on the [0, 1] pixel scale; length 1 (all channels) or C.
        std: per-channel standard deviations, > 0; length 1 or C.
    """

    mean: tuple[float, ...] = (0.0,)
    std: tuple[float, ...] = (1.0,)

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "mean", tuple(float(v) for v in self.mean))
            object.__setattr__(self, "std", tuple(float(v) for v in self.std))
        except (TypeError, ValueError) as e:
            raise ConfigError(f"normalization values must be numbers: {e}", hint=_NORM_HINT) from e
        values = self.mean + self.std
        problems = [
            "mean and std need at least one value each" if not (self.mean and self.std) else "",
            "values must be finite" if not all(math.isfinite(v) for v in values) else "",
            f"std must be > 0, got {self.std}" if any(s <= 0 for s in self.std) else "",
            "mean and std have different lengths"
            if min(len(self.mean), len(self.std)) > 1 and len(self.mean) != len(self.std)
            else "",
        ]
        if any(problems):
            message = "; ".join(p for p in problems if p)
            raise ConfigError(f"invalid normalization: {message}", hint=_NORM_HINT)

    def check_channels(self, c: int) -> None:
        """Check that mean and std have 1 or `c` values.

        Raises:
            DataError: a length is neither 1 nor `c`.
        """
        if len(self.mean) not in (1, c) or len(self.std) not in (1, c):
            raise DataError(
                f"normalization has {len(self.mean)} mean and {len(self.std)} std values "
                f"but the model input has {c} channels",
                hint="give one --mean/--std value per channel, or one for all channels",
            )

    def _params(self, ndim: int, c: int) -> tuple[np.ndarray, np.ndarray]:
        self.check_channels(c)
        shape = (1, -1) + (1,) * (ndim - 2)
        mean, std = (np.asarray(v, np.float32).reshape(shape) for v in (self.mean, self.std))
        return mean, std

    def apply(self, x: np.ndarray) -> np.ndarray:
        """Map pixels to model space.

        Args:
            x: `(N, C, H, W)` pixels in [0, 1].

        Returns:
            `(x - mean) / std` as float32, same shape.
        """
        mean, std = self._params(x.ndim, x.shape[1])
        out: np.ndarray = ((x - mean) / std).astype(np.float32, copy=False)
        return out

    def undo(self, x: np.ndarray) -> np.ndarray:
        """Map model-space values back to pixels: `x * std + mean` (float32, same shape)."""
        mean, std = self._params(x.ndim, x.shape[1])
        out: np.ndarray = (x * std + mean).astype(np.float32, copy=False)
        return out

    def apply_torch(self, x: torch.Tensor) -> torch.Tensor:
        """Differentiable `apply` on a `(N, C, H, W)` tensor of pixels in [0, 1]."""
        import torch  # NOTE: lazy, so that loading data does not import torch

        self.check_channels(x.shape[1])
        shape = (1, -1) + (1,) * (x.dim() - 2)
        mean = torch.tensor(self.mean, dtype=x.dtype, device=x.device).reshape(shape)
        std = torch.tensor(self.std, dtype=x.dtype, device=x.device).reshape(shape)
        return (x - mean) / std

    def summary(self) -> str:
        """One line for the provenance record, e.g. "normalized: mean=(0.5,) std=(0.25,)"."""
        return f"normalized: mean={self.mean} std={self.std}"
