"""The feature noise std `noise_sigma`: its one validity check and its one draw.

The deployment adds N(0, noise_sigma^2 I) to the encoder's features (docs/method.md §1).
Every draw goes through `add_noise`, on numpy arrays (audit, battery) and torch tensors
(attack training, fine-tuning) alike. Importing this module imports neither torch nor numpy.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, TypeVar

from privaudit.errors import ConfigError

if TYPE_CHECKING:
    import numpy as np
    import torch

__all__ = ["NOISE_HINT", "SIGMA_MAX", "add_drawn_noise", "add_noise", "check_noise_sigma"]

NOISE_HINT = "sigma is the std of the Gaussian noise added to the features, e.g. --noise 0.1"
# NOTE: larger noise overflows the float32 noisy features and what the head and the attacks
# compute from them; no meaningful deployment comes near it (features are O(1)).
SIGMA_MAX = 1e12
T = TypeVar("T")


def check_noise_sigma(value: object, key: str = "noise") -> float:
    """The noise std as a float; ConfigError unless it is a number in [0, SIGMA_MAX].

    A sigma that is tiny next to the features is refused later, by the bound, which knows
    the features' scale.

    Args:
        value: the value to check (a flag, a config value, model metadata).
        key: where it came from, named in the message (e.g. "noise", "noise_sweep").

    Returns:
        `value` as a float (-0 as 0).

    Raises:
        ConfigError: not a number, NaN, infinite, negative or above SIGMA_MAX.
    """
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise ConfigError(f"{key}: expected a number, got {value!r}", hint=NOISE_HINT)
    if not math.isfinite(value) or value < 0:
        raise ConfigError(f"{key}: expected a finite sigma >= 0, got {value}", hint=NOISE_HINT)
    if value > SIGMA_MAX:
        raise ConfigError(f"{key}: sigma {value:g} is above {SIGMA_MAX:g}, which overflows the "
                          "noisy features", hint=NOISE_HINT)
    return float(value) + 0.0  # NOTE: -0.0 + 0.0 is 0.0: "-0" is printed nowhere


def add_noise(clean: T, noise_sigma: float, generator: Any, scales: Any = None) -> T:
    """Noisy features `clean + noise_sigma * scales * N(0, I)`, drawn from `generator`.

    Args:
        clean: float32 features, a numpy array or a torch tensor (any shape).
        noise_sigma: the noise std (>= 0; 0 returns `clean` itself).
        generator: a `numpy.random.Generator` for arrays, a `torch.Generator` on the
            tensor's device for tensors.
        scales: per-channel factors a_j of a noise allocation, of `clean`'s type and
            broadcastable to it (e.g. (1, C, 1, 1)); None: 1 everywhere.

    Returns:
        The noisy features, of `clean`'s type, dtype and device. For arrays the float64 draw
        is scaled, then rounded to float32 once.
    """
    if noise_sigma == 0:
        return clean
    if type(clean).__module__.startswith("numpy"):
        noisy: T = _numpy_noise(clean, noise_sigma, generator, scales)  # type: ignore[arg-type]
    else:
        noisy = _torch_noise(clean, noise_sigma, generator, scales)  # type: ignore[arg-type]
    return noisy


def _numpy_noise(
    clean: np.ndarray, noise_sigma: float, rng: np.random.Generator, scales: Any
) -> Any:
    draw = rng.standard_normal(clean.shape)
    return add_drawn_noise(clean, noise_sigma, draw if scales is None else draw * scales)
def add_drawn_noise(clean: np.ndarray, noise_sigma: float, draw: np.ndarray) -> np.ndarray:
    """`clean + noise_sigma * draw` for a standard normal `draw` already made: `add_noise`'s rule.

    One draw then serves several sigmas with exactly the values `add_noise` would give each
    from the same generator state (the draw is scaled in float64, then rounded once).

    Args:
        clean: float32 features (any shape).
        noise_sigma: the noise std (>= 0).
        draw: float64 standard normal values of `clean`'s shape.
    """
    out: np.ndarray = clean + (noise_sigma * draw).astype(clean.dtype)
    return out


def _torch_noise(
    clean: torch.Tensor, noise_sigma: float, gen: torch.Generator, scales: Any
) -> Any:
    import torch  # NOTE: lazy, so that importing this module stays torch-free

    draw = torch.randn(clean.shape, generator=gen, device=clean.device, dtype=clean.dtype)
    if scales is not None:
        draw = draw * scales
    return clean + noise_sigma * draw
