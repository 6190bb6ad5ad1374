"""Target: the attacker's view of the encoder (noisy query, optional torch module, capabilities)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
from torch import nn


class Capability(StrEnum):
    """What an attacker can do against the deployed encoder."""

    QUERY = "query"  # can call the encoder on its own inputs (black box): always true
    GRADIENTS = "gradients"  # encoder converted to torch: white box
    LABELS = "labels"  # the auxiliary data carries class labels


@dataclass(frozen=True, eq=False)
class Target:
    """The encoder under attack, in pixel space.

    Attributes:
        input_shape: per-sample input shape (C, H, W); pixels in [0, 1].
        feature_shape: per-sample feature shape, e.g. (8, 7, 7) or (64,).
        noise_sigma: std of the Gaussian noise the deployment adds to features.
        query: clean features of a batch of images, `(N, *input_shape)` in [0, 1] ->
            `(N, *feature_shape)` float32; the model's normalization is applied inside.
        torch_encoder: the same map as a differentiable torch module (pixels in [0, 1] in,
            clean features out), or None when the graph could not be converted.
        capabilities: what the attacker may use.
    """

    input_shape: tuple[int, ...]
    feature_shape: tuple[int, ...]
    noise_sigma: float
    query: Callable[[np.ndarray], np.ndarray]
    torch_encoder: nn.Module | None
    capabilities: frozenset[Capability]

    @property
    def input_dim(self) -> int:
        """Input dimension d = C * H * W."""
        return int(np.prod(self.input_shape))

    @property
    def feature_dim(self) -> int:
        """Feature dimension m: number of feature values per sample."""
        return int(np.prod(self.feature_shape))
