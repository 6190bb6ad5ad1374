"""Target: the attacker's view of the encoder (noisy query, optional torch module, capabilities)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import torch
from torch import Tensor, nn

from privaudit.config.choices import Domain


class Capability(StrEnum):
    """What an attacker can do against the deployed encoder."""

    QUERY = "query"  # can call the encoder on its own inputs (black box): always true
    GRADIENTS = "gradients"  # encoder converted to torch: white box
    LABELS = "labels"  # the auxiliary data carries class labels


@dataclass(frozen=True, eq=False)
class Target:
    """The encoder under attack, on measured inputs.

    Measured inputs are images `(C, H, W)` as pixels in [0, 1], or tabular vectors `(F,)` and
    signals `(C, T)` standardised per feature (unbounded).

    Attributes:
        input_shape: per-sample input shape, (F,), (C, T) or (C, H, W).
        feature_shape: per-sample feature shape, e.g. (8, 7, 7) or (64,).
        noise_sigma: std of the Gaussian noise the deployment adds to features.
        query: clean features of a batch of measured inputs, `(N, *input_shape)` ->
            `(N, *feature_shape)` float32; units, shape and normalization are applied inside.
        torch_encoder: the same map as a differentiable torch module (measured inputs in,
            clean features out), or None when the graph could not be converted.
        capabilities: what the attacker may use.
        domain: tabular, signal or image.
        bounds: (low, high) per feature, broadcastable to `input_shape`, that reconstructions
            are clipped to; None: [0, 1] for images, no clipping otherwise.
    """

    input_shape: tuple[int, ...]
    feature_shape: tuple[int, ...]
    noise_sigma: float
    query: Callable[[np.ndarray], np.ndarray]
    torch_encoder: nn.Module | None
    capabilities: frozenset[Capability]
    domain: Domain = Domain.IMAGE
    bounds: tuple[np.ndarray, np.ndarray] | None = None

    @property
    def pixels(self) -> bool:
        """Whether the inputs are images (pixels in [0, 1])."""
        return self.domain == Domain.IMAGE

    def clip(self, x: Tensor) -> Tensor:
        """`x` (N, *input_shape) clipped to the inputs' range: [0, 1], or `bounds`."""
        if self.pixels:
            return x.clamp(0.0, 1.0)
        if self.bounds is None:
            return x
        low, high = (torch.as_tensor(b, dtype=x.dtype, device=x.device) for b in self.bounds)
        return torch.maximum(torch.minimum(x, high), low)

    @property
    def input_dim(self) -> int:
        """Input dimension d = C * H * W."""
        return int(np.prod(self.input_shape))

    @property
    def feature_dim(self) -> int:
        """Feature dimension m: number of feature values per sample."""
        return int(np.prod(self.feature_shape))
