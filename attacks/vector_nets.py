"""Inverse networks and critics for tabular vectors (MLPs) and signals (1-D convolutions).

Both work in standardised units, so their outputs are unbounded (no sigmoid): the battery
clips reconstructions to the auxiliary data's range.
"""

from __future__ import annotations

import math

import numpy as np
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = [
    "MAX_MAP",
    "MIN_CHANNELS",
    "SignalCritic",
    "SignalDecoder",
    "UpBlock1d",
    "VectorCritic",
    "VectorDecoder",
    "doublings",
]

MIN_CHANNELS = 16  # the channels of the last upsampling blocks
MAX_MAP = 8  # flat features are first mapped to at most 8 time steps


def doublings(start: int, end: int) -> int:
    """How many x2 upsamplings fit from length `start` without overshooting `end`."""
    return max(0, math.floor(math.log2(end / start))) if end >= start else 0


class VectorDecoder(nn.Module):
    """Inverse network g: flat features (m,) -> vectors (F,), unbounded (standardised units).

    A linear map (the best inverse of a linear-Gaussian encoder) plus an MLP residual
    (two hidden layers of max(4 width, 2 max(m, F)) units, BatchNorm, ReLU).

    Args:
        feature_shape: per-sample feature shape (flattened).
        input_shape: per-sample input shape (flattened; (F,) for tabular vectors).
        width: sets the hidden size.
    """

    def __init__(
        self, feature_shape: tuple[int, ...], input_shape: tuple[int, ...], width: int
    ) -> None:
        super().__init__()
        m, d = int(np.prod(feature_shape)), int(np.prod(input_shape))
        hidden = max(4 * width, 2 * max(m, d))
        self.out_shape = tuple(input_shape)
        self.linear = nn.Linear(m, d)
        self.mlp = nn.Sequential(
            nn.Linear(m, hidden), nn.BatchNorm1d(hidden), nn.ReLU(inplace=True),
            nn.Linear(hidden, hidden), nn.BatchNorm1d(hidden), nn.ReLU(inplace=True),
            nn.Linear(hidden, d),
        )  # fmt: skip

    def forward(self, z: Tensor) -> Tensor:
        """(N, *feature_shape) -> (N, *input_shape)."""
        flat = z.flatten(1)
        out: Tensor = self.linear(flat) + self.mlp(flat)
        return out.reshape(len(z), *self.out_shape)


class UpBlock1d(nn.Module):
    """Transposed conv x2 (kernel 4, stride 2), BN, ReLU, then conv 3, BN, ReLU."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.ConvTranspose1d(c_in, c_out, 4, stride=2, padding=1, bias=False),
            nn.BatchNorm1d(c_out), nn.ReLU(inplace=True),
            nn.Conv1d(c_out, c_out, 3, padding=1, bias=False), nn.BatchNorm1d(c_out),
            nn.ReLU(inplace=True),
        )  # fmt: skip

    def forward(self, x: Tensor) -> Tensor:
        """(N, c_in, t) -> (N, c_out, 2t)."""
        out: Tensor = self.body(x)
        return out


class SignalDecoder(nn.Module):
    """Inverse network g: features -> signals (C, T), unbounded (standardised units).

    1-D conv features (c, t) go through a conv stem; any other features through an MLP to a
    short map (at most 8 steps, about a quarter of T). Transposed-conv blocks then double
    the length while it fits, halving the channels (at least 16); a linear interpolation
    covers the rest, and a conv gives the C channels.

    Args:
        feature_shape: per-sample feature shape, (c, t) or anything (flattened).
        input_shape: per-sample signal shape (C, T).
        width: channels at the feature resolution.
    """

    def __init__(
        self, feature_shape: tuple[int, ...], input_shape: tuple[int, ...], width: int
    ) -> None:
        super().__init__()
        channels, steps = input_shape
        self.steps = steps
        if len(feature_shape) == 2:
            start = feature_shape[1]
            self.stem: nn.Module = nn.Sequential(
                nn.Conv1d(feature_shape[0], width, 3, padding=1, bias=False),
                nn.BatchNorm1d(width), nn.ReLU(inplace=True),
            )  # fmt: skip
        else:
            start = min(MAX_MAP, math.ceil(steps / 4))
            m = int(np.prod(feature_shape))
            hidden = max(256, 2 * m)
            self.stem = nn.Sequential(
                nn.Flatten(), nn.Linear(m, hidden), nn.ReLU(inplace=True),
                nn.Linear(hidden, width * start), nn.Unflatten(1, (width, start)),
                nn.BatchNorm1d(width), nn.ReLU(inplace=True),
            )  # fmt: skip
        blocks: list[nn.Module] = []
        c_in = width
        for _ in range(doublings(start, steps)):
            c_out = max(MIN_CHANNELS, c_in // 2)
            blocks.append(UpBlock1d(c_in, c_out))
            c_in = c_out
        self.blocks = nn.Sequential(*blocks)
        self.head = nn.Conv1d(c_in, channels, 3, padding=1)

    def forward(self, z: Tensor) -> Tensor:
        """(N, *feature_shape) -> (N, C, T)."""
        out = self.blocks(self.stem(z))
        if out.shape[-1] != self.steps:
            out = F.interpolate(out, size=self.steps, mode="linear", align_corners=False)
        result: Tensor = self.head(out)
        return result


class VectorCritic(nn.Module):
    """WGAN-GP critic on vectors: an MLP with LeakyReLU (no BatchNorm), then a linear score."""

    def __init__(self, input_shape: tuple[int, ...], width: int = 256) -> None:
        super().__init__()
        d = int(np.prod(input_shape))
        self.net = nn.Sequential(
            nn.Flatten(), nn.Linear(d, width), nn.LeakyReLU(0.2), nn.Linear(width, width),
            nn.LeakyReLU(0.2), nn.Linear(width, 1),
        )  # fmt: skip

    def forward(self, x: Tensor) -> Tensor:
        """(N, *input_shape) -> (N,) unbounded scores (higher = more real)."""
        scores: Tensor = self.net(x)
        return scores.squeeze(1)


class SignalCritic(nn.Module):
    """WGAN-GP critic on signals: strided 1-D convs with LeakyReLU, then a linear score."""

    def __init__(self, input_shape: tuple[int, ...], width: int = 32) -> None:
        super().__init__()
        c_in, steps = input_shape
        layers: list[nn.Module] = []
        c_out = width
        while steps >= 4 and len(layers) < 16:
            layers += [nn.Conv1d(c_in, c_out, 4, stride=2, padding=1), nn.LeakyReLU(0.2)]
            c_in, c_out, steps = c_out, min(256, 2 * c_out), steps // 2
        self.features = nn.Sequential(*layers, nn.Flatten())
        self.score = nn.Linear(c_in * steps, 1)

    def forward(self, x: Tensor) -> Tensor:
        """(N, C, T) -> (N,) unbounded scores (higher = more real)."""
        scores: Tensor = self.score(self.features(x))
        return scores.squeeze(1)
