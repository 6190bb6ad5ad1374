"""The model's per-channel input normalization: pixels in [0, 1] <-> model input."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from privaudit.errors import ConfigError, DataError

__all__ = ["MEAN_LIMIT", "STD_RANGE", "Normalization", "is_8bit"]

_LEVELS = 255  # an integer-input model takes 8-bit pixels 0..255
_LEVEL_TOLERANCE = 1e-3  # float32 k / 255 * 255 is within 1e-5 of k

# NOTE: pixels are on [0, 1]; a std outside this range sends them beyond +-1e6 (or squeezes
# them together), which no exporter means: it is a typo (e.g. --std 1e-45), refused.
STD_RANGE = (1e-6, 1e6)
MEAN_LIMIT = 1e6

if TYPE_CHECKING:
    import torch

_NORM_HINT = (
    "give --mean/--std as one number or one per channel, with every std in [1e-6, 1e6]"
)


@dataclass(frozen=True)
class Normalization:
    """The model's input normalization: model input = (pixels - mean) / std, per channel.

    A model with an integer input (uint8, int64, ...) takes the raw 8-bit pixels its exporter
    was given instead, whole numbers 0..255 (`integer`): model input = 255 * pixels, with
    nothing to round for 8-bit data (the caller checks that the data is 8-bit); it normalizes
    them itself, so it has no mean and std.

    Attributes:
        mean: per-channel means on the [0, 1] pixel scale; length 1 (all channels) or C.
        std: per-channel standard deviations, > 0; length 1 or C.
        integer: the model takes whole-number pixels 0..255.
    """

    mean: tuple[float, ...] = (0.0,)
    std: tuple[float, ...] = (1.0,)
    integer: bool = False

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
            f"std must be in [{STD_RANGE[0]:g}, {STD_RANGE[1]:g}], got {self.std}"
            if any(0 < s < STD_RANGE[0] or s > STD_RANGE[1] for s in self.std) else "",
            f"mean must be in [-{MEAN_LIMIT:g}, {MEAN_LIMIT:g}], got {self.mean}"
            if any(abs(m) > MEAN_LIMIT for m in self.mean) else "",
            "mean and std have different lengths"
            if min(len(self.mean), len(self.std)) > 1 and len(self.mean) != len(self.std)
            else "",
        ]
        if any(problems):
            message = "; ".join(p for p in problems if p)
            raise ConfigError(f"invalid normalization: {message}", hint=_NORM_HINT)
        if self.integer and (set(self.mean) != {0.0} or set(self.std) != {1.0}):
            raise ConfigError(
                f"a normalization (mean {self.mean}, std {self.std}) cannot apply: the model "
                "takes whole-number pixels 0..255 and normalizes them itself",
                hint="leave out --mean/--std (and privaudit.mean/std in its metadata)",
            )

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
        if self.integer:  # NOTE: exact for 8-bit data; rint only removes float32 rounding
            whole: np.ndarray = np.rint(np.multiply(x, np.float32(_LEVELS), dtype=np.float32))
            return whole
        mean, std = self._params(x.ndim, x.shape[1])
        out: np.ndarray = ((x - mean) / std).astype(np.float32, copy=False)
        return out

    def undo(self, x: np.ndarray) -> np.ndarray:
        """Map model-space values back to pixels: `x * std + mean` (float32, same shape)."""
        if self.integer:
            pixels: np.ndarray = np.divide(x, np.float32(_LEVELS), dtype=np.float32)
            return pixels
        mean, std = self._params(x.ndim, x.shape[1])
        out: np.ndarray = (x * std + mean).astype(np.float32, copy=False)
        return out

    def apply_torch(self, x: torch.Tensor) -> torch.Tensor:
        """Differentiable `apply` on a `(N, C, H, W)` tensor of pixels in [0, 1].

        For an integer-input model the result is rounded (whole numbers 0..255): it has no
        gradient with respect to `x`, and the caller must not need one.
        """
        import torch  # NOTE: lazy, so that loading data does not import torch

        if self.integer:
            return torch.round(x * _LEVELS)
        self.check_channels(x.shape[1])
        shape = (1, -1) + (1,) * (x.dim() - 2)
        mean = torch.tensor(self.mean, dtype=x.dtype, device=x.device).reshape(shape)
        std = torch.tensor(self.std, dtype=x.dtype, device=x.device).reshape(shape)
        return (x - mean) / std

    def summary(self) -> str:
        """One line for the provenance record, e.g. "normalized: mean=(0.5,) std=(0.25,)"."""
        if self.integer:
            return "fed as whole-number pixels 0..255 (the model's input is an integer type)"
        return f"normalized: mean={self.mean} std={self.std}"


def is_8bit(x: np.ndarray) -> bool:
    """Whether pixels in [0, 1] are 8-bit levels k / 255 (up to float32 rounding)."""
    if x.size == 0:
        return True
    step = max(1, (1 << 22) // max(1, x[0].size))
    for i in range(0, len(x), step):
        scaled = np.multiply(x[i : i + step], np.float32(_LEVELS), dtype=np.float32)
        if float(np.abs(scaled - np.rint(scaled)).max()) > _LEVEL_TOLERANCE:
            return False
    return True
